"""`[ingest.dji.flights."DOCK_SN"]`: which docks' drones "send a drone" flies; off unless
enabled, and every dock and aircraft named must be configured under `[ingest.dji]`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from lantian.config import ConfigError, load_settings
from tests.support import REPO


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    d = tmp_path / "config"
    shutil.copytree(REPO / "config", d)
    return d


def _append(cfg: Path, text: str) -> None:
    p = cfg / "lantian.toml"
    p.write_text(p.read_text() + "\n" + text)


def test_none_by_default(cfg: Path) -> None:
    assert dict(load_settings(cfg).flights) == {}


def test_a_dock_with_its_aircraft(cfg: Path) -> None:
    _append(cfg, """
[ingest.dji.flights."7CTDM3D00BVY4B"]
enabled = true
aircraft = "1581F5BKD225D00BP891"
height_m = 120.5
max_speed = 12
""")
    dock = load_settings(cfg).flights["7CTDM3D00BVY4B"]
    assert (dock.drone, dock.enabled, dock.height_m, dock.max_speed) == (
        "KY-UAV-01", True, 120.5, 12)
    assert dock.progress_every_s == 30.0


@pytest.mark.parametrize(("body", "message"), [
    ('aircraft = "NOPE"', 'ingest.dji.flights."7CTDM3D00BVY4B".aircraft: \'NOPE\' is not in'),
    ('aircraft = "1581F5BKD225D00BP891"\nmax_speed = 16', "max_speed"),
    ('aircraft = "1581F5BKD225D00BP891"\nheight_m = 1', "height_m"),
    ('aircraft = "1581F5BKD225D00BP891"\nmax_speed = 7.5', "max_speed"),
    ('aircraft = "1581F5BKD225D00BP891"\nsecurity_takeoff_height = 10',
     "security_takeoff_height"),
    ('aircraft = "1581F5BKD225D00BP891"\nenabld = true', "enabld"),
])
def test_a_bad_dock_names_the_key(cfg: Path, body: str, message: str) -> None:
    _append(cfg, f'[ingest.dji.flights."7CTDM3D00BVY4B"]\n{body}\n')
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert message in str(e.value)
    assert str(e.value).startswith(str(cfg / "lantian.toml"))


def test_an_unknown_dock_is_refused(cfg: Path) -> None:
    _append(cfg, '[ingest.dji.flights."OTHER"]\naircraft = "1581F5BKD225D00BP891"\n')
    with pytest.raises(ConfigError, match=r"'OTHER' is not in \[ingest.dji\] docks"):
        load_settings(cfg)


def test_the_readme_example_loads(cfg: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```toml\n(\[ingest\.dji\]\n.*?)```", readme, re.DOTALL)
    assert found is not None, "the README's DJI dock example is gone"
    toml = cfg / "lantian.toml"
    toml.write_text(re.sub(r"(?ms)^\[ingest\.dji\]\n.*?^docks = .*?\n", found[1],
                           toml.read_text(), count=1))
    assert load_settings(cfg).flights["7CTDM3D00BVY4B"].enabled
