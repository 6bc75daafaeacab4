"""The deployment's names for the bureau's reports: a `dispatch.Gazetteer` built from the
settings (config/zones.geojson and stations.geojson), which dispatch cannot read."""

from __future__ import annotations

from collections.abc import Mapping

from shapely.geometry import MultiPolygon, Polygon

from dispatch import Gazetteer, Outline, Spot
from lantian.config import Settings
from rules.geo import Zone
from rules.records import Station


def _rings(zone: Zone) -> tuple[tuple[tuple[float, float], ...], ...]:
    geometry = zone.geometry
    polygons = (list(geometry.geoms) if isinstance(geometry, MultiPolygon)
                else [geometry] if isinstance(geometry, Polygon) else [])
    return tuple(tuple((float(x), float(y)) for x, y, *_ in p.exterior.coords)
                 for p in polygons)


def gazetteer(zones: Mapping[str, Zone], stations: Mapping[str, Station]) -> Gazetteer:
    """Zones' (and grids') and stations' names, and their outlines and places for the
    map sketch."""
    return Gazetteer(
        zones={z.id: z.name for z in zones.values()},
        stations={s.id: s.name for s in stations.values()},
        outlines=tuple(Outline(z.id, z.kind, _rings(z)) for z in zones.values()),
        spots=tuple(Spot(s.id, s.kind, s.location.lon, s.location.lat, s.zone)
                    for s in stations.values()),
    )


def gazetteer_of(settings: Settings) -> Gazetteer:
    return gazetteer(settings.zones, settings.stations)
