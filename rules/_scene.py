"""A drone position under judgement, and the alerts about it.

No-fly and off-corridor alerts are about the place the drone is: their zone attribution
(primary zone, all zones, grid) is computed once per position, and only if an alert
needs it, since most positions raise nothing. The evidence is the drone's recent track.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from rules._records import DronePosition
from rules._signals import Action, AlertSignal, Evidence
from rules._zone_index import ZoneIndex
from rules._zones import Zone

__all__ = ["Scene", "zone_or_none"]


class Scene:
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


def zone_or_none(index: ZoneIndex, zid: str) -> Zone | None:
    """The zone with this id, or None: a zone can leave the index on a config reload
    while a drone is still "in" it."""
    try:
        return index.get(zid)
    except KeyError:
        return None
