"""The gazetteer the composition root builds from the shipped config: the names the
bureau's reports print, and the outlines of the map sketch."""

from __future__ import annotations

from pathlib import Path

from lantian.config import load_stations, load_zones
from lantian.names import gazetteer
from tests.support import REPO


def test_the_shipped_names_and_shapes() -> None:
    config = Path(REPO / "config")
    zones = load_zones(config / "zones.geojson")
    names = gazetteer(zones, load_stations(config / "stations.geojson", zones))
    assert names.zone("cs-01") == "鉴湖路南侧住宅项目工地"
    assert names.zone("KY-G-022") == "网格 022"
    assert names.subject("station:KY-CS-001") == "cs-01 扬尘监测点"
    assert names.subject("drone:KY-UAV-01") == "drone:KY-UAV-01"
    assert names.zone("gone-zone") == "gone-zone" and names.zone(None) is None
    assert len(names.outlines) == len(zones)
    cs01 = next(o for o in names.outlines if o.id == "cs-01")
    assert cs01.kind == "construction_site" and cs01.rings[0][0] == cs01.rings[0][-1]
    lon, lat = cs01.rings[0][0]
    assert 120 < lon < 121 and 29 < lat < 31  # lon/lat, in that order
    assert {s.id for s in names.spots} >= {"KY-CS-001", "KY-AQ-001"}
