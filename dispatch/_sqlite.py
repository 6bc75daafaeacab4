"""The embedded alert store: one SQLite file (WAL), shared with ingest's dead letters.

Schema (version 2; `PRAGMA user_version` is the number of `_MIGRATIONS` applied):

    alerts       the projection, one row an alert: id (UNIQUE), rule, subject, kind, queue,
                 assists (JSON list), state, severity, zone, grid, raised_at,
                 dispatched_at, acknowledged_at, closed_at, cleared_at, ack_by, close_by
                 (epoch seconds, REAL), outcome, note, officer, drone, muted (0/1),
                 escalated ("ack,close"), seq (of the last event), description (JSON),
                 metric (version 2: the row's metric fields packed, see below)
    alert_zones  (alert_id, zone, raised_at): the alert's zone and every zone it lies in
                 (description["zones"]), for `query(zone=...)`; rewritten with the row
    events       (alert_id, seq) PRIMARY KEY, kind, at, actor, data (JSON): the log.
                 Triggers make it append-only and its seq strictly increasing per alert
    silences     id, starts_at, ends_at, author, reason, stations/zones/rules (JSON
                 lists), created_at, ended_by
    snapshots    name PRIMARY KEY, data BLOB, at: rule-engine state across restarts
    labels       (version 2) id INTEGER PRIMARY KEY, text UNIQUE: the kinds, queues,
                 zones, grids, states, outcomes and escalations `metric` refers to by id

The partial unique index `alerts_open_rule_subject` on (rule, subject) WHERE state !=
'closed' is what keeps one open alert per condition, whoever writes.

The bureau's figures read up to a year of alerts at once, and Python's sqlite3 makes an
object of every value of every row (1.9 s for a million rows of 14 columns). So each row
also keeps, in `metric` (version 2), the little-endian packing of all its `MetricRow`
fields but the id (`_PACKED`: the times as doubles, NaN for NULL; kind, queue, zone,
grid, state, outcome and escalated as ids of `labels`, -1 for NULL; muted and the other
bits of `dispatch._metrics.status_flags`), written with the row by `create` and
`append`. `metric_columns`, `metric_rows`, `open_rows` and `closed_rows` read it in one
statement: `group_concat(metric, '')` hands the rows over as one blob (the bytes of a
blob go through it unchanged) that numpy reads in place, and `group_concat(id, char(0))`
their ids in the same order. `metric_columns` is then columns as they are; the others
build `MetricRow`s column by column, in C (`_rows_of`). Each reads a covering index:
`alerts_raised_at_metric` (raised_at, id, metric), `alerts_closed_metric` (closed_at,
raised_at, state, id, metric) WHERE closed_at IS NOT NULL, and `alerts_open_metric`
(raised_at, state, id, metric) WHERE state != 'closed' (state too: SQLite reads from an
index only the columns it holds, whatever the WHERE of a partial one). Should a row lack
`metric` (none can, once migrated) or an id hold a NUL, the rows are read value by value
instead (`_metric`), as before version 2. Labels are interned in `labels` and cached
here; a rolled-back write may have added one, so a rollback empties the cache.

Writes take the write lock up front (BEGIN IMMEDIATE): the dead-letter connection may
write to the same file in between a read and a write. Inside `bulk()` each write is a
savepoint of the one outer transaction, so a refused write undoes only itself.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from functools import partial
from itertools import repeat
from operator import add
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from dispatch._alert import Alert
from dispatch._gcpause import gc_paused
from dispatch._lifecycle import Event, Incident, Outcome, Stage, State
from dispatch._metrics import MUTED, MetricColumns, metric_columns, status_flags
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
    # the rows already stored get their `metric` from `_fill_metric` right after this
    """
