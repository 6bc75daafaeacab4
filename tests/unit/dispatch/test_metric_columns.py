"""The metrics as columns: `metric_columns` + `response_times_of` give exactly what
`response_times` gives on the same rows, and the SQLite store's `metric_columns` (its
packed `metric` column, read in one statement) holds exactly what its `metric_rows` do."""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from dispatch import _sqlite, _sqlite_figures
from dispatch._alert import Alert
from dispatch._figures import (
    CLOSED,
    ESCALATED,
    FALSE_ALARM,
    MUTED,
    GroupBy,
    MetricColumns,
    MetricRow,
    metric_columns,
    response_times,
    response_times_of,
    status_flags,
)
from dispatch._lifecycle import Event, Incident, Outcome, Stage, State
from dispatch._sqlite import SqliteStore
from dispatch._store import Conflict
from dispatch.stores import SqlStore, open_store
from tests.unit.dispatch.test_figures import BOUNDARY, NOW, SH, SMALL, T0, row

Decoded = tuple[float, float | None, float | None, float, str, str | None, str | None, int]


def _order(d: Decoded) -> tuple[object, ...]:
    return (d[0], d[1] or -1.0, d[2] or -1.0, d[3], d[4], d[5] or "", d[6] or "", d[7])


def decode(c: MetricColumns) -> list[Decoded]:
    """One tuple an alert, labels resolved and NaN as None, sorted."""
    def t(x: float) -> float | None:
        return None if math.isnan(x) else x

    def name(code: int) -> str | None:
        return None if code < 0 else c.labels[code]

    return sorted([
        (float(r), t(float(a)), t(float(cl)), float(cb), c.labels[int(q)], name(int(z)),
         name(int(g)), int(f))
        for r, a, cl, cb, q, z, g, f in zip(c.raised_at, c.acknowledged_at, c.closed_at,
                                             c.close_by, c.queue, c.zone, c.grid, c.flags,
                                             strict=True)
    ], key=_order)


def expected(rows: list[MetricRow]) -> list[Decoded]:
    return sorted([
        (r.raised_at, r.acknowledged_at, r.closed_at, r.close_by, r.queue, r.zone, r.grid,
         status_flags(r.state, r.outcome, r.escalated, r.muted))
        for r in rows
    ], key=_order)


def random_rows(n: int, seed: int) -> list[MetricRow]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        raised = rnd.uniform(-40 * 86400, 40 * 86400)
        ack = raised + rnd.randrange(0, 900, 30) if rnd.random() < 0.8 else None
        closed = raised + rnd.randrange(60, 5400, 60) if ack and rnd.random() < 0.8 else None
        rows.append(row(
            f"a{i}", raised=raised, ack=ack, closed=closed,
            state="acknowledged" if closed and rnd.random() < 0.05 else None,
            queue=rnd.choice(["blue_sky", "law_enforcement", "water"]),
            zone=rnd.choice([None, "z1", "z2", "(none)"]), grid=rnd.choice([None, "g1", "g2"]),
            outcome=rnd.choice([None, "false_alarm"]) if closed else None,
            escalated=rnd.choice(["", "ack", "ack,close"]), muted=rnd.random() < 0.05,
        ))
    return rows


# -- columns of rows ----------------------------------------------------------------------


def test_status_flags() -> None:
    assert status_flags("closed", "false_alarm", "ack", True) == (
        CLOSED | FALSE_ALARM | ESCALATED | MUTED)
    assert status_flags("acknowledged", None, "", False) == 0
    assert status_flags("closed", "resolved", "close", False) == CLOSED | ESCALATED


def test_columns_of_rows_hold_every_figure() -> None:
    rows = [*SMALL, *BOUNDARY, row("x", zone=None, grid=None, state="closed", closed=60)]
    columns = metric_columns(rows)
    assert len(columns) == len(rows)
    assert decode(columns) == expected(rows)
    assert metric_columns(iter(rows)).labels == columns.labels
    empty = metric_columns([])
    assert len(empty) == 0 and empty.labels == [] and empty.flags.dtype == np.int32


@pytest.mark.parametrize("group_by", list(GroupBy))
@pytest.mark.parametrize("seed", [1, 2])
def test_columns_give_the_figures_of_rows(group_by: GroupBy, seed: int) -> None:
    rows = random_rows(2000, seed) + SMALL + BOUNDARY
    now = T0 + 20 * 86400
    assert response_times_of(metric_columns(rows), group_by=group_by, tz=SH, now=now) == (
        response_times(rows, group_by=group_by, tz=SH, now=now))


