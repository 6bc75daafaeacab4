"""Snapshots: the rule state written out as versioned JSON, and read back.

    data = dump_state(state)             # bytes: {"format": 1, ...}
    state = load_state(data, ruleset)    # SnapshotError if it cannot be read

Why not pickle: unpickling runs whatever code the bytes name, so a snapshot in a database
would be a way in; and a pickle ties a snapshot to the classes' module paths, so moving a
class breaks every stored one. This format is plain data, checked as it is read, and
`load_state` either returns a sound state or raises `SnapshotError` (a `ValueError`).

What is stored, and what is not: only what the records made. Anything derivable from the
ruleset is rebuilt by `load_state` from the ruleset it is given: a drone's route (from its
stored mission's waypoints, in the zone index's projection), a series' window (the
shared one, by key) and trigger (the rule's, scaled for the station's area class), the
sites cache, and the threshold rules' selector cache (`skipped`). So a snapshot taken
before a config change is read with the new rules:

- a series of a rule that no longer exists, or whose levels changed in number, is
  dropped (that condition starts over); one fed by an interval the rule no longer takes
  starts unfed;
- a reference station's hourly sums of a metric no background rule reads are dropped
  (snapshots of older versions kept every metric of theirs);
- a drone's presence in a zone that left the index is kept: the drone modules already
  handle a zone that disappears (`rules._scene.zone_or_none`).

What `load_state` checks is form and consistency (types, arities, windows in time order
within their span with a running sum that is their values' sum, levels that fit their
rule), not whether a measurement is plausible: the values are as good as the store the
snapshot came from. What it guarantees is that nothing in a snapshot is ever executed.

One deliberate difference from the live state: a station id that sends both located
(mobile) and unlocated readings gets the trigger and selector of its fixed site on load.

Encoding (format 1): windows are a base64 of their little-endian float64 (time, value)
rows, with their running sum as is, so that restored means are the same floats; times of
windows, timers and sums are epoch seconds (-inf as null); drone positions keep their
ISO 8601 time with its offset, since alerts quote it. Bulk entries (windows, series) are
arrays, the rest objects. Bump `FORMAT` whenever what is written changes.
"""

from __future__ import annotations

import base64
import math
from collections import deque
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final, TypeVar

import numpy as np
import orjson

from rules._corridor import route_of
from rules._drone_state import DroneBook, DroneState
from rules._presence import Presence
from rules._records import DronePosition, Interval, Location, Mission, Waypoint
from rules._ruleset import Ruleset, ThresholdRule
from rules._sites import station_site
from rules._state import RuleState
from rules._thresholds import Series, needs_window, trigger_for
from rules._trigger import Condition, Hold, LevelState
from rules._window import Window
from rules._windows import shared_window

__all__ = ["FORMAT", "SnapshotError", "dump_state", "load_state"]

#: The format `dump_state` writes and the only one `load_state` reads.
FORMAT: Final = 1

_F8: Final = np.dtype("<f8")
#: value -> Interval, looked up once per window and series (Interval(...) is slower)
_INTERVALS: Final = {i.value: i for i in Interval}
_T = TypeVar("_T")
_STATION: Final = "station:"


class SnapshotError(ValueError):
    """A snapshot that cannot be loaded: not JSON, another format, or malformed."""


# -- writing -------------------------------------------------------------------------------


def dump_state(state: RuleState) -> bytes:
    """The rule state as a format-1 JSON snapshot."""
    th = state.thresholds
    nd = state.no_data
    doc = {
        "format": FORMAT,
        "windows": [
            [subject, metric, interval.value, span, only_valid, *_window(w)]
            for (subject, metric, interval, span, only_valid), w in th.windows.items()
        ],
        "series": [[rule, subject, *_series(s)] for (rule, subject), s in th.series.items()],
        "hourly": [
            [station, metric, [[h, acc[0], acc[1]] for h, acc in hours.items()]]
            for (station, metric), hours in th.hourly.items()
        ],
        "no_data": {
            "last_seen": nd.last_seen, "open": nd.open, "started": nd.started,
            "last_sweep": _time(nd.last_sweep),
        },
        "drones": {drone: _drone(d) for drone, d in state.drones.drones.items()},
        "findings": [[rule, subject, t] for (rule, subject), t in state.findings.last.items()],
        "maintenance": {station: list(flags) for station, flags in state.maintenance.items()},
    }
    return orjson.dumps(doc)


