"""Zones: the areas rules reason about (construction sites, no-fly zones, grid cells, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from shapely.geometry.base import BaseGeometry

ZONE_KINDS: Final = frozenset(
    {"construction_site", "no_fly", "patrol_area", "community", "land_use", "grid", "road"}
)


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone of config/zones.geojson. `geometry` is WGS-84 lon/lat (shapely's x/y);
    `grid` names the governance grid cell it belongs to; an altitude band, when set,
    bounds where the zone applies (metres, ellipsoidal like drone altitudes)."""

    id: str
    name: str
    kind: str
    geometry: BaseGeometry
    grid: str | None = None
    min_alt_m: float | None = None
    max_alt_m: float | None = None
