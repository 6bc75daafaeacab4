"""The embedded alert store: one SQLite file (WAL), shared with ingest's dead letters.

Schema (version 1; `PRAGMA user_version` is the number of `_MIGRATIONS` applied):

    alerts       the projection, one row an alert: id (UNIQUE), rule, subject, kind, queue,
                 assists (JSON list), state, severity, zone, grid, raised_at,
                 dispatched_at, acknowledged_at, closed_at, cleared_at, ack_by, close_by
                 (epoch seconds, REAL), outcome, note, officer, drone, muted (0/1),
                 escalated ("ack,close"), seq (of the last event), description (JSON)
    alert_zones  (alert_id, zone, raised_at): the alert's zone and every zone it lies in
                 (description["zones"]), for `query(zone=...)`; rewritten with the row
    events       (alert_id, seq) PRIMARY KEY, kind, at, actor, data (JSON): the log.
                 Triggers make it append-only and its seq strictly increasing per alert
    silences     id, starts_at, ends_at, author, reason, stations/zones/rules (JSON
                 lists), created_at, ended_by
    snapshots    name PRIMARY KEY, data BLOB, at: rule-engine state across restarts

The partial unique index `alerts_open_rule_subject` on (rule, subject) WHERE state !=
'closed' is what keeps one open alert per condition, whoever writes. `metric_rows`,
`open_rows` and `closed_rows` each have an index on the time they select by, holding
`muted` (and `raised_at`) too so that rows are filtered before the table is read.

Writes take the write lock up front (BEGIN IMMEDIATE): the dead-letter connection may
write to the same file in between a read and a write. Inside `bulk()` each write is a
savepoint of the one outer transaction, so a refused write undoes only itself.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from functools import partial
from itertools import repeat
from operator import add
from pathlib import Path
from typing import Any, Final

import orjson

from dispatch._alert import Alert
from dispatch._lifecycle import Event, Incident, Outcome, Stage, State
from dispatch._store import Conflict, MetricRow, Silence

_MIGRATIONS: Final[tuple[str, ...]] = (
    """
