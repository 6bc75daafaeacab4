"""`WalCheckpointer`: SQLite's WAL checkpoints on a thread of their own, the writer's own
automatic checkpoint kept as a backstop. Real SQLite files, no server."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from dispatch.stores import SqliteStore, WalCheckpointer
from tests.support import wait_until

PAGE = 4096


def _store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "lantian.db")
    store.sqlite.execute("CREATE TABLE filler (page BLOB)")
    return store


def _commit_pages(store: SqliteStore, n: int) -> None:
    """`n` commits of about a page each, as the service's bursts make them."""
    for _ in range(n):
        store.sqlite.execute("INSERT INTO filler VALUES (zeroblob(?))", (PAGE - 200,))


def _wal_pages(tmp_path: Path) -> int:
    """Pages the WAL file has room for: it grows past what it held only when no
    checkpoint let the writer start it over."""
    return (tmp_path / "lantian.db-wal").stat().st_size // (PAGE + 24)


def _autocheckpoint(store: SqliteStore) -> int:
    value: int = store.sqlite.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    return value


def test_the_writer_leaves_checkpoints_to_it_below_the_backstop(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert _autocheckpoint(store) == 1000  # SQLite's default: the writer's own
    checkpointer = WalCheckpointer(store, interval_s=3600)  # its thread makes no pass
    checkpointer.start()
    try:
        assert _autocheckpoint(store) == 10_000
        _commit_pages(store, 1500)
        # with the default the writer would have checkpointed at 1,000 and started over
        assert _wal_pages(tmp_path) >= 1500
        frames, copied = checkpointer.checkpoint() or (0, -1)
        assert frames >= 1500
        assert copied == frames
        assert checkpointer.checkpoint() is None  # nothing committed since
        _commit_pages(store, 1)
        assert checkpointer.checkpoint() is not None
    finally:
        checkpointer.stop()
    assert _autocheckpoint(store) == 1000
    store.close()


def test_its_thread_checkpoints_what_was_committed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    registry = CollectorRegistry()
    checkpointer = WalCheckpointer(store, interval_s=0.02, registry=registry)
    checkpointer.start()
    try:
        _commit_pages(store, 20)

        def done() -> float:
            return registry.get_sample_value("lantian_sqlite_checkpoints_total",
                                             {"result": "done"}) or 0.0

        wait_until(lambda: done() >= 1, what="a checkpoint on the thread")
    finally:
        checkpointer.stop()
    store.close()


def test_failing_checkpoints_are_counted_logged_once_and_the_backstop_bounds_the_wal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    store = _store(tmp_path)
    registry = CollectorRegistry()
    checkpointer = WalCheckpointer(store, interval_s=0.01, backstop_pages=200,
                                   registry=registry)
    checkpointer.start()
    assert checkpointer._db is not None
    checkpointer._db.close()  # its connection broken: every pass fails from now on

    def failed() -> float:
        return registry.get_sample_value("lantian_sqlite_checkpoints_total",
                                         {"result": "failed"}) or 0.0

    try:
        with caplog.at_level(logging.WARNING, logger="dispatch._wal_checkpoints"):
            _commit_pages(store, 1000)
            wait_until(lambda: failed() >= 3, what="several failed passes")
        # the writer checkpointed for itself past 200 pages: the WAL never held 1,000
        assert _wal_pages(tmp_path) < 400
        warnings = [r for r in caplog.records if "WAL checkpoint failed" in r.message]
        assert len(warnings) == 1
        assert registry.get_sample_value("lantian_sqlite_checkpoints_total",
                                         {"result": "done"}) is None
    finally:
        checkpointer.stop()
    store.close()


def test_only_a_sqlite_file_gets_one(tmp_path: Path) -> None:
    memory = SqliteStore(":memory:")
    assert WalCheckpointer.of(memory) is None
    assert WalCheckpointer.of(object()) is None
    on_file = SqliteStore(tmp_path / "lantian.db")
    assert isinstance(WalCheckpointer.of(on_file), WalCheckpointer)
    memory.close()
    on_file.close()
