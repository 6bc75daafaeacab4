"""Plausibility: values a working instrument can produce, times a working clock can have.

Decoders check shape and type; this checks sense, the same way for every source, after
units are converted. Only valid (flag N) values are range-checked: a value flagged T
("above the instrument's upper limit") or D (fault) is kept as the device sent it.

Plausibility is judged per value. A reading's particulates are what it is for: if one of
them is implausible, the device or its configured unit is wrong and the whole reading is
refused. Any other implausible value (a dust monitor's pressure sensor reading 0 kPa) is
kept, marked `IMPLAUSIBLE_FLAG` in place of its N, and the rest of the reading goes on:
like any flag but N, the mark keeps the value out of every rule, and the time series
stores it among the flagged values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from ingest._result import Rejection
from rules.records import (
    METRIC_UNITS,
    VALID_FLAG,
    DronePosition,
    Finding,
    Measurement,
    Mission,
    Reading,
    Record,
)

#: The flag Lantian gives a value no working instrument produces. Not an HJ 212 data flag
#: (those are single capital letters, Table 8), so it can be neither sent nor mistaken for one.
IMPLAUSIBLE_FLAG: Final = "implausible"

#: Metrics whose implausible value refuses the whole reading: what a dust reading is for.
PARTICULATES: Final = frozenset({"tsp", "pm10", "pm25", "pm1"})

#: metric -> (lowest, highest) plausible value in Lantian units
PLAUSIBLE: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "tsp": (0.0, 20000.0),
        "pm10": (0.0, 10000.0),
        "pm25": (0.0, 10000.0),
        "pm1": (0.0, 10000.0),
        "so2": (0.0, 10000.0),
        "no2": (0.0, 10000.0),
        "o3": (0.0, 10000.0),
        "co": (0.0, 150.0),
        "noise": (0.0, 160.0),
        "wind_speed": (0.0, 75.0),
        "wind_dir": (0.0, 360.0),
        "temp": (-60.0, 70.0),
        "rh": (0.0, 100.0),
        "pressure": (40.0, 120.0),
    }
)
assert set(PLAUSIBLE) == set(METRIC_UNITS)
_PLAUSIBLE: Final = dict(PLAUSIBLE)  # a dict's lookup, not the read-only proxy's


def _check_time(ts: datetime, now: datetime, max_future: timedelta) -> Rejection | None:
    if ts - now > max_future:
        return Rejection(
            "future_time",
            f"time {ts.isoformat()} is {(ts - now).total_seconds():.0f} s ahead of the "
            f"service clock (limit {max_future.total_seconds():.0f} s): check the device clock",
        )
    return None


@dataclass(frozen=True, slots=True)
class Marked:
    """A reading kept with its implausible values marked; `odd` says, per value, what is odd."""

    reading: Reading
    odd: tuple[str, ...]


def _check_reading(r: Reading) -> Rejection | Marked | None:
    implausible: list[str] | None = None  # rare: built only when needed
    for metric, m in r.values.items():
        value, flag, low, high = m
        # the common case first, in one test: a valid value in its range is finite, and
        # only minute/hour/day data have a min or max to look at
        if flag == VALID_FLAG and low is None and high is None:
            lo, hi = _PLAUSIBLE[metric]
            if lo <= value <= hi:
                continue
        if not math.isfinite(value):
            return Rejection("not_finite", f"{metric} value is {value!r}, not a finite number")
        for what, v in (("min", low), ("max", high)):
            if v is not None and not math.isfinite(v):
                return Rejection("not_finite", f"{metric} {what} is {v!r}, not a finite number")
        if flag != VALID_FLAG:  # `m.valid`, without a property's call on every value
            continue
        lo, hi = _PLAUSIBLE[metric]
        if lo <= value <= hi:
            continue
        if metric in PARTICULATES:
            return Rejection(
                "implausible",
                f"{metric} = {value:g} {METRIC_UNITS[metric]} is outside the plausible range "
                f"{lo:g}..{hi:g}: a wrong unit in config, or a faulty instrument",
            )
        if implausible is None:
            implausible = []
        implausible.append(metric)
    if implausible is None:
        return None
    values = dict(r.values)
    for metric in implausible:
        values[metric] = values[metric]._replace(flag=IMPLAUSIBLE_FLAG)
    marked = replace(r, values=MappingProxyType(values))
    return Marked(marked, tuple(what_is_odd(metric, r.values[metric]) for metric in implausible))


def what_is_odd(metric: str, m: Measurement) -> str:
    """What an implausible value most likely means, in the operator's words."""
    unit = METRIC_UNITS[metric]
    lo, hi = PLAUSIBLE[metric]
    said = f"{metric} {m.value:g} {unit}"
    if m.value == 0 and lo > 0:
        return f"{said}: the sensor is probably not measuring"
    if metric == "pressure" and 400 <= m.value <= 1200:
        return f"{said}: looks like hPa, not kPa"
    if metric == "pressure" and 40_000 <= m.value <= 120_000:
        return f"{said}: looks like Pa, not kPa"
    if m.value < 0 <= lo:
        return f"{said}: negative, which no {metric} can be"
    return f"{said}: outside what any working sensor reads ({lo:g}..{hi:g} {unit})"


def _check_position(p: DronePosition) -> Rejection | None:
    for name in ("alt_m", "heading", "speed_mps", "battery_pct"):
        v = getattr(p, name)
        if v is not None and not math.isfinite(v):
            return Rejection("not_finite", f"{name} is {v!r}, not a finite number")
    if p.battery_pct is not None and not 0 <= p.battery_pct <= 100:
        return Rejection("implausible", f"battery_pct = {p.battery_pct:g} is outside 0..100")
    if p.speed_mps is not None and not 0 <= p.speed_mps <= 100:
        return Rejection("implausible", f"speed_mps = {p.speed_mps:g} is outside 0..100 m/s")
    if p.alt_m is not None and not -500 <= p.alt_m <= 10000:
        return Rejection("implausible", f"alt_m = {p.alt_m:g} is outside -500..10000 m")
    return None


def validate(record: Record, now: datetime, max_future: timedelta) -> Rejection | Marked | None:
    """None if the record is plausible; the reading with its implausible values marked,
    when the reading can go on without them; else the first thing wrong with it."""
    if isinstance(record, Reading):
        return _check_time(record.ts, now, max_future) or _check_reading(record)
    if isinstance(record, DronePosition):
        return _check_time(record.ts, now, max_future) or _check_position(record)
    if isinstance(record, Finding):
        if not 0.0 <= record.confidence <= 1.0:
            return Rejection("implausible", f"confidence {record.confidence:g} is outside 0..1")
        return _check_time(record.ts, now, max_future)
    if isinstance(record, Mission):
        return None
    raise TypeError(f"not a record: {record!r}")
