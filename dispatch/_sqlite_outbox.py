"""The outbox table of the SQL store (either engine): publications waiting for the broker's PUBACK.

A row is added in the transaction of the change it announces (`add`, through the store's
`transaction()`), so it exists exactly when the change does; the relay
(`dispatch._outbox.Outbox`) reads what is committed and unsent, and marks rows sent once the
broker has acknowledged them. Sent rows are kept for a while (an audit of what went out
and when), then pruned.

Several instances on one PostgreSQL store each run a relay: `unsent` then *claims* the rows
it returns (`claimed_by` this table, `claimed_until` `CLAIM_S` ahead by the database's
clock, picked with FOR UPDATE SKIP LOCKED), so another instance passes over them while the
claim lasts; an instance that died holding some leaves them to the others once it ends.
On SQLite (one instance a file) `unsent` only reads.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from dispatch._outbox import Pending, Publication
from dispatch._sqlite import SqlStore
from dispatch._sqlite_rows import ts

#: Seconds a claim on a row lasts: twice the relay's resend (60 s), so that only an
#: instance gone loses its rows to another, and what it left waits no longer than this.
CLAIM_S: Final = 120.0
#: The database's clock, in epoch seconds (PostgreSQL): the one clock all instances share.
DB_NOW: Final = "extract(epoch FROM clock_timestamp())"
#: A row no instance holds: never claimed, or its claim ended.
FREE: Final = f"(claimed_until IS NULL OR claimed_until < {DB_NOW})"


def claiming(table: str, pick: str, returning: str) -> str:
    """PostgreSQL: claim the rows of `table` that `pick` (a condition, then ORDER BY and
    LIMIT) selects, passing over those another transaction holds, and return `returning`
    of them. Parameters: the claimant, the claim's seconds, then `pick`'s."""
    return (f"UPDATE {table} SET claimed_by = ?, claimed_until = {DB_NOW} + ?"
            f" WHERE id IN (SELECT id FROM {table} WHERE {pick} FOR UPDATE SKIP LOCKED)"
            f" RETURNING {returning}")


class SqliteOutbox:
    def __init__(self, store: SqlStore, *, name: str | None = None,
                 claim_s: float = CLAIM_S) -> None:
        """`name`: the instance's, in claimed_by: its replacement under the same name
        takes back at once what it had claimed (None: this process's own, so another
        process waits `claim_s` for them)."""
        self._store = store
        self._me = name or secrets.token_hex(8)
        self._claim_s = claim_s

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
        if self._store.dialect.postgres:  # claimed: see the module docstring
            # ids at or below `after` too, but not this relay's own: rows another held
            # when the relay passed them, or that a slower transaction committed since
            rows = sorted(self._store.connection.execute(claiming(
                "outbox", f"sent_at IS NULL AND ((id > ? AND ({FREE} OR claimed_by = ?))"
                f" OR (id <= ? AND claimed_by IS DISTINCT FROM ? AND {FREE}))"
                " ORDER BY id LIMIT ?", "id, topic, payload"),
                (self._me, self._claim_s, after, self._me, after, self._me, limit),
            ).fetchall())
        else:
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
