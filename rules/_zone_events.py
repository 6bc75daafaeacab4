"""Zone events: a drone entered or left a zone (`ZoneEvent`), for "on scene" and for
patrol coverage.

Entry after `dwell_s` inside; exit after `dwell_s` outside the zone buffered by
`buffer_m` (the "edge" band of `rules._presence`), so hovering on an edge does not
flicker. An event is dated at the first sample of the confirming run, with that sample's
place: "on scene" means when the drone arrived, not when the dwell made us sure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo

from rules._coverage import cover
from rules._drone_state import DroneState
from rules._presence import OUT, Where, classify, store
from rules._ruleset import DroneRules
from rules._scene import Scene, zone_or_none
from rules._signals import Signal, ZoneEvent
from rules._zones import Zone

__all__ = ["zone_events"]


def zone_events(
    state: DroneState, scene: Scene, inside: Iterable[Zone], rules: DroneRules,
    continuous: bool, tz: tzinfo,
) -> list[Signal]:
    """Advance the drone's presence in each event zone it is in, near or was in; the
    enter and exit events that confirms, and the coverage it earns."""
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
            state.zones.get(zid, OUT), where, pos,
            enter_s=rules.dwell_s, exit_s=rules.dwell_s, continuous=continuous,
        )
        store(state.zones, zid, now)
        zone = here.get(zid) or near.get(zid) or zone_or_none(index, zid)
        if zone is None:
            continue
        if crossing is not None:
            first = crossing.first
            signals.append(ZoneEvent(pos.drone, zone, crossing.event, first.ts,
                                     first.location, first.alt_m))
            if crossing.event == "enter" and zone.kind in rules.coverage_kinds:
                cover(state, first.ts, zid, tz, rules)
        if now.inside and where == "in" and zone.kind in rules.coverage_kinds:
            cover(state, pos.ts, zid, tz, rules)
    return signals
