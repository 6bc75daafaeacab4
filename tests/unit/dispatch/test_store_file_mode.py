"""The store file holds alerts and dead letters: its owner's only, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatch._sqlite import SqliteStore
from ingest import SqliteDeadLetters


@pytest.fixture(params=[0o022, 0o002, 0o000], ids=["umask022", "umask002", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield int(request.param)
    os.umask(old)


def _modes(path: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode)
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()}


def test_the_alert_store_alone_makes_it_0600(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "lantian.sqlite"
    store = SqliteStore(path)
    store.save_snapshot("rules", b"state", datetime(2026, 6, 12, tzinfo=UTC))  # a WAL write
    modes = _modes(path)
    assert len(modes) == 3 and set(modes.values()) == {0o600}, modes
    store.close()


def test_a_new_store_file_and_its_wal_are_0600(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "var" / "lantian.sqlite"
    store = SqliteStore(path)
    letters = SqliteDeadLetters(store.connection)  # as the service opens them
    modes = _modes(path)
    assert set(modes) == {"lantian.sqlite", "lantian.sqlite-wal", "lantian.sqlite-shm"}
    assert set(modes.values()) == {0o600}, modes
    letters.close()
    store.close()


def test_an_existing_world_readable_file_is_tightened(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "lantian.sqlite"
    SqliteStore(path).close()
    os.chmod(path, 0o644)
    SqliteStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
