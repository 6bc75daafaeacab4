"""A reading's path through the rules, in order: maintenance flags, no data, background,
threshold rules per metric, then the station's AQI and the rules on it.

The reading's `Site` is resolved once (`rules._sites`) and handed to each: no-data
(`rules._nodata`), the threshold rules (`rules._thresholds`), the AQI
(`rules._station_aqi`). Every rule on a metric sees only valid values unless it says
otherwise; each of them is judged independently.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from rules._background import feed_background
from rules._maintenance import maintenance
from rules._nodata import seen
from rules._records import VALID_FLAG, Reading
from rules._ruleset import AQI_METRIC, Ruleset, ThresholdRule
from rules._signals import Signal
from rules._sites import Site, site_of
from rules._state import RuleState
from rules._station_aqi import station_aqi
from rules._thresholds import ThresholdState, rules_fed
from rules._thresholds import evaluate as evaluate_threshold

__all__ = ["on_reading"]

_NOTHING_FED: Final[Mapping[str, tuple[ThresholdRule, ...]]] = MappingProxyType({})


def on_reading(state: RuleState, reading: Reading, rs: Ruleset) -> list[Signal]:
    """Feed one reading to every rule it concerns; the signals it caused."""
    t = reading.ts.timestamp()
    th = state.thresholds
    site = site_of(reading, rs, state.sites)
    out: list[Signal] = []
    if t >= state.no_data.last_seen.get(reading.station, t):
        change = maintenance(state.maintenance, reading)
        if change is not None:
            out.append(change)
    # A reading with no metric (every factor unmapped) is no data for the no-data rule,
    # which watches whether a station measures anything, not whether it talks.
    ended = seen(state.no_data, site, t, rs) if reading.values else None
    if ended is not None:
        out.append(ended)
    feed_background(th.hourly, reading, t, rs)
    by_metric = rs.by_metric
    fixed = reading.location is None  # a mobile site's zones, so its rules, move with it
    fed = th.fed.get(site.subject, _NOTHING_FED) if fixed else _NOTHING_FED
    for metric, m in reading.values.items():
        rules = by_metric.get(metric)
        if rules is None:
            continue
        if fixed:
            known = fed.get(metric)
            rules = rules_fed(th, site.subject, metric, rules) if known is None else known
        for rule in rules:
            if rule.only_valid and m.flag != VALID_FLAG:
                continue
            signal = evaluate_threshold(th, rule, site, reading, m.value, t, rs)
            if signal is not None:
                out.append(signal)
    aqi_rules = by_metric.get(AQI_METRIC, ())
    # the AQI's hourly windows are kept only where an AQI rule reads them: a construction
    # site's readings, most of the stream, would otherwise cost a fifth of the rules' time
    if rs.aqi is not None and aqi_rules and _reads_aqi(th, site, fixed, aqi_rules):
        if fixed:
            aqi_rules = rules_fed(th, site.subject, AQI_METRIC, aqi_rules)
        result = station_aqi(th.windows, th.aqi_windows, site, reading, t, rs.aqi)
        if result is not None and result.aqi is not None:
            detail: dict[str, object] = {
                "aqi_level": result.level, "category": result.category,
                "primary": list(result.primary), "edition": str(result.edition),
            }
            for rule in aqi_rules:
                signal = evaluate_threshold(
                    th, rule, site, reading, float(result.aqi), t, rs, detail
                )
                if signal is not None:
                    out.append(signal)
    return out


def _reads_aqi(
    th: ThresholdState, site: Site, fixed: bool, aqi_rules: tuple[ThresholdRule, ...]
) -> bool:
    """Whether an AQI rule selects the site: asked once for a fixed station, whose answer
    cannot change, and on every reading for a mobile one, whose zones move."""
    if not fixed:
        return any(r.select.matches(site.id, site.kind, site.zones) for r in aqi_rules)
    known = th.aqi_read.get(site.subject)
    if known is None:
        known = th.aqi_read[site.subject] = any(
            r.select.matches(site.id, site.kind, site.zones) for r in aqi_rules)
    return known
