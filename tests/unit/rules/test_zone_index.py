"""ZoneIndex: which zones a point is in, with each zone's polygon, altitude band and
active period judged together; its order; attribution; the buffer band of `near`; and
the cell cover's fast path against brute-force shapely `covers`, property-tested."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from rules._geodesy import Projection
from rules._zone_index import ZoneIndex
from rules._zones import specificity
from rules.geo import Zone
from tests.support import REPO

GEOD = Geod(ellps="WGS84")
X0, Y0 = 120.5, 30.0
#: a lattice step of 1/512° (~200 m): lattice points, and points halfway along lattice
#: edges, are exact in binary floating point, so "on the edge" means exactly on it
STEP = 1 / 512


def lat_box(i0: float, j0: float, i1: float, j1: float) -> BaseGeometry:
    """A box in lattice units from (X0, Y0)."""
    return shapely.box(X0 + i0 * STEP, Y0 + j0 * STEP, X0 + i1 * STEP, Y0 + j1 * STEP)


def at(i: float, j: float) -> tuple[float, float]:
    return X0 + i * STEP, Y0 + j * STEP


def zone(zid: str, geom: BaseGeometry, kind: str = "land_use", **kw: Any) -> Zone:
    return Zone(zid, zid, kind, geom, **kw)


def ids(found: Sequence[Zone]) -> tuple[str, ...]:
    return tuple(z.id for z in found)


def brute_force(
    zones: Sequence[Zone], lon: float, lat: float, alt_m: float | None = None,
    when: datetime | None = None,
) -> tuple[str, ...]:
    p = shapely.Point(lon, lat)
    return tuple(
        z.id for z in sorted(zones, key=specificity)
        if shapely.covers(z.geometry, p) and z.band_contains(alt_m)
        and (when is None or z.active_at(when))
    )  # fmt: skip


# -- altitude bands and active periods: per zone, together --------------------------------

NO_FLY = zone("nf", lat_box(0, 0, 4, 4), "no_fly", min_alt_m=0.0, max_alt_m=120.0)
BANDS = {
    "below": (-0.5, ()),
    "at-floor": (0.0, ("nf",)),
    "inside": (60.0, ("nf",)),
    "at-ceiling": (120.0, ("nf",)),
    "above": (120.01, ()),
    "unknown": (None, ("nf",)),
}


@pytest.mark.parametrize(("alt", "want"), BANDS.values(), ids=BANDS.keys())
def test_altitude_band(alt: float | None, want: tuple[str, ...]) -> None:
    index = ZoneIndex([NO_FLY])
    assert ids(index.containing(*at(2, 2), alt_m=alt)) == want


T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)
T1 = datetime(2026, 5, 1, 18, tzinfo=UTC)
EVENT = zone("event", lat_box(0, 0, 4, 4), "no_fly", active_from=T0, active_until=T1)
WINDOWS = {
    "before": (T0 - timedelta(seconds=1), ()),
    "at-start": (T0, ("event",)),
    "during": (T0 + timedelta(hours=3), ("event",)),
    "at-end-exclusive": (T1, ()),
    "after": (T1 + timedelta(days=1), ()),
    "no-time-given": (None, ("event",)),
}


@pytest.mark.parametrize(("when", "want"), WINDOWS.values(), ids=WINDOWS.keys())
def test_active_period(when: datetime | None, want: tuple[str, ...]) -> None:
    index = ZoneIndex([EVENT])
    assert ids(index.containing(*at(2, 2), at=when)) == want


def test_polygon_band_and_period_are_one_zones() -> None:
    """Inside A's polygon at B's altitude and in B's period: in neither (the lesson of
    drone_telemetry.md §5.2: no mixing one zone's polygon with another's band)."""
    a = zone("a", lat_box(0, 0, 4, 4), "no_fly", min_alt_m=0.0, max_alt_m=60.0,
             active_from=T0, active_until=T1)
    b = zone("b", lat_box(10, 10, 14, 14), "no_fly", min_alt_m=100.0, max_alt_m=200.0,
             active_from=T1, active_until=T1 + timedelta(hours=5))
    index = ZoneIndex([a, b])
    assert ids(index.containing(*at(2, 2), alt_m=150.0, at=T1 + timedelta(hours=1))) == ()
    assert ids(index.containing(*at(2, 2), alt_m=50.0, at=T0)) == ("a",)
    assert ids(index.containing(*at(2, 2), alt_m=150.0, at=T0)) == ()
    assert ids(index.containing(*at(2, 2), alt_m=50.0, at=T1)) == ()
    assert ids(index.containing(*at(12, 12), alt_m=150.0, at=T1)) == ("b",)


# -- shapes: multipolygons, holes, shared edges and vertices, big and small ----------------

RING = zone("ring", lat_box(0, 0, 8, 8).difference(lat_box(2, 2, 6, 6)))
TWO_PARTS = zone("parts", shapely.MultiPolygon([lat_box(0, 0, 2, 2), lat_box(5, 0, 7, 2)]))
WEST = zone("west", lat_box(0, 0, 4, 4), "community")
EAST = zone("east", lat_box(4, 0, 8, 4), "community")
QUAD = [zone(f"q{i}{j}", lat_box(i * 3, j * 3, i * 3 + 3, j * 3 + 3), "grid")
        for i in range(2) for j in range(2)]
TRIANGLE = zone("tri", shapely.Polygon([at(0, 0), at(8, 0), at(0, 8)]), "construction_site")
# tens of km a side, no antimeridian: 0.4° ≈ 38.6 x 44.3 km
LARGE = zone("large", shapely.box(X0 - 0.2, Y0 - 0.2, X0 + 0.2, Y0 + 0.2), "patrol_area")
TINY = zone("tiny", shapely.box(X0 + 0.1, Y0 + 0.1, X0 + 0.1 + 2e-5, Y0 + 0.1 + 2e-5), "no_fly")


class Case(NamedTuple):
    zones: list[Zone]
    point: tuple[float, float]
    want: tuple[str, ...]


CASES = {
    "hole-inside": Case([RING], at(4, 4), ()),
    "hole-edge-counts-as-in": Case([RING], at(2, 4), ("ring",)),
    "hole-corner": Case([RING], at(6, 6), ("ring",)),
    "ring-body": Case([RING], at(1, 4), ("ring",)),
    "ring-outer-edge": Case([RING], at(8, 3), ("ring",)),
    "outside-ring": Case([RING], at(9, 4), ()),
    "multipolygon-first-part": Case([TWO_PARTS], at(1, 1), ("parts",)),
    "multipolygon-second-part": Case([TWO_PARTS], at(6, 1), ("parts",)),
    "multipolygon-between-parts": Case([TWO_PARTS], at(3.5, 1), ()),
    "multipolygon-part-vertex": Case([TWO_PARTS], at(5, 2), ("parts",)),
    "shared-edge-in-both": Case([WEST, EAST], at(4, 2), ("east", "west")),
    "shared-edge-end-in-both": Case([WEST, EAST], at(4, 4), ("east", "west")),
    "just-west-of-edge": Case([WEST, EAST], (X0 + 4 * STEP - 1e-9, Y0 + 2 * STEP), ("west",)),
    "just-east-of-edge": Case([WEST, EAST], (X0 + 4 * STEP + 1e-9, Y0 + 2 * STEP), ("east",)),
    "shared-vertex-in-all-four": Case(QUAD, at(3, 3), ("q00", "q01", "q10", "q11")),
    "shared-edge-of-two-of-four": Case(QUAD, at(3, 1), ("q00", "q10")),
    "diagonal-edge-exactly": Case([TRIANGLE], at(3, 5), ("tri",)),
    "diagonal-edge-midpoint": Case([TRIANGLE], at(4, 4), ("tri",)),
    "just-outside-diagonal": Case([TRIANGLE], (X0 + 4 * STEP + 1e-9, Y0 + 4 * STEP), ()),
    "large-deep-inside": Case([LARGE, TINY], (X0 + 0.05, Y0 - 0.13), ("large",)),
    "large-edge": Case([LARGE, TINY], (X0 + 0.2, Y0 + 0.0123), ("large",)),
    "large-corner": Case([LARGE, TINY], (X0 - 0.2, Y0 - 0.2), ("large",)),
    "large-just-outside": Case([LARGE, TINY], (X0 + 0.2 + 1e-9, Y0), ()),
    "tiny-inside-large": Case([LARGE, TINY], (X0 + 0.1 + 1e-5, Y0 + 0.1 + 1e-5), ("tiny", "large")),
    "tiny-corner": Case([LARGE, TINY], (X0 + 0.1, Y0 + 0.1), ("tiny", "large")),
    "beside-tiny": Case([LARGE, TINY], (X0 + 0.1 - 1e-7, Y0 + 0.1 + 1e-5), ("large",)),
    "far-away": Case([LARGE, TINY], (100.0, 20.0), ()),
    "nan": Case([LARGE, TINY], (math.nan, Y0), ()),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_containing(case: Case) -> None:
    index = ZoneIndex(case.zones)
    assert ids(index.containing(*case.point)) == case.want
    assert ids(index.containing_many([case.point[0]], [case.point[1]])[0]) == case.want
    if not math.isnan(case.point[0]):
        assert brute_force(case.zones, *case.point) == case.want


@pytest.mark.parametrize("refine", [1, 2, 8, 32])
@pytest.mark.parametrize("cells_per_zone", [0.01, 4.0, 400.0])
def test_cell_cover_settings_do_not_change_answers(refine: int, cells_per_zone: float) -> None:
    zones = [RING, TWO_PARTS, WEST, EAST, TRIANGLE, *QUAD, LARGE, TINY]
    index = ZoneIndex(zones, refine=refine, cells_per_zone=cells_per_zone)
    for case in CASES.values():
        if not math.isnan(case.point[0]):
            assert ids(index.containing(*case.point)) == brute_force(zones, *case.point)


def test_refine_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of two"):
        ZoneIndex([WEST], refine=6)


# -- order ------------------------------------------------------------------------------------

KINDS = ["grid", "patrol_area", "road", "community", "land_use", "no_fly", "construction_site"]


def test_order_is_specificity_then_id() -> None:
    zones = [zone(f"{kind}-{n}", lat_box(0, 0, 4, 4), kind) for kind in KINDS for n in "ba"]
    index = ZoneIndex(zones)
    assert ids(index.containing(*at(1, 1))) == tuple(
        f"{kind}-{n}" for kind in reversed(KINDS) for n in "ab"
    )
    assert ids(index.zones) == ids(zones)  # `zones` keeps the order given


# -- the demo geography -------------------------------------------------------------------


def _load(name: str) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = json.loads((REPO / "config" / name).read_text())["features"]
    return features


DEMO = [
    Zone(p["id"], p["name"], p["kind"], shape(f["geometry"]), grid=p.get("grid"),
         min_alt_m=p.get("min_alt_m"), max_alt_m=p.get("max_alt_m"))
    for f in _load("zones.geojson") for p in [f["properties"]]
]  # fmt: skip
STATIONS = {f["properties"]["id"]: f for f in _load("stations.geojson")}


@pytest.fixture(scope="module")
def demo() -> ZoneIndex:
    return ZoneIndex(DEMO)


def test_demo_station_in_its_site_patrol_area_and_grid(demo: ZoneIndex) -> None:
    primary, found, grid = demo.attribution(120.502557, 30.02783)  # KY-CS-001
    assert ids(found) == ("cs-01", "pa-01", "KY-G-022")
    assert primary is not None and primary.id == "cs-01"
    assert demo.get("cs-01").grid == grid == "KY-G-022"


@pytest.mark.parametrize("sid", sorted(STATIONS), ids=str)
def test_demo_stations_agree_with_the_files(demo: ZoneIndex, sid: str) -> None:
    lon, lat = STATIONS[sid]["geometry"]["coordinates"]
    primary, found, grid = demo.attribution(lon, lat)
    assert ids(found) == brute_force(DEMO, lon, lat)
    assert found, f"{sid} is in no zone"
    registered = STATIONS[sid]["properties"].get("zone")
    if registered is not None:
        assert primary is not None and primary.id == registered
    assert grid is not None and demo.get(grid).kind == "grid"
    assert any(z.id == grid for z in found)  # every demo site lies in its own grid cell


def test_demo_projection_is_utm_51n(demo: ZoneIndex) -> None:
    assert demo.projection == Projection(32651)


def test_demo_batch_equals_single(demo: ZoneIndex) -> None:
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = shapely.total_bounds([z.geometry for z in DEMO])
    xs, ys = rng.uniform(x0 - 0.005, x1 + 0.005, 3000), rng.uniform(y0 - 0.005, y1 + 0.005, 3000)
    many = demo.containing_many(xs, ys)
    for x, y, found in zip(xs.tolist(), ys.tolist(), many, strict=True):
        assert ids(found) == ids(demo.containing(x, y)) == brute_force(DEMO, x, y)


# -- attribution ----------------------------------------------------------------------------

CELL = zone("G-1", lat_box(0, 0, 10, 10), "grid")
SITE = zone("site", lat_box(1, 1, 3, 3), "construction_site", grid="G-1")
AREA = zone("area", lat_box(2, 2, 20, 20), "patrol_area")
ATTRIBUTION = {
    "site-names-its-grid": (at(2, 2), "site", ("site", "area", "G-1"), "G-1"),
    "grid-cell-only": (at(8, 1), "G-1", ("G-1",), "G-1"),
    "patrol-area-over-grid-cell": (at(8, 8), "area", ("area", "G-1"), "G-1"),
    "patrol-area-only": (at(15, 15), "area", ("area",), None),
    "nowhere": (at(30, 30), None, (), None),
}


@pytest.mark.parametrize(("point", "primary", "all_ids", "grid"), ATTRIBUTION.values(),
                         ids=ATTRIBUTION.keys())
def test_attribution(point: tuple[float, float], primary: str | None,
                     all_ids: tuple[str, ...], grid: str | None) -> None:
    got_primary, found, got_grid = ZoneIndex([CELL, SITE, AREA]).attribution(*point)
    assert (got_primary.id if got_primary else None, ids(found), got_grid) == (
        primary, all_ids, grid)


# -- near: the buffer band ---------------------------------------------------------------


def _east_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    x, y, _ = GEOD.fwd(lon, lat, 90.0, metres)
    return x, y


SQUARE = zone("nf", lat_box(0, 0, 4, 4), "no_fly", min_alt_m=0.0, max_alt_m=120.0)
GRID_CELL = zone("G", lat_box(4, 0, 8, 4), "grid")
EDGE = (X0 + 4 * STEP, Y0 + 2 * STEP)  # the square's east edge, the grid cell's west edge
NEAR = {
    "inside-is-near": (at(2, 2), 0.0, None, ("nf",)),
    "on-edge-distance-0": (EDGE, 0.0, None, ("nf", "G")),
    "30m-out-within-50m": (_east_of(*EDGE, 30.0), 50.0, ["no_fly"], ("nf",)),
    "30m-out-not-within-20m": (_east_of(*EDGE, 30.0), 20.0, ["no_fly"], ()),
    "kinds-filter": (_east_of(*EDGE, 30.0), 50.0, ["grid"], ("G",)),
    "all-kinds": (_east_of(*EDGE, 30.0), 50.0, None, ("nf", "G")),
}


@pytest.mark.parametrize(("point", "metres", "kinds", "want"), NEAR.values(), ids=NEAR.keys())
def test_near(point: tuple[float, float], metres: float, kinds: list[str] | None,
              want: tuple[str, ...]) -> None:
    index = ZoneIndex([SQUARE, GRID_CELL])
    assert ids(index.near(*point, metres, kinds=kinds)) == want


def test_near_is_a_band_around_containing() -> None:
    """A drone drifting east across the edge: in the zone, then only near it, then gone."""
    index = ZoneIndex([SQUARE])
    track = [_east_of(*EDGE, m) for m in (-20.0, 0.0, 15.0, 40.0)]
    assert [ids(index.containing(*p)) for p in track] == [("nf",), ("nf",), (), ()]
    assert [ids(index.near(*p, 25.0)) for p in track] == [("nf",), ("nf",), ("nf",), ()]


def test_near_filters_band_and_period_per_zone() -> None:
    index = ZoneIndex([SQUARE])
    assert ids(index.near(*at(2, 2), 10.0, alt_m=100.0)) == ("nf",)
    assert ids(index.near(*at(2, 2), 10.0, alt_m=150.0)) == ()
    assert ids(ZoneIndex([EVENT]).near(*at(2, 2), 10.0, at=T1)) == ()


def test_near_refuses_a_negative_distance() -> None:
    with pytest.raises(ValueError, match="distance_m"):
        ZoneIndex([SQUARE]).near(*at(2, 2), -1.0)


# -- construction ---------------------------------------------------------------------------

BAD = {
    "duplicate-id": ([WEST, zone("west", lat_box(9, 9, 10, 10))], "duplicate zone id 'west'"),
    "bow-tie": ([zone("bow", shapely.Polygon([at(0, 0), at(2, 2), at(2, 0), at(0, 2)]))],
                "zone 'bow': expected a valid"),
    "a-line": ([zone("line", shapely.LineString([at(0, 0), at(2, 2)]))],
               "zone 'line': expected a valid"),
    "empty": ([zone("empty", shapely.Polygon())], "zone 'empty': expected a valid"),
    "lat-lon-swapped": ([zone("swap", shapely.box(30.0, 120.0, 30.1, 120.1))],
                        "not lon/lat degrees"),
}


@pytest.mark.parametrize(("zones", "message"), BAD.values(), ids=BAD.keys())
def test_refuses(zones: list[Zone], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ZoneIndex(zones)


def test_empty_index_answers_nothing() -> None:
    index = ZoneIndex([])
    assert index.containing(X0, Y0) == ()
    assert index.containing_many([X0], [Y0]) == [()]
    assert index.near(X0, Y0, 1000.0) == ()
    assert index.attribution(X0, Y0) == (None, (), None)
    assert index.projection == Projection(32651)
    assert len(index) == 0


def test_get_and_membership() -> None:
    index = ZoneIndex([WEST, EAST])
    assert index.get("east") is EAST
    assert "west" in index and "north" not in index
    with pytest.raises(KeyError):
        index.get("north")


def test_containing_many_checks_shapes() -> None:
    with pytest.raises(ValueError, match="1-D of one length"):
        ZoneIndex([WEST]).containing_many([X0, X0], [Y0])


def test_many_candidates_in_one_cell() -> None:
    """40 zones whose edges all cross one cell: beyond what a fine cell's digits or the
    batch's bit mask hold, so the cell falls back to testing every candidate."""
    zones = [zone(f"z{i:02d}", shapely.box(X0, Y0, X0 + 0.01 + i * 1e-5, Y0 + 0.01))
             for i in range(40)]
    index = ZoneIndex(zones)
    xs = np.linspace(X0 + 0.0099, X0 + 0.0105, 97)
    ys = np.full(97, Y0 + 0.005)
    for x, found in zip(xs.tolist(), index.containing_many(xs, ys), strict=True):
        assert ids(found) == ids(index.containing(x, Y0 + 0.005)) == brute_force(
            zones, x, Y0 + 0.005)


