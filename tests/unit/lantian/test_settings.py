"""Config loading: the shipped config loads; every kind of mistake stops start-up with
the file, the key and the problem, verbatim."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatch.users import SessionPolicy
from lantian.config import ConfigError, load_settings
from tests.support import REPO


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    d = tmp_path / "config"
    shutil.copytree(REPO / "config", d)
    return d


def test_shipped_config_loads(cfg: Path) -> None:
    s = load_settings(cfg)
    assert len(s.stations) == 7
    assert len(s.zones) == 158
    assert s.decode.station_by_mn("33060300KY0001").id == "KY-CS-001"  # type: ignore[union-attr]
    assert s.decode.source("KY-CS-001").unit_factors["pm10"] == 1000.0
    assert s.topics.subscriptions() == [
        "lantian/sensors/#", "lantian/drones/#", "thing/product/+/osd"
    ]
    assert (s.broker.host, s.broker.port, s.broker.tls) == ("127.0.0.1", 1883, False)
    assert s.influx is None


def test_environment_overrides(cfg: Path) -> None:
    s = load_settings(cfg, {
        "LANTIAN_MQTT_URL": "mqtts://ops:p%40ss@broker.example:8884",
        "LANTIAN_HTTP": "0.0.0.0:9090",
        "LANTIAN_STORE_URL": "sqlite:////data/l.sqlite",
        "LANTIAN_INFLUX_URL": "http://influx:8086",
        "LANTIAN_INFLUX_TOKEN": "t0k",
        "LANTIAN_ADMIN_TOKEN": "adm",
    })
    b = s.broker
    assert (b.host, b.port, b.tls, b.username, b.password) == (
        "broker.example", 8884, True, "ops", "p@ss")
    assert (s.http_host, s.http_port) == ("0.0.0.0", 9090)
    assert str(s.store_path) == "/data/l.sqlite"
    assert s.influx is not None and (s.influx.url, s.influx.token) == ("http://influx:8086", "t0k")
    assert s.admin_token == "adm"


def test_a_retired_dialect_name_still_loads_and_changes_nothing(cfg: Path) -> None:
    # crc_lowercase conforms (docs/hj212.md) and is accepted from every station: a config
    # written when it needed naming must keep loading.
    _edit_toml(cfg, '[sources."KY-CS-004"]',
               'hj212_lenient = ["crc_lowercase", "crc_unpadded"]\n[sources."KY-CS-004"]')
    s = load_settings(cfg)
    assert s.decode.source("KY-CS-003").hj212_lenient == frozenset({"crc_unpadded"})


def _edit_toml(cfg: Path, old: str, new: str) -> None:
    p = cfg / "lantian.toml"
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))


TOML_ERRORS = [
    ("keepalive_s = 30", "keepalive_s = \"30\"",
     "mqtt.keepalive_s: Input should be a valid integer (got '30')"),
    ("keepalive_s = 30", "keep_alive_s = 30", "mqtt.keep_alive_s: unknown key"),
    ("[service]", "[servise]", "servise: unknown key"),
    ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"',
     "service.timezone: unknown time zone 'Asia/Beijing'"),
    ('http = "127.0.0.1:8080"', 'http = "8080"', "service.http: expected host:port, got '8080'"),
    ('url = "mqtt://127.0.0.1:1883"', 'url = "http://127.0.0.1:1883"',
     "mqtt: url: scheme must be mqtt:// or mqtts://, got 'http://127.0.0.1:1883'"),
    ('units = { tsp = "mg/m3", pm10 = "mg/m3", pm25 = "mg/m3" }',
     'units = { tsp = "mg/m3", pm10 = "ppm", pm25 = "mg/m3" }',
     "sources.KY-CS-001.units.pm10: unit 'ppm' is not accepted for pm10; "
     "use one of ug/m3, mg/m3, ng/m3"),
    ('[sources."KY-CS-004"]', 'hj212_lenient = ["lowercase"]\n[sources."KY-CS-004"]',
     "sources.KY-CS-003.hj212_lenient: unknown dialect 'lowercase'; known: "
     "crc_unpadded, crc_modbus_swapped, length_unpadded, datatime_ms"),
    ('decoders = ["reading",', 'decoders = ["readings",',
     "ingest.decoders.0: Input should be 'reading', 'hj212', 'telemetry', 'mission', "
     "'finding', 'dji_osd' or 'vendor' (got 'readings')"),
    ('url = "sqlite:///var/lantian.sqlite"', 'url = "mysql://x"',
     "store: url: expected sqlite:///path or postgresql://"),
    ("timezone =", "timezone = = ", "not valid TOML"),
    ('metric = "pm10"', 'metric = "pm1O"',
     "rules.threshold[0] (site-pm10-15min).metric: unknown metric 'pm1O'; known: tsp, pm10"),
    ("min_samples = 3 ", "intervals = []\nmin_samples = 3 ",
     "rules.threshold[0] (site-pm10-15min): rule 'site-pm10-15min': no intervals feed it"),
    ('aggregate = "rise"', 'aggregate = "instant"\naligned = true',
     "rules.threshold[3] (road-pm10-rise): rule 'road-pm10-rise': an aligned rule needs a "
     "window aggregate"),
    ('{ severity = "critical", limit = 200, clear = 170 }',
     '{ severity = "critical", limit = 100, clear = 90 }',
     "rules.threshold[0] (site-pm10-15min).levels: level 'critical' (limit 100.0) must be "
     "further above than 'major' (limit 150.0)"),
    ('id = "site-tsp-1h"', 'id = "site-pm10-15min"',
     "rules.threshold[1].id: duplicate rule id 'site-pm10-15min'"),
    ('kinds = ["road_dust", "muck_on_road"]\nqueue = "law_enforcement"',
     'kinds = ["road_dust", "muck_on_road"]\nqueue = "traffic"',
     "dispatch.routes[1].queue: no queue 'traffic'; queues: blue_sky, law_enforcement"),
    ('role = "officer"\nqueue = "blue_sky"', 'role = "officer"',
     "dispatch.tokens[0] (blue-sky duty officer (demo)): an officer token names its queue; "
     "others do not"),
]


@pytest.mark.parametrize(("old", "new", "message"), TOML_ERRORS,
                         ids=[m.split(":")[0] for _, _, m in TOML_ERRORS])
def test_bad_toml_names_file_key_and_problem(cfg: Path, old: str, new: str, message: str) -> None:
    _edit_toml(cfg, old, new)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(err.value).startswith(str(cfg / "lantian.toml"))
    assert message in str(err.value)


def test_bad_env_var_is_named(cfg: Path) -> None:
    with pytest.raises(ConfigError, match=r"^LANTIAN_MQTT_URL: url: no host in 'mqtt://'$"):
        load_settings(cfg, {"LANTIAN_MQTT_URL": "mqtt://"})


def _edit_geo(cfg: Path, name: str, index: int, change: dict[str, Any]) -> None:
    p = cfg / name
    doc = json.loads(p.read_text())
    feature = doc["features"][index]
    for key, value in change.items():
        target, _, field = key.rpartition(".")
        node = feature
        for part in filter(None, target.split(".")):
            node = node[part]
        node[field] = value
    p.write_text(json.dumps(doc))


GEO_ERRORS = [
    ("zones.geojson", 126, {"properties.kind": "building_site"},
     "features[126] (cs-01).properties.kind: unknown kind 'building_site'; known: "
     "community, construction_site, grid, land_use, no_fly, patrol_area, road"),
    ("zones.geojson", 126, {"geometry.coordinates": [[[120.5, 30.0], [120.6, 30.1],
                                                      [120.6, 30.0], [120.5, 30.1],
                                                      [120.5, 30.0]]]},
     "features[126] (cs-01).geometry: invalid polygon: Self-intersection[120.55 30.05]"),
    ("zones.geojson", 126, {"geometry.coordinates": [[[30.0, 120.5], [30.1, 120.5],
                                                      [30.1, 120.6], [30.0, 120.5]]]},
     "features[126] (cs-01).geometry: coordinates out of range: expected [lon, lat] in WGS-84"),
    ("zones.geojson", 126, {"properties.grid": "cs-02"},
     "features[126] (cs-01).properties.grid: 'cs-02' is not a grid zone"),
    ("zones.geojson", 130, {"properties.min_alt_m": 200},
     "features[130] (nf-01): min_alt_m 200 is above max_alt_m 120"),
    ("zones.geojson", 1, {"properties.id": "KY-G-001"},
     "features[1] (KY-G-001): duplicate zone id 'KY-G-001'"),
    ("stations.geojson", 0, {"properties.mn": "33060300KY0002"},
     "features[1] (KY-CS-002): MN '33060300KY0002' is also station 'KY-CS-001'"),
    ("stations.geojson", 0, {"properties.zone": "cs-99"},
     "features[0] (KY-CS-001).properties.zone: no zone 'cs-99' in zones file"),
    ("stations.geojson", 0, {"properties.colour": "red"},
     "features[0].properties.colour: unknown key"),
    ("stations.geojson", 0, {"geometry.coordinates": [30.02, 120.5]},
     "features[0] (KY-CS-001).geometry: latitude 120.5 is outside -90..90"),
]


@pytest.mark.parametrize(("name", "index", "change", "message"), GEO_ERRORS,
                         ids=[m.split(":")[-1].strip()[:30] for *_, m in GEO_ERRORS])
def test_bad_geojson_names_file_feature_and_problem(
    cfg: Path, name: str, index: int, change: dict[str, Any], message: str
) -> None:
    _edit_geo(cfg, name, index, change)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(err.value) == f"{cfg / name}: {message}"


def test_the_auth_table_sets_the_session_policy(cfg: Path) -> None:
    assert load_settings(cfg).sessions == SessionPolicy()
    with (cfg / "lantian.toml").open("a") as toml:
        toml.write("\n[auth]\nsession_hours = 8\nsecure_cookies = true\nmax_failures = 3\n"
                   "failure_window_s = 60\nlockout_s = 600\n")
    assert load_settings(cfg).sessions == SessionPolicy(
        lifetime=timedelta(hours=8), max_failures=3, window=timedelta(seconds=60),
        lockout=timedelta(seconds=600), secure_cookies=True)


def test_a_bad_auth_value_names_its_key(cfg: Path) -> None:
    with (cfg / "lantian.toml").open("a") as toml:
        toml.write("\n[auth]\nsession_hours = 0\n")
    with pytest.raises(ConfigError, match=r"lantian.toml: auth.session_hours: "):
        load_settings(cfg)


def test_the_photos_go_beside_the_store_unless_media_dir_says(cfg: Path) -> None:
    s = load_settings(cfg, {"LANTIAN_STORE_URL": "sqlite:////data/l.sqlite"})
    assert s.media_dir == Path("/data/media")
    _edit_toml(cfg, 'media_dir = ""', 'media_dir = "/srv/lantian/photos"')
    assert load_settings(cfg).media_dir == Path("/srv/lantian/photos")


def test_the_trusted_proxies_are_loopback_unless_configured(cfg: Path) -> None:
    assert load_settings(cfg).trusted_proxies == ("127.0.0.1", "::1")
    _edit_toml(cfg, "[service]", '[service]\ntrusted_proxies = ["10.0.0.0/8", "192.0.2.7"]')
    assert load_settings(cfg).trusted_proxies == ("10.0.0.0/8", "192.0.2.7")


def test_a_trusted_proxy_that_is_no_address_names_its_key(cfg: Path) -> None:
    _edit_toml(cfg, "[service]", '[service]\ntrusted_proxies = ["10.0.0.1", "nginx"]')
    with pytest.raises(ConfigError, match=(
            r"lantian.toml: service.trusted_proxies\[1\]: expected an IP address or network,"
            r" got 'nginx'")):
        load_settings(cfg)
