"""Drones: no-fly breaches, leaving the mission corridor, zone entries and exits, daily
patrol coverage, and which drone to send to an alert.

One small machine drives all three conditions. `classify` keeps a confirmed side (out or
in) and flips it only after the opposite observation has held without a break for a time;
an observation on neither side ("edge") holds the current side and drops any pending run:

    confirmed side   "in"                          "edge"            "out"
    out              run starts or continues;      stay out,         stay out,
                     enter once it lasted enter_s  run dropped       run dropped
    in               stay in, run dropped          stay in,          run starts or continues;
                                                   run dropped       exit once it lasted exit_s

A run is measured from its first sample's time. A telemetry gap longer than
`DroneRules.max_gap_s` restarts a pending run at the current sample: two positions a minute
apart are not a minute of continuous flight in a zone. Confirmed sides survive gaps.

    machine        "in"                               "edge"           enter after / exit after
    zone events    in polygon, altitude band, active  within buffer_m  dwell_s / dwell_s
    no-fly         in polygon, altitude band, active  (none)           no_fly_grace_s /
                                                                        no_fly_clear_s
    off-corridor   beyond corridor_m of the route     (none)           corridor_grace_s / 0

Polygon, band and active period are judged together, per zone (`ZoneIndex.containing`).
flight-blender tests them separately, each with `any()` across volumes, so a point in zone
A's polygon and only zone B's band counts as in a volume although it is in neither; here it
is in no zone and raises nothing.

Decisions (what the duty officer sees):
- A no-fly breach is one alert per stay: RAISE once inside for `no_fly_grace_s`, no UPDATE
  while the drone stays (its live position is on the map, not in the alert queue), CLEAR once
  it has been out for `no_fly_clear_s`, so GPS jitter on the boundary is one incident, not ten.
  The subject is `drone:{drone}@{zone id}`: a drone can breach two no-fly zones at once, and
  one open condition per (rule, subject) would otherwise merge them.
- Off-corridor is one alert per drone, subject `drone:{drone}`: RAISE after
  `corridor_grace_s` outside the corridor, UPDATE each time the distance has grown by
  `corridor_update_step_m` over the last value reported, CLEAR as soon as the drone is back
  within the corridor, when a new mission replaces the route, or when the drone reports
  flying another mission than the one whose route we hold.
- A ZoneEvent is dated at the first sample of the confirming run, with that sample's place:
  "on scene" means when the drone arrived, not when the dwell made us sure.
- Coverage counts a zone for each local day on which the drone was confirmed inside it
  (the day of its arrival, and of each later sample inside), so a patrol that starts inside
  a patrol area (the dock is in one) still covers it that day.

State is plain data: dataclasses of strings, numbers, dates, frozen records and `Presence`
values, in dicts, sets and a deque, so the book can be written out as JSON and read back.
`DroneState.route` is the one derived field: rebuild it from `mission` after loading.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

from rules._geodesy import Route, compass, distance_bearing
from rules._geofence import ZoneIndex
from rules._records import DronePosition, Location, Mission
from rules._signals import Action, AlertSignal, DroneSuggestion, Evidence, Signal, ZoneEvent
from rules._zones import Zone

__all__ = [
    "Crossing",
    "DroneBook",
    "DroneRules",
    "DroneState",
    "Presence",
    "Where",
    "classify",
    "coverage",
    "on_mission",
    "on_position",
    "suggest",
]

Where = Literal["in", "edge", "out"]

#: Which observation moves a confirmed side toward the other one (the table in the docstring).
_TOWARD: Final[Mapping[tuple[bool, Where], bool]] = MappingProxyType(
    {
        (False, "in"): True,
        (False, "edge"): False,
        (False, "out"): False,
        (True, "in"): False,
        (True, "edge"): False,
        (True, "out"): True,
    }
)

_NO_FLY: Final = "no_fly"
#: A dock's clock may run a little ahead of the one that stamped the alert; a position
#: further in the future than this is a broken clock, not a fresh fix.
_FUTURE_TOLERANCE_S: Final = 2.0


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
class Presence:
    """A confirmed side and the first sample of a run toward the other side, if any."""

    inside: bool = False
    pending: DronePosition | None = None


_OUT: Final = Presence()


class Crossing(NamedTuple):
    event: Literal["enter", "exit"]
    first: DronePosition


def classify(
    prev: Presence,
    where: Where,
    pos: DronePosition,
    *,
    enter_s: float,
    exit_s: float,
    continuous: bool = True,
) -> tuple[Presence, Crossing | None]:
    """Advance one presence by one sample; `continuous` is False after a telemetry gap."""
    if not _TOWARD[prev.inside, where]:
        return (prev if prev.pending is None else Presence(prev.inside)), None
    first = prev.pending if prev.pending is not None and continuous else pos
    need = exit_s if prev.inside else enter_s
    if (pos.ts - first.ts).total_seconds() >= need:
        return Presence(not prev.inside), Crossing("exit" if prev.inside else "enter", first)
    return Presence(prev.inside, first), None


@dataclass(slots=True)
class DroneState:
    """What the rules remember about one drone. `no_fly` and `zones` are keyed by zone id
    and hold only zones not plainly out (a missing key is `Presence()`)."""

    last: DronePosition | None = None
    track: deque[DronePosition] = field(default_factory=deque)  # bounded on first use
    mission: Mission | None = None
    route: Route | None = None  # derived from `mission`; not part of a snapshot
    corridor: Presence = _OUT
    corridor_reported_m: float | None = None
    no_fly: dict[str, Presence] = field(default_factory=dict)
    zones: dict[str, Presence] = field(default_factory=dict)
    coverage: dict[date, set[str]] = field(default_factory=dict)


@dataclass(slots=True)
class DroneBook:
    """All drones' state, keyed by drone id; owned by the engine, changed only by this
    module's functions. Plain data (see the module docstring), so it can be snapshotted."""

    drones: dict[str, DroneState] = field(default_factory=dict)

    def state(self, drone: str) -> DroneState:
        found = self.drones.get(drone)
        if found is None:
            found = self.drones[drone] = DroneState()
        return found


