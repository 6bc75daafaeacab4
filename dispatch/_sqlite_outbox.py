"""The outbox table of the SQL store (either engine): publications waiting for the broker's PUBACK.

A row is added in the transaction of the change it announces (`add`, through the store's
`transaction()`), so it exists exactly when the change does; the relay
(`dispatch._outbox.Outbox`) reads what is committed and unsent, and marks rows sent once the
broker has acknowledged them. Sent rows are kept for a while (an audit of what went out
and when), then pruned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from dispatch._outbox import Pending, Publication
from dispatch._sqlite import SqlStore
from dispatch._sqlite_rows import ts


class SqliteOutbox:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @property
    def in_transaction(self) -> bool:
        """True while a write is open: what it added is not to be published yet."""
        return self._store.in_transaction

    def add(self, publications: Sequence[Publication], at: datetime) -> None:
        if not publications:
            return
        with self._store.transaction() as db:
            db.executemany(
                "INSERT INTO outbox (topic, payload, created_at) VALUES (?, ?, ?)",
                [(p.topic, p.payload, ts(at)) for p in publications],
            )

    def unsent(self, after: int, limit: int) -> list[Pending]:
        """Committed rows not yet acknowledged, with ids above `after`, oldest first."""
        rows = self._store.connection.execute(
            "SELECT id, topic, payload FROM outbox WHERE sent_at IS NULL AND id > ?"
            " ORDER BY id LIMIT ?",
            (after, limit),
        ).fetchall()
        return [Pending(i, t, bytes(p)) for i, t, p in rows]

    def mark_sent(self, ids: Iterable[int], at: datetime) -> None:
        params = [(ts(at), i) for i in ids]
        if params:
            with self._store.transaction() as db:
                db.executemany("UPDATE outbox SET sent_at = ? WHERE id = ?", params)

    def backlog(self) -> tuple[int, float | None]:
        """How many rows are unsent, and the creation time (epoch s) of the oldest."""
        n, oldest = self._store.connection.execute(
            "SELECT count(*), min(created_at) FROM outbox WHERE sent_at IS NULL"
        ).fetchone()
        return int(n), oldest

    def prune(self, sent_before: datetime, batch: int = 10_000) -> int:
        """Forget rows sent before the time, a batch at a time; how many were removed."""
        return self._store.delete_in_batches(
            "outbox", "SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?"
            " ORDER BY id LIMIT ?", (ts(sent_before),), batch)
