"""Back-fill (补抽): after a logger was out of touch, ask it for the data of the gap.

A logger keeps its minute and hourly data, and the platform side of HJ 212 may ask for a
span of it (CN 2051 / 2061 with `BeginTime` and `EndTime`, C.20-C.23). When a logger
whose station has a policy reconnects, and the station's newest record is older than
`min_gap`, the span from just after it to now is asked for, at most `max_span` of it (the
newest part: what an alert would still care about). The data comes back as ordinary
uploads, deduplicated against what already arrived.

Pure: the policy, the newest data time and now in; the span to ask for out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

__all__ = ["BackfillPolicy", "backfill_span"]

#: One step of each CN's data: the span after the newest DataTime that it covers.
STEP: Final = {"2051": timedelta(minutes=1), "2061": timedelta(hours=1)}


@dataclass(frozen=True, slots=True)
class BackfillPolicy:
    """`cn`: "2051" (minute data) or "2061" (hourly)."""

    cn: str = "2051"
    min_gap: timedelta = timedelta(minutes=5)
    max_span: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.cn not in STEP:
            raise ValueError(f"back-fill asks for CN 2051 or 2061, not {self.cn!r}")


def backfill_span(
    policy: BackfillPolicy, newest: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """(begin, end) to ask for, or None: no data seen yet (nothing says what is missing),
    or a gap no longer than `min_gap`."""
    if newest is None or now - newest <= policy.min_gap:
        return None
    begin = max(newest + STEP[policy.cn], now - policy.max_span)
    return (begin, now) if begin < now else None
