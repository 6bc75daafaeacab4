"""The day's script, as data: who reports what, when the dust rises, where the drone
flies, and what the duty officers do about each incident.

Nothing here runs anything. The simulator reads the stations' levels and the drone's
flights from it; the officers read their plans from it; the test and the closing summary
read the story's incident from it. Change the day by editing these tables.

The geography is the shipped `config/` (the Keyan demo of the project's design pack):
four construction-site dust monitors KY-CS-001..004, two ambient stations, one road station,
and the drone KY-UAV-01 in its dock at the street office (120.501, 30.044).

The levels are chosen against the shipped rules (config/lantian.toml), so that exactly the
planned incidents are raised and nothing else: site PM10 15-minute means stay under 150
µg/m³ except in the PM10 episodes (which peak under 200, "major" rather than "critical"),
site hourly means stay within 80 µg/m³ of the ambient background, TSP hourly means stay
under 700 µg/m³ except at cs-02, road PM10 does not rise by 100 within 10 minutes except
when the muck truck passes, and ambient AQI stays well under 150.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final, Literal
from zoneinfo import ZoneInfo

TZ: Final = ZoneInfo("Asia/Shanghai")
DAY: Final = date(2026, 6, 12)
DAY_START: Final = datetime.combine(DAY, time(6, 0), TZ)
DAY_END: Final = datetime.combine(DAY, time(20, 0), TZ)

DRONE: Final = "KY-UAV-01"
#: The drone dock on the street office's roof (office.geojson): (lon, lat).
DOCK: Final = (120.501, 30.044)
CRUISE_MPS: Final = 10.0  # M30-class patrol speed, as the shipped rules assume
#: Positions while flying: DJI docks send every 2 s; under rules.drones.max_gap_s (15 s)
#: either way, so dwell and corridor timers see continuous flight.
FLYING_EVERY_S: Final = 3.0
#: A docked aircraft still reports, less often; fresh enough (max_suggestion_age_s 600)
#: for the rules to suggest it for a new alert.
DOCKED_EVERY_S: Final = 60.0

Protocol = Literal["hj212", "json"]
Officer = Literal["blue_sky", "law_enforcement"]
Command = Literal["ack", "verify", "assist", "on_scene", "close"]


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    """A local time of the demo day."""
    return datetime.combine(DAY, time(hh, mm, ss), TZ)


# -- stations ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StationSpec:
    """One monitor: how it talks and what it measures on an ordinary day (Lantian units:
    µg/m³, CO mg/m³, dB(A), m/s, degrees, °C, %)."""

    id: str
    protocol: Protocol
    every_s: float
    offset_s: float  # loggers are not synchronised: each reports at its own second
    baseline: Mapping[str, float]
    noise: float = 0.06  # relative standard deviation of particulates and gases
    #: KY-CS-003's data logger writes its CRC in lower-case hex (conforming: no config needed)
    lowercase_crc: bool = False


def _m(**values: float) -> Mapping[str, float]:
    return MappingProxyType(values)


_WEATHER = {"wind_speed": 2.1, "wind_dir": 170.0, "temp": 26.5, "rh": 72.0}

STATIONS: Final[tuple[StationSpec, ...]] = (
    # construction-site dust monitors: HJ 212-2017 CN 2011, particulates in mg/m³ as the
    # shipped [sources] say ...
    StationSpec("KY-CS-001", "hj212", 60, 5,
                _m(pm10=72, pm25=34, tsp=140, noise=62, **_WEATHER)),
    StationSpec("KY-CS-002", "hj212", 60, 17,
                _m(pm10=78, pm25=36, tsp=180, noise=64, **_WEATHER)),
    StationSpec("KY-CS-003", "hj212", 60, 29,
                _m(pm10=66, pm25=31, tsp=130, noise=60, **_WEATHER), lowercase_crc=True),
    # ... and one newer monitor that speaks Lantian JSON (µg/m³)
    StationSpec("KY-CS-004", "json", 60, 41,
                _m(pm10=70, pm25=33, tsp=150, noise=63, **_WEATHER)),
    # ambient stations and the road station: Lantian JSON
    StationSpec("KY-AQ-001", "json", 60, 11,
                _m(pm10=56, pm25=28, so2=8, no2=30, o3=88, co=0.6, **_WEATHER), noise=0.04),
    StationSpec("KY-AQ-002", "json", 60, 37,
                _m(pm10=52, pm25=26, so2=7, no2=24, o3=92, co=0.5, **_WEATHER), noise=0.04),
    StationSpec("KY-RD-001", "json", 60, 23, _m(pm10=80, pm25=36, noise=68, **_WEATHER),
                noise=0.05),
)

#: Metrics that get the relative noise; the weather wanders less.
NOISY: Final = frozenset({"pm10", "pm25", "tsp", "so2", "no2", "o3", "co"})


@dataclass(frozen=True, slots=True)
class Episode:
    """Dust rising at one station: `metric` ramps from its baseline to `peak`, holds,
    then falls back; `also` raises other metrics by that share of the main rise."""

    station: str
    metric: str
    start: datetime
    ramp_s: float
    hold_s: float
    decay_s: float
    peak: float
    also: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    why: str = ""

    def factor(self, t: datetime) -> float:
        """How far into the episode's rise `t` is: 0 outside it, 1 at its height."""
        s = (t - self.start).total_seconds()
        if s <= 0:
            return 0.0
        if s < self.ramp_s:
            return s / self.ramp_s
        s -= self.ramp_s
        if s <= self.hold_s:
            return 1.0
        s -= self.hold_s
        return max(0.0, 1.0 - s / self.decay_s)


