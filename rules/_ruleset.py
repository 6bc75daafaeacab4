"""The rules as data: what config/lantian.toml says, validated once and then trusted.

The shell builds a `Ruleset` from config at start-up; the engine only reads it. Every
number here comes from config: the defaults in `config/lantian.toml` are examples for the
demo geography, not regulation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from rules._aqi_tables import AqiEdition
from rules._records import Interval, Station
from rules._trigger import Trigger
from rules._zone_index import ZoneIndex
from rules._zones import Zone

_NO_FACTORS: Final[Mapping[str, float]] = MappingProxyType({})

#: The station kind a selector uses for readings that carry their own position (a drone's
#: on-board sensor, a handheld) rather than coming from a registered station.
MOBILE: Final = "mobile"

#: The derived metric the engine computes from a station's 1-hour means when AQI is on.
AQI_METRIC: Final = "aqi"


class Aggregate(StrEnum):
    """What a rule compares with its limits: the sample itself, a statistic of the window,
    or how far the sample has moved from the window's extreme (rate of change)."""

    INSTANT = "instant"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    RISE = "rise"  # value now − lowest value in the window
    FALL = "fall"  # highest value in the window − value now


@dataclass(frozen=True, slots=True)
class Selector:
    """Which subjects a rule applies to. Each non-empty set must match; empty sets match
    everything. `station_kinds` may name `mobile` for readings that carry a position."""

    stations: frozenset[str] = frozenset()
    station_kinds: frozenset[str] = frozenset()
    zone_kinds: frozenset[str] = frozenset()

    def matches(self, subject_id: str, kind: str, zones: tuple[Zone, ...]) -> bool:
        if self.stations and subject_id not in self.stations:
            return False
        if self.station_kinds and kind not in self.station_kinds:
            return False
        return not self.zone_kinds or any(z.kind in self.zone_kinds for z in zones)


@dataclass(frozen=True, slots=True)
class DailyLimit:
    """Regulators count exceedances per natural day: beyond `allowed` in one local day the
    site is in violation, and the alert takes `severity`."""

    allowed: int
    severity: str


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """A metric against limits: instant value, a window statistic, or a rate of change;
    optionally minus the background (the hourly mean of reference stations), per area
    class, with a daily exceedance count.

    With `aligned`, the window is evaluated in clock-aligned blocks (10:00–10:15,
    10:15–10:30, ... in local time) once each block is complete, as regulators compute
    their 15-minute means; otherwise it slides and is evaluated on every sample.
    `intervals` lists which kinds of reading feed the rule, most preferred first: a
    station sending both real-time and minute data is counted once, from the first.
    """

    id: str
    kind: str
    metric: str
    trigger: Trigger
    aggregate: Aggregate = Aggregate.INSTANT
    window_s: float = 900.0
    aligned: bool = False
    min_samples: int = 1
    intervals: tuple[Interval, ...] = (Interval.INSTANT, Interval.MINUTE)
    only_valid: bool = True
    select: Selector = field(default_factory=Selector)
    background: frozenset[str] | None = None
    area_factors: Mapping[str, float] = field(default_factory=lambda: _NO_FACTORS)
    daily_limit: DailyLimit | None = None

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise ValueError(f"rule {self.id!r}: window_s must be positive")
        if self.min_samples < 1:
            raise ValueError(f"rule {self.id!r}: min_samples must be at least 1")
        if self.aligned and self.aggregate is Aggregate.INSTANT:
            raise ValueError(f"rule {self.id!r}: an aligned rule needs a window aggregate")
        if not self.intervals:
            raise ValueError(f"rule {self.id!r}: no intervals feed it")

    @property
    def span_s(self) -> float:
        """How much history the rule's window keeps: an aligned rule evaluates the block
        that just ended while samples of the next one arrive."""
        return self.window_s * 2 if self.aligned else self.window_s


@dataclass(frozen=True, slots=True)
class NoDataRule:
    """A station silent for longer than its limit is in "no data": its own alert, which
    neither raises nor clears pollution alerts. Limits per station beat limits per kind
    beat the default; a limit of 0 turns the check off for that station or kind."""

    after_s: float = 900.0
    by_kind: Mapping[str, float] = field(default_factory=lambda: _NO_FACTORS)
    by_station: Mapping[str, float] = field(default_factory=lambda: _NO_FACTORS)
    rule: str = "no-data"
    kind: str = "no_data"
    severity: str = "warning"

    def limit_for(self, station: Station) -> float | None:
        limit = self.by_station.get(station.id, self.by_kind.get(station.kind, self.after_s))
        return limit if limit > 0 else None


