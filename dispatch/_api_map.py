"""`GET /api/map`: what the console's map draws (zones, stations, drones' last positions
and tracks), the queues an alert may be sent to, and the service's clock.

Dispatch holds none of it (the zones and stations are the config's, the drones' positions
the rules' state): the composition root hands in a callable that builds the answer, the
way it hands in the coverage report. Any authenticated caller may read it: the map shows
places, not alerts (the console draws the open alerts the caller may see from
`/api/alerts`).
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from dispatch._api_models import _Closed, _Open, answers
from dispatch._guard import Caller

#: The map's answer, built from the settings and the rule state on each call.
MapView = Callable[[], dict[str, Any]]


class MapZone(_Open):
    id: str
    name: str
    kind: str
    grid: str | None
    rings: list[list[list[float]]] = Field(
        description="the outer rings of its polygons, [lon, lat] points")


class MapStation(_Open):
    id: str
    name: str
    kind: str
    lat: float
    lon: float
    zone: str | None


class MapDrone(_Open):
    id: str
    lat: float | None = Field(description="null: registered, never heard from")
    lon: float | None
    at: str | None
    track: list[list[float]] = Field(description="recent [lat, lon] points, oldest first")


class MapOut(_Closed):
    """The console's map: zones, stations, drones; the queues; the service's time."""

    now: str = Field(description="the service's clock (SLA countdowns are counted from it)")
    bounds: list[float] = Field(description="[min lon, min lat, max lon, max lat]")
    zones: list[MapZone]
    stations: list[MapStation]
    drones: list[MapDrone]
    queues: list[str]


def map_routes(router: APIRouter, view: MapView) -> None:
    @router.get("/map", response_model=None, responses=answers(MapOut, 403))
    async def console_map(token: Caller) -> dict[str, Any]:
        """The geometry the console's map draws, from the config and the rule state."""
        return view()