@pytest.mark.parametrize("group_by", list(GroupBy))
def test_columns_of_nothing(group_by: GroupBy) -> None:
    assert response_times_of(metric_columns([]), group_by=group_by, tz=SH, now=NOW) == (
        response_times([], group_by=group_by, tz=SH, now=NOW))


def test_a_zone_named_none_is_the_none_group() -> None:
    # as with rows: group names are what is printed, and None prints "(none)"
    rows = [row("a", zone=None), row("b", zone="(none)"), row("c", zone="z1")]
    results = response_times_of(metric_columns(rows), group_by=GroupBy.ZONE, tz=SH, now=NOW)
    assert [(r.group, r.count) for r in results] == [("(all)", 3), ("(none)", 2), ("z1", 1)]


# -- the SQLite store's columns -----------------------------------------------------------

MIN = timedelta(minutes=1)


def alert_of(r: MetricRow, subject: str) -> tuple[Alert, list[Event]]:
    """An alert and its events whose projection is the row."""
    def dt(t: float | None) -> datetime | None:
        return None if t is None else datetime.fromtimestamp(t, SH)

    raised_at = datetime.fromtimestamp(r.raised_at, SH)
    incident = Incident(
        id=r.id, queue=r.queue, raised_at=raised_at, state=State(r.state), muted=r.muted,
        acknowledged_at=dt(r.acknowledged_at), closed_at=dt(r.closed_at),
        outcome=None if r.outcome is None else Outcome(r.outcome),
        escalated=frozenset(Stage(s) for s in r.escalated.split(",") if s), seq=1,
    )
    alert = Alert(
        incident=incident, rule="rule", subject=subject, kind=r.kind, zone=r.zone,
        grid=r.grid, ack_by=datetime.fromtimestamp(r.ack_by, SH),
        close_by=datetime.fromtimestamp(r.close_by, SH), description={},
    )
    return alert, [Event(r.id, 1, "raised", raised_at, "rules")]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "lantian.db"


@pytest.fixture
def lite(path: Path) -> Iterator[SqliteStore]:
    """A store on a SQLite file, for what only SQLite has (limits, query plans)."""
    s = SqliteStore(path, tz=SH)
    yield s
    s.close()


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """A store on each engine in turn."""
    s = open_store(store_url, tz=SH)
    yield s
    s.close()


def fill(store: SqlStore, rows: list[MetricRow]) -> None:
    with store.bulk():
        for n, r in enumerate(rows):
            # closed ones may share a subject; open ones may not
            store.create(*alert_of(r, f"s{n}"))


def whole(store: SqlStore) -> tuple[datetime, datetime]:
    return datetime.fromtimestamp(T0 - 100 * 86400, SH), datetime.fromtimestamp(
        T0 + 100 * 86400, SH)


def test_store_columns_are_its_rows(store: SqlStore) -> None:
    rows = random_rows(1500, 3)
    fill(store, rows)
    since, until = whole(store)
    assert decode(store.metric_columns(since, until)) == expected(store.metric_rows(since, until))
    assert len(store.metric_rows(since, until)) == len(rows)
    # a range: raised in [since, until), as metric_rows
    since, until = datetime.fromtimestamp(T0, SH), datetime.fromtimestamp(T0 + 5 * 86400, SH)
    assert decode(store.metric_columns(since, until)) == expected(
        store.metric_rows(since, until))
    assert len(store.metric_columns(until, until)) == 0


@pytest.mark.parametrize("group_by", list(GroupBy))
def test_store_columns_give_the_figures_of_its_rows(
    store: SqlStore, group_by: GroupBy
) -> None:
    fill(store, random_rows(1500, 4))
    since, until = whole(store)
    now = T0 + 20 * 86400
    assert response_times_of(store.metric_columns(since, until), group_by=group_by, tz=SH,
                             now=now) == response_times(store.metric_rows(since, until),
                                                        group_by=group_by, tz=SH, now=now)


def test_columns_follow_appends(store: SqlStore) -> None:
    r = row("a", ack=60)
    alert, events = alert_of(r, "s")
    store.create(alert, events)
    at = datetime.fromtimestamp(T0 + 600, SH)
    incident = replace(alert.incident, state=State.CLOSED, closed_at=at,
                       outcome=Outcome.FALSE_ALARM, note="n", officer="o", seq=2,
                       queue="law_enforcement", escalated=frozenset({Stage.ACK}))
    store.append(replace(alert, incident=incident, zone="z9", grid=None),
                 [Event("a", 2, "closed", at, "o", {"outcome": "false_alarm", "note": "n"})])
    columns = store.metric_columns(*whole(store))
    assert decode(columns) == expected(store.metric_rows(*whole(store)))
    assert decode(columns)[0][4:] == ("law_enforcement", "z9", None,
                                      CLOSED | FALSE_ALARM | ESCALATED)


