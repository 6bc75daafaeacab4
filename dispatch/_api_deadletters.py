"""`GET /api/deadletters`: the messages ingest refused, per hour and the latest few, for
the admin page's health. A station that starts sending junk shows as a bar before anyone
opens the table.

Dead letters are ingest's, kept in the store beside the alerts; dispatch reads them
through `DeadLetterLog`, which the composition root hands in. Admins, supervisors and the
bureau only: a device's topic and the reason it was refused are for those who keep the
service, not for every officer.
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any, Final, Protocol

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from dispatch._api_models import answers
from dispatch._dispatcher import Clock
from dispatch._guard import Bureau

#: The most hours a request may ask for: a week.
MAX_HOURS: Final = 168
#: The latest dead letters listed with the counts.
RECENT: Final = 20


class StoredLetter(Protocol):
    """One stored dead letter, as `ingest` keeps it."""

    @property
    def topic(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def payload_size(self) -> int: ...
    @property
    def truncated(self) -> bool: ...
    @property
    def received_at(self) -> datetime: ...


class DeadLetterLog(Protocol):
    """The stored dead letters (`ingest.SqliteDeadLetters`)."""

    def per_hour(self, since: datetime) -> list[tuple[datetime, str, int]]: ...

    def count(self) -> int: ...

    def recent(self, limit: int = 100) -> Sequence[StoredLetter]: ...


class DeadLetterHour(BaseModel):
    """One hour (its start, in the service's time zone): how many, by code."""

    model_config = ConfigDict(extra="forbid")
    hour: str
    count: int
    codes: dict[str, int]


class RecentDeadLetter(BaseModel):
    """A recent dead letter, without its payload (the `dead_letters` table keeps that)."""

    model_config = ConfigDict(extra="forbid")
    received_at: str
    topic: str
    code: str
    reason: str
    payload_size: int
    truncated: bool


class DeadLetterSummary(BaseModel):
    """The dead letters kept, those of each of the last hours (oldest first, every hour
    listed, empty ones with 0), and the latest few."""

    model_config = ConfigDict(extra="forbid")
    kept: int
    hours: list[DeadLetterHour]
    recent: list[RecentDeadLetter]


def hourly(rows: Sequence[tuple[datetime, str, int]], end: datetime, hours: int,
           tz: tzinfo) -> list[dict[str, Any]]:
    """The `hours` clock hours up to and including `end`'s, each with its rows' counts."""
    last = end.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    slots = [last - timedelta(hours=n) for n in range(hours - 1, -1, -1)]
    by_hour: dict[datetime, dict[str, int]] = {slot: {} for slot in slots}
    for at, code, n in rows:
        codes = by_hour.get(at.astimezone(tz))
        if codes is not None:  # an hour off the clock's (a half-hour zone) is not guessed
            codes[code] = codes.get(code, 0) + n
    return [{"hour": slot.isoformat(), "count": sum(by_hour[slot].values()),
             "codes": by_hour[slot]} for slot in slots]


def deadletter_routes(router: APIRouter, log: DeadLetterLog, tz: tzinfo, clock: Clock) -> None:
    @router.get("/deadletters", response_model=None, tags=["health"],
                responses=answers(DeadLetterSummary, 403, 422))
    def deadletters(
        token: Bureau,
        hours: Annotated[int, Query(ge=1, le=MAX_HOURS)] = 24,
    ) -> dict[str, Any]:
        """Dead letters per hour over the last `hours` (1-168, default 24), how many are
        kept, and the latest 20 (admins, supervisors and the bureau)."""
        now = clock()
        since = now - timedelta(hours=hours - 1)
        return {
            "kept": log.count(),
            "hours": hourly(log.per_hour(since), now, hours, tz),
            "recent": [
                {"received_at": r.received_at.astimezone(tz).isoformat(), "topic": r.topic,
                 "code": r.code, "reason": r.reason, "payload_size": r.payload_size,
                 "truncated": r.truncated}
                for r in log.recent(RECENT)
            ],
        }
