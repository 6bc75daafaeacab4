"""Metres, not degrees: geodesic distance and bearing, compass points, the UTM projection
and route distances, against values known independently of the code under test."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import NamedTuple

import pytest
import shapely
from pyproj import Geod

from rules._geodesy import (
    COMPASS_POINTS,
    FlightPath,
    Projection,
    compass,
    distance_bearing,
    utm_epsg,
)
from rules.records import Location
from tests.support import FIXTURES

GEOD = Geod(ellps="WGS84")
KEYAN = Location(30.03, 120.50)


def moved(origin: Location, azimuth: float, metres: float) -> Location:
    lon, lat, _ = GEOD.fwd(origin.lon, origin.lat, azimuth, metres)
    return Location(lat, lon)


# -- distance_bearing -------------------------------------------------------------------------


class Leg(NamedTuple):
    a: Location
    b: Location
    distance_m: float
    distance_tol_m: float
    bearing: float
    bearing_tol: float


LEGS = {
    # WGS-84: a degree of longitude on the equator is a·π/180 = 111,319.491 m
    "equator-1deg-east": Leg(Location(0, 0), Location(0, 1), 111_319.491, 0.01, 90.0, 1e-9),
    # and a degree of latitude from the equator is 110,574.389 m (meridian arc)
    "meridian-1deg-north": Leg(Location(0, 0), Location(1, 0), 110_574.389, 0.01, 0.0, 1e-9),
    "due-south-1km": Leg(KEYAN, moved(KEYAN, 180, 1000), 1000.0, 1.0, 180.0, 0.01),
    "due-north-1km": Leg(KEYAN, moved(KEYAN, 0, 1000), 1000.0, 1.0, 0.0, 0.01),
    # west comes back as 270, not -90
    "due-west-500m": Leg(KEYAN, moved(KEYAN, 270, 500), 500.0, 1.0, 270.0, 0.01),
    "south-west-2km": Leg(KEYAN, moved(KEYAN, 225, 2000), 2000.0, 1.0, 225.0, 0.01),
    "meridian-south-by-degrees": Leg(
        Location(30.0, 120.5), Location(29.99, 120.5), 1108.524, 0.01, 180.0, 1e-9
    ),
    "coincident": Leg(KEYAN, KEYAN, 0.0, 0.0, 0.0, 0.0),
}


@pytest.mark.parametrize("leg", LEGS.values(), ids=LEGS.keys())
def test_distance_bearing(leg: Leg) -> None:
    distance, bearing = distance_bearing(leg.a, leg.b)
    assert distance == pytest.approx(leg.distance_m, abs=leg.distance_tol_m)
    assert bearing == pytest.approx(leg.bearing, abs=leg.bearing_tol)
    assert 0.0 <= bearing < 360.0


def test_bearing_reverses_on_a_meridian() -> None:
    south = moved(KEYAN, 180, 3000)
    d1, b1 = distance_bearing(KEYAN, south)
    d2, b2 = distance_bearing(south, KEYAN)
    assert d1 == pytest.approx(d2, abs=1e-6)
    assert (b1, b2) == (pytest.approx(180, abs=1e-6), pytest.approx(0, abs=1e-6))


# -- compass ----------------------------------------------------------------------------------

COMPASS = {
    0.0: "N", 22.4999: "N", 22.5: "NE", 45.0: "NE", 67.4999: "NE", 67.5: "E", 90.0: "E",
    112.5: "SE", 157.4999: "SE", 157.5: "S", 180.0: "S", 202.4999: "S", 202.5: "SW",
    247.5: "W", 292.4999: "W", 292.5: "NW", 337.4999: "NW", 337.5: "N", 359.9999: "N",
    360.0: "N", -0.0001: "N", -22.5: "N", -22.5001: "NW", -90.0: "W", 765.0: "NE",
}  # fmt: skip


@pytest.mark.parametrize(("bearing", "point"), COMPASS.items(), ids=[str(b) for b in COMPASS])
def test_compass_boundaries_go_clockwise(bearing: float, point: str) -> None:
    assert compass(bearing) == point


def test_compass_sectors_are_centred() -> None:
    for i, point in enumerate(COMPASS_POINTS):
        assert compass(i * 45.0) == point
        assert compass(i * 45.0 + 22.4) == point
        assert compass(i * 45.0 - 22.4) == point


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_compass_refuses_non_numbers(bad: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        compass(bad)


def test_send_the_drone_south() -> None:
    _, bearing = distance_bearing(KEYAN, moved(KEYAN, 175, 800))
    assert compass(bearing) == "S"


# -- Projection ------------------------------------------------------------------------------

ZONES = {
    "keyan": ((120.5, 30.0), 32651, "WGS 84 / UTM zone 51N"),
    "new-york": ((-74.0, 40.7), 32618, "WGS 84 / UTM zone 18N"),
    "sydney": ((151.2, -33.9), 32756, "WGS 84 / UTM zone 56S"),
    "equator-is-north": ((10.0, 0.0), 32632, "WGS 84 / UTM zone 32N"),
    "zone-edge-120E": ((120.0, 30.0), 32651, "WGS 84 / UTM zone 51N"),
    "just-west-of-120E": ((119.999, 30.0), 32650, "WGS 84 / UTM zone 50N"),
    "180E-is-zone-60": ((180.0, 1.0), 32660, "WGS 84 / UTM zone 60N"),
    "180W-is-zone-1": ((-180.0, -1.0), 32701, "WGS 84 / UTM zone 1S"),
}


@pytest.mark.parametrize(("point", "epsg", "name"), ZONES.values(), ids=ZONES.keys())
def test_for_area_picks_the_utm_zone(point: tuple[float, float], epsg: int, name: str) -> None:
    p = Projection.for_area(*point)
    assert (p.epsg, p.name) == (epsg, name)


@pytest.mark.parametrize(("lon", "lat"), [(181.0, 0.0), (0.0, -91.0), (math.nan, 0.0)])
def test_for_area_refuses_non_coordinates(lon: float, lat: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        utm_epsg(lon, lat)


def test_projected_distances_are_metres() -> None:
    p = Projection.for_area(KEYAN.lon, KEYAN.lat)
    for azimuth in (0, 45, 90, 135, 180, 270):
        far = moved(KEYAN, azimuth, 5000)
        (x1, y1), (x2, y2) = p.to_xy(KEYAN.lon, KEYAN.lat), p.to_xy(far.lon, far.lat)
        # UTM scale error is 0.03 % here, 2.5° from the zone's central meridian
        assert math.hypot(x2 - x1, y2 - y1) == pytest.approx(5000, rel=1e-3)


def test_to_xy_many_matches_to_xy() -> None:
    p = Projection.for_area(120.5, 30.0)
    xs, ys = p.to_xy_many([120.5, 120.6], [30.0, 30.1])
    assert (float(xs[1]), float(ys[1])) == pytest.approx(p.to_xy(120.6, 30.1), abs=1e-9)
    assert xs.shape == ys.shape == (2,)


def test_project_a_geometry_keeps_its_shape_in_metres() -> None:
    p = Projection.for_area(120.5, 30.0)
    # a square of 0.01° a side: 0.01° lat ≈ 1108.5 m, 0.01° lon ≈ 963.6 m at 30°N
    square = shapely.box(120.5, 30.0, 120.51, 30.01)
    area, _ = GEOD.geometry_area_perimeter(square)
    projected = p.project(square)
    assert projected.geom_type == "Polygon"
    assert projected.area == pytest.approx(abs(area), rel=2e-3)


def test_projection_is_a_value() -> None:
    assert Projection(32651) == Projection.for_area(120.5, 30.0)
    assert hash(Projection(32651)) == hash(Projection.for_area(121.0, 29.0))
    assert Projection(32651) != Projection(32650)


# -- FlightPath ---------------------------------------------------------------------------------

MISSION = json.loads((FIXTURES / "geo" / "mission-patrol-am.json").read_text())
WAYPOINTS = [(lon, lat) for lon, lat, _alt in MISSION["waypoints"]]
PROJECTION = Projection.for_area(*WAYPOINTS[0])


def _off_leg(i: int, offset_m: float, side: float = 90.0) -> Location:
    """A point offset_m to one side of the middle of leg i, measured geodesically."""
    (lon1, lat1), (lon2, lat2) = WAYPOINTS[i], WAYPOINTS[i + 1]
    azimuth, _, length = GEOD.inv(lon1, lat1, lon2, lat2)
    mid_lon, mid_lat, back = GEOD.fwd(lon1, lat1, azimuth, length / 2)
    lon, lat, _ = GEOD.fwd(mid_lon, mid_lat, back + 180 + side, offset_m)
    return Location(lat, lon)


@pytest.mark.parametrize("leg", range(len(WAYPOINTS) - 1), ids=lambda i: f"leg-{i}")
@pytest.mark.parametrize("side", [90.0, -90.0], ids=["right", "left"])
def test_route_distance_60m_off_a_leg(leg: int, side: float) -> None:
    route = FlightPath(WAYPOINTS, PROJECTION)
    p = _off_leg(leg, 60.0, side)
    assert route.distance_m(p.lon, p.lat) == pytest.approx(60.0, rel=0.01)
    assert route.within_m(p.lon, p.lat, 61.0)
    assert not route.within_m(p.lon, p.lat, 59.0)


@pytest.mark.parametrize("i", range(len(WAYPOINTS)), ids=lambda i: f"waypoint-{i}")
def test_route_distance_at_a_vertex_is_zero(i: int) -> None:
    route = FlightPath(WAYPOINTS, PROJECTION)
    assert route.distance_m(*WAYPOINTS[i]) == pytest.approx(0.0, abs=1e-6)


def test_route_distance_beyond_the_end_is_to_the_end() -> None:
    route = FlightPath(WAYPOINTS[:3], PROJECTION)  # an open route: it ends at waypoint 2
    (lon1, lat1), (lon2, lat2) = WAYPOINTS[1], WAYPOINTS[2]
    azimuth, _, _ = GEOD.inv(lon1, lat1, lon2, lat2)
    beyond = moved(Location(lat2, lon2), azimuth, 250.0)
    assert route.distance_m(beyond.lon, beyond.lat) == pytest.approx(250.0, rel=0.01)


def test_route_of_one_waypoint_is_a_point() -> None:
    route = FlightPath([WAYPOINTS[0]], PROJECTION)
    there = moved(Location(WAYPOINTS[0][1], WAYPOINTS[0][0]), 30, 400)
    assert route.line.geom_type == "Point"
    assert route.length_m == 0.0
    assert route.distance_m(there.lon, there.lat) == pytest.approx(400.0, rel=0.01)


def test_route_length_is_metres() -> None:
    route = FlightPath(WAYPOINTS, PROJECTION)
    geodesic = sum(
        GEOD.inv(*WAYPOINTS[i], *WAYPOINTS[i + 1])[2] for i in range(len(WAYPOINTS) - 1)
    )
    assert route.length_m == pytest.approx(geodesic, rel=1e-3)


@pytest.mark.parametrize(
    ("waypoints", "message"),
    [([], "at least one waypoint"), ([(120.5, 95.0)], "latitude 95.0"),
     ([(120.5, 30.0), (math.inf, 30.0)], "longitude inf")],
    ids=["empty", "bad-latitude", "infinite-longitude"],
)
def test_route_refuses(waypoints: list[tuple[float, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FlightPath(waypoints, PROJECTION)


def test_route_is_a_frozen_value() -> None:
    a = FlightPath(WAYPOINTS, PROJECTION)
    b = FlightPath([tuple(w) for w in WAYPOINTS], Projection.for_area(120.5, 30.0))
    assert a == b and hash(a) == hash(b)
    assert isinstance(a.waypoints, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.projection = PROJECTION  # type: ignore[misc]
