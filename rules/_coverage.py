"""Patrol coverage: which patrol_area / community / land_use zones each drone was
confirmed inside, per local day, for the daily report.

A zone counts for each local day on which the drone was confirmed inside it: the day of
its arrival (the first sample of the run that confirmed the entry), and of each later
sample inside, so a patrol that starts inside a patrol area (the dock is in one) still
covers it that day. Only the last `DroneRules.coverage_days` days are kept.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from rules._drone_state import DroneBook, DroneState
from rules._ruleset import DroneRules

__all__ = ["cover", "coverage"]


def cover(state: DroneState, at: datetime, zid: str, tz: tzinfo, rules: DroneRules) -> None:
    """Count zone `zid` as covered on the local day of `at`."""
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