ALTER TABLE alerts ADD COLUMN metric BLOB;
CREATE TABLE labels (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
DROP INDEX alerts_open_raised_at;
DROP INDEX alerts_closed_at;
CREATE INDEX alerts_raised_at_metric ON alerts (raised_at, id, metric);
CREATE INDEX alerts_closed_metric ON alerts (closed_at, raised_at, state, id, metric)
    WHERE closed_at IS NOT NULL;
CREATE INDEX alerts_open_metric ON alerts (raised_at, state, id, metric)
    WHERE state != 'closed';
""",
)

#: `metric` of a row, see the module docstring: `_pack` writes it, numpy reads it.
_PACKED: Final = np.dtype([
    ("raised_at", "<f8"), ("acknowledged_at", "<f8"), ("closed_at", "<f8"),
    ("ack_by", "<f8"), ("close_by", "<f8"), ("queue", "<i4"), ("zone", "<i4"),
    ("grid", "<i4"), ("flags", "<i4"), ("kind", "<i4"), ("state", "<i4"), ("outcome", "<i4"),
    ("escalated", "<i4"),
])
_pack: Final = struct.Struct("<5d8i").pack
assert struct.calcsize("<5d8i") == _PACKED.itemsize

_WRITE_COLS: Final = (
    "rule, subject, kind, queue, assists, state, severity, zone, grid, raised_at,"
    " dispatched_at, acknowledged_at, closed_at, cleared_at, ack_by, close_by, outcome,"
    " note, officer, drone, muted, escalated, seq, description"
)
_MARKS: Final = ", ".join("?" * (len(_WRITE_COLS.split(",")) + 1))
_INSERT: Final = f"INSERT INTO alerts (id, {_WRITE_COLS}, metric) VALUES (?, {_MARKS})"
_UPDATE: Final = f"UPDATE alerts SET ({_WRITE_COLS}, metric) = ({_MARKS}) WHERE id = ?"
_ALERT_COLS: Final = ", ".join(f"a.{c.strip()}" for c in f"id, {_WRITE_COLS}".split(","))
#: MetricRow's fields but `muted`, which SQLite can only give as an int (see `_metric`).
_METRIC_COLS: Final = (
    "id, kind, queue, zone, grid, state, raised_at, acknowledged_at, closed_at, ack_by,"
    " close_by, outcome, escalated"
)
#: tuple.__new__ in C: no Python frame a row, unlike MetricRow._make.
_metric_row: Final = partial(tuple.__new__, MetricRow)
#: The schema version that added `metric` (whose rows `_fill_metric` completes).
_METRIC_VERSION: Final = 2
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
        self._labels: dict[str, int] = {}  # labels.text -> id, see the module docstring
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
                if n + 1 == _METRIC_VERSION:
                    self._fill_metric()
            db.execute(f"PRAGMA user_version = {latest}")
        except BaseException:
            self._labels.clear()
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
                self._labels.clear()
                db.execute("ROLLBACK TO write")
                db.execute("RELEASE write")
                raise
            db.execute("RELEASE write")
            return
        db.execute("BEGIN IMMEDIATE")
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
        """The written columns (`_WRITE_COLS`, then metric); inside the write transaction."""
        i = alert.incident
        raised_at, acknowledged_at = _ts(i.raised_at), _ts_or_none(i.acknowledged_at)
        closed_at, close_by = _ts_or_none(i.closed_at), _ts(alert.close_by)
        outcome = None if i.outcome is None else i.outcome.value
        escalated = ",".join(sorted(s.value for s in i.escalated))
        ack_by = _ts(alert.ack_by)
        metric = self._metric_blob(
            alert.kind, i.queue, alert.zone, alert.grid, i.state.value, raised_at,
            acknowledged_at, closed_at, ack_by, close_by, outcome, escalated, i.muted,
        )
        return (
            alert.rule, alert.subject, alert.kind, i.queue, _json(list(i.assists)),
            i.state.value, i.severity, alert.zone, alert.grid, raised_at,
            _ts_or_none(i.dispatched_at), acknowledged_at, closed_at,
            _ts_or_none(i.cleared_at), ack_by, close_by, outcome, i.note,
            i.officer, i.drone, int(i.muted), escalated, i.seq, _json(alert.description),
            metric,
        )

    def _metric_blob(
        self, kind: str, queue: str, zone: str | None, grid: str | None, state: str,
        raised_at: float, acknowledged_at: float | None, closed_at: float | None,
        ack_by: float, close_by: float, outcome: str | None, escalated: str, muted: bool,
    ) -> bytes:
        """`metric`: a MetricRow's fields but the id (in its order), packed."""
        label = self._label
        return _pack(
            raised_at, _nan_if_none(acknowledged_at), _nan_if_none(closed_at), ack_by,
            close_by, label(queue), label(zone), label(grid),
            status_flags(state, outcome, escalated, muted), label(kind), label(state),
            label(outcome), label(escalated),
        )

    def _label(self, text: str | None) -> int:
        """The id of a kind, queue, zone, grid, state, outcome or escalated in `labels`,
        added if new (-1 for None)."""
        if text is None:
            return -1
        found = self._labels.get(text)
        if found is None:
            db = self._db
            rows = db.execute("SELECT id FROM labels WHERE text = ?", (text,)).fetchall()
            if not rows:
                rows = db.execute(
                    "INSERT INTO labels (text) VALUES (?) RETURNING id", (text,)
                ).fetchall()
            found = self._labels[text] = int(rows[0][0])
        return found

    def _fill_metric(self) -> None:
        """`metric` for the rows written before it existed (migration to version 2)."""
        db = self._db
        rows = db.execute(f"SELECT rowid, {_METRIC_COLS}, muted FROM alerts").fetchall()
        db.executemany("UPDATE alerts SET metric = ? WHERE rowid = ?", [
            (self._metric_blob(kind, queue, zone, grid, state, raised_at, acked, closed,
                               ack_by, close_by, outcome, escalated, bool(muted)), rowid)
            for (rowid, _id, kind, queue, zone, grid, state, raised_at, acked, closed, ack_by,
                 close_by, outcome, escalated, muted) in rows
        ])

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

    def metric_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        return self._rows(
            "alerts_raised_at_metric", "raised_at >= ? AND raised_at < ?",
            (_ts(since), _ts(until)), "raised_at",
        )

    def open_rows(self, raised_before: datetime) -> list[MetricRow]:
        t = _ts(raised_before)
        # two disjoint halves, each on its own index: still open; closed since t
        return self._rows(
            "alerts_open_metric", f"{_OPEN} AND raised_at < ?", (t,), "raised_at"
        ) + self._rows(
            "alerts_closed_metric", "state = 'closed' AND closed_at >= ? AND raised_at < ?",
            (t, t), "closed_at",
        )

    def closed_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        return self._rows(
            "alerts_closed_metric", "closed_at >= ? AND closed_at < ?",
            (_ts(since), _ts(until)), "closed_at",
        )

    def metric_columns(self, since: datetime, until: datetime) -> MetricColumns:
        """`metric_rows(since, until)` as `MetricColumns`, in no particular order."""
        lo, hi = _ts(since), _ts(until)
        packed = self._packed(lo, hi)
        if packed is None:  # rows without `metric`: cannot happen once migrated, but be right
            return metric_columns(self.metric_rows(since, until))
        arr = np.frombuffer(packed, _PACKED)
        return MetricColumns(
            # copies: contiguous and writable, like any array handed out
            raised_at=arr["raised_at"].copy(), acknowledged_at=arr["acknowledged_at"].copy(),
            closed_at=arr["closed_at"].copy(), close_by=arr["close_by"].copy(),
            queue=arr["queue"].copy(), zone=arr["zone"].copy(), grid=arr["grid"].copy(),
            flags=arr["flags"].copy(), labels=self._labels_by_id(),  # after: all committed
        )

    def _packed(self, lo: float, hi: float) -> bytes | None:
        """The `metric` of the rows raised in [lo, hi) end to end; None if one has none."""
        try:
            n, packed = self._db.execute(
                "SELECT count(*), CAST(group_concat(metric, '') AS BLOB)"
                " FROM alerts INDEXED BY alerts_raised_at_metric"
                " WHERE raised_at >= ? AND raised_at < ?",
                (lo, hi),
            ).fetchone()
        except sqlite3.DataError:  # over SQLITE_MAX_LENGTH (a billion bytes): halves
            mid = lo + (hi - lo) / 2
            if not lo < mid < hi:
                raise
            first, second = self._packed(lo, mid), self._packed(mid, hi)
            return None if first is None or second is None else first + second
        packed = b"" if packed is None else bytes(packed)
        return packed if len(packed) == n * _PACKED.itemsize else None

    def _labels_by_id(self) -> list[str]:
        """labels.text by id ("" for an id not in use)."""
        rows = self._db.execute("SELECT id, text FROM labels").fetchall()
        out = [""] * (1 + max((id_ for id_, _ in rows), default=0))
        for id_, text in rows:
            out[id_] = text
        return out

    def _rows(self, index: str, where: str, params: Sequence[float], order: str
              ) -> list[MetricRow]:
        """The rows matching `where`, ordered by `order` (the column `index` begins with,
        so at no cost: a report that sorts them by it finds them sorted). See the module
        docstring."""
        try:
            n, ids, packed = self._db.execute(_rows_sql(index, where, order), params).fetchone()
        except sqlite3.DataError:  # over SQLITE_MAX_LENGTH (a billion bytes)
            return self._metric(where, params, order)
        if n == 0:
            return []
        id_list = ids.split("\0")
        if len(id_list) != n or packed is None or len(packed) != n * _PACKED.itemsize:
            return self._metric(where, params, order)  # an id with a NUL, or no metric
        return _rows_of(id_list, np.frombuffer(packed, _PACKED), self._labels_by_id())

    def _metric(self, where: str, params: Sequence[float], order: str) -> list[MetricRow]:
        """`_rows` value by value, as version 1 read them (no `metric` needed): SQLite has
        no booleans, so the muted and the unmuted are read apart and get their `muted` by
        tuple concatenation."""
        out: list[MetricRow] = []
        with gc_paused():
            for muted in (False, True):
                cur = self._db.execute(
                    f"SELECT {_METRIC_COLS} FROM alerts WHERE {where} AND muted = {int(muted)}"
                    f" ORDER BY {order}",
                    params,
                )
                out += map(_metric_row, map(add, cur, repeat((muted,))))
        return out

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


def _rows_sql(index: str, where: str, order: str) -> str:
    return (
        "SELECT count(*), group_concat(id, char(0)), CAST(group_concat(metric, '') AS BLOB)"
        f" FROM (SELECT id, metric FROM alerts INDEXED BY {index} WHERE {where}"
        f" ORDER BY {order})"
    )


def _rows_of(ids: list[str], packed: npt.NDArray[Any], labels: list[str]) -> list[MetricRow]:
    """MetricRows of ids and their `metric`s, a column at a time and then a row at a time
    in C: numpy makes each column's Python objects (the labels' strings shared, not
    copied), zip and tuple.__new__ the rows."""
    text = np.array([*labels, None], dtype=object)  # -1, no label: None

    def texts(field: str) -> list[Any]:
        return text[packed[field]].tolist()  # type: ignore[no-any-return]

    def times(field: str, nullable: bool = False) -> list[Any]:
        values = packed[field]
        if not nullable:
            return values.tolist()  # type: ignore[no-any-return]
        objects = values.astype(object)
        objects[np.isnan(values)] = None
        return objects.tolist()  # type: ignore[no-any-return]

    with gc_paused():
        columns = (
            ids, texts("kind"), texts("queue"), texts("zone"), texts("grid"), texts("state"),
            times("raised_at"), times("acknowledged_at", True), times("closed_at", True),
            times("ack_by"), times("close_by"), texts("outcome"), texts("escalated"),
            ((packed["flags"] & MUTED) != 0).tolist(),
        )
        return list(map(_metric_row, zip(*columns, strict=True)))


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


def _nan_if_none(ts: float | None) -> float:
    return math.nan if ts is None else ts


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_plain).decode()


def _plain(value: Any) -> Any:
    # event data and descriptions may be read-only mappings (MappingProxyType)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")
