"""The `[rules]` section of lantian.toml: its schema, and the `Ruleset` built from it.

Checked once at start-up against the stations and zones actually loaded, with the same
file/key/problem errors as the rest of the config: a rule naming a station that does not
exist, a metric Lantian does not know, or levels in the wrong order stop start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import Field, model_validator

from lantian.config._errors import ConfigError
from lantian.config._schema import NonNegativeFloat, PositiveFloat, PositiveInt, Section
from rules.aqi import AqiEdition
from rules.geo import ZONE_KINDS, Zone, ZoneIndex
from rules.records import METRIC_UNITS, Interval, Station
from rules.settings import (
    AQI_METRIC,
    Aggregate,
    DailyLimit,
    Direction,
    DroneRules,
    FindingRules,
    Level,
    NoDataRule,
    Ruleset,
    Selector,
    ThresholdRule,
    Trigger,
)

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class LevelSection(Section):
    severity: Name
    limit: float
    clear: float | None = None  # default: the limit itself (no hysteresis)


class BackgroundSection(Section):
    stations: list[str] = []
    station_kinds: list[str] = []

    @model_validator(mode="after")
    def _one_of(self) -> BackgroundSection:
        if not self.stations and not self.station_kinds:
            raise ValueError("name the reference stations or their kinds")
        return self


class DailyLimitSection(Section):
    allowed: Annotated[int, Field(ge=0)]
    severity: Name


class ThresholdSection(Section):
    id: Name
    kind: Name
    metric: str
    direction: Literal["above", "below"] = "above"
    levels: Annotated[list[LevelSection], Field(min_length=1)]
    aggregate: Literal["instant", "mean", "max", "min", "rise", "fall"] = "instant"
    window_s: PositiveFloat = 900.0
    aligned: bool = False
    min_samples: PositiveInt = 1
    intervals: list[Literal["instant", "minute", "hour", "day"]] = ["instant", "minute"]
    only_valid: bool = True
    for_s: NonNegativeFloat = 0.0
    for_samples: PositiveInt = 1
    clear_for_s: NonNegativeFloat = 0.0
    clear_for_samples: PositiveInt = 1
    max_gap_s: PositiveFloat | None = None
    stations: list[str] = []
    station_kinds: list[str] = []
    zone_kinds: list[str] = []
    background: BackgroundSection | None = None
    area_factors: dict[str, PositiveFloat] = {}
    daily_limit: DailyLimitSection | None = None


class NoDataSection(Section):
    after_s: NonNegativeFloat = 900.0
    by_kind: dict[str, NonNegativeFloat] = {}
    by_station: dict[str, NonNegativeFloat] = {}
    severity: Name = "warning"


class DronesSection(Section):
    no_fly_grace_s: NonNegativeFloat = 0.0
    no_fly_clear_s: NonNegativeFloat = 10.0
    no_fly_severity: Name = "critical"
    corridor_grace_s: NonNegativeFloat = 30.0
    corridor_update_step_m: PositiveFloat = 50.0
    corridor_severity: Name = "major"
    dwell_s: NonNegativeFloat = 10.0
    buffer_m: NonNegativeFloat = 20.0
    max_gap_s: NonNegativeFloat = 15.0
    event_kinds: list[str] = [
        "construction_site", "patrol_area", "community", "land_use", "road", "no_fly",
    ]
    coverage_kinds: list[str] = ["patrol_area", "community", "land_use"]
    track_len: PositiveInt = 30
    coverage_days: PositiveInt = 31
    max_suggestion_age_s: PositiveFloat = 600.0
    cruise_speed_mps: PositiveFloat = 10.0
    launch_overhead_s: NonNegativeFloat = 0.0


class FindingsSection(Section):
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.6
    by_kind: dict[str, Annotated[float, Field(ge=0, le=1)]] = {}
    alert_kinds: dict[str, Name] = {}
    severity: Name = "major"
    merge_s: NonNegativeFloat = 3600.0


class RulesSection(Section):
    sweep_s: PositiveFloat = 30.0  # how often silent stations are looked for
    aqi: Literal["HJ633-2026", "HJ633-2012", "off"] = "HJ633-2026"
    threshold: list[ThresholdSection] = []
    no_data: NoDataSection | None = NoDataSection()
    drones: DronesSection = DronesSection()
    findings: FindingsSection = FindingsSection()


def build_ruleset(
    section: RulesSection, where: str, tz: tzinfo, stations: Mapping[str, Station],
    zones: Mapping[str, Zone],
) -> Ruleset:
    """The Ruleset for `section`, or a ConfigError naming the rule and what is wrong."""
    kinds = {s.kind for s in stations.values()}
    aqi = None if section.aqi == "off" else AqiEdition(section.aqi)
    rules = []
    for i, raw in enumerate(section.threshold):
        key = f"rules.threshold[{i}] ({raw.id})"
        rules.append(_threshold(raw, key, where, aqi, stations, kinds))
    no_data = None
    if section.no_data is not None:
        nd = section.no_data
        for sid in nd.by_station:
            _station(sid, stations, where, "rules.no_data.by_station")
        for kind in nd.by_kind:
            _station_kind(kind, kinds, where, "rules.no_data.by_kind")
        no_data = NoDataRule(
            after_s=nd.after_s, by_kind=MappingProxyType(dict(nd.by_kind)),
            by_station=MappingProxyType(dict(nd.by_station)), severity=nd.severity,
        )
    d = section.drones
    for name in ("event_kinds", "coverage_kinds"):
        for kind in getattr(d, name):
            if kind not in ZONE_KINDS:
                raise ConfigError(where, f"rules.drones.{name}", f"unknown zone kind {kind!r}")
    drones = DroneRules(
        no_fly_grace_s=d.no_fly_grace_s, no_fly_clear_s=d.no_fly_clear_s,
        no_fly_severity=d.no_fly_severity, corridor_grace_s=d.corridor_grace_s,
        corridor_update_step_m=d.corridor_update_step_m, corridor_severity=d.corridor_severity,
        dwell_s=d.dwell_s, buffer_m=d.buffer_m, max_gap_s=d.max_gap_s,
        event_kinds=frozenset(d.event_kinds), coverage_kinds=frozenset(d.coverage_kinds),
        track_len=d.track_len, coverage_days=d.coverage_days,
        max_suggestion_age_s=d.max_suggestion_age_s, cruise_speed_mps=d.cruise_speed_mps,
        launch_overhead_s=d.launch_overhead_s,
    )
    f = section.findings
    findings = FindingRules(
        min_confidence=f.min_confidence, by_kind=MappingProxyType(dict(f.by_kind)),
        alert_kinds=MappingProxyType(dict(f.alert_kinds)), severity=f.severity,
        merge_s=f.merge_s,
    )
    ids = [r.id for r in rules]
    for i, rid in enumerate(ids):
        if rid in ids[:i]:
            raise ConfigError(where, f"rules.threshold[{i}].id", f"duplicate rule id {rid!r}")
    return Ruleset(
        tz=tz, stations=stations, index=ZoneIndex(list(zones.values())),
        thresholds=tuple(rules), no_data=no_data, findings=findings, drones=drones, aqi=aqi,
    )


def _threshold(
    raw: ThresholdSection, key: str, where: str, aqi: AqiEdition | None,
    stations: Mapping[str, Station], kinds: set[str],
) -> ThresholdRule:
    if raw.metric == AQI_METRIC:
        if aqi is None:
            raise ConfigError(where, f"{key}.metric", "metric 'aqi' needs rules.aqi switched on")
    elif raw.metric not in METRIC_UNITS:
        known = ", ".join([*METRIC_UNITS, AQI_METRIC])
        raise ConfigError(where, f"{key}.metric", f"unknown metric {raw.metric!r}; known: {known}")
    for sid in raw.stations:
        _station(sid, stations, where, f"{key}.stations")
    for kind in raw.station_kinds:
        if kind != "mobile":
            _station_kind(kind, kinds, where, f"{key}.station_kinds")
    for kind in raw.zone_kinds:
        if kind not in ZONE_KINDS:
            raise ConfigError(where, f"{key}.zone_kinds", f"unknown zone kind {kind!r}")
    background = None
    if raw.background is not None:
        for sid in raw.background.stations:
            _station(sid, stations, where, f"{key}.background.stations")
        refs = set(raw.background.stations) | {
            s.id for s in stations.values() if s.kind in raw.background.station_kinds
        }
        if not refs:
            raise ConfigError(where, f"{key}.background", "no station matches")
        background = frozenset(refs)
    try:
        trigger = Trigger(
            direction=Direction(raw.direction),
            levels=tuple(
                Level(lv.severity, lv.limit, lv.limit if lv.clear is None else lv.clear)
                for lv in raw.levels
            ),
            for_s=raw.for_s, for_samples=raw.for_samples, clear_for_s=raw.clear_for_s,
            clear_for_samples=raw.clear_for_samples,
            # a silence longer than the window (or 10 min) restarts the hold timers
            max_gap_s=raw.max_gap_s or max(raw.window_s, 600.0),
        )
    except ValueError as exc:
        raise ConfigError(where, f"{key}.levels", str(exc)) from exc
    daily = None
    if raw.daily_limit is not None:
        daily = DailyLimit(raw.daily_limit.allowed, raw.daily_limit.severity)
    try:  # the rule's own checks (an aligned instant rule, no intervals, ...) speak here
        return ThresholdRule(
            id=raw.id, kind=raw.kind, metric=raw.metric, trigger=trigger,
            aggregate=Aggregate(raw.aggregate), window_s=raw.window_s, aligned=raw.aligned,
            min_samples=raw.min_samples, intervals=tuple(Interval(i) for i in raw.intervals),
            only_valid=raw.only_valid,
            select=Selector(
                stations=frozenset(raw.stations), station_kinds=frozenset(raw.station_kinds),
                zone_kinds=frozenset(raw.zone_kinds),
            ),
            background=background, area_factors=MappingProxyType(dict(raw.area_factors)),
            daily_limit=daily,
        )
    except ValueError as exc:
        raise ConfigError(where, key, str(exc)) from exc


def _station(sid: str, stations: Mapping[str, Station], where: str, key: str) -> None:
    if sid not in stations:
        raise ConfigError(where, key, f"no station {sid!r} in the stations file")


def _station_kind(kind: str, kinds: set[str], where: str, key: str) -> None:
    if kind not in kinds:
        known = ", ".join(sorted(kinds))
        raise ConfigError(where, key, f"no station is of kind {kind!r}; kinds: {known}")