EPISODES: Final[tuple[Episode, ...]] = (
    # The story: cs-01, south of the street office, over the PM10 limit around 07:00;
    # the crew waters the site down once the officers are there (~07:16).
    Episode("KY-CS-001", "pm10", at(6, 47), 420, 1320, 480, 185,
            _m(pm25=0.35, tsp=1.6), why="earthworks without spraying"),
    # A muck truck sheds mud on Keyan Avenue; traffic grinds it into dust.
    Episode("KY-RD-001", "pm10", at(9, 38), 120, 1200, 600, 260, _m(pm25=0.3),
            why="muck truck shedding mud"),
    # Spray from cs-03's misting cannon hits the monitor's inlet: a false alarm.
    Episode("KY-CS-003", "pm10", at(10, 25), 60, 360, 60, 300, _m(pm25=0.5, tsp=1.1),
            why="mist on the monitor's inlet"),
    # Loading muck at cs-02 over lunch: coarse dust, TSP far over its hourly limit.
    Episode("KY-CS-002", "tsp", at(12, 40), 300, 3900, 600, 1500, _m(pm10=0.02, pm25=0.005),
            why="muck loading without cover"),
    # Evening: cs-04's crusher runs without its sprinklers.
    Episode("KY-CS-004", "pm10", at(17, 12), 300, 720, 480, 180, _m(pm25=0.35, tsp=1.5),
            why="crusher without sprinklers"),
)


def level(spec: StationSpec, metric: str, t: datetime) -> float:
    """The true (noise-free) value of `metric` at `spec`'s station at `t`."""
    base = spec.baseline[metric]
    value = base
    for ep in EPISODES:
        if ep.station != spec.id:
            continue
        f = ep.factor(t)
        if f == 0.0:
            continue
        main_rise = ep.peak - spec.baseline[ep.metric]
        if metric == ep.metric:
            value += main_rise * f
        elif metric in ep.also:
            value += main_rise * ep.also[metric] * f
    return value


# -- the drone ------------------------------------------------------------------------

Point = tuple[float, float, float]  # lon, lat, alt_m

#: The morning patrol of tests/fixtures/geo/mission-patrol-am.json: from the dock
#: over the land-use plots (lu-03, lu-02, lu-01) and the communities, and back.
PATROL_ROUTE: Final[tuple[Point, ...]] = (
    (120.501, 30.044, 30),
    (120.509302, 30.052085, 80),
    (120.527981, 30.052983, 80),
    (120.524868, 30.026932, 80),
    (120.488547, 30.024237, 80),
    (120.475056, 30.030525, 80),
    (120.482321, 30.045797, 80),
    (120.501, 30.044, 30),
)


@dataclass(frozen=True, slots=True)
class Sighting:
    """What the drone's camera (or its detector) reports: a finding."""

    kind: str
    confidence: float
    note: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Patrol:
    mission: str
    departs: datetime
    route: tuple[Point, ...]
    corridor_m: float
    #: what it sees, and at which waypoint (index into route)
    sightings: tuple[tuple[int, Sighting], ...] = ()


PATROLS: Final[tuple[Patrol, ...]] = (
    Patrol("patrol-0612-am", at(6, 15), PATROL_ROUTE, 60),
    Patrol("patrol-0612-pm", at(15, 0), PATROL_ROUTE, 60, sightings=(
        (3, Sighting("bare_earth", 0.82, "lu-02 东北角约 2 亩裸土未覆盖防尘网",
                     120.524868, 30.026932)),
    )),
)

RESPONSE_ALT_M: Final = 60.0
RESPONSE_CORRIDOR_M: Final = 100.0
#: Over the site long enough to be recorded on scene (dwell 10 s) and to film it.
HOVER_S: Final = 420.0
SIGHTING_AFTER_S: Final = 75.0  # into the hover, the detector has a clear view


