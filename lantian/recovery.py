"""What makes an acknowledged reading's effect survive a crash: a journal of the rules
engine's input beside a periodic snapshot of its state, in the store's database.

The rules state (15-minute windows, hold timers, drones' presence) lives in memory and is
snapshotted once a minute. What came in since is not lost with the process, because:

1. every MQTT message that brought a new record is journalled (`inputs`), and every rules
   sweep too, in the same transaction as everything it caused — alerts, events, outbox
   rows, dead letters (`Burst`: one transaction per burst of messages read from the
   socket, whose messages are one journal row, packed by `lantian.journal_frames`);
2. the broker is told it may forget a message (PUBACK, paho's manual acknowledgement)
   only after that transaction has committed;
3. at start, the last snapshot is loaded and the journal after it replayed through ingest
   and the engine with the signals dropped, since their effects were committed with the
   input: the state is the one the crashed process had, without a single alert raised
   twice. Messages the broker still holds (not acknowledged: their transaction never
   committed) are then redelivered and processed as new.

A snapshot and the pruning of the journal it covers are one transaction, too. A snapshot
is the rule state as versioned JSON (`rules.dump_state`: plain data, checked as it is
read, never executed); one that cannot be read is logged and dropped and the whole
journal replayed instead (windows refill within their span), never allowed to stop
start-up. So is a journal row that cannot be unpacked: logged by its id and skipped, the
rest replayed in order (the state misses its messages, whose effects were committed).
Ingest's memory (the record identities seen, the DJI devices' merged state) is not in
the snapshot: the rows holding the last `RECENT_KEPT` messages the snapshot covers are
kept behind it, and at start they go through ingest alone, which remembers them again.

Instances sharing one store (`lantian.partition`) each keep their own: the snapshot row
`rules@k/N` and the journal entries of partition "k/N", which only that partition's
instance replays and prunes; a replacement for instance k continues from them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, NamedTuple

from dispatch import Outbox
from dispatch.stores import SqlStore
from ingest import Ingestor
from lantian.journal_frames import FrameError, pack, unpack
from lantian.layouts import (
    SINGLE,
    journal_rows,
    prune_other_layouts,
    snapshot_name,
)
from lantian.pipeline import RulesPipeline
from rules import RuleState, SnapshotError, dump_state, load_state

log = logging.getLogger("lantian.recovery")

#: Messages a snapshot keeps journalled behind it although it covers them (the rows that
#: hold them, whole: at least that many, fewer than that and one burst): enough for ingest
#: to remember what a broker may redeliver, or a device resend, after a restart.
RECENT_KEPT: Final = 20_000


class Entry(NamedTuple):
    id: int  # the row's: the messages of one burst share it
    at: datetime
    topic: str | None  # None: a sweep
    payload: bytes | None


class Unreadable(NamedTuple):
    """A journal row that cannot be unpacked: which one, and why."""

    id: int
    messages: int | None  # what the row says it holds
    reason: str


#: the rows' entries, to count them: a packed burst its messages, an earlier version's row
#: (a message, or a sweep) one
_ENTRIES: Final = "coalesce(messages, 1)"
#: and the messages alone, which `RECENT_KEPT` counts
_MESSAGES: Final = ("CASE WHEN messages IS NOT NULL THEN messages"
                    " WHEN topic IS NOT NULL THEN 1 ELSE 0 END")


class Journal:
    """The `inputs` table: what the rules engine was fed since its last snapshot, and the
    last `RECENT_KEPT` messages before it (for ingest's memory); one partition's entries
    (`partition`, "k/N"), since instances of a shared store each journal their own.

    A row is one of (schema version 10 on; the rows of earlier versions replay as they
    are):

    - a burst of messages: `payload` the messages packed (`lantian.journal_frames`: each
      one's receive time, topic and payload), `messages` their count, `topic` NULL, `at`
      the last one's time;
    - a sweep: `topic`, `payload` and `messages` NULL;
    - a single message, as versions before 10 wrote every one: `topic` and `payload`
      its own, `messages` NULL.

    Ids keep the order things happened in: a sweep first writes the burst held so far."""

    def __init__(self, store: SqlStore, partition: str = SINGLE) -> None:
        self._store = store
        self.partition = partition
        self._mine = journal_rows(partition)
        #: messages of the open burst (`hold` to `take`), packed into one row by
        #: `take`: a row a message cost ~3 µs each on SQLite and ~23 µs on PostgreSQL
        #: (`bench.journal`); every other write and read of the journal writes them first
        self._pending: list[tuple[float, str, bytes]] = []
        self._holding = False

    def hold(self) -> None:
        """Keep the messages until `take` or `flush` (`Burst`: from its begin to its
        commit)."""
        self._holding = True

    def message(self, topic: str, payload: bytes, at: datetime) -> None:
        self._pending.append((at.timestamp(), topic, payload))
        if not self._holding:
            self._write(self._held())

    def sweep(self, at: datetime) -> None:
        self._write(self._held())  # ids keep the order things happened in
        with self._store.transaction() as db:
            db.execute("INSERT INTO inputs (at, partition) VALUES (?, ?)",
                       (at.timestamp(), self.partition))

    def take(self) -> tuple[str, tuple[object, ...]] | None:
        """The statement that writes the messages held for the open transaction as one
        row, for `Burst.end` to make with the commit (`SqlStore.commit`), so that they
        commit (or fail) with their effects, and a burst that wrote nothing else is
        that one statement; None if none were held."""
        self._holding = False
        return self._held()

    def flush(self) -> None:
        """Write the messages held as one row, now."""
        self._holding = False
        self._write(self._held())

    def _held(self) -> tuple[str, tuple[object, ...]] | None:
        if not self._pending:
            return None
        held, self._pending = self._pending, []
        return ("INSERT INTO inputs (at, payload, messages, partition) VALUES (?, ?, ?, ?)",
                (held[-1][0], pack(held), len(held), self.partition))

    def _write(self, row: tuple[str, tuple[object, ...]] | None) -> None:
        if row is not None:
            with self._store.transaction() as db:
                db.execute(*row)

    def after(self, position: int, batch: int = 200) -> Iterator[Entry | Unreadable]:
        """The entries of the rows after `position`, in order, read a batch of rows at a
        time (a burst's row holds up to 64 messages: a batch is a few MB at most); a row
        that cannot be unpacked is an `Unreadable` in its place."""
        self.flush()
        db = self._store.connection
        while True:
            rows = db.execute(
                f"SELECT id, at, topic, payload, messages FROM inputs WHERE {self._mine}"
                " AND id > ? ORDER BY id LIMIT ?", (self.partition, position, batch),
            ).fetchall()
            for id_, at, topic, payload, messages in rows:
                if messages is None:  # a sweep, or a message as earlier versions wrote it
                    yield Entry(id_, datetime.fromtimestamp(at, UTC), topic,
                                None if payload is None else bytes(payload))
                    continue
                try:
                    burst = unpack(b"" if payload is None else bytes(payload))
                    if len(burst) != messages:
                        raise FrameError(f"{len(burst)} messages, the row says {messages}")
                except FrameError as exc:
                    yield Unreadable(id_, messages, str(exc))
                    continue
                for m in burst:
                    yield Entry(id_, m.at, m.topic, m.payload)
            if len(rows) < batch:
                return
            position = rows[-1][0]

    def __len__(self) -> int:
        """The entries: messages and sweeps."""
        self.flush()
        n = self._store.connection.execute(
            f"SELECT sum({_ENTRIES}) FROM inputs WHERE {self._mine}", (self.partition,)
        ).fetchone()[0]
        return int(n or 0)

    def _oldest_kept(self, keep: int, position: int, batch: int = 1000) -> int:
        """The id of the newest row from which on the rows hold `keep` messages (those
        from it on stay: at least `keep` messages, fewer than `keep` and one burst), or
        past the position when none are to stay; 0 (keep all) when there are fewer."""
        if keep <= 0:
            return position + 1
        db = self._store.connection
        kept, before = 0, position + 1
        while True:
            rows = db.execute(
                f"SELECT id, {_MESSAGES} FROM inputs WHERE {self._mine} AND id < ?"
                " ORDER BY id DESC LIMIT ?", (self.partition, before, batch)).fetchall()
            for id_, messages in rows:
                kept += messages
                if kept >= keep:
                    return int(id_)
            if len(rows) < batch:
                return 0
            before = rows[-1][0]

    def checkpoint(self, data: bytes, at: datetime, keep: int = RECENT_KEPT) -> int:
        """Keep `data` as the snapshot covering every entry so far, and forget those
        entries but the rows of the `keep` most recent messages, in one transaction; the
        position (a row id) it covers."""
        self.flush()
        with self._store.transaction() as db:
            # the newest by a backward walk of ids, not max(id): without the index that
            # would read every row of the table
            newest = db.execute(f"SELECT id FROM inputs WHERE {self._mine}"
                                " ORDER BY id DESC LIMIT 1", (self.partition,)).fetchone()
            position = 0 if newest is None else int(newest[0])
            self._store.save_snapshot(snapshot_name(self.partition), data, at, position)
            db.execute(f"DELETE FROM inputs WHERE {self._mine} AND id < ?",
                       (self.partition, self._oldest_kept(keep, position)))
        return position


@dataclass
class Recovered:
    snapshot: bool
    replayed: int
    #: the time of the last input the state covers (None: nothing was there): how far
    #: the previous run is known to have received
    last_input_at: datetime | None = None
    #: the journal rows that could not be read (logged, and skipped)
    unreadable: tuple[int, ...] = ()


class Checkpoints:
    """Snapshots of the rule state, and at start the state and ingest's memory rebuilt
    from the last one and the journal."""

    def __init__(self, store: SqlStore, pipeline: RulesPipeline, ingestor: Ingestor,
                 clock: Callable[[], datetime], keep: int = RECENT_KEPT,
                 partition: str = SINGLE) -> None:
        self.journal = Journal(store, partition)
        self._keep = keep
        self._store = store
        self._pipeline = pipeline
        self._ingestor = ingestor
        self._clock = clock

    def save(self) -> bool:
        """Snapshot the state; False (and logged) if that failed: a lost snapshot costs a
        longer replay at the next start, it must not stop the service or its shutdown."""
        try:
            self.journal.checkpoint(dump_state(self._pipeline.state), self._clock(),
                                    self._keep)
        except Exception:
            log.exception("could not snapshot the rules state")
            return False
        self._prune_other_layouts()
        return True

    def _prune_other_layouts(self) -> None:
        """With this layout's snapshot committed, the rows an earlier partition count
        left may go (`lantian.layouts` says when); a failure costs only their space."""
        try:
            prune_other_layouts(self._store, self.journal.partition, self._clock())
        except Exception:
            log.exception("could not prune the rows of an earlier partition layout")

    def restore(self) -> Recovered:
        """Load the last snapshot, then replay the journal after it."""
        found = self._store.load_snapshot_at(snapshot_name(self.journal.partition))
        position = 0
        loaded = False
        last: datetime | None = None
        if found is not None:
            data, position, last = found
            loaded = self._load(data)
            if not loaded:  # the state is empty: replay whatever the journal still has
                position, last = 0, None
        replayed = 0
        unreadable: list[int] = []
        for entry in self.journal.after(0):
            if isinstance(entry, Unreadable):
                # as with an unreadable snapshot: said, and start-up goes on without it
                log.error("skipping journal row %d of partition %s (%s messages), which"
                          " cannot be read: %s; the rule state misses those messages"
                          " (what they raised was committed with them)", entry.id,
                          self.journal.partition, entry.messages, entry.reason)
                unreadable.append(entry.id)
                continue
            if entry.id <= position:  # covered by the snapshot: ingest remembers it again
                if entry.topic is not None and entry.payload is not None:
                    self._ingestor.replay(entry.topic, entry.payload, entry.at)
                continue
            last = entry.at
            if entry.topic is None:
                self._pipeline.replay_sweep(entry.at)
            else:
                assert entry.payload is not None
                for record in self._ingestor.replay(entry.topic, entry.payload, entry.at):
                    self._pipeline.replay(record)
            replayed += 1
        return Recovered(loaded, replayed, last, tuple(unreadable))

    def _load(self, data: bytes) -> bool:
        try:
            self._pipeline.state = load_state(data, self._pipeline.ruleset)
        except SnapshotError as exc:
            log.warning("dropping an unreadable rules snapshot (the journal is replayed"
                        " instead): %s", exc)
            return False
        return True

    def reset(self) -> Recovered:
        """Forget the in-memory state and rebuild it from the store: after a transaction
        that could not commit, the memory is ahead of what is durable."""
        self._pipeline.state = RuleState()
        self._ingestor.forget()
        return self.restore()


class Burst:
    """One store transaction per burst of MQTT messages, committed before they are
    acknowledged (`begin` from the first message, `end` from the MQTT client's burst
    hook); the outbox is flushed once the commit made its rows real, if it made any.

    A store that cannot begin (a PostgreSQL server down) fails the burst at its `end`, so
    its messages stay unacknowledged, whatever the store says by then; the memory, ahead
    of what is durable, is rebuilt from the store as soon as the store answers again."""

    def __init__(self, store: SqlStore, outbox: Outbox, checkpoints: Checkpoints) -> None:
        self._store = store
        self._outbox = outbox
        self._checkpoints = checkpoints
        self._failed: Exception | None = None  # why this burst cannot commit
        self._behind = False  # the memory is ahead of the store until rebuilt

    def begin(self) -> None:
        if self._failed is not None:
            return
        try:
            if self._behind:
                self._rebuild()
            self._store.begin()
        except Exception as exc:  # raised at `end`, which leaves the burst unacknowledged
            self._failed = exc
            return
        self._checkpoints.journal.hold()

    def end(self) -> None:
        failed, self._failed = self._failed, None
        try:
            if failed is not None:
                raise failed
            self._store.commit(self._checkpoints.journal.take())
        except Exception:
            # the messages stay unacknowledged (the broker redelivers them); the state in
            # memory already counted them, so it is rebuilt from what is durable
            log.exception("could not commit a burst of messages; rebuilding the state")
            self._behind = True
            with contextlib.suppress(Exception):  # the store may still be away: next burst
                self._rebuild()
            raise
        self._outbox.flush_new()

    def _rebuild(self) -> None:
        self._checkpoints.reset()
        self._behind = False
