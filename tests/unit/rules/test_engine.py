"""The engine end to end, without servers: records in, signals out, on the demo geography."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lantian.config import load_stations, load_zones
from rules import RuleState, dump_state, evaluate, load_state, sweep
from rules.aqi import AqiEdition
from rules.geo import ZoneIndex
from rules.records import DronePosition, Finding, Interval, Location, Measurement, Reading, Record
from rules.settings import (
    Aggregate,
    DailyLimit,
    Direction,
    FindingRules,
    Level,
    NoDataRule,
    Ruleset,
    Selector,
    ThresholdRule,
    Trigger,
)
from rules.signals import Action, AlertSignal, Maintenance, Signal
from tests.support import REPO

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 10, 0, tzinfo=SH)
ZONES = load_zones(REPO / "config" / "zones.geojson")
STATIONS = load_stations(REPO / "config" / "stations.geojson", ZONES)
INDEX = ZoneIndex(list(ZONES.values()))

PM10_15MIN = ThresholdRule(
    id="site-pm10-15min", kind="dust_exceedance", metric="pm10",
    trigger=Trigger(
        Direction.ABOVE, (Level("major", 150, 130), Level("critical", 250, 220)),
        max_gap_s=900,
    ),
    aggregate=Aggregate.MEAN, window_s=900, min_samples=3,
    select=Selector(station_kinds=frozenset({"construction_site"})),
)


def ruleset(*rules: ThresholdRule, **kw: object) -> Ruleset:
    return Ruleset(
        tz=SH, stations=STATIONS, index=INDEX, thresholds=rules,
        **kw,  # type: ignore[arg-type]
    )


def reading(
    station: str, minute: float, interval: Interval = Interval.INSTANT,
    location: Location | None = None, **values: float | Measurement,
) -> Reading:
    return Reading(
        station, T0 + timedelta(minutes=minute),
        {k: v if isinstance(v, Measurement) else Measurement(float(v)) for k, v in values.items()},
        interval=interval, location=location,
    )


def run(rs: Ruleset, records: Iterable[Record], state: RuleState | None = None) -> list[Signal]:
    state = state or RuleState()
    out: list[Signal] = []
    for r in records:
        state, signals = evaluate(state, r, rs)
        out.extend(signals)
    return out


def alerts(signals: Iterable[Signal]) -> list[tuple[Action, str, str]]:
    return [(s.action, s.rule, s.severity) for s in signals if isinstance(s, AlertSignal)]


def got_values(rs: Ruleset, values: Mapping[float, float]) -> list[tuple[Action, str, str, float]]:
    return [(s.action, s.rule, s.severity, s.value or 0.0)
            for s in run(rs, minutes("KY-CS-001", values)) if isinstance(s, AlertSignal)]


def minutes(station: str, values: Mapping[float, float], metric: str = "pm10") -> list[Reading]:
    return [reading(station, m, **{metric: v}) for m, v in values.items()]


def test_site_pm10_mean_raises_with_zone_grid_evidence_and_drone() -> None:
    rs = ruleset(PM10_15MIN)
    dock = DronePosition("KY-UAV-01", T0 - timedelta(minutes=1), Location(30.044, 120.501), 30.0)
    signals = run(rs, [dock, *minutes("KY-CS-001", {0: 140, 1: 160, 2: 170})])
    raised = [s for s in signals if isinstance(s, AlertSignal)]
    assert len(raised) == 1
    a = raised[0]
    assert (a.action, a.kind, a.subject, a.severity) == (
        Action.RAISE, "dust_exceedance", "station:KY-CS-001", "major"
    )
    assert (a.value, a.threshold, a.window_s) == (pytest.approx(156.667), 150, 900)
    assert a.zone is not None and a.zone.id == "cs-01"
    assert a.grid == "KY-G-022"
    assert {"cs-01", "KY-G-022", "pa-01"} <= {z.id for z in a.zones}
    assert [v for _, v in a.evidence.readings] == [140, 160, 170]
    assert a.evidence.readings[0][0] == T0
    assert a.at == T0 + timedelta(minutes=2)
    s = a.drone_suggestion
    assert s is not None
    assert (s.drone, s.direction) == ("KY-UAV-01", "S")
    assert s.distance_m == pytest.approx(1810, abs=60)
    assert s.eta_s == pytest.approx(s.distance_m / 10)


def test_an_alert_on_late_data_is_suggested_the_drones_as_they_are_now() -> None:
    """A logger's buffered hour arrives now: the alert is about an hour ago, the drone to
    send is the one flying now (its fix, newer than the readings, is not from the future)."""
    rs = ruleset(PM10_15MIN)
    now = T0 + timedelta(hours=1)
    drone = DronePosition("KY-UAV-01", now - timedelta(minutes=1), Location(30.044, 120.501), 30.0)

    def raised(clock: datetime | None) -> AlertSignal:
        state, out = RuleState(), []
        for r in [drone, *minutes("KY-CS-001", {0: 140, 1: 160, 2: 170})]:
            state, signals = evaluate(state, r, rs, clock)
            out += signals
        (alert,) = [s for s in out if isinstance(s, AlertSignal)]
        return alert

    suggestion = raised(now).drone_suggestion
    assert suggestion is not None and suggestion.drone == "KY-UAV-01"
    # judged at the readings' own time, the fix lies an hour ahead: no suggestion
    assert raised(None).drone_suggestion is None


def test_severity_moves_within_one_alert_and_clears_with_hysteresis() -> None:
    rs = ruleset(replace(PM10_15MIN, window_s=120, min_samples=1))
    values = {0: 200, 1: 200, 2: 300, 3: 300, 4: 300, 5: 200, 6: 200, 7: 140, 8: 140, 9: 100,
              10: 100, 11: 100}
    got = alerts(run(rs, minutes("KY-CS-001", values)))
    assert [(a, s) for a, _, s in got if a is not Action.UPDATE] == [
        (Action.RAISE, "major"), (Action.CLEAR, "major")
    ]
    # 2-minute means: 200 200 250 300 300 250 200 170 140 120 (≤ 130 clears). While it
    # holds, an update goes out only for a new severity or a worse value than reported.
    assert [(s, v) for a, _, s, v in got_values(rs, values) if a is Action.UPDATE] == [
        ("major", 250), ("critical", 300), ("major", 200),
    ]


def test_only_n_flagged_values_count() -> None:
    rs = ruleset(PM10_15MIN)
    maintenance = Measurement(900.0, "M")
    records = [reading("KY-CS-001", m, pm10=maintenance) for m in range(5)]
    records += [reading("KY-CS-001", 5 + m, pm10=100) for m in range(3)]
    assert alerts(run(rs, records)) == []


def test_rules_apply_only_to_their_stations() -> None:
    rs = ruleset(PM10_15MIN)
    records = minutes("KY-AQ-001", {0: 400, 1: 400, 2: 400})  # an ambient station
    assert alerts(run(rs, records)) == []


def test_late_and_repeated_readings_are_not_evaluated_twice() -> None:
    rule = replace(PM10_15MIN, trigger=replace(PM10_15MIN.trigger, for_samples=3), min_samples=1)
    rs = ruleset(rule)
    same = reading("KY-CS-001", 0, pm10=400)
    # three copies of one reading are one sample, not three
    assert alerts(run(rs, [same, same, same])) == []
    late = [reading("KY-CS-001", m, pm10=400) for m in (0, 2, 1)]
    assert alerts(run(rs, late)) == []
    assert alerts(run(rs, [*late, reading("KY-CS-001", 3, pm10=400)]))[0][0] is Action.RAISE


def test_a_station_sending_realtime_and_minute_data_is_counted_once() -> None:
    rs = ruleset(replace(PM10_15MIN, min_samples=4))
    records = []
    for m in range(3):
        records.append(reading("KY-CS-001", m, Interval.INSTANT, pm10=200))
        records.append(reading("KY-CS-001", m + 0.5, Interval.MINUTE, pm10=200))
    # three real-time samples: below min_samples, whatever the minute data says
    assert alerts(run(rs, records)) == []


def test_rate_of_change() -> None:
    rise = ThresholdRule(
        id="road-rise", kind="road_dust", metric="pm10",
        trigger=Trigger(Direction.ABOVE, (Level("major", 100, 50),)),
        aggregate=Aggregate.RISE, window_s=600,
    )
    rs = ruleset(rise)
    got = alerts(run(rs, minutes("KY-RD-001", {0: 80, 3: 120, 6: 181, 8: 200, 20: 120})))
    # 181 - 80 = 101 > 100 raises; at minute 20 the window's low is 120: rise 0 clears
    assert [a for a, _, _ in got] == [Action.RAISE, Action.UPDATE, Action.CLEAR]


def test_background_difference_uses_the_same_hour_of_the_reference_stations() -> None:
    rule = ThresholdRule(
        id="bg", kind="dust_exceedance", metric="pm10",
        trigger=Trigger(Direction.ABOVE, (Level("major", 80, 60),)),
        aggregate=Aggregate.MEAN, window_s=600,
        select=Selector(stations=frozenset({"KY-CS-001"})),
        background=frozenset({"KY-AQ-001", "KY-AQ-002"}),
    )
    rs = ruleset(rule)
    ambient = [reading("KY-AQ-001", 0, pm10=50), reading("KY-AQ-002", 1, pm10=70)]
    assert alerts(run(rs, [*ambient, reading("KY-CS-001", 2, pm10=140)])) == []  # 140-60 = 80
    signals = run(rs, [*ambient, reading("KY-CS-001", 2, pm10=141)])
    [a] = [s for s in signals if isinstance(s, AlertSignal)]
    assert (a.value, a.detail["background"]) == (pytest.approx(81), 60)
    # without any reference data there is no difference to judge
    assert alerts(run(rs, [reading("KY-CS-001", 2, pm10=400)])) == []


def test_daily_exceedance_limit_counts_aligned_blocks_per_local_day() -> None:
    rule = ThresholdRule(
        id="blocks", kind="dust_exceedance", metric="pm10",
        trigger=Trigger(Direction.ABOVE, (Level("major", 150, 150),)),
        aggregate=Aggregate.MEAN, window_s=900, aligned=True,
        daily_limit=DailyLimit(allowed=1, severity="critical"),
    )
    rs = ruleset(rule)
    # 10:00-10:15 over, 10:15-10:30 over, 10:30-10:45 under; a block is judged when the next
    # one starts. Then the next local day (00:00 Asia/Shanghai) starts counting again.
    values = {0: 200, 7: 200, 15: 200, 22: 200, 30: 100, 37: 100, 45: 100}
    got = run(rs, minutes("KY-CS-001", values))
    judged = [(s.action, s.severity, s.detail["exceedances_today"], s.at) for s in got
              if isinstance(s, AlertSignal)]
    assert judged == [
        (Action.RAISE, "major", 1, T0 + timedelta(minutes=15)),
        (Action.UPDATE, "critical", 2, T0 + timedelta(minutes=30)),
        (Action.CLEAR, "major", 2, T0 + timedelta(minutes=45)),
    ]
    next_day = {14 * 60 + m: v for m, v in {0: 200, 15: 100, 30: 100}.items()}
    state = RuleState()
    run(rs, minutes("KY-CS-001", values), state)
    later = run(rs, minutes("KY-CS-001", next_day), state)
    assert [(s.severity, s.detail["exceedances_today"]) for s in later
            if isinstance(s, AlertSignal)] == [("major", 1), ("major", 1)]


@pytest.mark.parametrize("snapshot", [False, True], ids=["live", "restored after midnight"])
def test_daily_exceedance_limit_counts_sliding_episodes_per_local_day(snapshot: bool) -> None:
    """Quiet samples do not work out the day (`rules._thresholds`): the count still starts
    again on the next local day, also from a snapshot taken in the quiet after midnight."""
    rule = ThresholdRule(
        id="episodes", kind="dust_exceedance", metric="pm10",
        trigger=Trigger(Direction.ABOVE, (Level("major", 150, 130),)),
        daily_limit=DailyLimit(allowed=1, severity="critical"),
    )
    rs = ruleset(rule)
    state = RuleState()
    today = run(rs, minutes("KY-CS-001", {0: 200, 1: 100, 2: 200, 3: 100}), state)
    assert [(s.action, s.severity, s.detail["exceedances_today"]) for s in today
            if isinstance(s, AlertSignal)] == [
        (Action.RAISE, "major", 1), (Action.CLEAR, "major", 1),
        (Action.RAISE, "critical", 2), (Action.CLEAR, "major", 2),
    ]
    # quiet every hour from 11:00 to 01:00 the next local day (Asia/Shanghai)
    assert run(rs, minutes("KY-CS-001", {h * 60: 100 for h in range(1, 16)}), state) == []
    if snapshot:
        state = load_state(dump_state(state), rs)
    later = run(rs, minutes("KY-CS-001", {15 * 60 + 10: 200, 15 * 60 + 11: 100}), state)
    assert [(s.action, s.severity, s.detail["exceedances_today"]) for s in later
            if isinstance(s, AlertSignal)] == [
        (Action.RAISE, "major", 1), (Action.CLEAR, "major", 1),
    ]


def test_area_factor_lowers_the_limit_in_key_areas() -> None:
    key_site = replace(ZONES["cs-01"], area_class="key")
    index = ZoneIndex([key_site if z.id == "cs-01" else z for z in ZONES.values()])
    rule = replace(PM10_15MIN, area_factors={"key": 0.8}, min_samples=1)
    keyed = Ruleset(tz=SH, stations=STATIONS, index=index, thresholds=(rule,))
    general = ruleset(rule)
    records = minutes("KY-CS-001", {0: 130})
    assert alerts(run(general, records)) == []
    [(action, _, _)] = alerts(run(keyed, records))  # 130 > 0.8 × 150
    assert action is Action.RAISE


def test_no_data_is_a_sweep_and_its_own_alert() -> None:
    rs = ruleset(PM10_15MIN, no_data=NoDataRule(after_s=900, by_kind={"ambient": 0}))
    state = RuleState()
    state, first = sweep(state, T0, rs)
    assert first == []
    state, quiet = sweep(state, T0 + timedelta(minutes=15), rs)
    assert quiet == []  # exactly at the limit is not past it
    state, silent = sweep(state, T0 + timedelta(minutes=16), rs)
    raised = sorted(s.subject for s in silent if isinstance(s, AlertSignal))
    # every registered station but the ambient ones (limit 0: off)
    assert raised == ["station:KY-CS-001", "station:KY-CS-002", "station:KY-CS-003",
                      "station:KY-CS-004", "station:KY-RD-001"]
    state, again = sweep(state, T0 + timedelta(minutes=30), rs)
    assert again == []  # raised once, not every sweep
    # a back-filled old reading does not end it; a current one does, and raises nothing else
    state, old = evaluate(state, reading("KY-CS-001", -60, pm10=50), rs)
    assert alerts(old) == []
    state, back = evaluate(state, reading("KY-CS-001", 31, pm10=50), rs)
    assert alerts(back) == [(Action.CLEAR, "no-data", "warning")]


def test_aqi_is_a_derived_metric_rules_can_use() -> None:
    rule = ThresholdRule(
        id="aqi", kind="air_quality", metric="aqi",
        trigger=Trigger(Direction.ABOVE, (Level("warning", 150, 140),)),
    )
    rs = ruleset(rule, aqi=AqiEdition.HJ633_2026)
    # PM2.5 1-h mean 116 against the 2026 daily breakpoints 115→150, 150→200:
    # (200-150)/(150-115)*(116-115)+150 = 151.43 → 152
    records = [reading("KY-AQ-001", m, pm25=v, pm10=100) for m, v in ((0, 110), (30, 122))]
    [a] = [s for s in run(rs, records) if isinstance(s, AlertSignal)]
    assert (a.action, a.value) == (Action.RAISE, 152)
    assert a.detail["primary"] == ["pm25"]


def test_the_aqi_is_kept_only_for_the_stations_an_aqi_rule_reads() -> None:
    rule = ThresholdRule(
        id="aqi", kind="air_quality", metric="aqi",
        select=Selector(station_kinds=frozenset({"ambient"})),
        trigger=Trigger(Direction.ABOVE, (Level("warning", 150, 140),)),
    )
    rs = ruleset(rule, aqi=AqiEdition.HJ633_2026)
    state = RuleState()
    for station in ("KY-AQ-001", "KY-CS-001"):  # an ambient station, a construction site
        state, _ = evaluate(state, reading(station, 0, pm25=110, pm10=100), rs)
    kept = {subject for subject, *_ in state.thresholds.windows}
    assert kept == {"station:KY-AQ-001"}  # a site's readings feed no AQI nobody reads


def test_the_aqi_windows_a_station_feeds_are_the_registry_s_per_interval() -> None:
    """`rules._station_aqi` looks a station's AQI windows up once per interval: they are
    the registry's own, one per pollutant, and each interval has its own hour."""
    rule = ThresholdRule(
        id="aqi", kind="air_quality", metric="aqi",
        trigger=Trigger(Direction.ABOVE, (Level("warning", 150, 140),)),
    )
    rs = ruleset(rule, aqi=AqiEdition.HJ633_2026)
    state = RuleState()
    for m, interval in ((0, Interval.INSTANT), (1, Interval.MINUTE), (2, Interval.INSTANT)):
        state, _ = evaluate(state, reading("KY-AQ-001", m, interval, pm25=110 + m), rs)
    th = state.thresholds
    assert set(th.aqi_windows) == {("station:KY-AQ-001", Interval.INSTANT),
                                   ("station:KY-AQ-001", Interval.MINUTE)}
    for (subject, interval), found in th.aqi_windows.items():
        assert [p for p, _ in found] == ["pm25", "pm10", "so2", "no2", "o3", "co"]
        assert all(w is th.windows[subject, p, interval, 3600.0, True] for p, w in found)
    instant = dict(th.aqi_windows["station:KY-AQ-001", Interval.INSTANT])
    assert [v for _, v in instant["pm25"].samples()] == [110, 112]


