"""`lantian decode` and `lantian check-config`, run as an operator would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.support import FIXTURES, REPO


def lantian(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lantian", *args], input=stdin, capture_output=True,
        cwd=REPO, timeout=60,
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config", broker_url="mqtt://127.0.0.1:1", http_port=8080,
                        store=tmp_path / "l.sqlite")


def test_decode_prints_the_normalised_reading(cfg: Path) -> None:
    raw = (FIXTURES / "hj212" / "dust-realtime-2011.hj212").read_bytes()
    done = lantian("--config", str(cfg), "decode", "--topic", "lantian/sensors/x/hj212",
                   stdin=raw)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["kind"] == "hj212"
    (record,) = out["records"]
    assert record["type"] == "Reading"
    assert record["station"] == "FX-DUST"
    assert record["ts"] == "2025-01-31T20:28:09+08:00"
    assert record["values"] == {"tsp": {"value": 92.0, "flag": "N"}}
    assert record["deviations"] == ["unprefixed_flag"]


def test_decode_explains_a_rejection_with_status_1(cfg: Path) -> None:
    raw = (FIXTURES / "hj212" / "bad-crc-readme.hj212").read_bytes()
    done = lantian("--config", str(cfg), "decode", "--topic", "lantian/sensors/x/hj212",
                   stdin=raw)
    assert done.returncode == 1
    assert json.loads(done.stdout) == {
        "kind": "hj212", "rejected": "hj212_crc",
        "reason": "CRC mismatch: packet says 4980, computed 3C00",
    }


def decode_fixture(cfg: Path, name: str) -> dict[str, Any]:
    done = lantian("--config", str(cfg), "decode", "--topic", "lantian/sensors/x/hj212",
                   "--file", str(FIXTURES / "hj212" / f"{name}.hj212"))
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def test_decode_takes_a_lower_case_crc_with_no_leniency(cfg: Path) -> None:
    # write_config gives FX-GASES no [sources] entry
    out = decode_fixture(cfg, "gases-realtime-2011-lowercase-crc")
    [record] = out["records"]
    assert record["station"] == "FX-GASES"
    assert "deviations" not in record or record["deviations"] == []
    assert "note" not in out


def test_decode_shows_an_implausible_value_marked_and_says_what_is_odd(cfg: Path) -> None:
    out = decode_fixture(cfg, "noise-leq-realtime-2011-low-pressure")
    [record] = out["records"]
    assert record["values"]["pressure"] == {"value": 30.4, "flag": "implausible"}
    assert record["values"]["noise"] == {"value": 60.97, "flag": "N"}
    assert out["note"] == (
        "kept, marked implausible and never counted: pressure 30.4 kPa: outside what any "
        "working sensor reads (40..120 kPa)"
    )


def test_decode_says_when_no_factor_maps_to_a_metric(cfg: Path) -> None:
    out = decode_fixture(cfg, "water-realtime-2011-unmapped")
    [record] = out["records"]
    assert (record["station"], record["values"]) == ("FX-WATER", {})
    assert record["extras"]["w01018-Rtd"] == "194.200"
    assert out["note"] == (
        "no factor maps to a Lantian metric (w00000, w21001, w21011, w21003, w01018, "
        "w01001): kept as extras; to the no-data rule the station sends no data"
    )


def test_decode_reads_real_time_noise(cfg: Path) -> None:
    out = decode_fixture(cfg, "noise-la-realtime-2011")
    [record] = out["records"]
    assert record["values"]["noise"] == {"value": 66.8, "flag": "N"}


def test_decode_of_a_dock_says_why_there_is_no_record(cfg: Path) -> None:
    done = lantian("--config", str(cfg), "decode", "--topic", "thing/product/7CTDM3D00BVY4B/osd",
                   "--file", str(FIXTURES / "dji" / "dock-osd.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "kind": "dji_osd", "records": [], "note": "dock OSD: not a drone position"
    }


def test_check_config_reports_the_shipped_config() -> None:
    done = lantian("--config", str(REPO / "config"), "check-config")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("config OK: 7 stations, 158 zones")
    assert "5 threshold rules, AQI HJ633-2026; queues blue_sky, law_enforcement" in (
        done.stdout.decode())
    assert "public demo tokens in use" in done.stderr.decode()  # the shipped ones are public


def test_bad_config_exits_2_with_one_line(cfg: Path) -> None:
    toml = cfg / "lantian.toml"
    toml.write_text(toml.read_text().replace("[mqtt]", "[mqtt]\nkeepalive = 5"))
    done = lantian("--config", str(cfg), "check-config")
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"lantian: config error: {toml}: mqtt.keepalive: unknown key\n"
    )
    assert b"Traceback" not in done.stderr