def _time(t: float | None) -> float | None:
    return None if t is None or t == -math.inf else t


def _window(w: Window) -> list[object]:
    rows, running_sum, since_resum = w.parts()
    return [since_resum, running_sum, base64.b64encode(rows.astype(_F8).tobytes()).decode()]


def _series(s: Series) -> list[object]:
    c = s.condition
    return [
        None if s.interval is None else s.interval.value, _time(s.last_t), s.block,
        None if s.day is None else s.day.isoformat(), s.exceedances, s.peak, s.severity,
        c.severity, c.raised_at,
        [[lv.active, *_hold(lv.breach), *_hold(lv.calm)] for lv in c.levels],
    ]


def _hold(h: Hold) -> tuple[float | None, int, float | None]:
    return h.since, h.samples, h.last


def _drone(d: DroneState) -> dict[str, object]:
    return {
        "last": _position(d.last),
        "track": [_position(p) for p in d.track],
        "mission": None if d.mission is None else {
            "mission": d.mission.mission, "corridor_m": d.mission.corridor_m,
            "waypoints": [[w.lon, w.lat, w.alt_m] for w in d.mission.waypoints],
        },
        "corridor": _presence(d.corridor),
        "corridor_reported_m": d.corridor_reported_m,
        "no_fly": {zid: _presence(p) for zid, p in d.no_fly.items()},
        "zones": {zid: _presence(p) for zid, p in d.zones.items()},
        "coverage": {day.isoformat(): sorted(zids) for day, zids in d.coverage.items()},
    }


def _presence(p: Presence) -> list[object]:
    return [p.inside, _position(p.pending)]


def _position(p: DronePosition | None) -> list[object] | None:
    if p is None:
        return None
    return [p.drone, p.ts.isoformat(), p.location.lat, p.location.lon, p.alt_m, p.heading,
            p.speed_mps, p.mission, p.waypoint, p.battery_pct, p.source]


# -- reading -------------------------------------------------------------------------------