def test_findings_become_alerts_at_their_zone_and_merge() -> None:
    rs = ruleset(findings=FindingRules(by_kind={"dust_plume": 0.7}))
    plume = Finding("KY-UAV-01", T0, "dust_plume", 0.91, Location(30.02783, 120.502557),
                    media=("https://media.example/1.jpg",))
    weak = replace(plume, confidence=0.65)
    again = replace(plume, ts=T0 + timedelta(minutes=5))
    signals = run(rs, [weak, plume, again])
    got = [s for s in signals if isinstance(s, AlertSignal)]
    assert [(s.action, s.subject, s.kind) for s in got] == [
        (Action.RAISE, "zone:cs-01", "dust_plume"), (Action.UPDATE, "zone:cs-01", "dust_plume"),
    ]
    assert got[0].evidence.media == ("https://media.example/1.jpg",)
    assert got[0].grid == "KY-G-022"


def test_mobile_readings_are_attributed_where_they_were_taken() -> None:
    rule = replace(PM10_15MIN, select=Selector(station_kinds=frozenset({"mobile"})),
                   aggregate=Aggregate.INSTANT)
    rs = ruleset(rule)
    at_site = Location(30.02783, 120.502557)
    [a] = [s for s in run(rs, [reading("KY-UAV-01", 0, location=at_site, pm10=300)])
           if isinstance(s, AlertSignal)]
    assert a.zone is not None and a.zone.id == "cs-01"
    assert a.location == at_site
    # a fixed station is not "mobile"
    assert alerts(run(rs, minutes("KY-CS-001", {0: 300}))) == []


