"""The engine's two entry points: `evaluate` a record, `sweep` with the shell's clock.

Pure in the sense that matters here: no I/O, no clock reads, no globals; the same records
in the same order give the same signals. The rule state is one plain object the shell
owns and passes back in. It is updated in place and returned (rather than copied) because
windows are numpy arrays fed tens of thousands of times a second; the shell must treat
the returned state as the only live one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from rules._aqi import AqiEdition, AqiResult, realtime_aqi
from rules._corridor import on_mission
from rules._drone_state import DroneBook
from rules._drones import on_position
from rules._findings import FindingState, on_finding
from rules._nodata import NoDataState, seen
from rules._nodata import sweep as sweep_no_data
from rules._records import VALID_FLAG, DronePosition, Finding, Interval, Mission, Reading, Record
from rules._ruleset import AQI_METRIC, Ruleset
from rules._signals import Maintenance, Signal
from rules._suggest import with_suggestions
from rules._thresholds import (
    Site,
    ThresholdState,
    feed_background,
    site_of,
    station_site,
)
from rules._thresholds import (
    evaluate as evaluate_threshold,
)

_AQI_POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")
_PM = ("pm25", "pm10")
#: HJ 212 data flags meaning the instrument is being worked on: maintenance, calibration.
MAINTENANCE_FLAGS: Final = frozenset({"M", "C"})
_HOUR = 3600.0
_DAY = 86400.0


@dataclass(slots=True)
class RuleState:
    thresholds: ThresholdState = field(default_factory=ThresholdState)
    no_data: NoDataState = field(default_factory=NoDataState)
    drones: DroneBook = field(default_factory=DroneBook)
    findings: FindingState = field(default_factory=FindingState)
    maintenance: dict[str, tuple[str, ...]] = field(default_factory=dict)


def evaluate(state: RuleState, record: Record, rs: Ruleset) -> tuple[RuleState, list[Signal]]:
    """Feed one record; the state (updated) and the signals it caused."""
    signals: list[Signal]
    if isinstance(record, Reading):
        signals = list(_on_reading(state, record, rs))
    elif isinstance(record, DronePosition):
        signals = on_position(state.drones, record, rs.index, rs.drones, rs.tz)
    elif isinstance(record, Mission):
        signals = on_mission(state.drones, record, rs.index, rs.drones)
    elif isinstance(record, Finding):
        signals = list(on_finding(state.findings, record, rs))
    else:  # pragma: no cover - Record is a closed union
        raise TypeError(f"not a record: {record!r}")
    return state, with_suggestions(state.drones, signals, rs.drones)


def sweep(state: RuleState, now: datetime, rs: Ruleset) -> tuple[RuleState, list[Signal]]:
    """What the passing of time alone causes: stations gone silent."""
    sites = state.thresholds.sites
    for station_id in rs.stations:
        station_site(station_id, rs, sites)
    signals: list[Signal] = list(sweep_no_data(state.no_data, now.timestamp(), rs, sites))
    return state, with_suggestions(state.drones, signals, rs.drones)


def _on_reading(state: RuleState, reading: Reading, rs: Ruleset) -> list[Signal]:
    t = reading.ts.timestamp()
    th = state.thresholds
    site = site_of(reading, rs, th.sites)
    out: list[Signal] = []
    if t >= state.no_data.last_seen.get(reading.station, t):
        change = _maintenance(state, reading)
        if change is not None:
            out.append(change)
    ended = seen(state.no_data, site, t, rs)
    if ended is not None:
        out.append(ended)
    feed_background(th, reading, t, rs)
    by_metric = rs.by_metric
    for metric, m in reading.values.items():
        rules = by_metric.get(metric)
        if rules is None:
            continue
        for rule in rules:
            if rule.only_valid and m.flag != VALID_FLAG:
                continue
            signal = evaluate_threshold(th, rule, site, reading, m.value, t, rs)
            if signal is not None:
                out.append(signal)
    if rs.aqi is not None and AQI_METRIC in by_metric:
        result = _aqi(th, site, reading, t, rs.aqi)
        if result is not None and result.aqi is not None:
            detail: dict[str, object] = {
                "aqi_level": result.level, "category": result.category,
                "primary": list(result.primary), "edition": str(result.edition),
            }
            for rule in by_metric[AQI_METRIC]:
                signal = evaluate_threshold(
                    th, rule, site, reading, float(result.aqi), t, rs, detail
                )
                if signal is not None:
                    out.append(signal)
    return out


def _maintenance(state: RuleState, reading: Reading) -> Maintenance | None:
    """Whether the station's newest reading starts or ends maintenance/calibration."""
    before = state.maintenance.get(reading.station)
    if before is None and all(m.flag == VALID_FLAG for m in reading.values.values()):
        return None  # the common case, cheaply
    flags = tuple(sorted({m.flag for m in reading.values.values()} & MAINTENANCE_FLAGS))
    if flags and before is None:
        state.maintenance[reading.station] = flags
        return Maintenance(reading.station, True, reading.ts, flags)
    if not flags and before is not None and reading.values:
        del state.maintenance[reading.station]
        return Maintenance(reading.station, False, reading.ts, before)
    return None


def _aqi(
    th: ThresholdState, site: Site, reading: Reading, t: float, edition: AqiEdition
) -> AqiResult | None:
    """The real-time AQI from the station's 1-hour means (HJ 633-2026 §4.2.4: all six
    pollutants' 1-hour means, PM against the daily breakpoints). An hourly reading is its
    own 1-hour mean; finer readings are averaged over the last hour, per interval so a
    station sending real-time and minute data is not counted twice. HJ 633-2012 takes
    PM's sub-index from the 24-hour moving mean, kept here from hourly readings."""
    values = reading.values
    if reading.interval is Interval.DAY or not any(p in values for p in _AQI_POLLUTANTS):
        return None
    hourly: dict[str, float] = {}
    daily: dict[str, float] = {}
    for p in _AQI_POLLUTANTS:
        m = values.get(p)
        value = m.value if m is not None and m.flag == VALID_FLAG else None
        if reading.interval is Interval.HOUR:
            if value is not None:
                hourly[p] = value
            if p in _PM and edition is AqiEdition.HJ633_2012:
                day = th.window(site.subject, p, Interval.HOUR, _DAY, True)
                if value is not None:
                    day.push(t, value)
                if (mean := day.mean()) is not None:
                    daily[p] = mean
            continue
        hour = th.window(site.subject, p, reading.interval, _HOUR, True)
        if value is not None:
            hour.push(t, value)
        if (mean := hour.mean()) is not None:
            hourly[p] = mean
    # the 2026 edition has no 24-hour PM rule and takes no notice of them
    return realtime_aqi(hourly, edition, pm_24h_means=daily)