def test_a_rolled_back_label_is_not_reused(store: SqlStore) -> None:
    first, _ = alert_of(row("a"), "s")
    with store.bulk():
        store.create(first, [Event("a", 1, "raised", first.incident.raised_at, "rules")])
        # refused (same rule and subject, both open): its new zone's label goes with it
        second, ev = alert_of(row("b", zone="z-refused"), "s")
        with pytest.raises(Conflict):
            store.create(second, ev)
        # the id that label had is free again: another label takes it
        store.create(*alert_of(row("c", zone="z-other"), "s2"))
        store.create(*alert_of(row("d", zone="z-refused"), "s3"))
    results = response_times_of(store.metric_columns(*whole(store)), group_by=GroupBy.ZONE,
                                tz=SH, now=NOW)
    assert [(r.group, r.count) for r in results] == [
        ("(all)", 3), ("z-other", 1), ("z-refused", 1), ("z1", 1)]


def test_a_range_too_long_for_one_blob_is_read_in_parts(lite: SqliteStore) -> None:
    rows = random_rows(40, 5)
    fill(lite, rows)
    # 40 rows of 48 bytes: 1920 bytes, over this limit; each half-range's part is under it
    lite.sqlite.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1000)
    assert decode(lite.metric_columns(*whole(lite))) == expected(
        lite.metric_rows(*whole(lite)))


def test_rows_without_metric_are_read_from_their_columns(store: SqlStore) -> None:
    rows = random_rows(30, 6)
    fill(store, rows)
    store.connection.execute("UPDATE alerts SET metric = NULL WHERE id = 'a7'")
    assert len(store.metric_rows(*whole(store))) == 30
    assert decode(store.metric_columns(*whole(store))) == expected(
        store.metric_rows(*whole(store)))


def schema(path: Path) -> set[tuple[str, str]]:
    db = sqlite3.connect(path)
    # sqlite_sequence: made by the first AUTOINCREMENT table, and never dropped
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                      " AND name != 'sqlite_sequence'").fetchall()
    db.close()
    return {(name, " ".join(sql.replace("(", " ( ").replace(")", " ) ").replace(",", " , ")
                            .split())) for name, sql in rows}


