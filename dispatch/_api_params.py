"""What an API request may carry: bounded path and query parameters, and times.

Every time a query carries is ISO 8601 within `YEARS`: a typo such as 0001 or 9999 is
refused with a 422 naming the parameter rather than answered with an empty list or, near
datetime's limits, an overflow.
"""

# No `from __future__ import annotations`: FastAPI reads these aliases at runtime.

from datetime import datetime, time, tzinfo
from typing import Annotated, Final

from fastapi import HTTPException, Path, Query

#: No NUL character in an id or a name: PostgreSQL's text cannot hold one, and a
#: look-up by such a name failed there (500) where SQLite found nothing (404).
NO_NUL: Final = r"^[^\x00]*$"

AlertId = Annotated[str, Path(max_length=100, pattern=NO_NUL)]
SilenceId = Annotated[str, Path(max_length=200, pattern=NO_NUL)]
QueryName = Annotated[str | None, Query(max_length=100, pattern=NO_NUL)]
QueryTime = Annotated[str | None, Query(max_length=40)]
RequiredTime = Annotated[str, Query(max_length=40)]

#: The years a query's since/until may fall in.
YEARS: Final = (2000, 2100)


def parse_time(text: str | None, tz: tzinfo, name: str) -> datetime | None:
    """ISO 8601 date or time; without an offset it is local time (a date: local midnight).
    Its year is within `YEARS`."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None:
        raise HTTPException(422, f"{name}: expected an ISO 8601 date or time, got {text!r}")
    if len(text) == 10:
        at = datetime.combine(at.date(), time(), tz)
    check_year(at.year, name)
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def parse_period(since: str, until: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """[since, until): both times, the second after the first."""
    start, end = parse_time(since, tz, "since"), parse_time(until, tz, "until")
    assert start is not None and end is not None
    if end <= start:
        raise HTTPException(422, "until must be after since")
    return start, end


def check_year(year: int, name: str) -> None:
    if not YEARS[0] <= year < YEARS[1]:
        raise HTTPException(422, f"{name}: must be in the years {YEARS[0]}-{YEARS[1] - 1}")
