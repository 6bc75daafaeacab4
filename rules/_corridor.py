"""Off corridor: a drone farther from its mission's planned route than the mission's
`corridor_m`, and the mission plan that defines the route.

Decisions (what the duty officer sees): one alert per drone, subject `drone:{drone}`.
RAISE after `corridor_grace_s` outside the corridor, UPDATE each time the distance has
grown by `corridor_update_step_m` over the last value reported, CLEAR as soon as the drone
is back within the corridor, when a new mission replaces the route, or when the drone
reports flying another mission than the one whose route we hold.

The route (`FlightPath`, in the zone index's metric projection) is derived from the mission's
waypoints: `route_of` builds it, on a new plan and when a snapshot is loaded.
"""

from __future__ import annotations

from rules._drone_state import DroneBook, DroneState
from rules._geodesy import FlightPath
from rules._presence import OUT, classify
from rules._records import Mission
from rules._ruleset import DroneRules
from rules._scene import Scene
from rules._signals import Action, Signal
from rules._zone_index import ZoneIndex

__all__ = ["corridor", "on_mission", "route_of"]


def on_mission(
    book: DroneBook, mission: Mission, index: ZoneIndex, rules: DroneRules
) -> list[Signal]:
    """Take `mission` as the drone's plan. The same plan delivered again changes nothing
    (a retained message comes back on every reconnect); another plan resets the corridor
    condition and clears an open off-corridor alert, since its route no longer applies."""
    state = book.state(mission.drone)
    if state.mission == mission:
        return []
    route = route_of(mission, index)  # first: a plan FlightPath refuses leaves the old one in force
    signals = _end_corridor(state, index, rules, "new_mission", mission.mission)
    state.mission, state.route = mission, route
    return signals


def route_of(mission: Mission, index: ZoneIndex) -> FlightPath | None:
    """The mission's planned path in the index's metric projection (None: no waypoints)."""
    if not mission.waypoints:
        return None
    return FlightPath(tuple((w.lon, w.lat) for w in mission.waypoints), index.projection)


def _end_corridor(
    state: DroneState, index: ZoneIndex, rules: DroneRules, reason: str, mission: str | None
) -> list[Signal]:
    signals: list[Signal] = []
    if state.corridor.inside and state.last is not None and state.mission is not None:
        scene = Scene(state.last, state.track, index)
        signals.append(scene.alert(
            Action.CLEAR, rules.corridor_rule, rules.corridor_kind, state.last.subject,
            rules.corridor_severity, metric="corridor_distance_m",
            value=state.corridor_reported_m, threshold=state.mission.corridor_m,
            detail={"mission": state.mission.mission, "reason": reason, "new_mission": mission},
        ))
    state.corridor, state.corridor_reported_m = OUT, None
    return signals


def corridor(
    state: DroneState, scene: Scene, rules: DroneRules, continuous: bool
) -> list[Signal]:
    """Advance the off-corridor condition by one position; the alert it causes, if any."""
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
