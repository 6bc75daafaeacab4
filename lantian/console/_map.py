"""The console map's data (`GET /api/map`): the config's zones and stations, the drones
the rules know (registered in config or heard from) with their last positions and recent
tracks, the queues, and the service's clock.

Zones and stations do not change while the service runs, so their part is built once;
the drones' part is read from the rule state at each call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from rules import RuleState
from rules.geo import Zone
from rules.records import Station

#: A drone's track on the map: its most recent points (the rules keep a bounded deque).
TRACK_POINTS: Final = 200


def _rings(zone: Zone) -> list[list[list[float]]]:
    geometry = zone.geometry
    polygons = getattr(geometry, "geoms", [geometry])
    return [[[round(x, 6), round(y, 6)] for x, y in p.exterior.coords]
            for p in polygons if hasattr(p, "exterior")]


def places(zones: Iterable[Zone], stations: Iterable[Station]) -> dict[str, Any]:
    """The fixed part: zones (outer rings), stations, and the bounds around them."""
    zone_list, station_list = list(zones), list(stations)
    rings = {z.id: _rings(z) for z in zone_list}
    zone_rows = [{"id": z.id, "name": z.name, "kind": z.kind, "grid": z.grid,
                  "rings": rings[z.id]} for z in zone_list]
    station_rows = [{"id": s.id, "name": s.name, "kind": s.kind, "lat": s.location.lat,
                     "lon": s.location.lon, "zone": s.zone} for s in station_list]
    points = [p for rs in rings.values() for r in rs for p in r] + [
        [s.location.lon, s.location.lat] for s in station_list]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    bounds = [min(lons), min(lats), max(lons), max(lats)] if lons else [0.0, 0.0, 0.0, 0.0]
    return {"bounds": bounds, "zones": zone_rows, "stations": station_rows}


def drones(state: RuleState, registered: Iterable[str], tz: Any) -> list[dict[str, Any]]:
    """Every drone registered or heard from, with its last position and recent track."""
    book = state.drones.drones
    out = []
    for drone in sorted(set(registered) | set(book)):
        known = book.get(drone)
        last = known.last if known is not None else None
        track = list(known.track)[-TRACK_POINTS:] if known is not None else []
        out.append({
            "id": drone,
            "lat": last.location.lat if last else None,
            "lon": last.location.lon if last else None,
            "at": last.ts.astimezone(tz).isoformat() if last else None,
            "track": [[p.location.lat, p.location.lon] for p in track],
        })
    return out


def known_drones(
    registered: Iterable[str], state: Callable[[], RuleState]
) -> Callable[[], frozenset[str]]:
    """The drones an officer may send: registered in config or heard from (the map's)."""
    names = frozenset(registered)

    def known() -> frozenset[str]:
        return names | frozenset(state().drones.drones)

    return known


def map_view(
    zones: Mapping[str, Zone], stations: Mapping[str, Station], registered: Iterable[str],
    queues: Iterable[str], state: Callable[[], RuleState], clock: Callable[[], datetime],
    tz: Any,
) -> Callable[[], dict[str, Any]]:
    """The `/api/map` answer's builder: the places once, the drones and the time on call."""
    fixed = places(zones.values(), stations.values())
    names = sorted(registered)
    queue_names = sorted(queues)

    def view() -> dict[str, Any]:
        return {"now": clock().astimezone(tz).isoformat(), **fixed,
                "drones": drones(state(), names, tz), "queues": queue_names}

    return view
