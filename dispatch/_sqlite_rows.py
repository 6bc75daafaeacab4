"""Alerts, events and silences as the values of the alert store's rows, and back.

Times are kept as epoch seconds (REAL): only aware datetimes are taken, and they come
back in the store's timezone. Lists, sets and mappings are JSON text (sets sorted),
states, outcomes and stages their values, an alert's escalated stages their values
sorted and joined by commas. The columns are those of `dispatch._schema`; each function
here takes or gives them in the order its docstring names.

A silences row that cannot be read back (a time past what datetime holds in the store's
timezone, JSON that is not a list of strings) is skipped by `silences_of`, logged once
and counted in `ROWS_SKIPPED`: one bad row must not stop every alert that reads the
silences, nor the officers' list of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any, Final

import orjson
from prometheus_client import Counter

from dispatch._alert import Alert
from dispatch._lifecycle import Event, EventKind, Incident, Outcome, Stage, State
from dispatch._metric_blob import pack_metric
from dispatch._silences import Silence

#: The columns of an alert that a write sets, but its id and `metric`.
WRITE_COLS: Final = (
    "rule, subject, kind, queue, assists, state, severity, zone, grid, raised_at,"
    " dispatched_at, acknowledged_at, closed_at, cleared_at, ack_by, close_by, outcome,"
    " note, officer, drone, muted, escalated, seq, description"
)
SILENCE_COLS: Final = (
    "id, starts_at, ends_at, author, reason, stations, zones, rules, created_at, ended_by,"
    " queue"
)

#: Rows skipped as unreadable, by table. Not on any registry: the composition root
#: registers it on the service's (`registry.register(ROWS_SKIPPED)`).
ROWS_SKIPPED: Final = Counter(
    "lantian_store_rows_skipped", "Store rows skipped because they cannot be read back, "
    "by table (see the log for which and why)", ["table"], registry=None,
)

log = logging.getLogger("lantian.store")
_logged: set[tuple[str, str]] = set()  # (table, id) already warned of: once is enough


def alert_row(alert: Alert, label: Callable[[str | None], int]) -> tuple[Any, ...]:
    """The written columns (`WRITE_COLS`, then metric); `label` is the store's, so this is
    called inside the write transaction."""
    i = alert.incident
    raised_at, acknowledged_at = ts(i.raised_at), ts_or_none(i.acknowledged_at)
    closed_at, close_by = ts_or_none(i.closed_at), ts(alert.close_by)
    outcome = None if i.outcome is None else i.outcome.value
    escalated = ",".join(sorted(s.value for s in i.escalated))
    ack_by = ts(alert.ack_by)
    metric = pack_metric(
        label, alert.kind, i.queue, alert.zone, alert.grid, i.state.value, raised_at,
        acknowledged_at, closed_at, ack_by, close_by, outcome, escalated, i.muted,
    )
    return (
        alert.rule, alert.subject, alert.kind, i.queue, to_json(list(i.assists)),
        i.state.value, i.severity, alert.zone, alert.grid, raised_at,
        ts_or_none(i.dispatched_at), acknowledged_at, closed_at,
        ts_or_none(i.cleared_at), ack_by, close_by, outcome, i.note,
        i.officer, i.drone, int(i.muted), escalated, i.seq, to_json(alert.description),
        metric,
    )


def alert_of(r: tuple[Any, ...], tz: tzinfo) -> Alert:
    """The alert of a row's id and `WRITE_COLS`."""
    (id_, rule, subject, kind, queue, assists, state, severity, zone, grid, raised_at,
     dispatched_at, acknowledged_at, closed_at, cleared_at, ack_by, close_by, outcome,
     note, officer, drone, muted, escalated, seq, description) = r
    incident = Incident(
        id=id_, queue=queue, raised_at=_dt(raised_at, tz), state=State(state),
        assists=tuple(orjson.loads(assists)), muted=bool(muted),
        dispatched_at=_dt_or_none(dispatched_at, tz),
        acknowledged_at=_dt_or_none(acknowledged_at, tz),
        closed_at=_dt_or_none(closed_at, tz), drone=drone,
        outcome=None if outcome is None else Outcome(outcome), note=note, officer=officer,
        escalated=frozenset(Stage(s) for s in escalated.split(",") if s),
        severity=severity, cleared_at=_dt_or_none(cleared_at, tz), seq=seq,
    )
    return Alert(
        incident=incident, rule=rule, subject=subject, kind=kind, zone=zone, grid=grid,
        ack_by=_dt(ack_by, tz), close_by=_dt(close_by, tz),
        description=orjson.loads(description),
    )