class _Scene:
    """The sample being judged; its zone attribution is computed once, and only if an
    alert needs it."""

    __slots__ = ("_attribution", "index", "pos", "track")

    def __init__(self, pos: DronePosition, track: Iterable[DronePosition], index: ZoneIndex):
        self.pos, self.index, self.track = pos, index, track
        self._attribution: tuple[Zone | None, tuple[Zone, ...], str | None] | None = None

    def alert(
        self, action: Action, rule: str, kind: str, subject: str, severity: str,
        *, zone: Zone | None = None, metric: str | None = None, value: float | None = None,
        threshold: float | None = None, detail: Mapping[str, object],
    ) -> AlertSignal:
        if self._attribution is None:
            primary, zones, grid = self.index.attribution(
                self.pos.location.lon, self.pos.location.lat, at=self.pos.ts
            )
            self._attribution = (primary, tuple(zones), grid)
        primary, zones, grid = self._attribution
        return AlertSignal(
            action=action, rule=rule, kind=kind, subject=subject, at=self.pos.ts,
            severity=severity, location=self.pos.location, zone=zone or primary, zones=zones,
            grid=grid, metric=metric, value=value, threshold=threshold,
            evidence=Evidence(track=tuple(self.track)), detail=MappingProxyType(dict(detail)),
        )


def on_mission(
    book: DroneBook, mission: Mission, index: ZoneIndex, rules: DroneRules
) -> list[Signal]:
    """Take `mission` as the drone's plan. The same plan delivered again changes nothing
    (a retained message comes back on every reconnect); another plan resets the corridor
    condition and clears an open off-corridor alert, since its route no longer applies."""
    state = book.state(mission.drone)
    if state.mission == mission:
        return []
    route = _route(mission, index)  # first: a plan Route refuses leaves the old one in force
    signals = _end_corridor(state, index, rules, "new_mission", mission.mission)
    state.mission, state.route = mission, route
    return signals


def _route(mission: Mission, index: ZoneIndex) -> Route | None:
    if not mission.waypoints:
        return None
    return Route(tuple((w.lon, w.lat) for w in mission.waypoints), index.projection)


