"""Drone suggestion: a new alert at a place comes with the drone to send there.

The nearest drone whose last fix is at most `max_suggestion_age_s` old when the alert is
raised (ties to the lower id), with the geodesic distance, bearing, compass direction
("S") and an ETA at `cruise_speed_mps`. Alerts about drones themselves get none.

"When the alert is raised" is the shell's clock when it is given (`now`), else the alert's
own time. They differ for late data (a logger's buffered or back-filled upload): the
alert is about an hour ago, but the drone to send is where the drones are now, and a fix
newer than the observation is not from the future, only fresher.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Final

from rules._drone_state import DroneBook
from rules._geodesy import compass, distance_bearing
from rules._records import DronePosition, Location
from rules._ruleset import DroneRules
from rules._signals import Action, AlertSignal, DroneSuggestion, Signal

__all__ = ["suggest", "with_suggestions"]

#: A dock's clock may run a little ahead of the one that stamped the alert; a position
#: further in the future than this is a broken clock, not a fresh fix.
_FUTURE_TOLERANCE_S: Final = 2.0


def suggest(
    book: DroneBook, location: Location, at: datetime, rules: DroneRules
) -> DroneSuggestion | None:
    """The drone to send to `location`: the nearest whose last fix is at most
    `max_suggestion_age_s` old at `at`, the time of raising (ties to the lower id), or
    None when none is."""
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


def with_suggestions(
    book: DroneBook, signals: list[Signal], rules: DroneRules, now: datetime | None = None
) -> list[Signal]:
    """`signals`, each new alert about a place (not about a drone) with its suggestion,
    judged at `now` (when the alert is raised) or, without it, at the alert's time."""
    for i, s in enumerate(signals):
        if (
            isinstance(s, AlertSignal) and s.action is Action.RAISE and s.location is not None
            and not s.subject.startswith("drone:")
        ):
            raised = s.at if now is None else max(s.at, now)
            suggestion = suggest(book, s.location, raised, rules)
            if suggestion is not None:
                signals[i] = replace(s, drone_suggestion=suggestion)
    return signals
