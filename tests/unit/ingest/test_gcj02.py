"""GCJ-02 <-> WGS-84 against the published pairs of shared/reference/drone_telemetry.md §4.3."""

from __future__ import annotations

import math
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest._gcj02 import gcj02_to_wgs84, out_of_china, to_wgs84, wgs84_to_gcj02
from rules.records import Location


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lat, lon) points (mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


class Pair(NamedTuple):
    wgs: tuple[float, float]
    gcj: tuple[float, float]
    fwd_err_m: float  # as printed in §4.3, to the millimetre
    inv_err_m: float


# The table rounds to the millimetre, so a figure f allows anything below f + 0.5 mm.
_ROUNDING_M = 0.0005

PUBLISHED = {
    "shanghai-eviltransform": Pair(
        (31.1774276, 121.5272106), (31.17530398364597, 121.531541859215), 0.000, 0.000
    ),
    "shenzhen-eviltransform": Pair(
        (22.543847, 113.912316), (22.540796131694766, 113.9171764808363), 0.000, 0.000
    ),
    "beijing-eviltransform": Pair(
        (39.911954, 116.377817), (39.91334545536069, 116.38404722455657), 0.000, 0.000
    ),
    "beijing-amap-api-1": Pair(
        (39.990475, 116.481499), (39.991754014757, 116.487585177952), 0.043, 0.043
    ),
    "beijing-amap-api-2": Pair(
        (39.990375, 116.481499), (39.991653917101, 116.487585177952), 0.049, 0.049
    ),
    # Aliyun publishes the one-step approximate inverse: the exact one lands 1.75 m away.
    "hangzhou-aliyun": Pair((30.281543, 120.021519), (30.279164, 120.026268), 1.750, 1.746),
}


@pytest.mark.parametrize("pair", PUBLISHED.values(), ids=PUBLISHED.keys())
def test_forward_reproduces_published_pair(pair: Pair) -> None:
    assert haversine_m(wgs84_to_gcj02(*pair.wgs), pair.gcj) < pair.fwd_err_m + _ROUNDING_M


@pytest.mark.parametrize("pair", PUBLISHED.values(), ids=PUBLISHED.keys())
def test_inverse_reproduces_published_pair(pair: Pair) -> None:
    assert haversine_m(gcj02_to_wgs84(*pair.gcj), pair.wgs) < pair.inv_err_m + _ROUNDING_M


# Zhejiang, with a margin inside the crude China box.
zhejiang_lat = st.floats(min_value=27.0, max_value=31.2)
zhejiang_lon = st.floats(min_value=118.0, max_value=123.0)


@given(lat=zhejiang_lat, lon=zhejiang_lon)
def test_round_trip_in_zhejiang_is_under_a_millimetre(lat: float, lon: float) -> None:
    gcj = wgs84_to_gcj02(lat, lon)
    # An identity "transform" would round-trip perfectly: the shift must be really there
    # (about 450-620 m across Zhejiang).
    assert 400.0 < haversine_m((lat, lon), gcj) < 700.0
    assert haversine_m(gcj02_to_wgs84(*gcj), (lat, lon)) < 0.001


@given(lat=zhejiang_lat, lon=zhejiang_lon)
def test_inverse_converges_below_1e9_degrees(lat: float, lon: float) -> None:
    back = wgs84_to_gcj02(*gcj02_to_wgs84(lat, lon))
    assert abs(back[0] - lat) < 1e-9
    assert abs(back[1] - lon) < 1e-9


OUTSIDE_CHINA = {
    "london": (51.5007, -0.1246),
    "null-island": (0.0, 0.0),
    "tokyo": (35.6812, 139.7671),  # east of the box's 137.8347 E edge
    "south-of-box": (0.5, 103.85),  # 0.8293 N is the box's southern edge
    "sydney": (-33.8568, 151.2153),
    "north-of-box": (56.0, 100.0),
}


@pytest.mark.parametrize("point", OUTSIDE_CHINA.values(), ids=OUTSIDE_CHINA.keys())
def test_points_outside_china_pass_through_unchanged(point: tuple[float, float]) -> None:
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


KEYAN = Location(30.033127, 120.501928)


def test_to_wgs84_leaves_a_wgs84_source_alone() -> None:
    assert to_wgs84(KEYAN, gcj02=False) == KEYAN


def test_to_wgs84_converts_a_gcj02_source() -> None:
    converted = to_wgs84(KEYAN, gcj02=True)
    assert 400.0 < haversine_m((KEYAN.lat, KEYAN.lon), (converted.lat, converted.lon)) < 700.0
    assert wgs84_to_gcj02(converted.lat, converted.lon) == pytest.approx(
        (KEYAN.lat, KEYAN.lon), abs=1e-9
    )