def _end_corridor(
    state: DroneState, index: ZoneIndex, rules: DroneRules, reason: str, mission: str | None
) -> list[Signal]:
    signals: list[Signal] = []
    if state.corridor.inside and state.last is not None and state.mission is not None:
        scene = _Scene(state.last, state.track, index)
        signals.append(scene.alert(
            Action.CLEAR, rules.corridor_rule, rules.corridor_kind, state.last.subject,
            rules.corridor_severity, metric="corridor_distance_m",
            value=state.corridor_reported_m, threshold=state.mission.corridor_m,
            detail={"mission": state.mission.mission, "reason": reason, "new_mission": mission},
        ))
    state.corridor, state.corridor_reported_m = _OUT, None
    return signals


def on_position(
    book: DroneBook, pos: DronePosition, index: ZoneIndex, rules: DroneRules, tz: tzinfo
) -> list[Signal]:
    """Judge one position: no-fly alerts, then the off-corridor alert, then zone events.

    A position no newer than the drone's last one changes nothing: telemetry redelivered
    (QoS 1) or arriving late must not move the drone backwards, restart its runs or put an
    old fix into the evidence."""
    state = book.state(pos.drone)
    if state.last is not None and pos.ts <= state.last.ts:
        return []
    continuous = (
        state.last is not None and (pos.ts - state.last.ts).total_seconds() <= rules.max_gap_s
    )
    state.last = pos
    if state.track.maxlen != rules.track_len:
        state.track = deque(state.track, maxlen=rules.track_len)
    state.track.append(pos)
    scene = _Scene(pos, state.track, index)
    lon, lat = pos.location.lon, pos.location.lat
    inside = index.containing(lon, lat, alt_m=pos.alt_m, at=pos.ts)
    signals: list[Signal] = []
    signals += _no_fly(state, scene, inside, rules, continuous)
    signals += _corridor(state, scene, rules, continuous)
    signals += _zone_events(state, scene, inside, rules, continuous, tz)
    return signals


def _no_fly(
    state: DroneState, scene: _Scene, inside: Iterable[Zone], rules: DroneRules,
    continuous: bool,
) -> list[Signal]:
    pos = scene.pos
    here = {z.id: z for z in inside if z.kind == _NO_FLY}
    signals: list[Signal] = []
    for zid in sorted(here.keys() | state.no_fly.keys()):
        now, crossing = classify(
            state.no_fly.get(zid, _OUT), "in" if zid in here else "out", pos,
            enter_s=rules.no_fly_grace_s, exit_s=rules.no_fly_clear_s, continuous=continuous,
        )
        _store(state.no_fly, zid, now)
        if crossing is None:
            continue
        zone = here.get(zid) or _zone(scene.index, zid)
        entered = crossing.event == "enter"
        signals.append(scene.alert(
            Action.RAISE if entered else Action.CLEAR, rules.no_fly_rule, rules.no_fly_kind,
            f"{pos.subject}@{zid}", rules.no_fly_severity, zone=zone,
            detail={
                "zone": zid,
                "alt_m": pos.alt_m,
                "min_alt_m": zone.min_alt_m if zone else None,
                "max_alt_m": zone.max_alt_m if zone else None,
                "inside_since" if entered else "outside_since": crossing.first.ts.isoformat(),
            },
        ))
    return signals


def _corridor(
    state: DroneState, scene: _Scene, rules: DroneRules, continuous: bool
) -> list[Signal]:
    plan, route, pos = state.mission, state.route, scene.pos
    if plan is None or route is None:
        return []
    if pos.mission is not None and pos.mission != plan.mission:
        # Flying a plan whose route we do not hold yet: the old route would call it lost.
        return _end_corridor(state, scene.index, rules, "other_mission", pos.mission)
    distance = route.distance_m(pos.location.lon, pos.location.lat)
    state.corridor, crossing = classify(
        state.corridor, "in" if distance > plan.corridor_m else "out", pos,
        enter_s=rules.corridor_grace_s, exit_s=0.0, continuous=continuous,
    )
    reported = state.corridor_reported_m
    detail: dict[str, object] = {"mission": plan.mission, "distance_m": distance}
    if crossing is not None and crossing.event == "enter":
        action, state.corridor_reported_m = Action.RAISE, distance
        detail["off_since"] = crossing.first.ts.isoformat()
    elif crossing is not None:
        action, state.corridor_reported_m = Action.CLEAR, None
    elif (state.corridor.inside and reported is not None
          and distance >= reported + rules.corridor_update_step_m):
        action, state.corridor_reported_m = Action.UPDATE, distance
    else:
        return []
    return [scene.alert(
        action, rules.corridor_rule, rules.corridor_kind, pos.subject, rules.corridor_severity,
        metric="corridor_distance_m",
        # a CLEAR carries the last value the condition had, as AlertSignal says
        value=reported if action is Action.CLEAR else distance, threshold=plan.corridor_m,
        detail=detail,
    )]