@dataclass(frozen=True, slots=True)
class FindingRules:
    """Drone findings: those at or above their kind's confidence become alerts of the
    mapped kind. Another finding of the same kind at the same place within `merge_s`
    updates that alert instead of opening a new one."""

    min_confidence: float = 0.6
    by_kind: Mapping[str, float] = field(default_factory=lambda: _NO_FACTORS)
    alert_kinds: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    severity: str = "major"
    merge_s: float = 3600.0

    def threshold(self, kind: str) -> float:
        return self.by_kind.get(kind, self.min_confidence)


@dataclass(frozen=True, slots=True)
class DroneRules:
    """Drone rule settings. Times in seconds, distances in metres."""

    no_fly_rule: str = "drone-no-fly"
    no_fly_kind: str = "no_fly_breach"
    no_fly_severity: str = "critical"
    no_fly_grace_s: float = 0.0
    #: out of the zone this long before the breach is over (GPS jitter on the boundary)
    no_fly_clear_s: float = 10.0
    corridor_rule: str = "drone-off-corridor"
    corridor_kind: str = "off_corridor"
    corridor_severity: str = "major"
    corridor_grace_s: float = 30.0
    #: report a growing deviation again once it is this much beyond the last value reported
    corridor_update_step_m: float = 50.0
    dwell_s: float = 10.0
    buffer_m: float = 20.0
    #: longer silences restart pending runs; flight-blender calls 15 s without telemetry
    #: non-conforming (its check C9), and DJI docks send every 2 s
    max_gap_s: float = 15.0
    event_kinds: frozenset[str] = frozenset(
        {"construction_site", "patrol_area", "community", "land_use", "road", "no_fly"}
    )
    coverage_kinds: frozenset[str] = frozenset({"patrol_area", "community", "land_use"})
    track_len: int = 30
    #: local days of coverage kept per drone: the daily report must be drawn within this
    coverage_days: int = 31
    max_suggestion_age_s: float = 600.0
    cruise_speed_mps: float = 10.0
    launch_overhead_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("no_fly_grace_s", "no_fly_clear_s", "corridor_grace_s", "dwell_s",
                     "buffer_m", "max_gap_s", "max_suggestion_age_s", "launch_overhead_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be at least 0, got {getattr(self, name)!r}")
        for name in ("corridor_update_step_m", "cruise_speed_mps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be above 0, got {getattr(self, name)!r}")
        if self.track_len < 1 or self.coverage_days < 1:
            raise ValueError("track_len and coverage_days must be at least 1")


@dataclass(frozen=True, slots=True)
class Ruleset:
    tz: tzinfo
    stations: Mapping[str, Station]
    index: ZoneIndex
    thresholds: tuple[ThresholdRule, ...] = ()
    no_data: NoDataRule | None = None
    findings: FindingRules = field(default_factory=FindingRules)
    drones: DroneRules = field(default_factory=DroneRules)
    aqi: AqiEdition | None = None
    by_metric: Mapping[str, tuple[ThresholdRule, ...]] = field(init=False)
    #: the stations whose hourly means some rule uses as its background
    background_stations: frozenset[str] = field(init=False)
    #: station -> the metrics of it some rule uses as its background
    background_metrics: Mapping[str, tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        ids = [r.id for r in self.thresholds]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {', '.join(dupes)}")
        by_metric: dict[str, list[ThresholdRule]] = {}
        for rule in self.thresholds:
            by_metric.setdefault(rule.metric, []).append(rule)
        object.__setattr__(
            self, "by_metric", MappingProxyType({m: tuple(r) for m, r in by_metric.items()})
        )
        object.__setattr__(self, "background_stations", frozenset().union(
            *(r.background for r in self.thresholds if r.background)
        ))
        background: dict[str, list[str]] = {}
        for rule in self.thresholds:
            for station in sorted(rule.background or ()):
                metrics = background.setdefault(station, [])
                if rule.metric not in metrics:
                    metrics.append(rule.metric)
        object.__setattr__(self, "background_metrics", MappingProxyType(
            {station: tuple(metrics) for station, metrics in background.items()}
        ))
