"""SQLite's WAL checkpoints, off the event loop.

In WAL mode a commit appends its pages to the `-wal` file; a checkpoint copies them back
into the database file, and with `synchronous=NORMAL` its two fsyncs are the only ones
the store makes. By default the connection that commits runs a checkpoint whenever the
WAL has passed 1,000 pages: here the writer's, on the event loop, in the middle of a
burst, for as long as the disk takes. In `bench.service`'s drain that was the slowest
commit of each run, 10-12 ms with the MQTT traffic and every console waiting; a cloud
disk's fsync can take far longer.

A `WalCheckpointer` runs them on a connection and a thread of its own, once a second
when something was committed since the last one. They are PASSIVE: they copy what no
reader still needs and never wait for the writer or a reader, nor make them wait. The
writer keeps its automatic checkpoint as a backstop, at `BACKSTOP_PAGES`: a checkpointer
that falls behind or fails cannot let the WAL grow without bound.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from dispatch._sqlite import SqliteStore

log = logging.getLogger(__name__)

#: the writer's own automatic checkpoint while a checkpointer runs, in pages (~40 MB);
#: SQLite's default, restored when it stops, is 1,000
BACKSTOP_PAGES: Final = 10_000
_SQLITE_DEFAULT_PAGES: Final = 1_000


class WalCheckpointer:
    """Checkpoints `store`'s WAL every `interval_s` from `start` to `stop`."""

    def __init__(
        self,
        store: SqliteStore,
        *,
        interval_s: float = 1.0,
        backstop_pages: int = BACKSTOP_PAGES,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._store = store
        self._interval_s = interval_s
        self._backstop_pages = backstop_pages
        self._db: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._seen_version: int | None = None  # the data_version last checkpointed
        self._failing = False
        self.checkpoints = Counter(
            "lantian_sqlite_checkpoints", "WAL checkpoints run apart from the event loop, "
            "by result (done, failed: the writer's backstop then bounds the WAL)",
            ["result"], registry=registry if registry is not None else CollectorRegistry(),
        )

    @classmethod
    def of(cls, store: object, *, registry: CollectorRegistry | None = None,
           ) -> WalCheckpointer | None:
        """One for a store on a SQLite file; None for PostgreSQL or an in-memory
        database, which have no WAL to checkpoint."""
        if not isinstance(store, SqliteStore) or store.path is None:
            return None
        return cls(store, registry=registry)

    def start(self) -> None:
        path = self._store.path
        if path is None:
            raise ValueError("an in-memory SQLite database has no WAL to checkpoint")
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                   uri=True)
        self._store.sqlite.execute(f"PRAGMA wal_autocheckpoint={self._backstop_pages:d}")
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._db is not None:
            self._db.close()
        # the writer checkpoints for itself again, as a store alone does (unless it was
        # closed first: nothing is left to checkpoint for then)
        with contextlib.suppress(sqlite3.ProgrammingError):
            self._store.sqlite.execute(f"PRAGMA wal_autocheckpoint={_SQLITE_DEFAULT_PAGES}")

    def checkpoint(self) -> tuple[int, int] | None:
        """One pass: a PASSIVE checkpoint if anything was committed since the last one,
        and then the frames in the WAL and how many of them are in the database now
        (fewer where a reader still needs the older pages); None if nothing was."""
        db = self._db
        if db is None:
            raise RuntimeError("the checkpointer was not started")
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._seen_version:
            return None
        _busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self._seen_version = version
        return frames, copied

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                ran = self.checkpoint() is not None
            except sqlite3.Error as exc:
                self.checkpoints.labels("failed").inc()
                if not self._failing:  # once a streak: it may last as long as the disk
                    log.warning("WAL checkpoint failed (%s); the writer checkpoints itself "
                                "past %d pages meanwhile", exc, self._backstop_pages)
                self._failing = True
                continue
            if ran:
                self.checkpoints.labels("done").inc()
            if self._failing:
                log.info("WAL checkpoints work again")
                self._failing = False