CREATE TABLE alerts (
    id TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, subject TEXT NOT NULL, kind TEXT NOT NULL,
    queue TEXT NOT NULL, assists TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL,
    severity TEXT NOT NULL, zone TEXT, grid TEXT, raised_at REAL NOT NULL,
    dispatched_at REAL, acknowledged_at REAL, closed_at REAL, cleared_at REAL,
    ack_by REAL NOT NULL, close_by REAL NOT NULL, outcome TEXT, note TEXT NOT NULL,
    officer TEXT, drone TEXT, muted INTEGER NOT NULL, escalated TEXT NOT NULL,
    seq INTEGER NOT NULL, description TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_open_rule_subject ON alerts (rule, subject)
    WHERE state != 'closed';
CREATE INDEX alerts_raised_at ON alerts (raised_at, muted);
CREATE INDEX alerts_open_raised_at ON alerts (raised_at, muted) WHERE state != 'closed';
CREATE INDEX alerts_closed_at ON alerts (closed_at, raised_at, muted)
    WHERE closed_at IS NOT NULL;
CREATE TABLE alert_zones (
    alert_id TEXT NOT NULL REFERENCES alerts (id), zone TEXT NOT NULL,
    raised_at REAL NOT NULL, PRIMARY KEY (alert_id, zone)
) WITHOUT ROWID;
CREATE INDEX alert_zones_zone ON alert_zones (zone, raised_at);
CREATE TABLE events (
    alert_id TEXT NOT NULL REFERENCES alerts (id), seq INTEGER NOT NULL,
    kind TEXT NOT NULL, at REAL NOT NULL, actor TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (alert_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER events_seq_increases BEFORE INSERT ON events
WHEN NEW.seq <= (SELECT max(seq) FROM events WHERE alert_id = NEW.alert_id)
BEGIN SELECT RAISE(ABORT, 'event seq must increase'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE silences (
    id TEXT PRIMARY KEY, starts_at REAL NOT NULL, ends_at REAL NOT NULL,
    author TEXT NOT NULL, reason TEXT NOT NULL, stations TEXT NOT NULL,
    zones TEXT NOT NULL, rules TEXT NOT NULL, created_at REAL, ended_by TEXT
);
CREATE INDEX silences_ends_at ON silences (ends_at);
CREATE TABLE snapshots (name TEXT PRIMARY KEY, data BLOB NOT NULL, at REAL NOT NULL);
""",
)

_WRITE_COLS: Final = (
    "rule, subject, kind, queue, assists, state, severity, zone, grid, raised_at,"
    " dispatched_at, acknowledged_at, closed_at, cleared_at, ack_by, close_by, outcome,"
    " note, officer, drone, muted, escalated, seq, description"
)
_MARKS: Final = ", ".join("?" * len(_WRITE_COLS.split(",")))
_INSERT: Final = f"INSERT INTO alerts (id, {_WRITE_COLS}) VALUES (?, {_MARKS})"
_UPDATE: Final = f"UPDATE alerts SET ({_WRITE_COLS}) = ({_MARKS}) WHERE id = ?"
_ALERT_COLS: Final = ", ".join(f"a.{c.strip()}" for c in f"id, {_WRITE_COLS}".split(","))
#: MetricRow's fields but `muted`, which SQLite can only give as an int (see `_metric`).
_METRIC_COLS: Final = (
    "id, kind, queue, zone, grid, state, raised_at, acknowledged_at, closed_at, ack_by,"
    " close_by, outcome, escalated"
)
#: tuple.__new__ in C: no Python frame a row, unlike MetricRow._make.
_metric_row: Final = partial(tuple.__new__, MetricRow)
_SILENCE_COLS: Final = (
    "id, starts_at, ends_at, author, reason, stations, zones, rules, created_at, ended_by"
)
_OPEN: Final = "state != 'closed'"  # spelled as in the partial indexes, so they are used


class SqliteStore:
    """`AlertStore` on a SQLite file (or ":memory:", or a "file:" URI such as
    "file:lantian.db?mode=ro"). Times are returned as aware datetimes in `tz`."""

    def __init__(self, path: Path | str, *, tz: tzinfo = UTC) -> None:
        self._path = str(path)
        self._tz = tz
        if self._path != ":memory:" and not self._path.startswith("file:"):
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, uri=True
        )
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            # a year of metric rows is ~200 MB of pages: map them rather than copy them in
            self._db.execute("PRAGMA mmap_size=1073741824")
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # -- schema ----------------------------------------------------------------------

    def _migrate(self) -> None:
        db, latest = self._db, len(_MIGRATIONS)
        if self._version() == latest:
            return
        db.execute("BEGIN IMMEDIATE")  # re-read under the lock: another process may race
        try:
            version = self._version()
            if version > latest:
                raise RuntimeError(
                    f"{self._path}: the database has schema version {version}, newer than"
                    f" the {latest} this version of Lantian knows; upgrade Lantian"
                )
            for n in range(version, latest):
                for statement in _statements(_MIGRATIONS[n]):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {latest}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        if db.in_transaction:
            db.execute("SAVEPOINT write")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK TO write")
                db.execute("RELEASE write")
                raise
            db.execute("RELEASE write")
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Many writes in one transaction, committed (or rolled back) at the end: for
        imports and benchmarks, where a commit a write would dominate. Each write inside
        still succeeds or fails as a whole. Not for the live service, which must not hold
        the write lock for long."""
        if self._db.in_transaction:
            raise RuntimeError("SqliteStore.bulk() does not nest")
        with self._write():
            yield

    # -- alerts ----------------------------------------------------------------------

    def create(self, alert: Alert, events: Sequence[Event]) -> None:
        _check_events(alert, events)
        with self._translate(alert), self._write() as db:
            db.execute(_INSERT, (alert.id, *self._row(alert)))
            db.executemany("INSERT INTO alert_zones VALUES (?, ?, ?)", _zones(alert))
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", map(_event_row, events))

    def append(self, alert: Alert, events: Sequence[Event]) -> None:
        _check_events(alert, events)
        with self._translate(alert), self._write() as db:
            if db.execute(_UPDATE, (*self._row(alert), alert.id)).rowcount != 1:
                raise Conflict(f"no alert {alert.id} to append to")
            db.execute("DELETE FROM alert_zones WHERE alert_id = ?", (alert.id,))
            db.executemany("INSERT INTO alert_zones VALUES (?, ?, ?)", _zones(alert))
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", map(_event_row, events))

    @contextmanager
    def _translate(self, alert: Alert) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as e:
            text = str(e)
            if "alerts.rule" in text:
                raise Conflict(
                    f"an open alert for rule {alert.rule!r}, subject {alert.subject!r} already"
                    f" exists; alert {alert.id} would be a second one"
                ) from e
            if "alerts.id" in text:
                raise Conflict(f"alert {alert.id} already exists") from e
            if "seq" in text:
                raise Conflict(
                    f"events of alert {alert.id} must have seqs above those stored, increasing"
                ) from e
            raise Conflict(f"alert {alert.id}: {text}") from e

    def _row(self, alert: Alert) -> tuple[Any, ...]:
        i = alert.incident
        return (
            alert.rule, alert.subject, alert.kind, i.queue, _json(list(i.assists)),
            i.state.value, i.severity, alert.zone, alert.grid, _ts(i.raised_at),
            _ts_or_none(i.dispatched_at), _ts_or_none(i.acknowledged_at),
            _ts_or_none(i.closed_at), _ts_or_none(i.cleared_at), _ts(alert.ack_by),
            _ts(alert.close_by), None if i.outcome is None else i.outcome.value, i.note,
            i.officer, i.drone, int(i.muted), ",".join(sorted(s.value for s in i.escalated)),
            i.seq, _json(alert.description),
        )

    def _alerts(self, where: str, params: Sequence[Any] = ()) -> list[Alert]:
        rows = self._db.execute(f"SELECT {_ALERT_COLS} FROM alerts AS a {where}", params)
        return [self._alert(r) for r in rows]

    def _alert(self, r: tuple[Any, ...]) -> Alert:
        (id_, rule, subject, kind, queue, assists, state, severity, zone, grid, raised_at,
         dispatched_at, acknowledged_at, closed_at, cleared_at, ack_by, close_by, outcome,
         note, officer, drone, muted, escalated, seq, description) = r
        dt, opt = self._dt, self._dt_or_none
        incident = Incident(
            id=id_, queue=queue, raised_at=dt(raised_at), state=State(state),
            assists=tuple(orjson.loads(assists)), muted=bool(muted),
            dispatched_at=opt(dispatched_at), acknowledged_at=opt(acknowledged_at),
            closed_at=opt(closed_at), drone=drone,
            outcome=None if outcome is None else Outcome(outcome), note=note, officer=officer,
            escalated=frozenset(Stage(s) for s in escalated.split(",") if s),
            severity=severity, cleared_at=opt(cleared_at), seq=seq,
        )
        return Alert(
            incident=incident, rule=rule, subject=subject, kind=kind, zone=zone, grid=grid,
            ack_by=dt(ack_by), close_by=dt(close_by), description=orjson.loads(description),
        )

    def get(self, alert_id: str) -> Alert | None:
        found = self._alerts("WHERE id = ?", (alert_id,))
        return found[0] if found else None

    def open_for(self, rule: str, subject: str) -> Alert | None:
        found = self._alerts(f"WHERE rule = ? AND subject = ? AND a.{_OPEN}", (rule, subject))
        return found[0] if found else None

    def open_alerts(self) -> list[Alert]:
        return self._alerts(f"WHERE a.{_OPEN} ORDER BY a.raised_at")

    def events(self, alert_id: str) -> list[Event]:
        rows = self._db.execute(
            "SELECT alert_id, seq, kind, at, actor, data FROM events WHERE alert_id = ?"
            " ORDER BY seq",
            (alert_id,),
        )
        return [Event(a, s, k, self._dt(at), actor, orjson.loads(d))
                for a, s, k, at, actor, d in rows]

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
        if queues is not None:
            marks = ", ".join("?" * len(queues))
            # assists are rare: json_each only runs on rows that have some
            terms.append(f"(a.queue IN ({marks}) OR (a.assists != '[]' AND EXISTS"
                         f" (SELECT 1 FROM json_each(a.assists) WHERE value IN ({marks}))))")
            params += [*queues, *queues]
        if state is not None:
            terms.append("a.state = ?")
            params.append(State(state).value)
        if since is not None:
            terms.append(f"{t}.raised_at >= ?")
            params.append(_ts(since))
        if until is not None:
            terms.append(f"{t}.raised_at < ?")
            params.append(_ts(until))
        where = f"WHERE {' AND '.join(terms)}" if terms else ""
        params.append(limit)
        return self._alerts(
            f"{join} {where} ORDER BY {t}.raised_at DESC, a.rowid DESC LIMIT ?", params
        )

    # -- metrics ---------------------------------------------------------------------

    def _metric(self, where: str, params: Sequence[float]) -> list[MetricRow]:
        """Rows (in no particular order) built without Python code a row: SQLite has no
        booleans, so the muted and the unmuted are read apart and get their `muted` by
        tuple concatenation."""
        out: list[MetricRow] = []
        with _gc_paused():
            for muted in (False, True):
                cur = self._db.execute(
                    f"SELECT {_METRIC_COLS} FROM alerts WHERE {where} AND muted = {int(muted)}",
                    params,
                )
                out += map(_metric_row, map(add, cur, repeat((muted,))))
        return out

    def metric_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        return self._metric("raised_at >= ? AND raised_at < ?", (_ts(since), _ts(until)))

    def open_rows(self, raised_before: datetime) -> list[MetricRow]:
        t = _ts(raised_before)
        # two disjoint halves, each on its own index: still open; closed since t
        return self._metric(f"{_OPEN} AND raised_at < ?", (t,)) + self._metric(
            "state = 'closed' AND closed_at >= ? AND raised_at < ?", (t, t)
        )

    def closed_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        return self._metric("closed_at >= ? AND closed_at < ?", (_ts(since), _ts(until)))

    # -- silences and snapshots ------------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        s = silence
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO silences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (s.id, _ts(s.starts_at), _ts(s.ends_at), s.author, s.reason,
                     _json(sorted(s.stations)), _json(sorted(s.zones)), _json(sorted(s.rules)),
                     _ts_or_none(s.created_at), s.ended_by),
                )
        except sqlite3.IntegrityError as e:
            raise Conflict(f"silence {s.id} already exists") from e

    def end_silence(self, silence_id: str, at: datetime, actor: str) -> Silence | None:
        with self._write() as db:
            row = db.execute(
                "UPDATE silences SET ended_by = ?, ends_at = min(ends_at, ?) WHERE id = ?"
                f" RETURNING {_SILENCE_COLS}",
                (actor, _ts(at), silence_id),
            ).fetchone()
        return None if row is None else self._silence(row)

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        if active_at is None:
            rows = self._db.execute(f"SELECT {_SILENCE_COLS} FROM silences ORDER BY starts_at, id")
        else:
            t = _ts(active_at)
            rows = self._db.execute(
                f"SELECT {_SILENCE_COLS} FROM silences WHERE starts_at <= ? AND ends_at > ?"
                " ORDER BY starts_at, id",
                (t, t),
            )
        return [self._silence(r) for r in rows]

    def _silence(self, r: tuple[Any, ...]) -> Silence:
        id_, starts_at, ends_at, author, reason, stations, zones, rules, created_at, by = r
        return Silence(
            id=id_, starts_at=self._dt(starts_at), ends_at=self._dt(ends_at), author=author,
            reason=reason, stations=frozenset(orjson.loads(stations)),
            zones=frozenset(orjson.loads(zones)), rules=frozenset(orjson.loads(rules)),
            created_at=self._dt_or_none(created_at), ended_by=by,
        )

    def save_snapshot(self, name: str, data: bytes, at: datetime) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET data = excluded.data, at = excluded.at",
                (name, data, _ts(at)),
            )

    def load_snapshot(self, name: str) -> bytes | None:
        row = self._db.execute("SELECT data FROM snapshots WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    # -- health ----------------------------------------------------------------------

    def writable(self) -> bool:
        """Takes the write lock and prepares a write that changes nothing: a read-only
        file or connection, a full or failed disk, or a closed store say False."""
        try:
            if self._db.in_transaction:  # inside bulk(): we hold the lock already
                return True
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM snapshots WHERE 0")
            finally:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        self._db.close()

    def _dt(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self._tz)

    def _dt_or_none(self, ts: float | None) -> datetime | None:
        return None if ts is None else datetime.fromtimestamp(ts, self._tz)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A million new tuples set off collections that each walk all those made so far
    (a year's rows took 60% longer); tuples of strings and numbers make no cycles."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration, each ending a line (triggers hold inner `;`)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {pending!r}")


def _check_events(alert: Alert, events: Sequence[Event]) -> None:
    for e in events:
        if e.alert_id != alert.id:
            raise ValueError(f"event {e.seq} of alert {e.alert_id} given with alert {alert.id}")


def _event_row(e: Event) -> tuple[Any, ...]:
    return (e.alert_id, e.seq, e.kind, _ts(e.at), e.actor, _json(e.data))


def _zones(alert: Alert) -> list[tuple[str, str, float]]:
    zones = {z for z in alert.description.get("zones") or () if isinstance(z, str)}
    if alert.zone is not None:
        zones.add(alert.zone)
    raised_at = _ts(alert.incident.raised_at)
    return [(alert.id, z, raised_at) for z in zones]


def _ts(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at}: the store needs aware ones")
    return at.timestamp()


def _ts_or_none(at: datetime | None) -> float | None:
    return None if at is None else _ts(at)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_plain).decode()


def _plain(value: Any) -> Any:
    # event data and descriptions may be read-only mappings (MappingProxyType)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")
