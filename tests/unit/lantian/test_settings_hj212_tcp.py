"""`[hj212_tcp]`: off unless a listen address is given (in the file or by
LANTIAN_HJ212_LISTEN); limits and back-fill per station checked like every other key."""

from __future__ import annotations

import shutil
from datetime import timedelta
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


def test_off_by_default(cfg: Path) -> None:
    assert load_settings(cfg).hj212_tcp is None


def test_listen_limits_and_backfill(cfg: Path) -> None:
    _append(cfg, """
[hj212_tcp]
listen = "0.0.0.0:9212"
idle_timeout_s = 120.0
max_connections = 3000
[hj212_tcp.backfill."KY-CS-001"]
cn = "2061"
min_gap_s = 7200
""")
    tcp = load_settings(cfg).hj212_tcp
    assert tcp is not None
    assert (tcp.host, tcp.port, tcp.idle_timeout_s, tcp.max_connections) == (
        "0.0.0.0", 9212, 120.0, 3000)
    policy = tcp.backfill["KY-CS-001"]
    assert (policy.cn, policy.min_gap, policy.max_span) == (
        "2061", timedelta(hours=2), timedelta(days=1))


def test_the_environment_switches_it_on(cfg: Path) -> None:
    tcp = load_settings(cfg, {"LANTIAN_HJ212_LISTEN": "127.0.0.1:19212"}).hj212_tcp
    assert tcp is not None and (tcp.host, tcp.port) == ("127.0.0.1", 19212)


def test_a_bad_listen_address_names_the_variable(cfg: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(cfg, {"LANTIAN_HJ212_LISTEN": "9212"})
    assert str(e.value).startswith("LANTIAN_HJ212_LISTEN: hj212_tcp.listen: expected host:port")


@pytest.mark.parametrize(("text", "key", "problem"), [
    ('[hj212_tcp]\nlisten = "0.0.0.0:99999"', "hj212_tcp.listen", "expected host:port"),
    ('[hj212_tcp]\nlisten = "0.0.0.0:9212"\nmax_frame_bytes = 20000', "hj212_tcp.max_frame_bytes",
     "less than or equal to 10011"),
    ('[hj212_tcp]\nlisten = "0.0.0.0:9212"\nidle_timout_s = 5', "hj212_tcp.idle_timout_s",
     "unknown key"),
    ('[hj212_tcp]\nlisten = "0.0.0.0:9212"\n[hj212_tcp.backfill."NOPE"]\ncn = "2051"',
     "hj212_tcp.backfill.NOPE", "no such station"),
    ('[hj212_tcp]\nlisten = "0.0.0.0:9212"\n[hj212_tcp.backfill."KY-CS-001"]\ncn = "2011"',
     "hj212_tcp.backfill.KY-CS-001.cn", "Input should be '2051' or '2061'"),
])
def test_mistakes_stop_start_up_naming_the_key(
    cfg: Path, text: str, key: str, problem: str
) -> None:
    _append(cfg, text)
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert f": {key}: " in str(e.value) and problem in str(e.value), str(e.value)