# -- the incidents and what the officers do ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One thing a duty officer does through the API, `after_s` seconds after the alert
    was raised (if the alert has not already got there). `needs`: wait for the alert to
    reach that state first (e.g. the drone on scene before closing), at most `wait_s`."""

    after_s: float
    officer: Officer
    command: Command
    queue: str | None = None  # assist: the queue called in
    outcome: str | None = None  # close: resolved / false_alarm / duplicate
    note: str | None = None
    needs: str | None = None
    wait_s: float = 600.0


@dataclass(frozen=True, slots=True)
class IncidentPlan:
    """An incident the day is written to raise, and how it is handled."""

    key: str
    rule: str
    subject: str
    expect_after: datetime  # raised after this (so a later repeat gets the default plan)
    queue: Officer
    title: str
    steps: tuple[Step, ...]
    drone_sees: Sighting | None = None  # what the drone finds there, if one is sent


BLUE_SKY_OFFICER: Final = "李值班"  # the blue-sky office's duty officer
LAW_OFFICER: Final = "王执法"  # the transport law-enforcement team's duty officer
NAMES: Final[Mapping[Officer, str]] = MappingProxyType(
    {"blue_sky": BLUE_SKY_OFFICER, "law_enforcement": LAW_OFFICER}
)

STORY: Final = IncidentPlan(
    "story", "site-pm10-15min", "station:KY-CS-001", at(6, 50), "blue_sky",
    "cs-01 PM10 over the 15-minute limit: drone, law enforcement, receipt",
    (
        Step(120, "blue_sky", "ack"),
        Step(180, "blue_sky", "verify"),  # the suggested drone: "S, 1.8 km"
        Step(480, "blue_sky", "assist", queue="law_enforcement"),
        Step(1380, "law_enforcement", "close", outcome="resolved",
             note="蓝天办与交通执法队现场处置：责令洒水降尘、覆盖裸土，复测 PM10 回落",
             needs="on_scene"),
    ),
    drone_sees=Sighting("dust_plume", 0.91, "cs-01 基坑土方作业扬尘明显，未见喷淋",
                        120.502557, 30.02783),
)

INCIDENTS: Final[tuple[IncidentPlan, ...]] = (
    STORY,
    IncidentPlan(
        "road-dust", "road-pm10-rise", "station:KY-RD-001", at(9, 30), "law_enforcement",
        "Keyan Avenue road dust: a muck truck shedding mud",
        (
            Step(180, "law_enforcement", "ack"),
            Step(720, "law_enforcement", "on_scene"),
            Step(1560, "law_enforcement", "close", outcome="resolved",
                 note="渣土车未密闭运输，已查处并责令冲洗路面"),
        ),
    ),
    IncidentPlan(
        "false-alarm", "site-pm10-15min", "station:KY-CS-003", at(10, 20), "blue_sky",
        "cs-03 PM10 spike: the drone finds no dust (false alarm)",
        (
            Step(120, "blue_sky", "ack"),
            Step(180, "blue_sky", "verify"),
            Step(960, "blue_sky", "close", outcome="false_alarm",
                 note="无人机现场核查未见扬尘，系喷雾炮水雾干扰监测仪，已通知运维清洁探头",
                 needs="on_scene"),
        ),
    ),
    IncidentPlan(
        "late", "site-tsp-1h", "station:KY-CS-002", at(12, 40), "blue_sky",
        "cs-02 TSP over the hourly limit over lunch: closed late",
        (
            Step(540, "blue_sky", "ack"),  # nobody at the desk: escalated at 5 minutes
            Step(900, "blue_sky", "assist", queue="law_enforcement"),
            Step(2820, "blue_sky", "close", outcome="resolved",
                 note="午间装运渣土未覆盖，联合执法后已停工整改并覆盖"),
        ),
    ),
    IncidentPlan(
        "patrol-finding", "finding-bare_earth", "zone:lu-02", at(15, 0), "law_enforcement",
        "Afternoon patrol: uncovered earth on land-use plot lu-02",
        (
            Step(240, "law_enforcement", "ack"),
            Step(960, "law_enforcement", "on_scene"),
            Step(1620, "law_enforcement", "close", outcome="resolved",
                 note="地块裸土已责令覆盖防尘网，拍照存档"),
        ),
    ),
    IncidentPlan(
        "evening", "site-pm10-15min", "station:KY-CS-004", at(17, 10), "blue_sky",
        "cs-04 PM10 at the crusher: sorted out by phone",
        (
            Step(180, "blue_sky", "ack"),
            Step(840, "blue_sky", "close", outcome="resolved",
                 note="电话督促工地开启破碎机喷淋，复测 PM10 回落"),
        ),
    ),
)


def default_plan(queue: str) -> tuple[Step, ...]:
    """What an officer does with an alert the script did not foresee: look, then close."""
    officer: Officer = "law_enforcement" if queue == "law_enforcement" else "blue_sky"
    return (
        Step(240, officer, "ack"),
        Step(1200, officer, "close", outcome="resolved", note="按常规程序核查处置完毕"),
    )


def plan_for(
    rule: str, subject: str, raised_at: datetime, claimed: frozenset[str]
) -> IncidentPlan | None:
    """The scripted incident an alert is, if any and not already claimed by another."""
    for plan in INCIDENTS:
        if (plan.key not in claimed and plan.rule == rule and plan.subject == subject
                and raised_at >= plan.expect_after):
            return plan
    return None


def story_deadline() -> timedelta:
    """The story's promise: closed with a receipt in under half an hour."""
    return timedelta(minutes=30)