# -- the fast path against brute force ----------------------------------------------------

_lattice = st.integers(min_value=-40, max_value=40)


@st.composite
def lattice_polygon(draw: st.DrawFn) -> BaseGeometry:
    """Boxes, right triangles, rings and two-part multipolygons on the lattice, and some
    far larger than the rest."""
    i, j = draw(_lattice), draw(_lattice)
    w, h = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    form = draw(st.sampled_from(["box", "triangle", "ring", "multi", "large", "tiny", "star"]))
    if form == "box":
        return lat_box(i, j, i + w, j + h)
    if form == "triangle":
        return shapely.Polygon([at(i, j), at(i + w, j), at(i, j + h)])
    if form == "ring":
        return lat_box(i, j, i + w + 2, j + h + 2).difference(lat_box(i + 1, j + 1, i + w + 1,
                                                                       j + h + 1))
    if form == "multi":
        return shapely.MultiPolygon([lat_box(i, j, i + w, j + h),
                                     lat_box(i + w + 1, j, i + 2 * w + 1, j + h)])
    if form == "large":
        return lat_box(i - 200, j - 150, i + 200, j + 150)
    if form == "tiny":
        return lat_box(i, j, i + 1 / 64, j + 1 / 64)
    radii = draw(st.lists(st.floats(0.3, 6.0), min_size=5, max_size=12))
    angles = np.linspace(0, 2 * np.pi, len(radii), endpoint=False)
    return shapely.Polygon([at(i + r * math.cos(a), j + r * math.sin(a))
                            for r, a in zip(radii, angles, strict=True)])


