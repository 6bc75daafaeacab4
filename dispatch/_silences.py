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

The commands an officer or admin gives (`create_silence`, `end_silence`) live here too,
over a `SilenceBook` (the store is one): they check the bounds and who may touch which
queue's silence, and refuse with `SilenceRefused`, whose `reason` says what the HTTP
layer answers (`forbidden` 403, `unknown` 404, `invalid` 422).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final, Literal, Protocol

from dispatch._access import Grants


@dataclass(frozen=True, slots=True)
class Silence:
    """A mute (Alertmanager's silence): alerts matching every non-empty matcher, raised
    from `starts_at` until `ends_at`, are recorded but not dispatched. `queue`: the queue
    whose alerts alone it mutes, None for every queue's."""

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


class SilenceBook(Protocol):
    """Where silences are kept (`AlertStore` is one)."""

    def add_silence(self, silence: Silence) -> None: ...

    def end_silence(self, silence_id: str, at: datetime, actor: str) -> Silence | None: ...

    def silences(self, active_at: datetime | None = None) -> list[Silence]: ...


class SilenceRefused(Exception):
    """A silence command that was not carried out, and why: `forbidden` (the token may
    not touch that queue's silences), `unknown` (no such silence) or `invalid` (the
    request's content)."""

    def __init__(self, reason: Literal["forbidden", "unknown", "invalid"], message: str):
        super().__init__(message)
        self.reason = reason


def create_silence(
    book: SilenceBook, token: Grants, *, queues: Collection[str], now: datetime, tz: tzinfo,
    ends_at: datetime, reason: str, author: str, starts_at: datetime | None = None,
    queue: str | None = None, stations: Iterable[str] = (), zones: Iterable[str] = (),
    rules: Iterable[str] = (),
) -> Silence:
    """Keep and return a new silence. `queue` None means the caller's own (an officer's one
    queue; an admin's None: every queue's; an officer of several queues names one);
    `queues` are the queues that exist; times without an offset are in `tz`. Checked
    in this order, the first failure refused: the caller may manage the queue's
    silences, the queue exists, the window is within bounds (`window_problem`), there is
    at least one matcher."""
    if queue is None and len(token.queues) > 1:
        raise SilenceRefused("invalid", f"queue: {token.name} works {_their(token)}; name one")
    queue = queue if queue is not None else token.queue
    if not token.may_manage_silence(queue):
        raise SilenceRefused("forbidden", f"{token.name} may only silence {_their(token)}")
    if queue is not None and queue not in queues:
        raise SilenceRefused("invalid", f"queue: no queue {queue!r}")
    starts = _aware(starts_at, tz) if starts_at else now
    ends = _aware(ends_at, tz)
    problem = window_problem(starts, ends, now)
    if problem is not None:
        raise SilenceRefused("invalid", problem)
    stations, zones, rules = frozenset(stations), frozenset(zones), frozenset(rules)
    if not (stations or zones or rules):
        raise SilenceRefused("invalid", "a silence needs at least one station, zone or rule")
    silence = Silence(
        # the time orders them; the random part keeps two in the same instant apart
        id=f"silence-{int(now.timestamp() * 1000):x}-{os.urandom(3).hex()}",
        # kept in UTC: an offset such as -14:00 is the caller's, not the silence's
        starts_at=starts.astimezone(UTC), ends_at=ends.astimezone(UTC),
        author=author, reason=reason, stations=stations, zones=zones, rules=rules,
        created_at=now, queue=queue,
    )
    book.add_silence(silence)
    return silence


def end_silence(book: SilenceBook, silence_id: str, token: Grants, now: datetime) -> Silence:
    """End a silence at `now`: an officer their queue's, an admin any."""
    found = next((s for s in book.silences() if s.id == silence_id), None)
    if found is None:
        raise SilenceRefused("unknown", f"no silence {silence_id!r}")
    if not token.may_manage_silence(found.queue):
        whose = "global" if found.queue is None else f"queue {found.queue!r}'s"
        raise SilenceRefused(
            "forbidden", f"silence {silence_id} is {whose}; "
            f"{token.name} may only end those of {_their(token)}"
        )
    ended = book.end_silence(silence_id, now, token.name)
    if ended is None:  # ended by someone else between the look-up and now
        raise SilenceRefused("unknown", f"no silence {silence_id!r}")
    return ended


def _their(who: Grants) -> str:
    """The queues a caller's silences may be of, for a refusal."""
    names = sorted(who.queues)
    if not names:
        return "no queue"
    return f"queue{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))}"


def _aware(at: datetime, tz: tzinfo) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def _minutes(d: timedelta) -> int:
    return int(d.total_seconds() // 60)
