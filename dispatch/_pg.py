"""The alert store on PostgreSQL, and the choice of engine by URL.

`PgStore` is `SqlStore` (`dispatch._sqlite`) over a `PgConnection`: the same SQL, the
same transactions, brought to the same schema version by `dispatch._pg_schema`'s
migrations. It holds one connection, used from the event loop's thread only, like
SQLite's: an instance is one writer, and what several instances must not do twice (an
escalation, a publication, a notification) they claim in the database (`claim`,
`FOR UPDATE SKIP LOCKED`). Every call is bounded (`dispatch._sql_engine.connect_args`):
a server that does not answer costs a call seconds, then an error, and the burst it was
in is not acknowledged to the broker (see docs/postgresql.md).
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from pathlib import Path

import psycopg

from dispatch._pg_schema import PG_MIGRATIONS
from dispatch._sql_engine import (
    CALL_TIMEOUT_S,
    POSTGRES,
    PgConnection,
    StoreUnavailable,
    redact,
)
from dispatch._sqlite import SqliteStore, SqlStore
from dispatch._turns import Turns


class PgStore(SqlStore):
    """The store on a PostgreSQL database, given as a postgresql:// URL."""

    def __init__(self, url: str, *, tz: tzinfo = UTC,
                 call_timeout_s: float = CALL_TIMEOUT_S) -> None:
        self._url, self._call_timeout_s = url, call_timeout_s
        turns = Turns()
        db = self._connect(turns)
        super().__init__(db, POSTGRES, redact(url), tz=tz, turns=turns)
        self._side: PgConnection | None = None
        try:
            self._migrate()
            self._side = self._connect(turns)
        except BaseException:
            db.close()
            turns.close()
            raise

    def _connect(self, turns: Turns | None = None) -> PgConnection:
        try:
            return PgConnection(self._url, call_timeout_s=self._call_timeout_s, turns=turns)
        except psycopg.Error as e:
            raise StoreUnavailable(f"{redact(self._url)}: cannot connect:"
                                   f" {_first_line(e)}") from None

    def _migrations(self) -> tuple[str, ...]:
        return PG_MIGRATIONS

    def _label(self, text: str | None) -> int:
        # Interned on a connection of its own, committed at once: two instances whose
        # bursts added the same new labels inside their open transactions waited on each
        # other's index entries, in opposite orders (a deadlock). A label whose alert is
        # rolled back stays, unused: labels are only names.
        # If that connection fails (the server restarted since its last use), the label is
        # interned as before, in the transaction: a failure there fails the burst, which
        # is then not acknowledged, where one here would cost the alert alone, committed.
        side = self._side
        if text is None or side is None or text in self._labels:
            return super()._label(text)
        try:
            rows = side.execute(
                "INSERT INTO labels (text) VALUES (?) ON CONFLICT (text) DO NOTHING"
                " RETURNING id", (text,)).fetchall() or side.execute(
                "SELECT id FROM labels WHERE text = ?", (text,)).fetchall()
        except psycopg.Error:
            return super()._label(text)
        found = self._labels[text] = int(rows[0][0])
        return found

    def reader(self) -> SqlStore | None:
        # it only reads: the schema is this store's (migrated), and it interns no labels
        return SqlStore(self._connect(), POSTGRES, self._path, tz=self._tz)

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
        super().close()
        self.turns.close()


def open_store(url: str, *, tz: tzinfo = UTC) -> SqlStore:
    """The store a URL names: sqlite:///path (a file; sqlite:///:memory: for none) or
    postgresql://user:password@host:port/database."""
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")), tz=tz)
    if url.startswith(("postgresql://", "postgres://")):
        return PgStore(url, tz=tz)
    raise ValueError(f"expected sqlite:///path or postgresql://..., got {redact(url)!r}")


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
