"""Sites: where a reading belongs. Its subject, its location and the zones it is
attributed to, which every rule about a reading needs (thresholds, no data, AQI).

A fixed station's site is resolved once (stations do not move) and cached in the rule
state; a mobile reading's (one carrying its own location) per reading. A registered
station's zone beats its location: the registration names the site the monitor watches,
even when the monitor stands at the fence, in another zone.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules._records import Location, Reading
from rules._ruleset import MOBILE, Ruleset
from rules._zones import Zone

__all__ = ["Site", "site_of", "station_site"]


@dataclass(frozen=True, slots=True)
class Site:
    """Where a reading belongs: its subject, location and the zones it is attributed to.
    Fixed stations' sites are resolved once; mobile readings' per reading."""

    subject: str
    id: str
    kind: str
    location: Location | None
    zone: Zone | None
    zones: tuple[Zone, ...]
    grid: str | None
    area_class: str | None


def site_of(reading: Reading, rs: Ruleset, cache: dict[str, Site]) -> Site:
    """The reading's site: its station's, or where it was taken for a mobile reading."""
    if reading.location is None:
        return station_site(reading.station, rs, cache)
    return _resolve(reading.station, reading.location, rs)


def station_site(station_id: str, rs: Ruleset, cache: dict[str, Site]) -> Site:
    """A fixed station's site, resolved once: stations do not move."""
    site = cache.get(station_id)
    if site is None:
        site = cache[station_id] = _resolve(station_id, None, rs)
    return site


def _resolve(station_id: str, location: Location | None, rs: Ruleset) -> Site:
    station = rs.stations.get(station_id)
    kind = MOBILE if location is not None else (station.kind if station else "unregistered")
    where = location or (station.location if station else None)
    if where is None:
        return Site(f"station:{station_id}", station_id, kind, None, None, (), None, None)
    primary, zones, grid = rs.index.attribution(where.lon, where.lat)
    if location is None and station is not None and station.zone is not None:
        # the registration names the site the monitor watches, even if it sits at the fence
        primary = rs.index.get(station.zone)
        if primary not in zones:
            zones = (primary, *zones)
        grid = primary.grid or grid
    area = next((z.area_class for z in zones if z.area_class), None)
    return Site(f"station:{station_id}", station_id, kind, where, primary, zones, grid, area)
