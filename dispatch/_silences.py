"""Silences: which alerts are muted, and by what.

A silence matches an alert when every matcher it has matches (station, zone, rule), the
alert was raised inside its window and, when the silence belongs to a queue, the alert
is routed to that queue. An officer's silence belongs to the officer's queue: it mutes
that queue's alerts and no other's, and only that queue's officers (and admins) may end
it. A silence without a queue is global: only an admin makes one, and the system, which
silences stations under maintenance or calibration (HJ 212 flags M, C) while it lasts:
the engine says when it starts and ends, and dispatch keeps that as an ordinary silence
authored by the system, which every officer sees and an admin can end early.

A silence the API takes starts no earlier than `START_SLACK` before now (a little clock
skew, not a rewrite of history), no later than `LONGEST` after now, and lasts at most
`LONGEST`: far-off times are typing mistakes, and past year 9999 they cannot even be
read back. Only the system's open-ended silences end at `UNTIL_ENDED`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final


@dataclass(frozen=True, slots=True)
class Silence:
    """A mute (Alertmanager's silence): alerts matching every non-empty matcher, raised
    from `starts_at` until `ends_at`, are recorded but not dispatched. `queue`: the queue
    whose alerts alone it mutes, None for every queue's (see `dispatch._silences`)."""

    id: str
    starts_at: datetime
    ends_at: datetime
    author: str
    reason: str
    stations: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    created_at: datetime | None = None
    ended_by: str | None = None
    queue: str | None = None

#: The author of silences dispatch opens itself for stations under maintenance.
MAINTENANCE_AUTHOR = "system:maintenance"

#: The end of a silence that lasts until something ends it (maintenance). One year
#: short of datetime's limit, so that it reads back in every timezone (UTC±14).
UNTIL_ENDED: Final = datetime(9999, 1, 1, tzinfo=UTC)

#: How far before now a silence may start, and how far ahead it may start and last.
START_SLACK: Final = timedelta(minutes=10)
LONGEST: Final = timedelta(days=366)


def matches(
    silence: Silence, rule: str, subject: str, zones: Iterable[str], at: datetime,
    queue: str | None = None,
) -> bool:
    """Whether `silence` mutes the alert. `queue` is the queue the alert is routed to;
    None when the caller does not say, and then a silence's queue is not looked at (how
    silences matched before they had queues)."""
    if not silence.starts_at <= at < silence.ends_at:
        return False
    if queue is not None and silence.queue is not None and silence.queue != queue:
        return False
    if silence.rules and rule not in silence.rules:
        return False
    if silence.stations and subject.removeprefix("station:") not in silence.stations:
        return False
    return not silence.zones or any(z in silence.zones for z in zones)


def muting(
    silences: Iterable[Silence], rule: str, subject: str, zones: Iterable[str], at: datetime,
    *, queue: str | None = None,
) -> Silence | None:
    """The first silence that mutes the alert, if any (`queue`: see `matches`)."""
    zones = tuple(zones)
    return next((s for s in silences if matches(s, rule, subject, zones, at, queue)), None)


def until_ended(silence: Silence) -> bool:
    """Whether the silence lasts until something ends it rather than to a set time."""
    return silence.ends_at >= UNTIL_ENDED


def window_problem(starts: datetime, ends: datetime, now: datetime) -> str | None:
    """What is wrong with a silence from `starts` to `ends` asked for at `now` (all
    aware), or None when it may be kept."""
    if ends <= starts:
        return "ends_at must be after starts_at"
    if starts < now - START_SLACK:
        return f"starts_at must not be more than {_minutes(START_SLACK)} minutes in the past"
    if starts > now + LONGEST:
        return f"starts_at must be within {LONGEST.days} days from now"
    if ends - starts > LONGEST:
        return f"a silence lasts at most {LONGEST.days} days; make a new one to go on"
    return None


def _minutes(d: timedelta) -> int:
    return int(d.total_seconds() // 60)
