"""Rule state snapshots: `load_state(dump_state(s))` behaves as `s` does for whatever comes
next (the same signals, the same next snapshot), and anything that is not a snapshot is a
`SnapshotError`, never code run or another exception."""

from __future__ import annotations

import json
import pickle
import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import RuleState, SnapshotError, dump_state, evaluate, load_state, sweep
from rules._snapshot import FORMAT
from rules.aqi import AqiEdition
from rules.geo import ZoneIndex
from rules.records import (
    DronePosition,
    Finding,
    Interval,
    Location,
    Measurement,
    Mission,
    Reading,
    Record,
)
from rules.settings import (
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
from rules.signals import Action, AlertSignal, Maintenance, Signal, ZoneEvent
from tests.unit.rules.test_drones import PATROL_AM
from tests.unit.rules.test_engine import PM10_15MIN, SH, STATIONS, T0, ZONES

# -- a ruleset that uses every part of the state -----------------------------------------

KEY_INDEX = ZoneIndex([replace(z, area_class="key") if z.id == "cs-01" else z
                       for z in ZONES.values()])
RULES = (
    replace(PM10_15MIN, area_factors={"key": 0.8}),
    ThresholdRule(
        id="blocks", kind="dust_exceedance", metric="pm10",
        trigger=Trigger(Direction.ABOVE, (Level("major", 120, 120),)),
        aggregate=Aggregate.MEAN, window_s=900, aligned=True,
        daily_limit=DailyLimit(allowed=1, severity="critical"),
    ),
    ThresholdRule(
        id="rise", kind="road_dust", metric="pm10", aggregate=Aggregate.RISE, window_s=600,
        trigger=Trigger(Direction.ABOVE, (Level("major", 60, 30),)),
    ),
    ThresholdRule(
        id="bg", kind="dust_exceedance", metric="tsp", aggregate=Aggregate.MEAN,
        window_s=600, trigger=Trigger(Direction.ABOVE, (Level("major", 150, 100),)),
        select=Selector(stations=frozenset({"KY-CS-001", "KY-CS-002"})),
        background=frozenset({"KY-AQ-001", "KY-AQ-002"}),
    ),
    ThresholdRule(
        id="held", kind="dust_exceedance", metric="pm25",
        trigger=Trigger(Direction.ABOVE, (Level("major", 90, 70), Level("critical", 140, 120)),
                        for_s=120, for_samples=2, clear_for_s=120, max_gap_s=300),
        intervals=(Interval.MINUTE, Interval.INSTANT),
    ),
    ThresholdRule(
        id="mobile", kind="dust_exceedance", metric="pm10",
        trigger=Trigger(Direction.ABOVE, (Level("major", 150, 130),)),
        select=Selector(station_kinds=frozenset({"mobile"})),
    ),
    ThresholdRule(
        id="aqi", kind="air_quality", metric="aqi",
        trigger=Trigger(Direction.ABOVE, (Level("warning", 100, 90),)),
    ),
)
DRONES = DroneRules(no_fly_grace_s=5, no_fly_clear_s=20, corridor_grace_s=20, dwell_s=10)


def ruleset(edition: AqiEdition = AqiEdition.HJ633_2026) -> Ruleset:
    return Ruleset(
        tz=SH, stations=STATIONS, index=KEY_INDEX, thresholds=RULES,
        no_data=NoDataRule(after_s=300), findings=FindingRules(by_kind={"dust_plume": 0.7}),
        drones=DRONES, aqi=edition,
    )


RS = ruleset()
RS_2012 = ruleset(AqiEdition.HJ633_2012)

# -- realistic record sequences ----------------------------------------------------------

Sweep = datetime  # a sweep at that time of the shell's clock
Item = Record | Sweep


def _inside(zone_id: str) -> Location:
    p = ZONES[zone_id].geometry.representative_point()
    return Location(lat=p.y, lon=p.x)


def _along(route: Sequence[tuple[float, float]], f: float) -> tuple[float, float]:
    i = min(int(f * (len(route) - 1)), len(route) - 2)
    k = f * (len(route) - 1) - i
    (x0, y0), (x1, y1) = route[i], route[i + 1]
    return x0 + (x1 - x0) * k, y0 + (y1 - y0) * k


def _level(x: float) -> float:
    return max(0.0, round(x, 1))  # concentrations are never negative (ingest refuses them)


def scenario(seed: int, minutes: int = 90) -> list[Item]:
    """An hour and a half of a small deployment: stations reporting every minute (one
    fuming for a while, one in maintenance, one going silent), hourly means, a mobile
    sensor, late and repeated readings, sweeps, a drone flying its patrol with a detour
    into a no-fly zone and off its corridor, a second drone hovering at a zone's edge, a
    new plan mid-flight, findings."""
    rnd = random.Random(seed)
    route = [(w.lon, w.lat) for w in PATROL_AM.waypoints]
    nf, site, patrol = _inside("nf-01"), _inside("cs-01"), _inside("pa-01")
    hot = (rnd.randint(5, 30), rnd.randint(40, 70))
    items: list[Item] = []
    for m in range(minutes):
        at = T0 + timedelta(minutes=m)
        for sid in ("KY-CS-001", "KY-CS-002", "KY-AQ-001", "KY-AQ-002", "KY-RD-001"):
            if sid == "KY-RD-001" and 30 <= m < 50:
                continue  # silent: no data, then back
            base = 190.0 if sid == "KY-CS-001" and hot[0] <= m < hot[1] else 60.0
            flag = "M" if sid == "KY-CS-002" and 55 <= m < 60 else "N"
            values = {
                "pm10": Measurement(_level(rnd.gauss(base, 30)), flag),
                "pm25": Measurement(_level(rnd.gauss(base / 1.6, 15))),
                "tsp": Measurement(_level(rnd.gauss(base * 2.5, 40))),
            }
            if sid.startswith("KY-AQ"):
                values |= {"so2": Measurement(rnd.uniform(5, 30)),
                           "no2": Measurement(rnd.uniform(20, 90)),
                           "o3": Measurement(rnd.uniform(40, 180)),
                           "co": Measurement(rnd.uniform(0.3, 1.5))}
            interval = Interval.MINUTE if sid == "KY-CS-002" and m % 3 else Interval.INSTANT
            items.append(Reading(sid, at + timedelta(seconds=rnd.uniform(0, 5)), values,
                                 interval=interval))
            if sid.startswith("KY-AQ") and m % 60 == 59:
                items.append(Reading(sid, at.replace(second=0) + timedelta(minutes=1),
                                     values, interval=Interval.HOUR))
        if rnd.random() < 0.1:  # late, then repeated
            late = Reading("KY-CS-001", at - timedelta(minutes=3),
                           {"pm10": Measurement(rnd.uniform(50, 250))})
            items += [late, late]
        if m % 7 == 3:
            items.append(Reading("KY-UAV-09", at, {"pm10": Measurement(rnd.uniform(100, 200))},
                                 location=site if m % 2 else patrol))
        if m == 1:
            items.append(PATROL_AM)
        if m == 60:
            items.append(replace(PATROL_AM, mission="patrol-pm", corridor_m=80.0))
        for s in range(0, 60, 10):
            t = at + timedelta(seconds=s)
            if 75 <= m < 77:
                continue  # a telemetry gap
            lon, lat = _along(route, (m * 60 + s) / (minutes * 60))
            if 20 <= m < 23:
                lon, lat = nf.lon, nf.lat  # into the no-fly zone
            elif 35 <= m < 38:
                lon, lat = 120.505, 30.036  # inside the patrol loop, ~500 m off every leg
            lon += rnd.gauss(0, 0.00005)
            items.append(DronePosition("KY-UAV-01", t, Location(lat, lon), alt_m=60.0,
                                       mission="patrol-pm" if m >= 60 else "patrol-am"))
            if m % 4 < 2:
                items.append(DronePosition("KY-UAV-02", t + timedelta(seconds=3),
                                           Location(patrol.lat + rnd.gauss(0, 0.0002),
                                                    patrol.lon), alt_m=40.0))
        if m in (12, 14, 50):
            items.append(Finding("KY-UAV-01", at, "dust_plume", rnd.uniform(0.6, 0.95),
                                 site, media=(f"https://media.example/{m}.jpg",)))
        if m % 5 == 4:
            items.append(at + timedelta(seconds=30))
    return items


def feed(state: RuleState, items: Sequence[Item], rs: Ruleset) -> list[Signal]:
    out: list[Signal] = []
    for item in items:
        if isinstance(item, datetime):
            state, signals = sweep(state, item, rs)
        else:
            state, signals = evaluate(state, item, rs)
        out.extend(signals)
    return out


def state_after(items: Sequence[Item], rs: Ruleset = RS) -> RuleState:
    state = RuleState()
    feed(state, items, rs)
    return state


SCENARIO = scenario(0)


def test_the_scenario_exercises_every_kind_of_state() -> None:
    """Otherwise the round trips below would prove little."""
    signals = feed(RuleState(), SCENARIO, RS)
    alerts = {(s.rule, s.action) for s in signals if isinstance(s, AlertSignal)}
    for rule in ("site-pm10-15min", "drone-no-fly", "drone-off-corridor", "no-data",
                 "finding-dust_plume", "held", "blocks", "mobile"):
        assert (rule, Action.RAISE) in alerts, rule
    assert {e.event for e in signals if isinstance(e, ZoneEvent)} == {"enter", "exit"}
    assert any(isinstance(s, Maintenance) for s in signals)
    doc = json.loads(dump_state(state_after(SCENARIO[: len(SCENARIO) // 2])))
    assert doc["format"] == FORMAT
    assert doc["drones"]["KY-UAV-01"]["mission"]["mission"] == "patrol-am"
    assert doc["hourly"] and doc["findings"] and doc["no_data"]["open"]


# -- the contract: the same behaviour after a round trip ---------------------------------


def _round_trip_then_continue(items: Sequence[Item], split: int, rs: Ruleset) -> None:
    live = state_after(items[:split], rs)
    data = dump_state(live)
    loaded = load_state(data, rs)
    assert dump_state(loaded) == data  # nothing lost, nothing added
    assert feed(loaded, items[split:], rs) == feed(live, items[split:], rs)
    assert dump_state(loaded) == dump_state(live)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0])
def test_a_loaded_state_behaves_as_the_live_one(fraction: float) -> None:
    _round_trip_then_continue(SCENARIO, int(len(SCENARIO) * fraction), RS)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), fraction=st.floats(0.0, 1.0),
       edition=st.sampled_from([AqiEdition.HJ633_2026, AqiEdition.HJ633_2012]))
def test_round_trip_property(seed: int, fraction: float, edition: AqiEdition) -> None:
    items = scenario(seed, minutes=70)
    _round_trip_then_continue(items, int(len(items) * fraction),
                              RS if edition is AqiEdition.HJ633_2026 else RS_2012)


def test_the_route_is_rebuilt_from_the_mission_not_stored() -> None:
    """The promise `rules._drone_state` makes: the route is derived, and after loading
    the drone is judged against it (an off-corridor alert still clears)."""
    split = next(i for i, x in enumerate(SCENARIO)
                 if isinstance(x, DronePosition) and x.ts >= T0 + timedelta(minutes=37))
    live = state_after(SCENARIO[:split])
    assert live.drones.drones["KY-UAV-01"].corridor.inside  # off corridor right now
    data = dump_state(live)
    assert b"route" not in data
    loaded = load_state(data, RS)
    route = loaded.drones.drones["KY-UAV-01"].route
    assert route is not None and route == live.drones.drones["KY-UAV-01"].route
    cleared = [s for s in feed(loaded, SCENARIO[split:], RS)
               if isinstance(s, AlertSignal) and s.rule == "drone-off-corridor"]
    assert cleared and cleared[0].action is Action.CLEAR


def test_windows_are_shared_again_after_loading() -> None:
    loaded = load_state(dump_state(state_after(SCENARIO[: len(SCENARIO) // 2])), RS)
    th = loaded.thresholds
    fed = [s for s in th.series.values() if s.window is not None]
    assert fed
    ids = {id(w) for w in th.windows.values()}
    assert all(id(s.window) in ids for s in fed)


def test_a_snapshot_is_read_with_the_current_rules() -> None:
    """A rule removed from config loses its series; the rest carries on."""
    live = state_after(SCENARIO[: len(SCENARIO) // 2])
    fewer = replace(RS, thresholds=tuple(r for r in RULES if r.id != "held"))
    loaded = load_state(dump_state(live), fewer)
    assert {rule for rule, _ in loaded.thresholds.series} == (
        {rule for rule, _ in live.thresholds.series} - {"held"}
    )
    feed(loaded, SCENARIO[len(SCENARIO) // 2:], fewer)


def test_hourly_sums_no_background_rule_reads_are_dropped_on_load() -> None:
    """The reference stations' hourly sums are kept for the metrics a background rule
    reads (here tsp); earlier versions kept every metric, in the same format: such a
    snapshot loads, without the others, and carries on as the live state."""
    split = len(SCENARIO) // 2
    live = state_after(SCENARIO[:split])
    doc = orjson.loads(dump_state(live))
    assert {(station, metric) for station, metric, _ in doc["hourly"]} == {
        ("KY-AQ-001", "tsp"), ("KY-AQ-002", "tsp")}
    older = doc | {"hourly": doc["hourly"] + [
        [station, other, hours] for station, _, hours in doc["hourly"]
        for other in ("pm10", "pm25", "so2")]}
    loaded = load_state(orjson.dumps(older), RS)
    assert dump_state(loaded) == dump_state(live)
    assert feed(loaded, SCENARIO[split:], RS) == feed(live, SCENARIO[split:], RS)


def test_an_empty_state_round_trips() -> None:
    data = dump_state(RuleState())
    assert orjson.loads(data)["format"] == FORMAT
    assert dump_state(load_state(data, RS)) == data


# -- anything else is a SnapshotError ----------------------------------------------------


class _Boom:
    """Unpickling this would create a file: the exploit pickle snapshots allow."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.path, "pwned"))


def test_a_pickle_payload_is_refused_and_never_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    payload = pickle.dumps(_Boom(target))
    with pytest.raises(SnapshotError, match="JSON"):
        load_state(payload, RS)
    assert not target.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"format": 2}', "format 2: this version reads 1"),
        (b'{"format": true}', "format True"),
        (b'{"windows": []}', "format None"),
        (b'{"format": 1}', "malformed"),
        (b'{"format": 1, "windows": {}}', "windows: expected an array"),
    ],
    ids=["empty", "array", "newer format", "boolean format", "no format", "no parts",
         "wrong type"],
)
def test_refused_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        load_state(data, RS)


def test_a_snapshot_error_is_a_value_error() -> None:
    assert issubclass(SnapshotError, ValueError)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_a_snapshot_error(data: bytes) -> None:
    with pytest.raises(SnapshotError):
        load_state(data, RS)


_VALID = orjson.loads(dump_state(state_after(SCENARIO[: len(SCENARIO) // 3])))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=8,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


_PATHS = [p for p in _paths(_VALID) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(_PATHS), value=_JSON, delete=st.booleans())
def test_a_corrupted_snapshot_loads_soundly_or_is_a_snapshot_error(
    where: tuple[Any, ...], value: Any, delete: bool
) -> None:
    doc = json.loads(json.dumps(_VALID))
    node = doc
    for key in where[:-1]:
        node = node[key]
    if delete:
        del node[where[-1]]
    else:
        node[where[-1]] = value
    try:
        state = load_state(orjson.dumps(doc), RS)
    except SnapshotError:
        return
    # what loads is a state: written again, it reads back the same (the values in it are
    # as plausible as whoever wrote them; load_state checks form, not measurements)
    again = dump_state(state)
    assert dump_state(load_state(again, RS)) == again


def test_times_keep_their_offset() -> None:
    """Alerts quote drone times with their offset (`inside_since`): a UTC-stamped
    source stays UTC after a round trip."""
    state = RuleState()
    fix = DronePosition("D9", datetime(2026, 6, 12, 2, 0, 0, 250_000, tzinfo=UTC),
                        Location(30.0, 120.5))
    state, _ = evaluate(state, fix, RS)
    last = load_state(dump_state(state), RS).drones.drones["D9"].last
    assert last is not None and last.ts.isoformat() == "2026-06-12T02:00:00.250000+00:00"


def test_missions_keep_their_drone() -> None:
    state, _ = evaluate(RuleState(), PATROL_AM, RS)
    loaded = load_state(dump_state(state), RS)
    assert loaded.drones.drones["KY-UAV-01"].mission == PATROL_AM
    assert isinstance(PATROL_AM, Mission)
