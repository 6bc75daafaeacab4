"""`[store] url` / LANTIAN_STORE_URL: SQLite or PostgreSQL, a bad URL named without its
password, and a store that cannot be opened stopping start-up with a config error."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import psycopg
import pytest

from lantian.cli import main
from lantian.config import ConfigError, load_settings
from tests.support import REPO


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    d = tmp_path / "config"
    shutil.copytree(REPO / "config", d)
    return d


def test_a_postgresql_url_is_taken_as_it_is(cfg: Path) -> None:
    url = "postgresql://lantian:s3cret@db.example:5432/lantian"
    s = load_settings(cfg, {"LANTIAN_STORE_URL": url})
    assert s.store_url == url
    assert s.media_dir == Path("data") / "media"


@pytest.mark.parametrize(("url", "problem"), [
    ("postgresql://lantian:s3cret@db.example:5432/", "names no host or no database"),
    ("postgresql://lantian:s3cret@db.example:99999/x", "out of range"),
    ("mysql://lantian:s3cret@db/x", "expected sqlite:///path or postgresql://"),
])
def test_a_bad_store_url_names_the_variable_and_hides_the_password(
    cfg: Path, url: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, {"LANTIAN_STORE_URL": url})
    text = str(err.value)
    assert text.startswith("LANTIAN_STORE_URL: url:") and problem in text
    assert "s3cret" not in text


def test_an_unreachable_store_stops_a_command_with_a_config_error(
    cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # port 1 on loopback: nothing listens, the connection is refused at once
    monkeypatch.setenv("LANTIAN_STORE_URL", "postgresql://lantian:s3cret@127.0.0.1:1/x")
    assert main(["--config", str(cfg), "users", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lantian: config error: LANTIAN_STORE_URL or [store]: url:")
    assert "cannot connect" in err and "s3cret" not in err and "Traceback" not in err


@pytest.mark.postgres
def test_the_users_commands_keep_their_users_in_postgresql(
    cfg: Path, pg_url: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANTIAN_STORE_URL", pg_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["--config", str(cfg), "users", "add", "li", "--role", "officer",
                 "--queue", "blue_sky"]) == 0
    assert main(["--config", str(cfg), "users", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"li"' in listed
    with psycopg.connect(pg_url) as db:
        row = db.execute("SELECT role, queues FROM users WHERE username = 'li'").fetchone()
    assert row == ("officer", '["blue_sky"]')
