"""Threshold rules over readings: instant limits, window statistics, aligned blocks,
background, area factors, daily exceedance counts.

For each (rule, subject) a `Series` holds the condition's hold timers and what the rule
needs between samples (the clock-aligned block in progress, today's exceedance count).
Its window comes from the registry (`rules._windows`), shared by the rules that read the
same one; where the sample belongs is its `Site` (`rules._sites`); the background it may
subtract is `rules._background`'s.

While a condition holds, a signal goes out only when its severity changes or its value
is worse than any reported so far: the officer's alert shows the worst of it, and a
firing site does not turn every sample into a store write and a publication.

Late samples (older than the newest one the rule has evaluated) enter the windows but are
not evaluated on their own: the condition's timers run on record time and cannot run
backwards. A repeated sample (same time) is evaluated once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from rules._background import Hourly, background
from rules._records import Interval, Reading
from rules._ruleset import MOBILE, Aggregate, Ruleset, ThresholdRule
from rules._signals import Action, AlertSignal, Evidence
from rules._sites import Site
from rules._trigger import Condition, Direction, Transition, Trigger, step
from rules._window import Window
from rules._windows import Windows, shared_window

__all__ = ["Series", "ThresholdState", "evaluate", "needs_window", "rules_fed", "trigger_for"]


@dataclass(slots=True)
class Series:
    """What one rule keeps about one subject between samples."""

    condition: Condition
    rank: int  # of the interval feeding it, in the rule's preference order
    interval: Interval | None
    window: Window | None
    trigger: Trigger  # the rule's, scaled by the site's area factor
    last_t: float = -math.inf
    block: float | None = None
    day: date | None = None  # the local day `exceedances` counts (as of its last use)
    exceedances: int = 0
    peak: float | None = None  # the worst value reported for the open condition
    severity: str = ""  # the severity last reported


@dataclass(slots=True)
class ThresholdState:
    """The threshold rules' memory: the window registry, a `Series` per (rule, subject),
    the (rule, fixed subject) pairs a rule's selector excludes, and the reference
    stations' hourly sums.

    `fed` is derived from `series` and `skipped` (never stored, rebuilt as readings
    come): per fixed subject and metric, the metric's rules less those `skipped`, once
    every one of them has been judged for the subject (`rules_fed`); `aqi_read` from the
    ruleset alone."""

    windows: Windows = field(default_factory=dict)
    series: dict[tuple[str, str], Series] = field(default_factory=dict)
    skipped: set[tuple[str, str]] = field(default_factory=set)  # rules not for the subject
    hourly: Hourly = field(default_factory=dict)
    #: fixed subject -> metric -> its rules (by subject: a reading looks its station up once)
    fed: dict[str, dict[str, tuple[ThresholdRule, ...]]] = field(default_factory=dict)
    #: fixed subject -> whether an AQI rule selects it (`rules._readings`; derived too)
    aqi_read: dict[str, bool] = field(default_factory=dict)
    #: the AQI's windows by (subject, interval) (`rules._station_aqi`; derived from `windows`)
    aqi_windows: dict[tuple[str, Interval], tuple[tuple[str, Window], ...]] = field(
        default_factory=dict)


def rules_fed(
    st: ThresholdState, subject: str, metric: str, rules: tuple[ThresholdRule, ...]
) -> tuple[ThresholdRule, ...]:
    """The rules of `metric` a fixed subject's samples still go to: `evaluate` returns at
    once, forever, for a rule in `skipped` (the pair never gets a series, and a fixed
    site's selector answer does not change), so leaving those out changes nothing but
    the calls; most rules select a few station kinds, and a station is fed one or two.
    Remembered once every rule is judged (has a series or is skipped); until then, all.
    (`rules._readings` reads `st.fed[subject]` itself first, once a reading.)"""
    known = st.fed.get(subject)
    fed = None if known is None else known.get(metric)
    if fed is not None:
        return fed
    skipped, series = st.skipped, st.series
    if all((r.id, subject) in skipped or (r.id, subject) in series for r in rules):
        fed = tuple(r for r in rules if (r.id, subject) not in skipped)
        st.fed.setdefault(subject, {})[metric] = fed
        return fed
    return rules


def evaluate(
    st: ThresholdState, rule: ThresholdRule, site: Site, reading: Reading, value: float,
    t: float, rs: Ruleset, detail: dict[str, object] | None = None,
) -> AlertSignal | None:
    """Feed one valid sample to one rule; the signal to emit, if any."""
    key = (rule.id, site.subject)
    series = st.series.get(key)
    mobile = site.kind == MOBILE
    if series is None or mobile:
        # a mobile subject's zones (and so whether the rule applies) move with it
        if key in st.skipped or not rule.select.matches(site.id, site.kind, site.zones):
            if not mobile:
                st.skipped.add(key)
            return None
        if series is None:
            series = st.series[key] = Series(
                Condition.for_trigger(rule.trigger), len(rule.intervals), None, None,
                trigger_for(rule, site),
            )
    interval = reading.interval
    if interval is not series.interval:
        try:
            rank = rule.intervals.index(interval)
        except ValueError:
            return None
        if rank > series.rank:
            return None  # a more preferred stream of this station feeds the rule
        series.rank, series.interval = rank, interval
        if needs_window(rule):
            series.window = shared_window(
                st.windows, site.subject, rule.metric, interval, rule.span_s, rule.only_valid
            )
    window = series.window
    if window is not None:
        window.push(t, value)
    if t <= series.last_t:
        return None
    series.last_t = t

    at, x = t, value
    evidence: tuple[float | None, float | None] = (None, None)  # the whole window
    if rule.aligned:
        assert window is not None
        start = _block_start(t, rule.window_s, rs.tz)
        done = series.block
        if done is None:
            series.block = start
            return None
        if start <= done:
            return None  # the block in progress is judged once it is complete
        series.block = start
        block = window.mean_between(done, done + rule.window_s)
        if block is None or block[1] < rule.min_samples:
            return None
        x, at = block[0], done + rule.window_s
        evidence = (done, at)
    elif rule.aggregate is not Aggregate.INSTANT:
        assert window is not None
        if len(window) < rule.min_samples:
            return None
        x = _aggregate(rule.aggregate, window, value)
    if rule.background is not None:
        base = background(st.hourly, rule, at)
        if base is None:
            return None
        x -= base
        detail = {**(detail or {}), "background": round(base, 3)}

    trigger = trigger_for(rule, site) if mobile else series.trigger
    transition = step(series.condition, trigger, x, at)
    # a sliding rule's quiet sample neither counts nor reads the day's count: the local
    # day (a zoneinfo lookup, once a sample) is worked out when it does
    if rule.daily_limit is not None and (rule.aligned or transition is not Transition.QUIET):
        _count_exceedance(series, rule, trigger, transition, x, at, rs.tz)
    if transition is Transition.QUIET:
        return None
    level = trigger.levels[max(series.condition.severity, 0)]
    severity = level.severity
    if rule.daily_limit is not None:
        if series.condition.firing and series.exceedances > rule.daily_limit.allowed:
            severity = rule.daily_limit.severity
        detail = {**(detail or {}), "exceedances_today": series.exceedances,
                  "exceedances_allowed": rule.daily_limit.allowed}
    if transition is Transition.HELD and severity == series.severity and not _worse(
        trigger, x, series.peak
    ):
        return None  # still firing, nothing new: an update per sample would only be noise
    series.severity = severity
    if transition is not Transition.HELD or _worse(trigger, x, series.peak):
        series.peak = x
    action = {
        Transition.RAISED: Action.RAISE,
        Transition.CLEARED: Action.CLEAR,
    }.get(transition, Action.UPDATE)
    readings: tuple[tuple[datetime, float], ...] = ()
    if window is not None:
        readings = tuple(
            (datetime.fromtimestamp(ts, rs.tz), v) for ts, v in window.samples(*evidence)
        )
    return AlertSignal(
        action=action, rule=rule.id, kind=rule.kind, subject=site.subject,
        at=datetime.fromtimestamp(at, rs.tz), severity=severity,
        location=site.location, zone=site.zone, zones=site.zones, grid=site.grid,
        metric=rule.metric, value=round(x, 3), threshold=round(level.limit, 3),
        window_s=None if rule.aggregate is Aggregate.INSTANT else int(rule.window_s),
        evidence=Evidence(readings=readings),
        detail=detail or {},
    )


def _worse(trigger: Trigger, x: float, peak: float | None) -> bool:
    if peak is None:
        return True
    return x > peak if trigger.direction is Direction.ABOVE else x < peak


def _aggregate(aggregate: Aggregate, window: Window, value: float) -> float:
    """The window statistic a rule compares (the window holds at least `value`)."""
    if aggregate is Aggregate.MEAN:
        mean = window.mean()
        return value if mean is None else mean
    if aggregate in (Aggregate.MAX, Aggregate.FALL):
        high = window.high()
        high = value if high is None else high
        return high if aggregate is Aggregate.MAX else high - value
    low = window.low()
    low = value if low is None else low
    return low if aggregate is Aggregate.MIN else value - low


def needs_window(rule: ThresholdRule) -> bool:
    """Whether the rule's series reads a window: for a statistic, or to hold a limit."""
    return rule.aggregate is not Aggregate.INSTANT or rule.trigger.for_s > 0


def trigger_for(rule: ThresholdRule, site: Site) -> Trigger:
    """The rule's trigger at this site: its limits scaled by the site's area factor."""
    if site.area_class is None or not rule.area_factors:
        return rule.trigger
    return rule.trigger.scaled(rule.area_factors.get(site.area_class, 1.0))


def _count_exceedance(
    series: Series, rule: ThresholdRule, trigger: Trigger, transition: Transition, x: float,
    at: float, tz: tzinfo,
) -> None:
    day = datetime.fromtimestamp(at, tz).date()
    if series.day != day:
        series.day, series.exceedances = day, 0
    # an aligned rule counts every block over the limit, a sliding one every episode
    if rule.aligned:
        if trigger.breached(trigger.levels[0], x):
            series.exceedances += 1
    elif transition is Transition.RAISED:
        series.exceedances += 1


def _block_start(t: float, length: float, tz: tzinfo) -> float:
    """Start of the local-clock block of `length` seconds containing t (blocks count from
    local midnight, so 15-minute blocks start at :00, :15, ... whatever the offset)."""
    offset = datetime.fromtimestamp(t, tz).utcoffset()
    local = t + (offset.total_seconds() if offset else 0.0)
    return t - local % length