def _zone_events(
    state: DroneState, scene: _Scene, inside: Iterable[Zone], rules: DroneRules,
    continuous: bool, tz: tzinfo,
) -> list[Signal]:
    pos, index = scene.pos, scene.index
    kinds = rules.event_kinds
    here = {z.id: z for z in inside if z.kind in kinds}
    near = {
        z.id: z
        for z in index.near(pos.location.lon, pos.location.lat, rules.buffer_m, kinds=kinds,
                            alt_m=pos.alt_m, at=pos.ts)
    }
    signals: list[Signal] = []
    for zid in sorted(here.keys() | near.keys() | state.zones.keys()):
        where: Where = "in" if zid in here else "edge" if zid in near else "out"
        now, crossing = classify(
            state.zones.get(zid, _OUT), where, pos,
            enter_s=rules.dwell_s, exit_s=rules.dwell_s, continuous=continuous,
        )
        _store(state.zones, zid, now)
        zone = here.get(zid) or near.get(zid) or _zone(index, zid)
        if zone is None:
            continue
        if crossing is not None:
            first = crossing.first
            signals.append(ZoneEvent(pos.drone, zone, crossing.event, first.ts,
                                     first.location, first.alt_m))
            if crossing.event == "enter" and zone.kind in rules.coverage_kinds:
                _cover(state, first.ts, zid, tz, rules)
        if now.inside and where == "in" and zone.kind in rules.coverage_kinds:
            _cover(state, pos.ts, zid, tz, rules)
    return signals


def _store(presences: dict[str, Presence], zid: str, now: Presence) -> None:
    if now == _OUT:
        presences.pop(zid, None)
    else:
        presences[zid] = now


def _zone(index: ZoneIndex, zid: str) -> Zone | None:
    # A zone can leave the index on a config reload while a drone is still "in" it.
    try:
        return index.get(zid)
    except KeyError:
        return None


def _cover(state: DroneState, at: datetime, zid: str, tz: tzinfo, rules: DroneRules) -> None:
    day = at.astimezone(tz).date()
    state.coverage.setdefault(day, set()).add(zid)
    while len(state.coverage) > rules.coverage_days:
        del state.coverage[min(state.coverage)]


def coverage(book: DroneBook, day: date) -> dict[str, frozenset[str]]:
    """Drone id -> ids of the coverage zones it was inside on local `day`."""
    return {
        drone: frozenset(state.coverage[day])
        for drone, state in sorted(book.drones.items())
        if state.coverage.get(day)
    }


def suggest(
    book: DroneBook, location: Location, at: datetime, rules: DroneRules
) -> DroneSuggestion | None:
    """The drone to send to `location`: the nearest whose last fix is at most
    `max_suggestion_age_s` old at `at` (ties to the lower id), or None when none is."""
    best: tuple[float, str, float, DronePosition] | None = None
    for drone, state in book.drones.items():
        last = state.last
        if last is None:
            continue
        age = (at - last.ts).total_seconds()
        if age > rules.max_suggestion_age_s or age < -_FUTURE_TOLERANCE_S:
            continue
        distance, bearing = distance_bearing(last.location, location)
        if best is None or (distance, drone) < (best[0], best[1]):
            best = (distance, drone, bearing, last)
    if best is None:
        return None
    distance, drone, bearing, last = best
    return DroneSuggestion(
        drone=drone, distance_m=distance, bearing_deg=bearing, direction=compass(bearing),
        eta_s=distance / rules.cruise_speed_mps + rules.launch_overhead_s,
        seen_at=last.ts, location=last.location,
    )
