"""No-fly breaches: a drone inside a no-fly zone's polygon, altitude band and active
period, judged together per zone (`ZoneIndex.containing`).

flight-blender tests polygon, band and period separately, each with `any()` across
volumes, so a point in zone A's polygon and only zone B's band counts as in a volume
although it is in neither; here it is in no zone and raises nothing.

Decisions (what the duty officer sees): one alert per stay. RAISE once inside for
`no_fly_grace_s`, no UPDATE while the drone stays (its live position is on the map, not in
the alert queue), CLEAR once it has been out for `no_fly_clear_s`, so GPS jitter on the
boundary is one incident, not ten. The subject is `drone:{drone}@{zone id}`: a drone can
breach two no-fly zones at once, and one open condition per (rule, subject) would
otherwise merge them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from rules._drone_state import DroneState
from rules._presence import OUT, classify, store
from rules._ruleset import DroneRules
from rules._scene import Scene, zone_or_none
from rules._signals import Action, Signal
from rules._zones import Zone

__all__ = ["no_fly"]

_NO_FLY: Final = "no_fly"


def no_fly(
    state: DroneState, scene: Scene, inside: Iterable[Zone], rules: DroneRules,
    continuous: bool,
) -> list[Signal]:
    """Advance the drone's presence in each no-fly zone it is in or was in; the alerts a
    crossing causes."""
    pos = scene.pos
    here = {z.id: z for z in inside if z.kind == _NO_FLY}
    signals: list[Signal] = []
    for zid in sorted(here.keys() | state.no_fly.keys()):
        now, crossing = classify(
            state.no_fly.get(zid, OUT), "in" if zid in here else "out", pos,
            enter_s=rules.no_fly_grace_s, exit_s=rules.no_fly_clear_s, continuous=continuous,
        )
        store(state.no_fly, zid, now)
        if crossing is None:
            continue
        zone = here.get(zid) or zone_or_none(scene.index, zid)
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
