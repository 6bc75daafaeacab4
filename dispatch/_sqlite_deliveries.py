"""The notifications table of the SQL store (either engine): one row a channel and event, from the
event's transaction until it is delivered or given up on.

A row is `pending` (with its attempts so far and when the next is due), `sent` or `dead`
(given up: refused for good, or failing for longer than the worker allows), with the
time it ended and the last error. Done rows are kept a while (what went out, what did
not, and why), then pruned.

On a PostgreSQL store shared by several instances `due` claims the rows it returns, as
the outbox's `unsent` does (`dispatch._sqlite_outbox`): each row goes to one worker.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

import orjson

from dispatch._notify import ChannelBacklog, Notice
from dispatch._sqlite import SqlStore
from dispatch._sqlite_outbox import CLAIM_S, FREE, claiming
from dispatch._sqlite_rows import ts


class Delivery(NamedTuple):
    """A pending row, as the worker needs it."""

    id: int
    channel: str
    message_id: str
    title: str
    text: str
    body: bytes
    created_at: float
    attempts: int


class SqliteDeliveries:
    def __init__(self, store: SqlStore, *, name: str | None = None,
                 claim_s: float = CLAIM_S) -> None:
        """`name` and `claim_s`: as `SqliteOutbox`'s."""
        self._store = store
        self._me = name or secrets.token_hex(8)
        self._claim_s = claim_s

    @property
    def in_transaction(self) -> bool:
        return self._store.in_transaction

    def add(self, notices: Sequence[tuple[str, Notice]], at: datetime) -> None:
        """(channel, notice) rows, due at once, in the caller's open transaction. A notice
        already recorded for its channel (same message id) is not recorded twice."""
        if not notices:
            return
        with self._store.transaction() as db:
            db.executemany(
                "INSERT INTO notifications (channel, message_id, alert_id, event,"
                " title, text, body, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel, message_id) DO NOTHING",
                [(c, n.message_id, n.alert_id, n.event, n.title, n.text,
                  orjson.dumps(n.body), ts(at), ts(at)) for c, n in notices],
            )

    def due(self, channel: str, now: datetime, limit: int = 100) -> list[Delivery]:
        """The channel's pending rows due by `now`, oldest first."""
        cols = "id, channel, message_id, title, text, body, created_at, attempts"
        if self._store.dialect.postgres:
            rows = sorted(self._store.connection.execute(claiming(
                "notifications", "state = 'pending' AND channel = ? AND next_at <= ?"
                f" AND ({FREE} OR claimed_by = ?) ORDER BY id LIMIT ?", cols),
                (self._me, self._claim_s, channel, ts(now), self._me, limit),
            ).fetchall())
        else:
            rows = self._store.connection.execute(
                f"SELECT {cols} FROM notifications WHERE state = 'pending' AND channel = ?"
                " AND next_at <= ? ORDER BY id LIMIT ?", (channel, ts(now), limit),
            ).fetchall()
        return [Delivery(i, c, m, t, x, bytes(b), a, n) for i, c, m, t, x, b, a, n in rows]

    def next_due(self, channel: str) -> float | None:
        """When the channel's next pending row is due (epoch s), None when none is."""
        (at,) = self._store.connection.execute(
            "SELECT min(next_at) FROM notifications WHERE state = 'pending' AND channel = ?",
            (channel,),
        ).fetchone()
        return None if at is None else float(at)

    def mark_sent(self, ids: Iterable[int], at: datetime) -> None:
        self._end(ids, "sent", at, None)

    def mark_dead(self, ids: Iterable[int], at: datetime, error: str) -> None:
        self._end(ids, "dead", at, error)

    def _end(self, ids: Iterable[int], state: str, at: datetime, error: str | None) -> None:
        params = [(state, ts(at), error, i) for i in ids]
        if params:
            with self._store.transaction() as db:
                db.executemany(
                    "UPDATE notifications SET state = ?, done_at = ?, attempts = attempts + 1,"
                    " last_error = coalesce(?, last_error) WHERE id = ? AND state = 'pending'",
                    params)

    def retry(self, ids: Iterable[int], next_at: dict[int, datetime], error: str) -> None:
        params = [(ts(next_at[i]), error[:500], i) for i in ids]
        if params:
            with self._store.transaction() as db:
                db.executemany(
                    "UPDATE notifications SET attempts = attempts + 1, next_at = ?,"
                    " last_error = ? WHERE id = ? AND state = 'pending'", params)

    def backlog(self, dead_since: datetime) -> list[ChannelBacklog]:
        """Per channel with a pending row or one dead since `dead_since`."""
        rows = self._store.connection.execute(
            "SELECT channel, count(*) FILTER (WHERE state = 'pending'),"
            " min(CASE WHEN state = 'pending' THEN created_at END),"
            " count(*) FILTER (WHERE state = 'dead' AND done_at >= ?),"
            " (SELECT last_error FROM notifications n2 WHERE n2.channel = n.channel"
            "  AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1)"
            " FROM notifications n WHERE state = 'pending' OR (state = 'dead' AND done_at >= ?)"
            " GROUP BY channel ORDER BY channel", (ts(dead_since), ts(dead_since)),
        ).fetchall()
        return [ChannelBacklog(c, int(p), o, int(d), e) for c, p, o, d, e in rows]

    def sent_since(self, channel: str, since: datetime) -> list[float]:
        """When the channel's rows delivered since `since` were (epoch s): a digest's rows
        each count, which overstates what the robot received, never understates it."""
        rows = self._store.connection.execute(
            "SELECT done_at FROM notifications WHERE state = 'sent' AND channel = ?"
            " AND done_at > ? ORDER BY done_at", (channel, ts(since)),
        ).fetchall()
        return [float(t) for (t,) in rows]

    def dead_since(self, since: datetime) -> int:
        (n,) = self._store.connection.execute(
            "SELECT count(*) FROM notifications WHERE state = 'dead' AND done_at >= ?",
            (ts(since),),
        ).fetchone()
        return int(n)

    def prune(self, done_before: datetime, batch: int = 10_000) -> int:
        """Forget rows delivered or given up on before the time, a batch at a time."""
        return self._store.delete_in_batches(
            "notifications", "SELECT id FROM notifications WHERE state != 'pending'"
            " AND done_at < ? ORDER BY done_at LIMIT ?", (ts(done_before),), batch)
