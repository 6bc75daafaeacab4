"""Presence: the enter/exit machine behind every drone condition (no-fly, off-corridor,
zone events), as a data table.

`classify` keeps a confirmed side (out or in) and flips it only after the opposite
observation has held without a break for a time; an observation on neither side ("edge")
holds the current side and drops any pending run:

    confirmed side   "in"                          "edge"            "out"
    out              run starts or continues;      stay out,         stay out,
                     enter once it lasted enter_s  run dropped       run dropped
    in               stay in, run dropped          stay in,          run starts or continues;
                                                   run dropped       exit once it lasted exit_s

A run is measured from its first sample's time. A telemetry gap longer than
`DroneRules.max_gap_s` restarts a pending run at the current sample (the caller says so
with `continuous=False`): two positions a minute apart are not a minute of continuous
flight in a zone. Confirmed sides survive gaps.

What each condition calls "in" and "edge", and its times:

    machine        "in"                               "edge"           enter after / exit after
    zone events    in polygon, altitude band, active  within buffer_m  dwell_s / dwell_s
    no-fly         in polygon, altitude band, active  (none)           no_fly_grace_s /
                                                                        no_fly_clear_s
    off-corridor   beyond corridor_m of the route     (none)           corridor_grace_s / 0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

from rules._records import DronePosition

__all__ = ["OUT", "Crossing", "Presence", "Where", "classify", "store"]

Where = Literal["in", "edge", "out"]

#: Which observation moves a confirmed side toward the other one (the table above).
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


@dataclass(frozen=True, slots=True)
class Presence:
    """A confirmed side and the first sample of a run toward the other side, if any."""

    inside: bool = False
    pending: DronePosition | None = None


#: Plainly out, nothing pending: what a missing key in a presence map means.
OUT: Final = Presence()


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


def store(presences: dict[str, Presence], zid: str, now: Presence) -> None:
    """Keep `now` under `zid`, or forget the zone when it is plainly out again: the map
    holds only zones a drone is in or near, not every zone it ever passed."""
    if now == OUT:
        presences.pop(zid, None)
    else:
        presences[zid] = now
