"""`[[ingest.vendors]]`: a mapping loads into what the decoder reads, and every mistake a
message could never fix stops start-up naming file, key and problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lantian.config import ConfigError, load_settings
from tests.support import REPO

MAPPING = """
[[ingest.vendors]]
name = "yuntian"
topic = "yuntian/+/up"
device = "deviceId"
stations = { "YT-8812" = "KY-CS-001" }
time = "ts"
time_format = "epoch_ms"
[ingest.vendors.metrics]
pm10 = { field = "PM10", unit = "mg/m3" }
pm25 = { field = "data.PM2_5" }
"""


def config_with(tmp_path: Path, mapping: str) -> Path:
    d = tmp_path / "config"
    shutil.copytree(REPO / "config", d)
    with (d / "lantian.toml").open("a", encoding="utf-8") as f:
        f.write(mapping)
    return d


def test_a_mapping_loads_with_its_units_and_is_subscribed_to(tmp_path: Path) -> None:
    s = load_settings(config_with(tmp_path, MAPPING))
    (v,) = s.topics.vendors
    assert (v.name, v.device, v.time, v.time_format) == (
        "yuntian", ("deviceId",), ("ts",), "epoch_ms")
    assert (v.metrics["pm10"].factor, v.metrics["pm25"].path) == (1000.0, ("data", "PM2_5"))
    assert dict(v.stations) == {"YT-8812": "KY-CS-001"}
    assert "yuntian/+/up" in s.topics.subscriptions()


@pytest.mark.parametrize(("old", "new", "key", "problem"), [
    ('unit = "mg/m3"', 'unit = "ppm"', "ingest.vendors[0] (yuntian).metrics.pm10.unit",
     "ppm"),
    ('pm25 = { field = "data.PM2_5" }', 'pm99 = { field = "x" }',
     "ingest.vendors[0] (yuntian).metrics.pm99", "unknown metric"),
    ('topic = "yuntian/+/up"', 'topic = "yuntian/#/up"', "ingest.vendors[0] (yuntian).topic",
     "'#' may only be a whole last level"),
    ('device = "deviceId"', 'device = "deviceId"\ndevice_topic_level = 1',
     "ingest.vendors[0] (yuntian)", "give exactly one of device and device_topic_level"),
    ('"KY-CS-001" }', '"KY-XX-999" }', "ingest.vendors[0] (yuntian).stations.YT-8812",
     "no station 'KY-XX-999'"),
    ('time_format = "epoch_ms"', 'time_format = "millis"',
     "ingest.vendors[0] (yuntian).time_format", "expected one of iso, epoch_s, epoch_ms"),
    ('pm10 = { field = "PM10", unit = "mg/m3" }', 'pm10 = { field = "PM10", scale = 2 }',
     "ingest.vendors.0.metrics.pm10.scale", "unknown key"),
])
def test_a_bad_mapping_names_file_key_and_problem(
    tmp_path: Path, old: str, new: str, key: str, problem: str
) -> None:
    assert old in MAPPING
    with pytest.raises(ConfigError) as caught:
        load_settings(config_with(tmp_path, MAPPING.replace(old, new, 1)))
    assert caught.value.where.endswith("lantian.toml")
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_two_mappings_may_not_share_a_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the same name is given twice"):
        load_settings(config_with(tmp_path, MAPPING + MAPPING.replace("yuntian/+", "yt2/+")))


def test_mappings_with_the_vendor_decoder_off_stop_start_up(tmp_path: Path) -> None:
    d = config_with(tmp_path, MAPPING)
    toml = d / "lantian.toml"
    toml.write_text(toml.read_text().replace(', "vendor"]', "]", 1))
    with pytest.raises(ConfigError) as caught:
        load_settings(d)
    assert (caught.value.key, caught.value.problem) == (
        "ingest.decoders", 'vendor mappings are configured but the "vendor" decoder is off')
