"""Zones: the areas rules reason about (construction sites, no-fly zones, grid cells, ...),
and their order from most to least specific, which decides what an alert is about."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from shapely.geometry.base import BaseGeometry

ZONE_KINDS: Final = frozenset(
    {"construction_site", "no_fly", "patrol_area", "community", "land_use", "grid", "road"}
)

#: Kind -> sort position in answers: most specific first. Unknown kinds go just before grid.
KIND_SPECIFICITY: Final[Mapping[str, int]] = MappingProxyType({
    "construction_site": 0, "no_fly": 1, "land_use": 2, "community": 3, "road": 4,
    "patrol_area": 5, "grid": 7,
})  # fmt: skip
_UNKNOWN_KIND: Final = 6


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone of config/zones.geojson. `geometry` is WGS-84 lon/lat (shapely's x/y);
    `grid` names the governance grid cell it belongs to; an altitude band, when set,
    bounds where the zone applies (metres, ellipsoidal like drone altitudes), and so does
    an active period (a temporary no-fly zone over an event, a site's permit).
    `area_class` ("key", "general", ...) selects a rule's area factor: regulators set key
    areas' dust limits at a fraction of the general limit."""

    id: str
    name: str
    kind: str
    geometry: BaseGeometry
    grid: str | None = None
    min_alt_m: float | None = None
    max_alt_m: float | None = None
    area_class: str | None = None
    active_from: datetime | None = None
    active_until: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        """Whether the zone applies at `at`: from `active_from` inclusive to `active_until`
        exclusive, each open-ended when unset."""
        if self.active_from is not None and at < self.active_from:
            return False
        return self.active_until is None or at < self.active_until

    def band_contains(self, alt_m: float | None) -> bool:
        """Whether an altitude lies in the zone's band. An unknown altitude (a ground
        station, a drone that did not say) is not held against the band."""
        if alt_m is None:
            return True
        if self.min_alt_m is not None and alt_m < self.min_alt_m:
            return False
        return self.max_alt_m is None or alt_m <= self.max_alt_m


def specificity(zone: Zone) -> tuple[int, str]:
    """The sort key of zones in answers and attribution: kind specificity, then id."""
    return KIND_SPECIFICITY.get(zone.kind, _UNKNOWN_KIND), zone.id
