"""Drone rules: no-fly, off-corridor, zone enter/exit, coverage, suggestions.

Hand-made zones sit on a metre grid east (x) and north (y) of ORIGIN, far from the demo
town; the demo geography and patrol mission are used where the product's own example is
the point (the 1.8 km "send the drone south" suggestion).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import box

from lantian.config import load_zones
from rules._corridor import on_mission
from rules._coverage import coverage
from rules._drone_state import DroneBook
from rules._drones import on_position
from rules._presence import Crossing, Presence, Where, classify
from rules._records import DronePosition, Location, Mission, Waypoint
from rules._ruleset import DroneRules
from rules._signals import Action, AlertSignal, Signal, ZoneEvent
from rules._suggest import suggest
from rules._zone_index import ZoneIndex
from rules._zones import Zone
from tests.support import FIXTURES, REPO

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 10, 30, tzinfo=SH)
ORIGIN = (120.60, 30.10)
M_PER_DEG_LON = 96_490.0  # at 30.1° N, near enough for tests that keep ≥10 m margins
M_PER_DEG_LAT = 110_860.0


def lonlat(x: float, y: float) -> tuple[float, float]:
    return ORIGIN[0] + x / M_PER_DEG_LON, ORIGIN[1] + y / M_PER_DEG_LAT


def box_m(x0: float, y0: float, x1: float, y1: float) -> Any:
    return box(*lonlat(x0, y0), *lonlat(x1, y1))


HAND_ZONES = (
    Zone("nf-band", "band 0–120 m", "no_fly", box_m(0, 0, 200, 200), min_alt_m=0, max_alt_m=120),
    Zone("nf-over", "overlaps nf-band", "no_fly", box_m(150, 0, 300, 200)),
    Zone("nf-window", "event 10:00–11:00", "no_fly", box_m(600, 0, 800, 200),
         active_from=datetime(2026, 6, 12, 10, 0, tzinfo=SH),
         active_until=datetime(2026, 6, 12, 11, 0, tzinfo=SH)),
    Zone("nf-low", "A: band 0–50", "no_fly", box_m(0, 400, 200, 600), min_alt_m=0, max_alt_m=50),
    Zone("nf-high", "B: band 100–200", "no_fly", box_m(1000, 400, 1200, 600),
         min_alt_m=100, max_alt_m=200),
    Zone("cs-a", "site", "construction_site", box_m(0, 1000, 200, 1200), grid="g-1"),
    Zone("pa-a", "patrol", "patrol_area", box_m(-500, 900, 1500, 2000)),
    Zone("cm-west", "west", "community", box_m(2000, 0, 2200, 200)),
    Zone("cm-east", "east", "community", box_m(2200, 0, 2400, 200)),
    Zone("g-1", "grid", "grid", box_m(-1000, -1000, 3000, 3000)),
)
HAND = ZoneIndex(HAND_ZONES)
RULES = DroneRules()

DEMO_ZONES = load_zones(REPO / "config" / "zones.geojson")
DEMO = ZoneIndex(tuple(DEMO_ZONES.values()))
_plan = json.loads((FIXTURES / "geo" / "mission-patrol-am.json").read_text())
PATROL_AM = Mission(
    _plan["drone"], _plan["mission"], float(_plan["corridor_m"]),
    tuple(Waypoint(*w) for w in _plan["waypoints"]),
)
DOCK = (120.501, 30.044)
KY_CS_001 = Location(lat=30.02783, lon=120.502557)

# A step: (seconds after T0, x m, y m, altitude m or None)
Step = tuple[float, float, float, float | None]


def pos(t: float, x: float, y: float, alt: float | None = 50.0, drone: str = "D1",
        mission: str | None = None) -> DronePosition:
    lon, lat = lonlat(x, y)
    return DronePosition(drone, T0 + timedelta(seconds=t), Location(lat=lat, lon=lon),
                         alt_m=alt, mission=mission)


def feed(steps: Sequence[Step], rules: DroneRules = RULES, book: DroneBook | None = None,
         drone: str = "D1", stamp: tzinfo = SH) -> list[list[Signal]]:
    """Positions stamped in `stamp` (the same instants: a source may send UTC)."""
    book = DroneBook() if book is None else book
    out = []
    for t, x, y, a in steps:
        p = pos(t, x, y, a, drone)
        out.append(on_position(book, replace(p, ts=p.ts.astimezone(stamp)), HAND, rules, SH))
    return out


def alerts(signals: list[Signal], rule: str | None = None) -> list[tuple[str, str]]:
    return [(s.action.value, s.subject) for s in signals
            if isinstance(s, AlertSignal) and (rule is None or s.rule == rule)]


def events(signals: list[Signal], zone: str | None = None) -> list[tuple[str, str, float]]:
    return [(s.event, s.zone.id, (s.at - T0).total_seconds()) for s in signals
            if isinstance(s, ZoneEvent) and (zone is None or s.zone.id == zone)]


# --- classify: the one machine behind all three conditions -----------------------------

P0 = pos(0, 0, 0)
OUT, IN = Presence(), Presence(inside=True)


@pytest.mark.parametrize(
    ("prev", "where", "t", "continuous", "after", "crossing"),
    [
        (OUT, "out", 5, True, OUT, None),
        (OUT, "edge", 5, True, OUT, None),
        (OUT, "in", 0, True, Presence(False, P0), None),
        (Presence(False, P0), "in", 9.9, True, Presence(False, P0), None),
        (Presence(False, P0), "in", 10, True, IN, ("enter", 0.0)),
        (Presence(False, P0), "edge", 5, True, OUT, None),
        (Presence(False, P0), "out", 5, True, OUT, None),
        (Presence(False, P0), "in", 30, False, "pending from now", None),
        (IN, "in", 5, True, IN, None),
        (IN, "edge", 5, True, IN, None),
        (IN, "out", 0, True, Presence(True, P0), None),
        (Presence(True, P0), "out", 10, True, OUT, ("exit", 0.0)),
        (Presence(True, P0), "edge", 5, True, IN, None),
        (Presence(True, P0), "in", 5, True, IN, None),
    ],
    ids=[
        "out+out stays", "out+edge stays", "out+in starts a run", "run short of dwell",
        "run at dwell enters, dated at its first sample", "entering+edge drops the run",
        "entering+out drops the run", "gap restarts the run",
        "in+in stays", "in+edge stays (buffer)", "in+out starts a run",
        "leaving run at dwell exits", "leaving+edge drops the run", "leaving+in drops the run",
    ],
)
def test_classify(prev: Presence, where: Where, t: float, continuous: bool,
                  after: Presence | str, crossing: tuple[str, float] | None) -> None:
    cur = pos(t, 0, 0)
    got, cross = classify(prev, where, cur, enter_s=10, exit_s=10, continuous=continuous)
    expected = Presence(False, cur) if after == "pending from now" else after
    assert got == expected
    assert (None if cross is None else (cross.event, (cross.first.ts - T0).total_seconds())) \
        == crossing


def test_classify_zero_dwell_flips_on_the_first_sample() -> None:
    assert classify(OUT, "in", P0, enter_s=0, exit_s=0) == (IN, Crossing("enter", P0))
    assert classify(IN, "out", P0, enter_s=0, exit_s=0) == (OUT, Crossing("exit", P0))


# --- no-fly ------------------------------------------------------------------------------

BAND, OVER, WINDOW = "drone:D1@nf-band", "drone:D1@nf-over", "drone:D1@nf-window"
LOW = "drone:D1@nf-low"
NO_FLY_CASES: list[tuple[str, dict[str, float], list[Step], list[list[tuple[str, str]]]]] = [
    ("inside in band", {}, [(0, 50, 100, 60)], [[("raise", BAND)]]),
    ("outside", {}, [(0, -50, 100, 60)], [[]]),
    ("above band", {}, [(0, 50, 100, 121)], [[]]),
    ("below band", {}, [(0, 50, 100, -1)], [[]]),
    ("band top inclusive", {}, [(0, 50, 100, 120)], [[("raise", BAND)]]),
    ("band bottom inclusive", {}, [(0, 50, 100, 0)], [[("raise", BAND)]]),
    ("unknown altitude is not held against the band", {}, [(0, 50, 100, None)],
     [[("raise", BAND)]]),
    ("polygon edge inclusive", {}, [(0, 0, 100, 60)], [[("raise", BAND)]]),
    ("window not yet active", {}, [(-1801, 700, 100, 60)], [[]]),
    ("window opens inclusive", {}, [(-1800, 700, 100, 60)], [[("raise", WINDOW)]]),
    ("window end exclusive", {}, [(1800, 700, 100, 60)], [[]]),
    ("flight-blender: A's polygon, only B's band", {}, [(0, 100, 500, 150)], [[]]),
    ("A's polygon and A's band", {}, [(0, 100, 500, 30)], [[("raise", LOW)]]),
    ("two zones at once", {}, [(0, 175, 100, 60)], [[("raise", BAND), ("raise", OVER)]]),
    ("staying inside raises once, no updates", {},
     [(0, 50, 100, 60), (2, 60, 100, 80), (4, 70, 100, 100), (6, 80, 100, 110)],
     [[("raise", BAND)], [], [], []]),
    ("clears after 10 s out", {},
     [(0, 50, 100, 60), (2, -50, 100, 60), (8, -50, 100, 60), (12, -50, 100, 60)],
     [[("raise", BAND)], [], [], [("clear", BAND)]]),
    ("climbing out of the band clears too", {},
     [(0, 50, 100, 60), (2, 50, 100, 130), (12, 50, 100, 130)],
     [[("raise", BAND)], [], [("clear", BAND)]]),
    ("jitter on the boundary is one breach", {},
     [(0, 2, 100, 60), (2, -2, 100, 60), (4, 2, 100, 60), (6, -2, 100, 60), (8, 2, 100, 60),
      (10, -2, 100, 60)],
     [[("raise", BAND)], [], [], [], [], []]),
    ("grace: inside shorter than grace", {"no_fly_grace_s": 5},
     [(0, 50, 100, 60), (4, 50, 100, 60)], [[], []]),
    ("grace: inside for grace raises", {"no_fly_grace_s": 5},
     [(0, 50, 100, 60), (4, 50, 100, 60), (5, 50, 100, 60)], [[], [], [("raise", BAND)]]),
    ("grace: a telemetry gap restarts it", {"no_fly_grace_s": 5},
     [(0, 50, 100, 60), (20, 50, 100, 60), (24, 50, 100, 60), (25, 50, 100, 60)],
     [[], [], [], [("raise", BAND)]]),
    ("window closing while inside clears", {},
     [(1790, 700, 100, 60), (1800, 700, 100, 60), (1810, 700, 100, 60)],
     [[("raise", WINDOW)], [], [("clear", WINDOW)]]),
    ("leaving one of two zones clears only that one", {},
     [(0, 175, 100, 60), (2, 250, 100, 60), (12, 250, 100, 60)],
     [[("raise", BAND), ("raise", OVER)], [], [("clear", BAND)]]),
]


@pytest.mark.parametrize(
    ("overrides", "steps", "expected"), [c[1:] for c in NO_FLY_CASES],
    ids=[c[0] for c in NO_FLY_CASES],
)
def test_no_fly(overrides: dict[str, float], steps: list[Step],
                expected: list[list[tuple[str, str]]]) -> None:
    rules = replace(RULES, **overrides)
    assert [alerts(s, "drone-no-fly") for s in feed(steps, rules)] == expected


def test_no_fly_alert_carries_zone_altitude_band_and_track() -> None:
    book = DroneBook()
    rules = replace(RULES, no_fly_grace_s=2)
    first = on_position(book, pos(0, -10, 100, 60), HAND, rules, SH)
    assert alerts(first) == []
    on_position(book, pos(2, 50, 100, 60), HAND, rules, SH)
    [raised] = [s for s in on_position(book, pos(4, 60, 100, 70), HAND, rules, SH)
                if isinstance(s, AlertSignal)]
    assert (raised.action, raised.rule, raised.kind, raised.severity) == (
        Action.RAISE, "drone-no-fly", "no_fly_breach", "critical")
    assert raised.key == ("drone-no-fly", "drone:D1@nf-band")
    assert raised.zone is not None and raised.zone.id == "nf-band"
    assert raised.at == T0 + timedelta(seconds=4)
    assert raised.location == pos(4, 60, 100).location
    assert "nf-band" in {z.id for z in raised.zones}
    assert [(p.ts - T0).total_seconds() for p in raised.evidence.track] == [0, 2, 4]
    assert raised.detail["zone"] == "nf-band"
    assert (raised.detail["alt_m"], raised.detail["min_alt_m"], raised.detail["max_alt_m"]) \
        == (70, 0, 120)
    assert raised.detail["inside_since"] == (T0 + timedelta(seconds=2)).isoformat()


def test_evidence_track_is_bounded_by_track_len() -> None:
    rules = replace(RULES, track_len=3, no_fly_grace_s=8)
    out = feed([(t, 50, 100, 60) for t in (0, 2, 4, 6, 8)], rules)
    [raised] = [s for s in out[-1] if isinstance(s, AlertSignal)]
    assert [(p.ts - T0).total_seconds() for p in raised.evidence.track] == [4, 6, 8]


def test_demo_no_fly_substation_at_patrol_altitude() -> None:
    book = DroneBook()
    inside = DronePosition("KY-UAV-01", T0, Location(lat=30.0396, lon=120.4915), alt_m=80)
    [raised] = [s for s in on_position(book, inside, DEMO, RULES, SH)
                if isinstance(s, AlertSignal)]
    assert raised.subject == "drone:KY-UAV-01@nf-01"
    assert raised.zone is not None and raised.zone.id == "nf-01"
    assert raised.grid == "KY-G-061"


def test_demo_scenic_area_band_ends_below_patrol_altitude() -> None:
    centre = DEMO_ZONES["nf-02"].geometry.representative_point()
    over = DronePosition("KY-UAV-01", T0, Location(lat=centre.y, lon=centre.x), alt_m=80)
    assert alerts(on_position(DroneBook(), over, DEMO, RULES, SH)) == []


# --- off-corridor (demo mission: KY-UAV-01, corridor 60 m) --------------------------------

def south_of_dock(t: float, metres: float, mission: str | None = None) -> DronePosition:
    # both legs at the dock head north of east/west, so the dock is the nearest route point
    return DronePosition("KY-UAV-01", T0 + timedelta(seconds=t),
                         Location(lat=DOCK[1] - metres / M_PER_DEG_LAT, lon=DOCK[0]),
                         alt_m=30, mission=mission)


def fly(book: DroneBook, steps: Sequence[tuple[float, float]]) -> list[list[AlertSignal]]:
    return [[s for s in on_position(book, south_of_dock(t, m), DEMO, RULES, SH)
             if isinstance(s, AlertSignal) and s.rule == "drone-off-corridor"]
            for t, m in steps]


def planned() -> DroneBook:
    book = DroneBook()
    assert on_mission(book, PATROL_AM, DEMO, RULES) == []
    return book


CORRIDOR_CASES: list[tuple[str, list[tuple[float, float]], list[list[str]]]] = [
    ("on the route", [(0, 0), (10, 0)], [[], []]),
    ("within the corridor", [(0, 50), (30, 50), (60, 50)], [[], [], []]),
    ("off shorter than the grace", [(0, 200), (10, 200), (20, 200)], [[], [], []]),
    ("off for the grace raises", [(0, 200), (10, 200), (20, 200), (30, 200)],
     [[], [], [], ["raise"]]),
    ("growing by a step updates", [(0, 200), (10, 200), (20, 200), (30, 200), (40, 230),
                                   (50, 260), (60, 270), (70, 320)],
     [[], [], [], ["raise"], [], ["update"], [], ["update"]]),
    ("back within clears", [(0, 200), (10, 200), (20, 200), (30, 200), (40, 10)],
     [[], [], [], ["raise"], ["clear"]]),
    ("a telemetry gap restarts the grace", [(0, 200), (10, 200), (40, 200), (50, 200),
                                            (60, 200), (70, 200)],
     [[], [], [], [], [], ["raise"]]),
]


@pytest.mark.parametrize(
    ("steps", "expected"), [c[1:] for c in CORRIDOR_CASES], ids=[c[0] for c in CORRIDOR_CASES]
)
def test_off_corridor(steps: list[tuple[float, float]], expected: list[list[str]]) -> None:
    got = fly(planned(), steps)
    assert [[s.action.value for s in step] for step in got] == expected


def test_off_corridor_values() -> None:
    got = fly(planned(), [(0, 200), (10, 200), (20, 200), (30, 210), (40, 270), (50, 0)])
    raised, updated, cleared = got[3][0], got[4][0], got[5][0]
    assert raised.subject == "drone:KY-UAV-01"
    assert (raised.metric, raised.threshold, raised.severity) == (
        "corridor_distance_m", 60, "major")
    assert raised.value == pytest.approx(210, abs=3)
    assert raised.detail["off_since"] == T0.isoformat()
    assert updated.value == pytest.approx(270, abs=3)
    assert cleared.value == updated.value  # a clear carries the last value reported
    assert len(raised.evidence.track) == 4


def test_no_mission_no_corridor() -> None:
    assert fly(DroneBook(), [(0, 500), (30, 500), (60, 500)]) == [[], [], []]


def test_new_mission_clears_an_open_off_corridor_alert() -> None:
    book = planned()
    fly(book, [(0, 200), (10, 200), (20, 200), (30, 200)])
    other = Mission("KY-UAV-01", "patrol-pm", 60.0, PATROL_AM.waypoints[:3])
    [cleared] = on_mission(book, other, DEMO, RULES)
    assert isinstance(cleared, AlertSignal)
    assert (cleared.action, cleared.subject) == (Action.CLEAR, "drone:KY-UAV-01")
    assert cleared.at == T0 + timedelta(seconds=30)
    assert cleared.detail["reason"] == "new_mission"
    # the new plan starts its own grace: 200 m off at once does not re-raise
    assert fly(book, [(32, 200), (40, 200)]) == [[], []]


def test_same_mission_again_changes_nothing() -> None:
    book = planned()
    fly(book, [(0, 200), (10, 200), (20, 200), (30, 200)])
    assert on_mission(book, PATROL_AM, DEMO, RULES) == []
    assert [[s.action for s in step] for step in fly(book, [(40, 260)])] == [[Action.UPDATE]]


def test_a_refused_mission_leaves_the_plan_in_force() -> None:
    book = planned()
    fly(book, [(0, 200), (10, 200), (20, 200), (30, 200)])
    broken = Mission("KY-UAV-01", "patrol-pm", 60.0, (Waypoint(120.5, 95.0, 80),))
    with pytest.raises(ValueError, match="latitude"):
        on_mission(book, broken, DEMO, RULES)
    assert book.drones["KY-UAV-01"].mission == PATROL_AM
    assert [[s.action for s in step] for step in fly(book, [(40, 10)])] == [[Action.CLEAR]]


def test_position_on_another_mission_clears() -> None:
    book = planned()
    fly(book, [(0, 200), (10, 200), (20, 200), (30, 200)])
    out = on_position(book, south_of_dock(40, 400, "patrol-pm"), DEMO, RULES, SH)
    assert alerts(out, "drone-off-corridor") == [("clear", "drone:KY-UAV-01")]
    again = on_position(book, south_of_dock(80, 400, "patrol-pm"), DEMO, RULES, SH)
    assert alerts(again, "drone-off-corridor") == []


# --- enter / exit ------------------------------------------------------------------------

IN_CS, EDGE_CS, OUT_CS = (100.0, 1100.0), (-10.0, 1100.0), (-40.0, 1100.0)


def path(*points: tuple[float, tuple[float, float]], alt: float = 50) -> list[Step]:
    return [(t, xy[0], xy[1], alt) for t, xy in points]


ENTERED = [(0, IN_CS), (10, IN_CS)]
ZONE_CASES: list[tuple[str, list[Step], list[tuple[str, str, float]]]] = [
    ("enter after dwell, dated at arrival", path(*ENTERED), [("enter", "cs-a", 0)]),
    ("short visit does not enter", path((0, IN_CS), (5, IN_CS), (8, OUT_CS), (20, OUT_CS)), []),
    ("hovering on the edge from outside", path(
        *[(t, IN_CS if (t // 3) % 2 else EDGE_CS) for t in range(0, 61, 3)]), []),
    ("hovering on the edge from inside", path(
        *ENTERED, *[(t, EDGE_CS) for t in range(12, 61, 4)]), [("enter", "cs-a", 0)]),
    ("exit after dwell beyond the buffer", path(*ENTERED, (12, OUT_CS), (16, OUT_CS),
                                                (22, OUT_CS)),
     [("enter", "cs-a", 0), ("exit", "cs-a", 12)]),
    ("out and back within dwell does not exit", path(
        *ENTERED, (12, OUT_CS), (16, OUT_CS), (20, IN_CS), (24, OUT_CS), (30, OUT_CS)),
     [("enter", "cs-a", 0)]),
    ("the buffer band interrupts an exit", path(
        *ENTERED, (12, OUT_CS), (16, EDGE_CS), (20, OUT_CS), (26, OUT_CS), (30, OUT_CS)),
     [("enter", "cs-a", 0), ("exit", "cs-a", 20)]),
    ("a telemetry gap restarts the dwell", path((0, IN_CS), (20, IN_CS), (30, IN_CS)),
     [("enter", "cs-a", 20)]),
]


@pytest.mark.parametrize(
    ("steps", "expected"), [c[1:] for c in ZONE_CASES], ids=[c[0] for c in ZONE_CASES]
)
def test_enter_exit(steps: list[Step], expected: list[tuple[str, str, float]]) -> None:
    assert [e for out in feed(steps) for e in events(out, "cs-a")] == expected


def test_zone_event_carries_the_arrival_sample() -> None:
    out = feed(path((0, IN_CS), (4, (120, 1100)), (10, (150, 1100)), alt=42))
    [event] = [s for s in out[-1] if isinstance(s, ZoneEvent) and s.zone.id == "cs-a"]
    assert (event.drone, event.at, event.alt_m) == ("D1", T0, 42)
    assert event.location == pos(0, *IN_CS).location


def test_no_fly_zone_band_limits_enter_and_exit() -> None:
    steps = [(0, 50, 100, 60), (10, 50, 100, 60), (12, 50, 100, 150), (22, 50, 100, 150)]
    assert [e for out in feed(steps) for e in events(out, "nf-band")] == [
        ("enter", "nf-band", 0), ("exit", "nf-band", 12)]


def test_grid_cells_make_no_events() -> None:
    assert all(events(out, "g-1") == [] for out in feed(path(*ENTERED, (20, IN_CS))))


SHARED_EDGE_CASES: list[tuple[str, list[Step], list[tuple[str, str, float]]]] = [
    ("crossing from west to east", path(
        (0, (2100, 100)), (10, (2100, 100)), (12, (2210, 100)), (22, (2210, 100)),
        (24, (2300, 100)), (34, (2300, 100))),
     [("enter", "cm-west", 0), ("enter", "cm-east", 12), ("exit", "cm-west", 24)]),
    ("hovering on the shared edge is inside both, once", path(
        (0, (2200, 100)), (10, (2200, 100)),
        *[(t, (2195 if (t // 2) % 2 else 2205, 100)) for t in range(12, 80, 2)]),
     [("enter", "cm-east", 0), ("enter", "cm-west", 0)]),
]


@pytest.mark.parametrize(
    ("steps", "expected"), [c[1:] for c in SHARED_EDGE_CASES],
    ids=[c[0] for c in SHARED_EDGE_CASES],
)
def test_zones_sharing_an_edge(steps: list[Step], expected: list[tuple[str, str, float]]) -> None:
    assert [e for out in feed(steps) for e in events(out)] == expected


# --- out of order, duplicates --------------------------------------------------------------

def test_duplicate_and_late_positions_change_nothing() -> None:
    book = DroneBook()
    assert alerts(feed([(10, 50, 100, 60)], book=book)[0]) == [("raise", BAND)]
    state = book.drones["D1"]
    before = (state.last, tuple(state.track), dict(state.no_fly), dict(state.zones))
    assert feed([(10, -50, 100, 60)], book=book) == [[]]  # same time, other place
    assert feed([(5, -50, 100, 60)], book=book) == [[]]  # late
    assert (state.last, tuple(state.track), dict(state.no_fly), dict(state.zones)) == before
    # still open: a later position inside neither re-raises nor clears
    assert alerts(feed([(12, 50, 100, 60)], book=book)[0]) == []


def test_a_late_position_does_not_advance_a_dwell() -> None:
    book = DroneBook()
    got = feed(path((0, IN_CS), (-20, IN_CS), (5, IN_CS), (10, IN_CS)), book=book)
    assert [events(out, "cs-a") for out in got] == [[], [], [], [("enter", "cs-a", 0)]]


# --- coverage per local day ----------------------------------------------------------------

def at_local(day: int, hh: int, mm: int, ss: int) -> float:
    return (datetime(2026, 6, day, hh, mm, ss, tzinfo=SH) - T0).total_seconds()


def test_coverage_per_local_day_across_midnight() -> None:
    book = DroneBook()
    west, east = (2100.0, 100.0), (2300.0, 100.0)
    feed(path((at_local(12, 23, 50, 0), west), (at_local(12, 23, 50, 10), west),
              (at_local(13, 0, 10, 0), east), (at_local(13, 0, 10, 10), east)),
         book=book, stamp=UTC)
    # 23:50 and 00:10 Shanghai are both 12 June in UTC: a UTC day would merge them
    over_midnight = [at_local(12, 23, 59, 50), at_local(13, 0, 0, 0), at_local(13, 0, 0, 10)]
    feed(path(*[(t, IN_CS) for t in over_midnight]), book=book, drone="D2", stamp=UTC)
    assert coverage(book, date(2026, 6, 12)) == {
        "D1": frozenset({"cm-west"}), "D2": frozenset({"pa-a"})}
    assert coverage(book, date(2026, 6, 13)) == {
        "D1": frozenset({"cm-east"}), "D2": frozenset({"pa-a"})}
    assert coverage(book, date(2026, 6, 14)) == {}


def test_coverage_keeps_coverage_days() -> None:
    book = DroneBook()
    rules = replace(RULES, coverage_days=2)
    feed(path(*[(at_local(d, 12, 0, s), (2100, 100)) for d in (12, 13, 14) for s in (0, 10)]),
         rules, book)
    assert [sorted(coverage(book, date(2026, 6, d))) for d in (12, 13, 14)] == [
        [], ["D1"], ["D1"]]


# --- suggestion ----------------------------------------------------------------------------

TARGET = Location(lat=30.10, lon=120.60)


def fixes(*drones: tuple[str, float, float, float]) -> DroneBook:
    """(drone, seconds before T0, metres east of TARGET, metres north) -> a book."""
    book = DroneBook()
    for drone, ago, x, y in drones:
        on_position(book, pos(-ago, x, y, 50, drone), HAND, RULES, SH)
    return book


SUGGEST_CASES: list[tuple[str, DroneBook, str | None]] = [
    ("nearest wins", fixes(("A", 0, 5000, 5000), ("B", 0, -3000, 5000)), "B"),
    ("stale is skipped", fixes(("A", 0, 5000, 5000), ("B", 601, -3000, 5000)), "A"),
    ("exactly max age counts", fixes(("A", 0, 5000, 5000), ("B", 600, -3000, 5000)), "B"),
    ("slightly ahead counts", fixes(("A", 0, 5000, 5000), ("B", -1, -3000, 5000)), "B"),
    ("from the future is skipped", fixes(("A", 0, 5000, 5000), ("B", -3, -3000, 5000)), "A"),
    ("tie goes to the lower id", fixes(("D2", 0, 3000, 3000), ("D1", 10, 3000, 3000)), "D1"),
    ("nobody fresh", fixes(("A", 3600, 5000, 5000)), None),
    ("empty book", DroneBook(), None),
]


@pytest.mark.parametrize(
    ("book", "expected"), [c[1:] for c in SUGGEST_CASES], ids=[c[0] for c in SUGGEST_CASES]
)
def test_suggest(book: DroneBook, expected: str | None) -> None:
    got = suggest(book, TARGET, T0, RULES)
    assert (got and got.drone) == expected


def test_suggest_the_demo_dock_sends_the_drone_south() -> None:
    book = DroneBook()
    dock = DronePosition("KY-UAV-01", T0 - timedelta(minutes=2),
                         Location(lat=DOCK[1], lon=DOCK[0]), alt_m=0)
    on_position(book, dock, DEMO, RULES, SH)
    rules = replace(RULES, launch_overhead_s=10)
    got = suggest(book, KY_CS_001, T0, rules)
    assert got is not None
    assert (got.drone, got.direction) == ("KY-UAV-01", "S")
    assert 1750 < got.distance_m < 1850
    assert 170 < got.bearing_deg < 190
    assert got.eta_s == pytest.approx(got.distance_m / 10 + 10)
    assert (got.seen_at, got.location) == (dock.ts, dock.location)


# --- config --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dwell_s": -1}, "dwell_s must be at least 0"),
        ({"no_fly_grace_s": float("nan")}, "no_fly_grace_s must be at least 0"),
        ({"cruise_speed_mps": 0}, "cruise_speed_mps must be above 0"),
        ({"corridor_update_step_m": -5}, "corridor_update_step_m must be above 0"),
        ({"track_len": 0}, "track_len and coverage_days must be at least 1"),
    ],
    ids=["negative dwell", "NaN grace", "zero speed", "negative step", "empty track"],
)
def test_rules_refuse_bad_values(overrides: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DroneRules(**overrides)  # type: ignore[arg-type]
