"""[ingest.deadletters] is read strictly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lantian.settings import ConfigError, load_settings
from tests.support import REPO


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