def zone_rows(alert: Alert) -> list[tuple[str, str, float]]:
    """The alert's `alert_zones` rows: its zone and those of description["zones"]."""
    zones = {z for z in alert.description.get("zones") or () if isinstance(z, str)}
    if alert.zone is not None:
        zones.add(alert.zone)
    raised_at = ts(alert.incident.raised_at)
    return [(alert.id, z, raised_at) for z in zones]


def event_row(e: Event) -> tuple[Any, ...]:
    """alert_id, seq, kind, at, actor, data: an `events` row."""
    return (e.alert_id, e.seq, e.kind.value, ts(e.at), e.actor, to_json(e.data))


def event_of(r: tuple[Any, ...], tz: tzinfo) -> Event:
    """The event of an `events` row (as `event_row` gives it)."""
    a, s, k, at, actor, d = r
    return Event(a, s, EventKind(k), _dt(at, tz), actor, orjson.loads(d))


def silence_row(s: Silence) -> tuple[Any, ...]:
    """A `silences` row, in the order of `SILENCE_COLS`."""
    return (s.id, ts(s.starts_at), ts(s.ends_at), s.author, s.reason,
            to_json(sorted(s.stations)), to_json(sorted(s.zones)), to_json(sorted(s.rules)),
            ts_or_none(s.created_at), s.ended_by, s.queue)


def silence_of(r: tuple[Any, ...], tz: tzinfo) -> Silence:
    """The silence of a row's `SILENCE_COLS`; ValueError, OverflowError, OSError or
    TypeError if the row cannot be one (see `silences_of`)."""
    id_, starts_at, ends_at, author, reason, stations, zones, rules, created_at, by, q = r
    return Silence(
        id=id_, starts_at=_dt(starts_at, tz), ends_at=_dt(ends_at, tz), author=author,
        reason=reason, stations=_strings(stations), zones=_strings(zones),
        rules=_strings(rules), created_at=_dt_or_none(created_at, tz), ended_by=by, queue=q,
    )


def silences_of(rows: Iterable[tuple[Any, ...]], tz: tzinfo) -> list[Silence]:
    """The silences of the rows that can be read back; the others are skipped, logged
    (once a row) and counted in `ROWS_SKIPPED`."""
    out = []
    for r in rows:
        try:
            out.append(silence_of(r, tz))
        except (ValueError, OverflowError, OSError, TypeError) as exc:
            skipped("silences", str(r[0]), exc)
    return out


def skipped(table: str, row_id: str, why: Exception) -> None:
    """Count a row of `table` that cannot be read back, and say so once."""
    ROWS_SKIPPED.labels(table).inc()
    if (table, row_id) not in _logged:
        _logged.add((table, row_id))
        log.warning("%s row %r skipped, it cannot be read back: %s: %s",
                    table, row_id, type(why).__name__, why)


def ts(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at}: the store needs aware ones")
    return at.timestamp()


def ts_or_none(at: datetime | None) -> float | None:
    return None if at is None else ts(at)


def to_json(value: Any) -> str:
    return orjson.dumps(value, default=_plain).decode()


def _plain(value: Any) -> Any:
    # event data and descriptions may be read-only mappings (MappingProxyType)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _strings(text: str) -> frozenset[str]:
    value = orjson.loads(text)
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ValueError(f"expected a JSON list of strings, got {text[:80]!r}")
    return frozenset(value)


def _dt(t: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(t, tz)


def _dt_or_none(t: float | None, tz: tzinfo) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, tz)