def test_migrating_a_version_1_database_fills_metric(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = random_rows(300, 7)
    store = SqliteStore(path, tz=SH)
    fill(store, rows)
    store.close()
    db = sqlite3.connect(path)  # back to what version 1 wrote
    db.executescript(
        "DROP TABLE notifications;"  # the notifications' version
        " DROP TABLE sessions; DROP TABLE login_failures; DROP TABLE users;"  # the users'
        " DROP TABLE outbox; DROP TABLE inputs; ALTER TABLE snapshots DROP COLUMN position;"
        " DROP TABLE dead_letters; DROP TABLE data_gaps;"
        " DROP INDEX alerts_raised_at_metric; DROP INDEX alerts_open_metric;"
        " DROP INDEX alerts_closed_metric; ALTER TABLE alerts DROP COLUMN metric;"
        " DROP TABLE labels; ALTER TABLE silences DROP COLUMN queue;"  # version 3's
        " CREATE INDEX alerts_open_raised_at ON alerts (raised_at, muted)"
        " WHERE state != 'closed';"
        " CREATE INDEX alerts_closed_at ON alerts (closed_at, raised_at, muted)"
        " WHERE closed_at IS NOT NULL; PRAGMA user_version = 1;"
    )
    db.close()
    with monkeypatch.context() as m:
        m.setattr(_sqlite, "_MIGRATIONS", _sqlite._MIGRATIONS[:1])
        SqliteStore(tmp_path / "v1.db").close()
    assert schema(path) == schema(tmp_path / "v1.db")

    store = SqliteStore(path, tz=SH)
    assert decode(store.metric_columns(*whole(store))) == expected(
        store.metric_rows(*whole(store)))
    # and the store goes on from there
    store.create(*alert_of(row("late", raised=86400, zone="z-new"), "s-late"))
    assert decode(store.metric_columns(*whole(store))) == expected(
        store.metric_rows(*whole(store)))
    assert len(store.metric_columns(*whole(store))) == len(rows) + 1
    store.close()
    SqliteStore(tmp_path / "new.db").close()
    assert schema(path) == schema(tmp_path / "new.db")  # as if it had been made new


# -- the store's rows, from the same packing --------------------------------------------


def by_id(rows: list[MetricRow]) -> list[MetricRow]:
    return sorted(rows, key=lambda r: r.id)


def every_read(store: SqlStore) -> dict[str, tuple[list[MetricRow], list[MetricRow]]]:
    """Each row read, packed (as the store does) and value by value (as version 1 did)."""
    t = T0 + 20 * 86400
    since, until = datetime.fromtimestamp(T0 - 20 * 86400, SH), datetime.fromtimestamp(t, SH)
    value_by_value = {
        "metric_rows": store._metric("raised_at >= ? AND raised_at < ?",
                                     (since.timestamp(), until.timestamp()), "raised_at"),
        "closed_rows": store._metric("closed_at >= ? AND closed_at < ?",
                                     (since.timestamp(), until.timestamp()), "closed_at"),
        "open_rows": store._metric("state != 'closed' AND raised_at < ?", (t,), "raised_at")
        + store._metric("state = 'closed' AND closed_at >= ? AND raised_at < ?", (t, t),
                        "closed_at"),
    }
    packed = {"metric_rows": store.metric_rows(since, until),
              "closed_rows": store.closed_rows(since, until), "open_rows": store.open_rows(until)}
    return {name: (packed[name], value_by_value[name]) for name in packed}


def test_rows_read_packed_are_the_rows_value_by_value(store: SqlStore) -> None:
    rows = random_rows(1500, 8)
    fill(store, rows)
    for name, (packed, plain) in every_read(store).items():
        assert len(packed) > 100, name
        assert by_id(packed) == by_id(plain), name
        assert all(type(r) is MetricRow for r in packed)
        assert {type(r.muted) for r in packed} == {bool}
    # each is ordered by the time it selects by
    _, until = whole(store)
    closed = store.closed_rows(datetime.fromtimestamp(T0 - 50 * 86400, SH), until)
    assert [r.closed_at for r in closed] == sorted(r.closed_at for r in closed)  # type: ignore[type-var]
    raised = [r.raised_at for r in store.metric_rows(*whole(store))]
    assert raised == sorted(raised)


def test_rows_that_cannot_be_read_packed_are_read_value_by_value(
    lite: SqliteStore, path: Path
) -> None:
    rows = random_rows(200, 9)
    fill(lite, rows)
    closed = next(r for r in rows if r.state == "closed" and not r.muted)
    nul = row("nul\0id", raised=60, ack=90, closed=600)
    lite.create(*alert_of(nul, "s-nul"))
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE alerts SET metric = NULL WHERE id = ?", (closed.id,))
    db.close()
    for name, (packed, plain) in every_read(lite).items():
        assert by_id(packed) == by_id(plain), name
    assert nul.id in {r.id for r in lite.metric_rows(*whole(lite))}
    # a read too long for one blob
    limit = lite.sqlite.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1000)
    for name, (packed, plain) in every_read(lite).items():
        assert by_id(packed) == by_id(plain), name
    lite.sqlite.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    # no row with metric
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE alerts SET metric = NULL")
    db.close()
    for name, (packed, plain) in every_read(lite).items():
        assert by_id(packed) == by_id(plain), name
    assert decode(lite.metric_columns(*whole(lite))) == expected(
        lite.metric_rows(*whole(lite)))


@pytest.mark.parametrize(("index", "where", "order"), [
    ("alerts_raised_at_metric", "raised_at >= ? AND raised_at < ?", "raised_at"),
    ("alerts_open_metric", "state != 'closed' AND raised_at < ?", "raised_at"),
    ("alerts_closed_metric", "state = 'closed' AND closed_at >= ? AND raised_at < ?",
     "closed_at"),
    ("alerts_closed_metric", "closed_at >= ? AND closed_at < ?", "closed_at"),
])
def test_each_read_is_from_its_index_alone(
    lite: SqliteStore, index: str, where: str, order: str
) -> None:
    # the queries of metric_rows, open_rows (two halves) and closed_rows
    plan = lite.sqlite.execute(
        "EXPLAIN QUERY PLAN " + _sqlite_figures._rows_sql(index, where, order),
        (0.0,) * where.count("?")).fetchall()
    assert any(f"USING COVERING INDEX {index} " in step[3] for step in plan), plan
    assert not any("TEMP B-TREE" in step[3] for step in plan), plan  # ordered by the index