def load_state(data: bytes, ruleset: Ruleset) -> RuleState:
    """The rule state a format-1 snapshot holds, with what derives from `ruleset`
    rebuilt. SnapshotError (and nothing else) for anything that is not one."""
    try:
        doc = orjson.loads(data)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise SnapshotError(f"a rules snapshot is JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise SnapshotError("a rules snapshot is a JSON object")
    version = doc.get("format")
    if version != FORMAT or isinstance(version, bool):
        raise SnapshotError(f"rules snapshot format {version!r}: this version reads {FORMAT}")
    try:
        return _state(doc, ruleset)
    except SnapshotError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # the checks below catch wrong shapes and types; this catches a missing key and the
        # values constructors refuse (a latitude of 91, bad base64: binascii.Error is a
        # ValueError), so that a caller has one exception to handle
        raise SnapshotError(f"malformed rules snapshot: {exc!r}") from exc


def _state(doc: dict[str, Any], rs: Ruleset) -> RuleState:
    state = RuleState()
    th = state.thresholds
    for entry in _list(doc["windows"], "windows"):
        subject, metric, interval, span, only_valid, since, running, blob = _row(entry, 8)
        span_s = _float(span)
        rows = np.frombuffer(base64.b64decode(_str(blob), validate=True), dtype=_F8)
        if rows.size % 2:
            raise SnapshotError("window rows are (time, value) pairs")
        key = (_str(subject), _str(metric), _interval(interval), span_s, _bool(only_valid))
        th.windows[key] = Window.restore(
            span_s, rows.reshape(-1, 2), _float(running), _int(since)
        )
    rules = {r.id: r for r in rs.thresholds}
    for entry in _list(doc["series"], "series"):
        rule_id, subject, *fields = _row(entry, 12)
        series = _series_of(rules.get(_str(rule_id)), _str(subject), fields, state, rs)
        if series is not None:
            th.series[_str(rule_id), _str(subject)] = series
    for entry in _list(doc["hourly"], "hourly"):
        station, metric, hours = _row(entry, 3)
        sums = {
            _float(h): [_float(total), _float(count)]
            for h, total, count in (_row(x, 3) for x in _list(hours, "hours"))
        }
        if _str(metric) in rs.background_metrics.get(_str(station), ()):
            th.hourly[_str(station), _str(metric)] = sums
    nd, raw = state.no_data, _dict(doc["no_data"], "no_data")
    nd.last_seen = {_str(k): _float(v) for k, v in _dict(raw["last_seen"], "last_seen").items()}
    nd.open = {_str(k): _float(v) for k, v in _dict(raw["open"], "open").items()}
    nd.started = _opt(_float, raw["started"])
    nd.last_sweep = _time_of(raw["last_sweep"])
    state.drones = DroneBook({
        _str(drone): _drone_of(_str(drone), _dict(d, "drone"), rs)
        for drone, d in _dict(doc["drones"], "drones").items()
    })
    for entry in _list(doc["findings"], "findings"):
        rule, subject, t = _row(entry, 3)
        state.findings.last[_str(rule), _str(subject)] = _float(t)
    state.maintenance = {
        _str(station): tuple(_str(f) for f in _list(flags, "flags"))
        for station, flags in _dict(doc["maintenance"], "maintenance").items()
    }
    return state


def _series_of(
    rule: ThresholdRule | None, subject: str, fields: list[Any], state: RuleState, rs: Ruleset
) -> Series | None:
    (interval, last_t, block, day, exceedances, peak, severity, cond_severity, raised_at,
     levels) = fields
    raw_levels = _list(levels, "levels")
    if rule is None or len(raw_levels) != len(rule.trigger.levels):
        return None  # the rule is gone or changed shape: its condition starts over
    cond = Condition([_level(x) for x in raw_levels], _int(cond_severity),
                     _opt(_float, raised_at))
    if not -1 <= cond.severity < len(cond.levels):
        raise SnapshotError(f"series {rule.id!r}: severity {cond.severity} out of range")
    feed = None if interval is None else _interval(interval)
    if feed not in rule.intervals:
        feed = None  # an interval the rule no longer takes: unfed until one it takes comes
    if not subject.startswith(_STATION):
        raise SnapshotError(f"series subject {subject!r} is not a station")
    site = station_site(subject[len(_STATION):], rs, state.sites)
    window = None
    if feed is not None and needs_window(rule):
        window = shared_window(state.thresholds.windows, subject, rule.metric, feed,
                               rule.span_s, rule.only_valid)
    return Series(
        condition=cond,
        rank=len(rule.intervals) if feed is None else rule.intervals.index(feed),
        interval=feed, window=window, trigger=trigger_for(rule, site),
        last_t=_time_of(last_t), block=_opt(_float, block),
        day=None if day is None else date.fromisoformat(_str(day)),
        exceedances=_int(exceedances), peak=_opt(_float, peak), severity=_str(severity),
    )


def _level(entry: object) -> LevelState:
    active, b_since, b_samples, b_last, c_since, c_samples, c_last = _row(entry, 7)
    return LevelState(
        _bool(active),
        Hold(_opt(_float, b_since), _int(b_samples), _opt(_float, b_last)),
        Hold(_opt(_float, c_since), _int(c_samples), _opt(_float, c_last)),
    )


def _drone_of(drone: str, d: dict[str, Any], rs: Ruleset) -> DroneState:
    state = DroneState(
        last=_position_of(d["last"]),
        track=deque((_required(_position_of(p)) for p in _list(d["track"], "track")),
                    maxlen=rs.drones.track_len),
        corridor=_presence_of(d["corridor"]),
        corridor_reported_m=_opt(_float, d["corridor_reported_m"]),
        no_fly={_str(z): _presence_of(p) for z, p in _dict(d["no_fly"], "no_fly").items()},
        zones={_str(z): _presence_of(p) for z, p in _dict(d["zones"], "zones").items()},
        coverage={
            date.fromisoformat(_str(day)): {_str(z) for z in _list(zids, "coverage")}
            for day, zids in _dict(d["coverage"], "coverage").items()
        },
    )
    plan = d["mission"]
    if plan is not None:
        plan = _dict(plan, "mission")
        state.mission = Mission(  # the book's key is the drone the plan is for
            drone, _str(plan["mission"]), _float(plan["corridor_m"]),
            tuple(Waypoint(*(_float(v) for v in _row(w, 3)))
                  for w in _list(plan["waypoints"], "waypoints")),
        )
        state.route = route_of(state.mission, rs.index)  # derived: rebuilt, never stored
    return state


def _presence_of(entry: object) -> Presence:
    inside, pending = _row(entry, 2)
    return Presence(_bool(inside), _position_of(pending))


def _position_of(entry: object) -> DronePosition | None:
    if entry is None:
        return None
    drone, ts, lat, lon, alt, heading, speed, mission, waypoint, battery, source = _row(entry, 11)
    at = datetime.fromisoformat(_str(ts))
    if at.tzinfo is None:
        raise SnapshotError(f"position time {ts!r} has no offset")
    return DronePosition(
        _str(drone), at, Location(_float(lat), _float(lon)), _opt(_float, alt),
        _opt(_float, heading), _opt(_float, speed), _opt(_str, mission),
        _opt(_int, waypoint), _opt(_float, battery), _str(source),
    )


# -- checked leaves: JSON gives any type anywhere ------------------------------------------


def _row(x: object, n: int) -> list[Any]:
    if not isinstance(x, list) or len(x) != n:
        raise SnapshotError(f"expected an array of {n}, got {_show(x)}")
    return x


def _list(x: object, what: str) -> list[Any]:
    if not isinstance(x, list):
        raise SnapshotError(f"{what}: expected an array, got {_show(x)}")
    return x


def _dict(x: object, what: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise SnapshotError(f"{what}: expected an object, got {_show(x)}")
    return x


def _str(x: object) -> str:
    if not isinstance(x, str):
        raise SnapshotError(f"expected a string, got {_show(x)}")
    return x


def _bool(x: object) -> bool:
    if not isinstance(x, bool):
        raise SnapshotError(f"expected true or false, got {_show(x)}")
    return x


def _int(x: object) -> int:
    if not isinstance(x, int) or isinstance(x, bool):
        raise SnapshotError(f"expected an integer, got {_show(x)}")
    return x


def _float(x: object) -> float:
    if not isinstance(x, int | float) or isinstance(x, bool) or not math.isfinite(x):
        raise SnapshotError(f"expected a finite number, got {_show(x)}")
    return x  # an int stays one (a rule's span of 900): written again, it reads the same


def _interval(x: object) -> Interval:
    found = _INTERVALS.get(_str(x))
    if found is None:
        raise SnapshotError(f"expected an interval ({', '.join(_INTERVALS)}), got {_show(x)}")
    return found


def _opt(read: Callable[[object], _T], x: object) -> _T | None:
    return None if x is None else read(x)


def _time_of(x: object) -> float:
    """A time that may be -inf ("never"), written as null."""
    return -math.inf if x is None else _float(x)


def _required(p: DronePosition | None) -> DronePosition:
    if p is None:
        raise SnapshotError("a track holds positions, not null")
    return p


def _show(x: object) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."

