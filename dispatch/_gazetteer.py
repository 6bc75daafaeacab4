"""The deployment's place names, for what people read: the bureau's reports name
"鉴湖路南侧住宅项目工地", not "cs-01".

Dispatch keeps ids (a zone, a grid, a queue, a station); the names and shapes are
config's, which dispatch does not read. The composition root builds a `Gazetteer` from
the settings and hands it to `api_router`; a report renderer asks it for names and, for
the map sketch, the outlines. An id it does not know is shown as the id itself: a zone
renamed or removed from config since an old alert was raised still prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

#: A ring of (lon, lat) points, WGS-84.
Ring = Sequence[tuple[float, float]]

_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Outline:
    """A zone's shape for the map sketch: its outer rings, and what kind of zone it is
    (construction_site, grid, community, ...)."""

    id: str
    kind: str
    rings: tuple[Ring, ...]


@dataclass(frozen=True, slots=True)
class Spot:
    """A station's place for the map sketch."""

    id: str
    kind: str
    lon: float
    lat: float
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Display names of zones (grids are zones of kind "grid"), stations and queues by id,
    and the outlines and spots the map sketch draws."""

    zones: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    stations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    queues: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    outlines: tuple[Outline, ...] = ()
    spots: tuple[Spot, ...] = ()

    def zone(self, zone_id: str | None) -> str | None:
        """The zone's (or grid's) name; its id when unnamed; None for no zone."""
        return None if zone_id is None else self.zones.get(zone_id, zone_id)

    def station(self, station_id: str) -> str:
        return self.stations.get(station_id, station_id)

    def queue(self, queue_id: str) -> str:
        return self.queues.get(queue_id, queue_id)

    def subject(self, subject: str) -> str:
        """An alert's subject for people: a station's name ("station:KY-CS-001" →
        "cs-01 扬尘监测点"), otherwise as it is (a drone, a zone)."""
        kind, _, ident = subject.partition(":")
        if kind == "station" and ident:
            return self.station(ident)
        if kind == "zone" and ident:
            return self.zone(ident) or ident
        return subject


#: No names at all: every id prints as itself.
NO_NAMES: Final = Gazetteer()
