"""Metres, not degrees: geodesic distance and bearing, a local metric projection, routes.

A degree of longitude is 96 km at Keyan's latitude and a degree of latitude 111 km, so
nothing that is compared with a number of metres (a corridor width, an exit buffer, a
"3 km south" in an alert) is ever computed in degrees:

- `distance_bearing` solves the inverse geodesic problem on the WGS-84 ellipsoid
  (Karney's algorithm, via pyproj): exact to well under a millimetre at any distance.
- `Projection` maps lon/lat to the UTM zone of the deployment area. Within a zone the
  scale error is at most 0.1 % (0.04 % at Keyan), ample for buffers and corridors, and
  planar geometry (shapely) then works in metres.
- `FlightPath` is a mission's planned path in that projection, for "how far off the route".

Everything here is a pure function of its arguments; the pyproj objects are stateless
after construction and are built once (module constant, one Transformer per Projection).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry

from rules._records import Location

__all__ = ["COMPASS_POINTS", "FlightPath", "Projection", "compass", "distance_bearing"]

_GEOD: Final = Geod(ellps="WGS84")

#: The 8 compass points, clockwise from north; sector i is centred on i * 45°.
COMPASS_POINTS: Final = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")

FloatArray = npt.NDArray[np.float64]


def distance_bearing(a: Location, b: Location) -> tuple[float, float]:
    """Geodesic distance a→b in metres and the forward azimuth at `a` in degrees [0, 360),
    clockwise from true north. Coincident points have no direction: bearing 0 then."""
    azimuth, _back, distance = _GEOD.inv(a.lon, a.lat, b.lon, b.lat)
    if distance == 0.0:
        return 0.0, 0.0
    return float(distance), _normalise(float(azimuth))


def _normalise(bearing: float) -> float:
    wrapped = bearing % 360.0
    # -1e-17 % 360 rounds to 360.0, which is outside [0, 360)
    return 0.0 if wrapped >= 360.0 else wrapped


def compass(bearing_deg: float) -> str:
    """The 8-point compass direction of a bearing (degrees, any real value: wrapped).

    Each point owns a 45° sector centred on it, closed at its anticlockwise edge and open
    at its clockwise edge, so a bearing exactly on a boundary goes clockwise: 22.5 is NE,
    67.5 is E, ..., 337.5 is N (and 0 and 360 are N)."""
    if not math.isfinite(bearing_deg):
        raise ValueError(f"bearing {bearing_deg!r} is not a finite number")
    # one floor over the shifted bearing puts each boundary in its clockwise sector
    sector = math.floor((_normalise(bearing_deg) + 22.5) / 45.0) % 8
    return COMPASS_POINTS[sector]


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone containing (lon, lat): 326zz north of the
    equator (the equator included), 327zz south. The Norway and Svalbard exceptions of
    the military grid are not applied: they do not change which projection is accurate."""
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"longitude {lon!r} is outside -180..180")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"latitude {lat!r} is outside -90..90")
    zone = min(60, math.floor((lon + 180.0) / 6.0) + 1)  # 180°E belongs to zone 60
    return (32600 if lat >= 0.0 else 32700) + zone


class Projection:
    """A local metric CRS (a UTM zone) for one deployment area; x/y in metres.

    Meant for an area of a few hundred km: far outside its zone the scale error grows
    (about 1 % at 9° of longitude from the central meridian). Immutable."""

    __slots__ = ("_forward", "crs", "epsg")

    def __init__(self, epsg: int) -> None:
        self.epsg: Final = epsg
        self.crs: Final = CRS.from_epsg(epsg)
        # always_xy: lon/lat in, x/y out, whatever axis order the EPSG definition has
        self._forward: Final = Transformer.from_crs(
            CRS.from_epsg(4326), self.crs, always_xy=True
        )

    @classmethod
    def for_area(cls, lon: float, lat: float) -> Projection:
        """The UTM zone (north or south) containing the point."""
        return cls(utm_epsg(lon, lat))

    @property
    def name(self) -> str:
        return str(self.crs.name)

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._forward.transform(lon, lat)
        return float(x), float(y)

    def to_xy_many(
        self, lons: npt.ArrayLike, lats: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        x, y = self._forward.transform(
            np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def project(self, geometry: BaseGeometry) -> BaseGeometry:
        """A geometry (or a numpy array of them) from lon/lat to this CRS, vertex by vertex.
        Straight edges stay straight in the projection, which is right for the short
        edges of zones and routes (a 10 km edge bends by centimetres)."""
        return shapely.transform(geometry, self._forward.transform, interleaved=False)

    def __repr__(self) -> str:
        return f"Projection(epsg={self.epsg})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Projection) and other.epsg == self.epsg

    def __hash__(self) -> int:
        return hash(self.epsg)


@dataclass(frozen=True)
class FlightPath:
    """A planned path: `waypoints` (lon, lat) joined by straight legs in `projection`.

    One waypoint is a point (a hover mission); the distance is then to that point."""

    waypoints: Sequence[tuple[float, float]]
    projection: Projection
    line: BaseGeometry = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        points = tuple((float(lon), float(lat)) for lon, lat in self.waypoints)
        if not points:
            raise ValueError("a route needs at least one waypoint")
        for lon, lat in points:
            Location(lat, lon)  # raises ValueError naming the bad coordinate
        xs, ys = self.projection.to_xy_many([p[0] for p in points], [p[1] for p in points])
        coords = np.column_stack([xs, ys])
        line = shapely.points(coords[0]) if len(points) == 1 else shapely.linestrings(coords)
        shapely.prepare(line)
        # frozen: the derived fields are set once, here, and never again
        object.__setattr__(self, "waypoints", points)
        object.__setattr__(self, "line", line)

    @property
    def length_m(self) -> float:
        return float(self.line.length)

    def distance_m(self, lon: float, lat: float) -> float:
        """Shortest distance in metres from (lon, lat) to the route: to the nearest leg,
        or to the nearest end beyond the ends."""
        x, y = self.projection.to_xy(lon, lat)
        return float(shapely.distance(self.line, shapely.points(x, y)))

    def within_m(self, lon: float, lat: float, distance_m: float) -> bool:
        """Whether (lon, lat) is within `distance_m` metres of the route (a corridor
        check; the prepared line makes it cheaper than `distance_m`)."""
        x, y = self.projection.to_xy(lon, lat)
        return bool(shapely.dwithin(self.line, shapely.points(x, y), distance_m))
