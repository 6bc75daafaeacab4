"""The alert store over SQL: `SqlStore` on either engine, and `SqliteStore`, the embedded
default, on one SQLite file (WAL), shared with ingest's dead letters. (`PgStore`, in
`dispatch._pg`, is the same store on PostgreSQL; `dispatch._sql_engine` is what differs.)

`SqlStore` keeps alerts (their projection and their event log), silences and
rule-engine snapshots in the schema `dispatch._schema` describes, and brings a database
up to it on opening (`_MIGRATIONS`, read at each opening). How each is kept as the
values of a row, and read back: `dispatch._sqlite_rows`.

Each alert row also keeps its metric fields packed in `metric` (`dispatch._metric_blob`),
written with the row by `create` and `append`, and read by the figures' reads
(`dispatch._sqlite_figures`, which `SqlStore` has). Labels are interned in `labels`
and cached here; a rolled-back write may have added one, so a rollback empties the cache.

On SQLite writes take the write lock up front (BEGIN IMMEDIATE): the `lantian users`
command may write to the same file in between a read and a write. Inside `bulk()` each
write is a savepoint of the one outer transaction, so a refused write undoes only itself.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final

from dispatch._alert import Alert
from dispatch._lifecycle import Event, State
from dispatch._metric_blob import (
    pack_metric,
)
from dispatch._schema import MIGRATIONS as _MIGRATIONS
from dispatch._schema import migrate
from dispatch._silences import Silence
from dispatch._sql_engine import INTEGRITY_ERRORS, SQLITE, STORE_ERRORS, Connection, Dialect
from dispatch._sqlite_figures import METRIC_COLS, OPEN, FiguresReads
from dispatch._sqlite_rows import (
    SILENCE_COLS,
    WRITE_COLS,
    alert_of,
    alert_row,
    event_of,
    event_row,
    silence_row,
    silences_of,
    ts,
    zone_rows,
)
from dispatch._store import Conflict
from dispatch._turns import Turns

_MARKS: Final = ", ".join("?" * (len(WRITE_COLS.split(",")) + 1))
_INSERT: Final = f"INSERT INTO alerts (id, {WRITE_COLS}, metric) VALUES (?, {_MARKS})"
_UPDATE: Final = f"UPDATE alerts SET ({WRITE_COLS}, metric) = ({_MARKS}) WHERE id = ?"
_ALERT_COLS: Final = ", ".join(f"a.{c.strip()}" for c in f"id, {WRITE_COLS}".split(","))
_SILENCE_MARKS: Final = ", ".join("?" * len(SILENCE_COLS.split(",")))
#: A statement and its parameters.
Statement = tuple[str, Sequence[Any]]


class SqlStore(FiguresReads):
    """`AlertStore` over a `Connection` of either engine; times are returned as aware
    datetimes in `tz`. `where` names the database in messages (a path, or a URL
    without its password)."""

    def __init__(self, db: Connection, dialect: Dialect, where: str, *, tz: tzinfo = UTC,
                 turns: Turns | None = None) -> None:
        #: how the service runs work that writes here (`dispatch._turns`): off the loop
        #: where the database is a server, at once where it is a file in this process
        self.turns = turns or Turns.inline()
        self._conn = db  # raw: `_db` is the way in, which opens what `begin` asked for
        self._dialect = dialect
        self._path = where
        self._tz = tz
        self._labels: dict[str, int] = {}  # labels.text -> id, see the module docstring
        self._begun = False  # `begin` was asked for; its BEGIN waits for the store's first use
        #: why the BEGIN `begin` asked for failed: every use until `commit` fails with it,
        #: and so does `commit`, rather than write outside the transaction
        self._unbegun: Exception | None = None

    # -- schema ----------------------------------------------------------------------

    def _migrate(self) -> None:
        # `_MIGRATIONS` is looked up here, at each opening: tests lengthen and shorten it
        try:
            migrate(self._db, self._path, self._migrations(), self._fill_metric,
                    self._dialect)
        except BaseException:
            self._labels.clear()  # `_fill_metric` may have added labels, now rolled back
            raise

    def _migrations(self) -> tuple[str, ...]:
        return _MIGRATIONS

    @property
    def _db(self) -> Connection:
        """The connection, with the transaction `begin` asked for opened if it is not:
        whatever touches the store inside it joins it, a read too, so that SQLite's
        write lock (BEGIN IMMEDIATE) covers a read and the write it decides, as ever."""
        if self._unbegun is not None:
            raise self._unbegun
        if self._begun:
            self._begun = False
            try:
                self._conn.execute(self._dialect.begin)
            except Exception as exc:
                self._unbegun = exc
                raise
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        db = self._db
        if db.in_transaction:
            db.execute("SAVEPOINT write")
            try:
                yield db
            except BaseException:
                self._labels.clear()
                db.execute("ROLLBACK TO write")
                db.execute("RELEASE write")
                raise
            db.execute("RELEASE write")
            return
        db.execute(self._dialect.begin)
        try:
            yield db
        except BaseException:
            self._labels.clear()
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except BaseException:
            self._labels.clear()
            raise

    def delete_in_batches(self, table: str, chosen: str, params: tuple[object, ...],
                          batch: int = 10_000) -> int:
        """Delete the rows of `table` whose ids `chosen` (a SELECT ending in `LIMIT ?`)
        picks, one transaction a batch, so that the write lock is held for one batch only;
        how many were removed."""
        removed = 0
        while True:
            with self.transaction() as db:
                n: int = db.execute(f"DELETE FROM {table} WHERE id IN ({chosen})",
                                    (*params, batch)).rowcount
            removed += n
            if n < batch:
                return removed

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Writes that succeed or fail together (the outbox and the input journal write
        through it beside the alerts). Nested in an open transaction it is a savepoint:
        a failure undoes only itself."""
        with self._write() as db:
            yield db

    @property
    def connection(self) -> Connection:
        """For the tables kept beside the alerts in the same file and transactions
        (`dispatch._sqlite_outbox`, `lantian.recovery`, ingest's dead letters); writes
        should go through `transaction()`, and whatever is done on it joins the
        transaction `begin` opened."""
        return self._db

    @property
    def dialect(self) -> Dialect:
        """Which engine, for the few texts that differ (`dispatch._sql_engine`)."""
        return self._dialect

    @property
    def in_transaction(self) -> bool:
        return self._begun or self._unbegun is not None or self._conn.in_transaction

    def begin(self) -> None:
        """Open a transaction that the writes until `commit` join (as savepoints): the
        service wraps each burst of MQTT messages in one, so that one commit makes a
        burst's effects durable before the broker is told it may forget the messages.

        On PostgreSQL its BEGIN waits for the store's first use (`Dialect.deferred_begin`):
        most bursts of readings touch the store for nothing but their journal row, which
        `commit` then writes alone, one round trip where BEGIN, INSERT and COMMIT were
        three."""
        if self._conn.in_transaction:
            return
        if self._dialect.deferred_begin:
            self._begun = True
        else:
            self._conn.execute(self._dialect.begin)

    def commit(self, last: Statement | None = None) -> None:
        """Commit what `begin` opened, `last` (a statement and its parameters) its final
        write; with nothing else written, `last` alone, a statement that commits itself.
        If that fails, nothing of the transaction is kept."""
        db = self._conn
        if self._unbegun is not None:  # the burst never had its transaction: it fails
            unbegun, self._unbegun = self._unbegun, None
            raise unbegun
        if self._begun or not db.in_transaction:
            self._begun = False
            if last is not None:
                db.execute(*last)
            return
        try:
            if last is not None:
                db.execute(*last)
            db.execute("COMMIT")
        except BaseException:
            self._labels.clear()
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Many writes in one transaction, committed (or rolled back) at the end: for
        imports and benchmarks, where a commit a write would dominate. Each write inside
        still succeeds or fails as a whole. Not for the live service, which must not hold
        the write lock for long."""
        if self.in_transaction:
            raise RuntimeError("the store's bulk() does not nest")
        with self._write():
            yield

    # -- alerts ----------------------------------------------------------------------

    def create(self, alert: Alert, events: Sequence[Event]) -> None:
        _check_events(alert, events)
        with self._translate(alert), self._write() as db:
            db.execute(_INSERT, (alert.id, *alert_row(alert, self._label)))
            db.executemany("INSERT INTO alert_zones VALUES (?, ?, ?)", zone_rows(alert))
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", map(event_row, events))

    def append(self, alert: Alert, events: Sequence[Event]) -> None:
        _check_events(alert, events)
        with self._translate(alert), self._write() as db:
            if db.execute(_UPDATE, (*alert_row(alert, self._label), alert.id)).rowcount != 1:
                raise Conflict(f"no alert {alert.id} to append to")
            db.execute("DELETE FROM alert_zones WHERE alert_id = ?", (alert.id,))
            db.executemany("INSERT INTO alert_zones VALUES (?, ?, ?)", zone_rows(alert))
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", map(event_row, events))

    @contextmanager
    def _translate(self, alert: Alert) -> Iterator[None]:
        try:
            yield
        except INTEGRITY_ERRORS as e:
            text = str(e)  # SQLite names the columns, PostgreSQL the constraint
            if "alerts.rule" in text or "alerts_open_rule_subject" in text:
                raise Conflict(
                    f"an open alert for rule {alert.rule!r}, subject {alert.subject!r} already"
                    f" exists; alert {alert.id} would be a second one"
                ) from e
            if "alerts.id" in text or "alerts_id_key" in text:
                raise Conflict(f"alert {alert.id} already exists") from e
            if "seq" in text or "events_pkey" in text:
                raise Conflict(
                    f"events of alert {alert.id} must have seqs above those stored, increasing"
                ) from e
            raise Conflict(f"alert {alert.id}: {text}") from e

    def _label(self, text: str | None) -> int:
        """The id of a kind, queue, zone, grid, state, outcome or escalated in `labels`,
        added if new (-1 for None)."""
        if text is None:
            return -1
        found = self._labels.get(text)
        if found is None:
            db = self._db
            rows = db.execute("SELECT id FROM labels WHERE text = ?", (text,)).fetchall()
            if not rows:  # another instance may be adding it too: the second waits
                rows = db.execute(
                    "INSERT INTO labels (text) VALUES (?) ON CONFLICT (text) DO NOTHING"
                    " RETURNING id", (text,)
                ).fetchall() or db.execute(
                    "SELECT id FROM labels WHERE text = ?", (text,)).fetchall()
            found = self._labels[text] = int(rows[0][0])
        return found

    def _fill_metric(self) -> None:
        """`metric` for the rows written before it existed (migration to version 2)."""
        db = self._db
        rows = db.execute(f"SELECT rowid, {METRIC_COLS}, muted FROM alerts").fetchall()
        db.executemany("UPDATE alerts SET metric = ? WHERE rowid = ?", [
            (pack_metric(self._label, kind, queue, zone, grid, state, raised_at, acked,
                         closed, ack_by, close_by, outcome, escalated, bool(muted)), rowid)
            for (rowid, _id, kind, queue, zone, grid, state, raised_at, acked, closed, ack_by,
                 close_by, outcome, escalated, muted) in rows
        ])

    def _alerts(self, where: str, params: Sequence[Any] = ()) -> list[Alert]:
        rows = self._db.execute(f"SELECT {_ALERT_COLS} FROM alerts AS a {where}", params)
        tz = self._tz
        return [alert_of(r, tz) for r in rows]

    def get(self, alert_id: str) -> Alert | None:
        found = self._alerts("WHERE id = ?", (alert_id,))
        return found[0] if found else None

    def claim(self, alert_id: str) -> Alert | None:
        """Inside a transaction: the alert as committed now, held until the transaction
        ends; None if it does not exist or another instance holds it (PostgreSQL: FOR
        UPDATE SKIP LOCKED). On SQLite the transaction's write lock (BEGIN IMMEDIATE)
        already keeps every other writer out, so reading it again is enough."""
        lock = " FOR UPDATE SKIP LOCKED" if self._dialect.postgres else ""
        found = self._alerts(f"WHERE id = ?{lock}", (alert_id,))
        return found[0] if found else None

    def open_for(self, rule: str, subject: str) -> Alert | None:
        found = self._alerts(f"WHERE rule = ? AND subject = ? AND a.{OPEN}", (rule, subject))
        return found[0] if found else None

    def open_alerts(self) -> list[Alert]:
        return self._alerts(f"WHERE a.{OPEN} ORDER BY a.raised_at")

    def open_counts(self) -> list[tuple[str, str, bool, int]]:
        rows = self._db.execute(
            f"SELECT queue, state, muted, count(*) FROM alerts a WHERE a.{OPEN}"
            " GROUP BY queue, state, muted ORDER BY queue, state, muted"
        )
        return [(q, s, bool(m), n) for q, s, m, n in rows]

    def events(self, alert_id: str) -> list[Event]:
        rows = self._db.execute(
            "SELECT alert_id, seq, kind, at, actor, data FROM events WHERE alert_id = ?"
            " ORDER BY seq",
            (alert_id,),
        )
        return [event_of(r, self._tz) for r in rows]

    def query(
        self, *, queues: Collection[str] | None = None, state: State | None = None,
        since: datetime | None = None, until: datetime | None = None, zone: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        # with a zone, its index on (zone, raised_at) gives the newest first
        t = "z" if zone is not None else "a"
        join = ""
        terms: list[str] = []
        params: list[Any] = []
        if zone is not None:
            join = "JOIN alert_zones AS z ON z.alert_id = a.id"
            terms.append("z.zone = ?")
            params.append(zone)
        if queues is not None and not queues:
            terms.append("false")  # `IN ()`: SQLite's, not PostgreSQL's
        elif queues is not None:
            marks = ", ".join("?" * len(queues))
            # assists are rare: json_each only runs on rows that have some
            terms.append(f"(a.queue IN ({marks}) OR (a.assists != '[]' AND"
                         f" {self._dialect.in_json_list('a.assists', marks)}))")
            params += [*queues, *queues]
        if state is not None:
            terms.append("a.state = ?")
            params.append(State(state).value)
        if since is not None:
            terms.append(f"{t}.raised_at >= ?")
            params.append(ts(since))
        if until is not None:
            terms.append(f"{t}.raised_at < ?")
            params.append(ts(until))
        where = f"WHERE {' AND '.join(terms)}" if terms else ""
        params.append(limit)
        return self._alerts(
            f"{join} {where} ORDER BY {t}.raised_at DESC, a.rowid DESC LIMIT ?", params
        )

    # -- silences and snapshots ------------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        s = silence
        try:
            with self._write() as db:
                db.execute(
                    f"INSERT INTO silences ({SILENCE_COLS}) VALUES ({_SILENCE_MARKS})",
                    silence_row(s),
                )
        except INTEGRITY_ERRORS as e:
            raise Conflict(f"silence {s.id} already exists") from e

    def end_silence(self, silence_id: str, at: datetime, actor: str) -> Silence | None:
        with self._write() as db:
            row = db.execute(
                "UPDATE silences SET ended_by = ?,"
                " ends_at = CASE WHEN ends_at < ? THEN ends_at ELSE ? END WHERE id = ?"
                f" RETURNING {SILENCE_COLS}",
                (actor, ts(at), ts(at), silence_id),
            ).fetchone()
        # a row that cannot be read back is ended all the same, and reported as not found
        return next(iter(silences_of([row] if row else [], self._tz)), None)

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        if active_at is None:
            rows = self._db.execute(f"SELECT {SILENCE_COLS} FROM silences ORDER BY starts_at, id")
        else:
            t = ts(active_at)
            rows = self._db.execute(
                f"SELECT {SILENCE_COLS} FROM silences WHERE starts_at <= ? AND ends_at > ?"
                " ORDER BY starts_at, id",
                (t, t),
            )
        return silences_of(rows, self._tz)  # skips (and counts) rows it cannot read

    def save_snapshot(self, name: str, data: bytes, at: datetime, position: int = 0) -> None:
        """Keep `data` under `name`; `position` is the last journal entry it covers."""
        with self._write() as db:
            db.execute(
                "INSERT INTO snapshots (name, data, at, position) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET data = excluded.data, at = excluded.at,"
                " position = excluded.position",
                (name, data, ts(at), position),
            )

    def load_snapshot(self, name: str) -> bytes | None:
        found = self.load_snapshot_at(name)
        return None if found is None else found[0]

    def load_snapshot_at(self, name: str) -> tuple[bytes, int, datetime] | None:
        """The snapshot, the journal position it covers and when it was taken."""
        row = self._db.execute(
            "SELECT data, position, at FROM snapshots WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        return bytes(row[0]), int(row[1]), datetime.fromtimestamp(row[2], self._tz)

    # -- health ----------------------------------------------------------------------

    def writable(self) -> bool:
        """Takes the write lock and prepares a write that changes nothing: a read-only
        file or connection, a full or failed disk, or a closed store say False."""
        db = self._conn  # not `_db`: a transaction `begin` asked for stays unopened
        try:
            if self.in_transaction:  # inside bulk() or a burst: the lock is ours to take
                return True
            db.execute(self._dialect.begin)
            try:
                db.execute("DELETE FROM snapshots WHERE false")
            finally:
                db.execute("ROLLBACK")
        except STORE_ERRORS:
            return False
        return True

    def reader(self) -> SqlStore | None:
        """Another store on the same database over a connection of its own, for the long
        reads a worker thread makes (`dispatch._read_lane`); None where the database
        has no second connection."""
        return None

    def close(self) -> None:
        self._conn.close()


class SqliteStore(SqlStore):
    """The store on a SQLite file (or ":memory:", or a "file:" URI such as
    "file:lantian.db?mode=ro")."""

    def __init__(self, path: Path | str, *, tz: tzinfo = UTC) -> None:
        where = str(path)
        if where != ":memory:" and not where.startswith("file:"):
            Path(where).parent.mkdir(parents=True, exist_ok=True)
            # alerts name officers and places: the owner's only, whatever the umask (SQLite
            # gives the -wal and -shm files it creates the database file's mode).
            # Created only when missing: closing a descriptor of the file drops every POSIX
            # lock this process holds on it, those of its other connections too (the
            # reader's, `reader`), and another process's `lantian users` then took itself
            # for the last one and checkpointed the WAL away under them.
            if not os.path.exists(where):
                os.close(os.open(where, os.O_CREAT | os.O_RDONLY, 0o600))
            os.chmod(where, 0o600)
        db = sqlite3.connect(where, isolation_level=None, check_same_thread=False, uri=True)
        super().__init__(db, SQLITE, where, tz=tz)
        self.sqlite: sqlite3.Connection = db  # its own methods too (tests set its limits)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
            # a year of metric rows is ~200 MB of pages: map them rather than copy them in
            db.execute("PRAGMA mmap_size=1073741824")
            self._migrate()
        except BaseException:
            db.close()
            raise

    @property
    def path(self) -> str | None:
        """Where a second connection opens this database (`reader`, the WAL
        checkpointer); None for an in-memory one, where it would open one of its own."""
        if self._path == ":memory:" or self._path.startswith("file::memory:") \
                or "mode=memory" in self._path:
            return None
        return self._path

    def reader(self) -> SqlStore | None:
        return None if self.path is None else SqliteStore(self.path, tz=self._tz)


def _check_events(alert: Alert, events: Sequence[Event]) -> None:
    for e in events:
        if e.alert_id != alert.id:
            raise ValueError(f"event {e.seq} of alert {e.alert_id} given with alert {alert.id}")
