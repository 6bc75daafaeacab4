"""[ingest.deadletters] is read strictly, and no config error ever prints a credential."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lantian.config import ConfigError, load_settings
from tests.support import REPO

PASSWORD = "Zq7-hunter2-pw"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    d = tmp_path / "config"
    shutil.copytree(REPO / "config", d)
    return d


def _append(cfg: Path, text: str) -> None:
    p = cfg / "lantian.toml"
    p.write_text(p.read_text() + text)


def _replace(cfg: Path, old: str, new: str) -> None:
    p = cfg / "lantian.toml"
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))


def test_dead_letter_limits_default_and_configured(cfg: Path) -> None:
    d = load_settings(cfg).deadletters
    assert (d.payload_cap_bytes, d.max_count, d.max_age_days) == (65536, 100_000, 30)
    _append(cfg, "\n[ingest.deadletters]\npayload_cap_bytes = 1024\nmax_count = 50\n"
                 "max_age_days = 7\n")
    d = load_settings(cfg).deadletters
    assert (d.payload_cap_bytes, d.max_count, d.max_age_days) == (1024, 50, 7)


@pytest.mark.parametrize(("line", "message"), [
    ("max_count = 0", "ingest.deadletters.max_count: Input should be greater than 0"),
    ('max_age_days = "30"', "ingest.deadletters.max_age_days: Input should be a valid integer"),
    ("payload_cap_bytes = -1",
     "ingest.deadletters.payload_cap_bytes: Input should be greater than or equal to 0"),
    ("keep = 5", "ingest.deadletters.keep: unknown key"),
])
def test_bad_dead_letter_limits_stop_start_up(cfg: Path, line: str, message: str) -> None:
    _append(cfg, f"\n[ingest.deadletters]\n{line}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg)


@pytest.mark.parametrize(("old", "new", "problem"), [
    ('url = "mqtt://127.0.0.1:1883"', f'url = "mqttx://lantian:{PASSWORD}@127.0.0.1:1883"',
     "mqtt: url: scheme must be mqtt:// or mqtts://, got 'mqttx://lantian:***@127.0.0.1:1883'"),
    ('url = "mqtt://127.0.0.1:1883"', f'url = "mqtt://lantian:{PASSWORD}@127.0.0.1:99999"',
     "bad port in 'mqtt://lantian:***@127.0.0.1:99999'"),
    ('url = "mqtt://127.0.0.1:1883"', f'url = "mqtt://lantian:{PASSWORD}@"', "no host in"),
    ('org = "lantian"', f'org = "lantian"\ntoken = ["{PASSWORD}"]',
     "influx.token: Input should be a valid string"),
    ('token = "demo-environment-bureau-token"', f'token = "{PASSWORD}"',
     "dispatch.tokens.2.token: String should have at least 16 characters"),
    ('token = "demo-environment-bureau-token"', 'token = "demo-blue-sky-officer-token"',
     "the same token is given twice"),
])
def test_check_config_never_prints_a_credential(
    cfg: Path, old: str, new: str, problem: str
) -> None:
    _replace(cfg, old, new)
    done = subprocess.run(
        [sys.executable, "-m", "lantian", "--config", str(cfg), "check-config"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("LANTIAN_")},
    )
    assert done.returncode == 2, done.stderr
    assert problem in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert "demo-blue-sky-officer-token" not in done.stderr


def test_credentials_from_the_environment_are_masked_too(cfg: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, {"LANTIAN_MQTT_URL": f"ftp://ops:{PASSWORD}@broker:1883"})
    assert str(err.value) == (
        "LANTIAN_MQTT_URL: url: scheme must be mqtt:// or mqtts://, got 'ftp://ops:***@broker:1883'"
    )
    assert err.value.__cause__ is None  # the unmasked original is not chained