@st.composite
def zone_sets(draw: st.DrawFn) -> list[Zone]:
    geoms = draw(st.lists(lattice_polygon(), min_size=1, max_size=12))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=len(geoms), max_size=len(geoms)))
    return [zone(f"z{n}", g, k) for n, (g, k) in enumerate(zip(geoms, kinds, strict=True))
            if g.is_valid and not g.is_empty]


@st.composite
def probe_points(draw: st.DrawFn, zones: list[Zone]) -> list[tuple[float, float]]:
    """Vertices, lattice points, points halfway along lattice edges (exactly on them) and
    arbitrary points."""
    vertices = shapely.get_coordinates([z.geometry for z in zones])
    picks = draw(st.lists(st.integers(0, len(vertices) - 1), max_size=10))
    points = [(float(vertices[p][0]), float(vertices[p][1])) for p in picks]
    half = st.integers(-90, 90).map(lambda n: n / 2)
    points += draw(st.lists(st.tuples(half, half).map(lambda ij: at(*ij)), max_size=25))
    anywhere = st.floats(-100, 100, allow_nan=False)
    points += draw(st.lists(st.tuples(anywhere, anywhere).map(lambda ij: at(*ij)), max_size=25))
    return points


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), zones=zone_sets(),
       refine=st.sampled_from([1, 2, 8]), cells=st.sampled_from([0.5, 4.0, 64.0]))