def test_maintenance_flags_start_and_end_a_maintenance_signal() -> None:
    rs = ruleset(PM10_15MIN)
    records = [
        reading("KY-CS-001", 0, pm10=100),
        reading("KY-CS-001", 1, pm10=Measurement(900.0, "M"), tsp=Measurement(9.0, "C")),
        reading("KY-CS-001", 2, pm10=Measurement(900.0, "M")),
        reading("KY-CS-001", 3, pm10=100),
    ]
    got = [(s.station, s.active, s.flags) for s in run(rs, records) if isinstance(s, Maintenance)]
    assert got == [("KY-CS-001", True, ("C", "M")), ("KY-CS-001", False, ("C", "M"))]


@pytest.mark.parametrize(
    ("aggregate", "values", "expected"),
    [
        (Aggregate.MAX, [0, 5, 3], 5),
        (Aggregate.MIN, [5, 0, 3], 0),  # a zero is a value, not "nothing"
        (Aggregate.FALL, [10, 0, 4], 6),
        (Aggregate.RISE, [0, 7, 3], 3),
        (Aggregate.MEAN, [0, 0, 3], 1),
    ],
    ids=lambda v: str(v),
)
def test_window_aggregates(aggregate: Aggregate, values: list[float], expected: float) -> None:
    rule = ThresholdRule(
        id="agg", kind="k", metric="pm10", aggregate=aggregate, window_s=600, min_samples=3,
        trigger=Trigger(Direction.ABOVE, (Level("major", -1, -1),)),
    )
    signals = run(ruleset(rule), minutes("KY-CS-001", dict(enumerate(values))))
    [a] = [s for s in signals if isinstance(s, AlertSignal)]
    assert a.value == expected


