"""What the rules remember about drones between positions: one `DroneState` per drone,
in a `DroneBook` the engine owns.

State is plain data: dataclasses of strings, numbers, dates, frozen records and
`Presence` values, in dicts, sets and a deque. `rules._snapshot` writes it out as
versioned JSON; `DroneState.route` is the one derived field, which it does not store
and rebuilds from `mission` when it loads a snapshot.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date

from rules._geodesy import FlightPath
from rules._presence import OUT, Presence
from rules._records import DronePosition, Mission

__all__ = ["DroneBook", "DroneState"]


@dataclass(slots=True)
class DroneState:
    """What the rules remember about one drone. `no_fly` and `zones` are keyed by zone id
    and hold only zones not plainly out (a missing key is `Presence()`)."""

    last: DronePosition | None = None
    track: deque[DronePosition] = field(default_factory=deque)  # bounded on first use
    mission: Mission | None = None
    route: FlightPath | None = None  # derived from `mission`; not part of a snapshot
    corridor: Presence = OUT
    corridor_reported_m: float | None = None
    no_fly: dict[str, Presence] = field(default_factory=dict)
    zones: dict[str, Presence] = field(default_factory=dict)
    coverage: dict[date, set[str]] = field(default_factory=dict)


@dataclass(slots=True)
class DroneBook:
    """All drones' state, keyed by drone id; owned by the engine, changed only by the
    drone modules (`rules._drones` and the judges it calls)."""

    drones: dict[str, DroneState] = field(default_factory=dict)

    def state(self, drone: str) -> DroneState:
        found = self.drones.get(drone)
        if found is None:
            found = self.drones[drone] = DroneState()
        return found
