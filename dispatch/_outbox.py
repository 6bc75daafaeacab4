"""The transactional outbox: every publication of dispatch reaches the broker at least once.

A change to an alert and the messages announcing it are written in one transaction
(`Outbox.add` inside the store's `transaction()`); after the commit, `flush` hands the
committed, unsent rows to the broker in order, and a row is marked sent only when the
broker's PUBACK for it arrives (`acknowledged`). A crash anywhere in between leaves the row
unsent, and the next start publishes it again: subscribers may see a message twice, never
miss one, and can tell a repeat by its alert id and event seq (docs: "Guarantees").

The broker client keeps (and on reconnect resends) what it was handed, so a row in flight
is handed again only if no PUBACK came for `resend_after_s`, and at most `window` rows are
in flight at once: a broker away for hours costs rows in the store, not memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

log = logging.getLogger(__name__)


class Publication(NamedTuple):
    topic: str
    payload: bytes


class Pending(NamedTuple):
    id: int
    topic: str
    payload: bytes


class OutboxTable(Protocol):
    """Where the rows are kept (`dispatch._sqlite_outbox.SqliteOutbox`)."""

    @property
    def in_transaction(self) -> bool: ...

    def add(self, publications: Sequence[Publication], at: datetime) -> None: ...

    def unsent(self, after: int, limit: int) -> list[Pending]: ...

    def mark_sent(self, ids: Iterable[int], at: datetime) -> None: ...

    def backlog(self) -> tuple[int, float | None]: ...

    def prune(self, sent_before: datetime, batch: int = 10_000) -> int: ...


class Broker(Protocol):
    """The MQTT client as the outbox needs it: publish, and say under which message id,
    so that the PUBACK can be matched to the row (`Outbox.acknowledged`)."""

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int: ...


class Outbox:
    def __init__(
        self,
        table: OutboxTable,
        clock: Callable[[], datetime],
        *,
        broker: Broker | None = None,
        window: int = 1000,
        resend_after_s: float = 60.0,
    ) -> None:
        self.table = table
        self.clock = clock
        self.broker = broker
        self.window = window
        self.resend_after = timedelta(seconds=resend_after_s)
        self._through = 0  # the last row id handed to the broker by this process
        self._inflight: dict[int, tuple[int, datetime]] = {}  # mid -> (row id, handed at)
        self._acked: list[int] = []
        self._handing: int | None = None  # the row being handed, for an ack within publish
        self._added = False  # rows added since the last flush read the table

    def add(self, publications: Sequence[Publication]) -> None:
        """Record publications in the caller's open transaction."""
        self.table.add(publications, self.clock())
        self._added = self._added or bool(publications)

    def acknowledged(self, mid: int) -> None:
        """The broker's PUBACK for message `mid` (called by the MQTT client)."""
        entry = self._inflight.pop(mid, None)
        if entry is not None:
            self._acked.append(entry[0])
        elif self._handing is not None:  # acknowledged before `publish` even returned
            self._acked.append(self._handing)
            self._handing = None

    def flush(self) -> int:
        """Mark what was acknowledged sent, then hand the broker what is committed and
        unsent; how many rows were handed. Inside an open transaction it does nothing:
        what that transaction added may yet be rolled back, and its commit flushes."""
        if self.table.in_transaction:
            return 0
        now = self.clock()
        if self._acked:
            acked, self._acked = self._acked, []
            self.table.mark_sent(acked, now)
        if self.broker is None:
            return 0
        self._added = False
        handed = self._resend_stale(now)
        room = self.window - len(self._inflight)
        if room > 0:
            for row in self.table.unsent(self._through, room):
                self._hand(row, now)
                self._through = row.id
                handed += 1
        return handed

    def flush_new(self) -> int:
        """`flush`, if this process added rows or was acknowledged some since the last
        one; else nothing. After a burst of readings, whose commit brought nothing to
        publish more often than not: a flush reads the table (on PostgreSQL a claim, a
        round trip a burst). What else may wait there, another instance's rows or one
        to send again, the periodic `flush` takes."""
        if not (self._added or self._acked):
            return 0
        return self.flush()

    def _resend_stale(self, now: datetime) -> int:
        stale = [mid for mid, (_, at) in self._inflight.items() if now - at > self.resend_after]
        if not stale:
            return 0
        ids = {self._inflight.pop(mid)[0] for mid in stale}
        rows = [r for r in self.table.unsent(min(ids) - 1, len(ids) + self.window) if r.id in ids]
        log.warning("re-publishing %d outbox messages the broker has not acknowledged in %s",
                    len(rows), self.resend_after)
        for row in rows:
            self._hand(row, now)
        return len(rows)

    def _hand(self, row: Pending, now: datetime) -> None:
        assert self.broker is not None
        self._handing = row.id
        try:
            mid = self.broker.publish(row.topic, row.payload, 1)
        finally:
            handing, self._handing = self._handing, None
        if handing is not None:  # not acknowledged yet: wait for it
            self._inflight[mid] = (row.id, now)

    def in_flight(self) -> int:
        return len(self._inflight)

    def prune(self, keep: timedelta = timedelta(days=1)) -> int:
        """Forget the rows sent more than `keep` ago."""
        return self.table.prune(self.clock() - keep)