def test_a_fixed_station_is_fed_only_the_rules_that_select_it_once_each_is_judged() -> None:
    road = replace(PM10_15MIN, id="road-pm10", aggregate=Aggregate.INSTANT,
                   select=Selector(station_kinds=frozenset({"road"})))
    rs = ruleset(PM10_15MIN, road)
    state = RuleState()
    for minute in (0, 1):  # the first judges each rule, the second remembers the verdicts
        state, _ = evaluate(state, reading("KY-CS-001", minute, pm10=100), rs)
    assert state.thresholds.fed["station:KY-CS-001"]["pm10"] == (PM10_15MIN,)
    # the rule left out is the one whose selector skips the station: same alerts as before
    got = alerts(run(rs, minutes("KY-CS-001", {2: 400, 3: 400, 4: 400}), state))
    assert got[0][:2] == (Action.RAISE, "site-pm10-15min")
    assert {rule for _, rule, _ in got} == {"site-pm10-15min"}


def test_a_rule_a_mobile_reading_started_for_a_station_id_still_takes_its_fixed_readings() -> None:
    # a station id that also sends located readings: the series the mobile one opened is
    # fed the fixed ones too, as before the rules a fixed station is fed were remembered
    mobile = replace(PM10_15MIN, id="mobile-pm10", aggregate=Aggregate.INSTANT,
                     select=Selector(station_kinds=frozenset({"mobile"})))
    rs = ruleset(mobile)
    state = RuleState()
    at_site = Location(30.02783, 120.502557)
    state, _ = evaluate(state, reading("KY-CS-001", 0, location=at_site, pm10=100), rs)
    for minute in (1, 2):
        state, _ = evaluate(state, reading("KY-CS-001", minute, pm10=100), rs)
    assert state.thresholds.fed["station:KY-CS-001"]["pm10"] == (mobile,)
    state, signals = evaluate(state, reading("KY-CS-001", 3, pm10=400), rs)
    assert alerts(signals) == [(Action.RAISE, "mobile-pm10", "critical")]