def test_fast_path_equals_brute_force(
    data: st.DataObject, zones: list[Zone], refine: int, cells: float
) -> None:
    if not zones:
        return
    index = ZoneIndex(zones, refine=refine, cells_per_zone=cells)
    points = data.draw(probe_points(zones))
    many = index.containing_many([p[0] for p in points], [p[1] for p in points])
    for (x, y), batch in zip(points, many, strict=True):
        want = brute_force(zones, x, y)
        assert ids(index.containing(x, y)) == want, (x, y)
        assert ids(batch) == want, (x, y)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_fast_path_on_random_stars_and_uniform_points(seed: int) -> None:
    """The benchmark's kind of zones (stars, big overlapping ones), small scale."""
    rng = np.random.default_rng(seed)
    zones = []
    for n in range(30):
        cx, cy = X0 + rng.uniform(0, 0.05), Y0 + rng.uniform(0, 0.05)
        r = rng.uniform(0.0005, 0.002) if n < 25 else rng.uniform(0.01, 0.03)
        a = np.linspace(0, 2 * np.pi, 20, endpoint=False)
        rr = r * np.where(np.arange(20) % 2 == 0, 1.0, 0.5)
        zones.append(zone(f"s{n}", shapely.Polygon(np.column_stack(
            [cx + rr * np.cos(a), cy + rr * np.sin(a)])), KINDS[n % len(KINDS)]))
    index = ZoneIndex(zones)
    xs, ys = X0 + rng.uniform(-0.01, 0.06, 400), Y0 + rng.uniform(-0.01, 0.06, 400)
    vertices = shapely.get_coordinates([z.geometry for z in zones])[::5]
    xs, ys = np.concatenate([xs, vertices[:, 0]]), np.concatenate([ys, vertices[:, 1]])
    many = index.containing_many(xs, ys)
    for x, y, batch in zip(xs.tolist(), ys.tolist(), many, strict=True):
        want = brute_force(zones, x, y)
        assert ids(batch) == ids(index.containing(x, y)) == want, (x, y)
