"""Drone positions through the rules: the order in which one position is judged.

A position is judged by no-fly (`rules._nofly`), then off-corridor (`rules._corridor`),
then zone events and coverage (`rules._zone_events`, `rules._coverage`); each condition is
a `rules._presence` machine. A mission is taken by `rules._corridor.on_mission`; the drone
to send to an alert is `rules._suggest`. What is remembered per drone: `rules._drone_state`.

A position no newer than the drone's last one changes nothing: telemetry redelivered
(QoS 1) or arriving late must not move the drone backwards, restart its runs or put an old
fix into the evidence. A gap longer than `DroneRules.max_gap_s` since the last position
makes this one not `continuous`: pending runs restart at it.
"""

from __future__ import annotations

from collections import deque
from datetime import tzinfo

from rules._corridor import corridor
from rules._drone_state import DroneBook
from rules._nofly import no_fly
from rules._records import DronePosition
from rules._ruleset import DroneRules
from rules._scene import Scene
from rules._signals import Signal
from rules._zone_events import zone_events
from rules._zone_index import ZoneIndex

__all__ = ["on_position"]


def on_position(
    book: DroneBook, pos: DronePosition, index: ZoneIndex, rules: DroneRules, tz: tzinfo
) -> list[Signal]:
    """Judge one position: no-fly alerts, then the off-corridor alert, then zone events."""
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
    scene = Scene(pos, state.track, index)
    lon, lat = pos.location.lon, pos.location.lat
    inside = index.containing(lon, lat, alt_m=pos.alt_m, at=pos.ts)
    signals: list[Signal] = []
    signals += no_fly(state, scene, inside, rules, continuous)
    signals += corridor(state, scene, rules, continuous)
    signals += zone_events(state, scene, inside, rules, continuous, tz)
    return signals
