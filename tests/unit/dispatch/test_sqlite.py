"""The alert store against a real SQLite file and a real PostgreSQL database: round
trips, the invariants the database enforces (one open alert per condition, an
append-only log), filters and time edges."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dispatch import _sqlite
from dispatch._alert import Alert
from dispatch._figures import MetricRow
from dispatch._lifecycle import Event, Incident, Outcome, Stage, State
from dispatch._silences import Silence
from dispatch._sql_engine import INTEGRITY_ERRORS
from dispatch._sqlite import SqliteStore
from dispatch._store import AlertStore, Conflict
from dispatch.stores import SqlStore, open_store
from ingest._deadletters import DeadLetter, SqliteDeadLetters

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def make_alert(
    alert_id: str, *, at: datetime = T0, rule: str = "pm25_high", subject: str = "ST-1",
    kind: str = "air_quality", zone: str | None = "Z-TOWN", zones: tuple[str, ...] = (),
    grid: str | None = "G-3", **incident: Any,
) -> Alert:
    return Alert(
        incident=Incident(id=alert_id, queue=incident.pop("queue", "blue_sky"), raised_at=at,
                          severity=incident.pop("severity", "major"), **incident),
        rule=rule, subject=subject, kind=kind, zone=zone, grid=grid, ack_by=at + 5 * MIN,
        close_by=at + 30 * MIN,
        description={"zone": {"id": zone}, "zones": list(zones), "metric": "pm25", "value": 180.5},
    )


def raised(a: Alert) -> Event:
    return Event(a.id, 1, "raised", a.incident.raised_at, "engine", {"severity": "major"})


def closed(a: Alert, at: datetime, seq: int = 2) -> tuple[Alert, Event]:
    incident = replace(a.incident, state=State.CLOSED, closed_at=at, acknowledged_at=at,
                       outcome=Outcome.RESOLVED, note="ok", officer="wang", seq=seq)
    event = Event(a.id, seq, "closed", at, "wang", {"outcome": "resolved", "note": "ok"})
    return replace(a, incident=incident), event


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "lantian.db"


@pytest.fixture
def url(store_url: str) -> str:
    return store_url


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    s = open_store(url, tz=SHANGHAI)
    yield s
    s.close()


def add(store: SqlStore, *alerts: Alert) -> None:
    for a in alerts:
        store.create(a, [raised(a)])


def ids(alerts: list[Alert] | list[MetricRow]) -> list[str]:
    return [a.id for a in alerts]


# -- round trips ----------------------------------------------------------------------


def test_every_field_round_trips_from_the_file_in_the_configured_timezone(url: str) -> None:
    at = datetime(2024, 6, 1, 8, 0, 0, 123457, tzinfo=UTC)
    a = make_alert(
        "A-1", at=at, zones=("Z-TOWN", "Z-SCHOOL"), queue="law_enforcement",
        state=State.CLOSED, assists=("blue_sky", "fire"), muted=True,
        dispatched_at=at + timedelta(seconds=1, microseconds=1), acknowledged_at=at + MIN,
        closed_at=at + 40 * MIN, drone="M30-2", outcome=Outcome.FALSE_ALARM,
        note="花粉, not dust", officer="li", escalated=frozenset({Stage.ACK, Stage.CLOSE}),
        severity="critical", cleared_at=at + 20 * MIN, seq=3,
    )
    events = [
        raised(a),
        Event("A-1", 2, "dispatched", at + timedelta(seconds=1, microseconds=1), "router"),
        Event("A-1", 3, "closed", at + 40 * MIN, "li",
              {"outcome": "false_alarm", "note": "花粉, not dust", "nested": {"k": [1, 2.5]}}),
    ]
    writer = open_store(url)
    writer.create(a, events)
    writer.close()

    reader = open_store(url, tz=SHANGHAI)
    got = reader.get("A-1")
    assert got == a
    assert got is not None and got.incident.closed_at is not None
    assert got.incident.raised_at.isoformat() == "2024-06-01T16:00:00.123457+08:00"
    assert {got.incident.raised_at.tzinfo, got.incident.closed_at.tzinfo,
            got.close_by.tzinfo} == {SHANGHAI}
    assert reader.events("A-1") == events
    assert [e.at.tzinfo for e in reader.events("A-1")] == [SHANGHAI] * 3
    reader.close()


def test_unset_fields_round_trip_as_none(store: SqlStore) -> None:
    a = make_alert("A-1", zone=None, grid=None)
    store.create(a, [raised(a)])
    got = store.get("A-1")
    assert got == a
    assert got is not None and got.incident.outcome is None and got.zone is None
    assert store.get("nope") is None and store.events("nope") == []


def test_the_store_satisfies_the_protocol(url: str) -> None:
    s: AlertStore = open_store(url)
    a = make_alert("A-1")
    s.create(a, [raised(a)])
    assert s.open_for("pm25_high", "ST-1") == a
    s.close()


# -- atomic writes ----------------------------------------------------------------------


def test_append_writes_the_row_and_the_log_together(store: SqlStore) -> None:
    a = make_alert("A-1")
    add(store, a)
    b, close = closed(a, T0 + 10 * MIN)
    store.append(b, [close])
    assert store.get("A-1") == b
    assert [e.seq for e in store.events("A-1")] == [1, 2]
    assert store.open_for("pm25_high", "ST-1") is None


@pytest.mark.parametrize("seqs", [[1], [0], [3, 3], [3, 2]])
def test_a_refused_append_changes_neither_row_nor_log(store: SqlStore, seqs: list[int]) -> None:
    a = make_alert("A-1")
    add(store, a)
    b, _ = closed(a, T0 + 10 * MIN, seq=seqs[-1])
    events = [Event("A-1", s, "evidence", T0 + MIN, "wang") for s in seqs]
    with pytest.raises(Conflict, match="A-1"):
        store.append(b, events)
    assert store.get("A-1") == a
    assert store.events("A-1") == [raised(a)]


def test_events_within_create_must_increase(store: SqlStore) -> None:
    a = make_alert("A-1")
    with pytest.raises(Conflict, match="seq"):
        store.create(a, [raised(a), raised(a)])
    assert store.get("A-1") is None and store.events("A-1") == []


def test_append_to_an_unknown_alert_is_refused(store: SqlStore) -> None:
    a = make_alert("A-1")
    with pytest.raises(Conflict, match="no alert A-1"):
        store.append(a, [raised(a)])
    assert store.events("A-1") == []


def test_events_of_another_alert_are_a_programming_error(store: SqlStore) -> None:
    a = make_alert("A-1")
    with pytest.raises(ValueError, match="A-2"):
        store.create(a, [replace(raised(a), alert_id="A-2")])
    assert store.get("A-1") is None


def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    a = make_alert("A-1", at=datetime(2024, 6, 1, 8))
    with pytest.raises(ValueError, match="naive"):
        store.create(a, [])
    assert store.get("A-1") is None


# -- one open alert per (rule, subject) -------------------------------------------------


def test_one_open_alert_per_rule_and_subject(store: SqlStore) -> None:
    first = make_alert("A-1")
    add(store, first)
    second = make_alert("A-2", at=T0 + MIN)
    with pytest.raises(Conflict, match="'pm25_high', subject 'ST-1'"):
        store.create(second, [raised(second)])
    assert store.get("A-2") is None and store.events("A-2") == []
    add(store, make_alert("A-3", subject="ST-2"), make_alert("A-4", rule="pm10_high"))

    done, close = closed(first, T0 + 2 * MIN)
    store.append(done, [close])
    add(store, second)
    assert store.open_for("pm25_high", "ST-1") == second

    # reopening the first would make two open ones
    reopened = replace(done, incident=replace(done.incident, state=State.ACKNOWLEDGED,
                                              closed_at=None, outcome=None, seq=3))
    with pytest.raises(Conflict, match="open alert"):
        store.append(reopened, [Event("A-1", 3, "reopened", T0 + 3 * MIN, "wang")])
    assert store.get("A-1") == done and len(store.events("A-1")) == 2


def test_an_alert_id_is_used_once(store: SqlStore) -> None:
    a = make_alert("A-1")
    add(store, a)
    with pytest.raises(Conflict, match="A-1 already exists"):
        store.create(make_alert("A-1", subject="ST-9"), [])
    assert store.open_for("pm25_high", "ST-9") is None


def test_the_event_log_is_append_only_in_the_database(store: SqlStore, url: str) -> None:
    a = make_alert("A-1")
    store.create(a, [raised(a), Event("A-1", 5, "evidence", T0, "wang")])
    db = open_store(url).connection  # another connection, past the store's methods
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        db.execute("UPDATE events SET actor = 'mallory'")
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        db.execute("DELETE FROM events WHERE seq = 1")
    with pytest.raises(INTEGRITY_ERRORS, match="seq must increase"):
        db.execute("INSERT INTO events VALUES ('A-1', 3, 'note', 0, 'x', '{}')")
    db.close()
    assert [e.seq for e in store.events("A-1")] == [1, 5]


# -- reads ------------------------------------------------------------------------------


def test_open_alerts_oldest_first(store: SqlStore) -> None:
    a, b, c = (make_alert(f"A-{i}", at=T0 + i * MIN, subject=f"S{i}") for i in (1, 2, 3))
    add(store, c, a, b)
    done, close = closed(b, T0 + 9 * MIN)
    store.append(done, [close])
    assert store.open_alerts() == [a, c]


@pytest.fixture
def listed(store: SqlStore) -> SqlStore:
    at = [T0 + i * MIN for i in range(5)]
    add(store,
        make_alert("A-0", at=at[0], subject="S0", queue="blue_sky", zone="Z-1"),
        make_alert("A-1", at=at[1], subject="S1", queue="law_enforcement", zone="Z-2",
                   zones=("Z-1", "Z-SCHOOL")),
        make_alert("A-2", at=at[2], subject="S2", queue="blue_sky", zone=None,
                   assists=("law_enforcement",), state=State.ACKNOWLEDGED),
        make_alert("A-3", at=at[3], subject="S3", queue="fire", zone="Z-2"),
        make_alert("A-4", at=at[4], subject="S4", queue="blue_sky", zone="Z-SCHOOL"))
    return store


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, ["A-4", "A-3", "A-2", "A-1", "A-0"]),
    ({"limit": 2}, ["A-4", "A-3"]),
    ({"queues": ["law_enforcement"]}, ["A-2", "A-1"]),
    ({"queues": ["fire", "law_enforcement"]}, ["A-3", "A-2", "A-1"]),
    ({"queues": []}, []),
    ({"state": State.ACKNOWLEDGED}, ["A-2"]),
    ({"state": State.CLOSED}, []),
    ({"since": T0 + MIN}, ["A-4", "A-3", "A-2", "A-1"]),
    ({"until": T0 + MIN}, ["A-0"]),
    ({"since": T0 + MIN, "until": T0 + 3 * MIN}, ["A-2", "A-1"]),
    ({"zone": "Z-1"}, ["A-1", "A-0"]),
    ({"zone": "Z-SCHOOL"}, ["A-4", "A-1"]),
    ({"zone": "Z-SCHOOL", "since": T0 + 2 * MIN}, ["A-4"]),
    ({"zone": "Z-2", "queues": ["fire"]}, ["A-3"]),
    ({"zone": "Z-1", "limit": 1}, ["A-1"]),
    ({"zone": "nowhere"}, []),
])
def test_query_filters(listed: SqlStore, filters: dict[str, Any], expected: list[str]) -> None:
    assert ids(listed.query(**filters)) == expected


def test_query_returns_whole_alerts(listed: SqlStore) -> None:
    assert listed.query(zone="Z-1", limit=1) == [listed.get("A-1")]


def test_zones_follow_the_description_when_it_changes(listed: SqlStore) -> None:
    a = listed.get("A-1")
    assert a is not None
    moved = replace(a, zone="Z-3", description={**a.description, "zones": ["Z-4"]},
                    incident=replace(a.incident, seq=2))
    listed.append(moved, [Event("A-1", 2, "updated", T0 + 9 * MIN, "engine")])
    assert ids(listed.query(zone="Z-1")) == ["A-0"]
    assert ids(listed.query(zone="Z-3")) == ids(listed.query(zone="Z-4")) == ["A-1"]


# -- metric rows ------------------------------------------------------------------------


def test_metric_rows_are_raised_in_since_until(store: SqlStore) -> None:
    since, until = T0, T0 + 60 * MIN
    before = make_alert("before", at=since - timedelta(microseconds=1), subject="a")
    first = make_alert("first", at=since, subject="b", muted=True,
                       escalated=frozenset({Stage.CLOSE, Stage.ACK}))
    last = make_alert("last", at=until - timedelta(microseconds=1), subject="c", zone=None)
    after = make_alert("after", at=until, subject="d")
    add(store, before, first, last, after)
    done, close = closed(first, T0 + 45 * MIN)
    store.append(done, [close])

    rows = sorted(store.metric_rows(since, until), key=lambda r: r.raised_at)
    assert ids(rows) == ["first", "last"]
    assert rows[0] == MetricRow(
        "first", "air_quality", "blue_sky", "Z-TOWN", "G-3", "closed", since.timestamp(),
        (T0 + 45 * MIN).timestamp(), (T0 + 45 * MIN).timestamp(), (T0 + 5 * MIN).timestamp(),
        (T0 + 30 * MIN).timestamp(), "resolved", "ack,close", True,
    )
    assert rows[1].muted is False and rows[0].muted is True
    assert rows[1][3:6] == (None, "G-3", "raised") and rows[1].outcome is None
    assert type(rows[0]) is MetricRow
    assert store.metric_rows(until, until) == []


def test_open_rows_are_those_still_open_at_the_time(store: SqlStore) -> None:
    t = T0 + 60 * MIN
    cases = [("open", T0, None), ("closed-at-t", T0, t), ("closed-after", T0, t + MIN),
             ("closed-before", T0, t - MIN), ("raised-at-t", t, None)]
    for n, (name, raised_at, closed_at) in enumerate(cases):
        a = make_alert(name, at=raised_at, subject=str(n))
        add(store, a)
        if closed_at is not None:
            done, close = closed(a, closed_at)
            store.append(done, [close])
    assert sorted(ids(store.open_rows(t))) == ["closed-after", "closed-at-t", "open"]


def test_closed_rows_are_closed_in_since_until(store: SqlStore) -> None:
    since, until = T0 + 60 * MIN, T0 + 120 * MIN
    for n, at in enumerate([since - timedelta(microseconds=1), since, until - MIN, until]):
        a = make_alert(f"C{n}", subject=str(n))
        add(store, a)
        done, close = closed(a, at)
        store.append(done, [close])
    add(store, make_alert("still-open", at=since, subject="x"))
    rows = store.closed_rows(since, until)
    assert sorted(ids(rows)) == ["C1", "C2"]
    assert {r.state for r in rows} == {"closed"}


# -- silences and snapshots -------------------------------------------------------------


def test_silences_are_active_from_start_until_end(store: SqlStore) -> None:
    s = Silence("S-1", T0, T0 + 60 * MIN, "zhang", "exercise", stations=frozenset({"ST-1"}),
                zones=frozenset({"Z-1", "Z-2"}), created_at=T0 - MIN)
    later = Silence("S-2", T0 + 30 * MIN, T0 + 90 * MIN, "zhang", "works", rules=frozenset({"r"}))
    store.add_silence(s)
    store.add_silence(later)
    assert store.silences() == [s, later]
    assert store.silences(T0 - timedelta(microseconds=1)) == []
    assert store.silences(T0) == [s]
    assert store.silences(T0 + 30 * MIN) == [s, later]
    assert store.silences(T0 + 60 * MIN) == [later]
    assert store.silences(T0 + 90 * MIN) == []
    assert store.silences()[0].starts_at.tzinfo is SHANGHAI
    with pytest.raises(Conflict, match="S-1"):
        store.add_silence(s)


def test_ending_a_silence(store: SqlStore) -> None:
    store.add_silence(Silence("S-1", T0, T0 + 60 * MIN, "zhang", "exercise"))
    ended = store.end_silence("S-1", T0 + 10 * MIN, "li")
    assert ended == Silence("S-1", T0, T0 + 10 * MIN, "zhang", "exercise", ended_by="li")
    assert store.silences() == [ended]
    assert store.silences(T0 + 10 * MIN) == []
    # ending it later does not extend it
    again = store.end_silence("S-1", T0 + 99 * MIN, "wang")
    assert again is not None and again.ends_at == T0 + 10 * MIN and again.ended_by == "wang"
    assert store.end_silence("nope", T0, "li") is None


def test_snapshots_are_upserted_by_name(store: SqlStore, url: str) -> None:
    assert store.load_snapshot("rules") is None
    store.save_snapshot("rules", b"\x00one", T0)
    store.save_snapshot("rules", b"\x00two", T0 + MIN)
    store.save_snapshot("other", b"", T0)
    assert store.load_snapshot("rules") == b"\x00two"
    assert store.load_snapshot("other") == b""
    reopened = open_store(url)
    assert reopened.load_snapshot("rules") == b"\x00two"
    reopened.close()


# -- bulk -------------------------------------------------------------------------------


def test_bulk_commits_at_the_end_and_a_refused_write_undoes_only_itself(
    store: SqlStore, url: str,
) -> None:
    a, b = make_alert("A-1"), make_alert("A-2", subject="S2")
    with store.bulk():
        add(store, a)
        with pytest.raises(Conflict):
            store.create(make_alert("A-9"), [])  # same rule and subject as A-1
        done, close = closed(a, T0 + MIN)
        with pytest.raises(Conflict):  # fails after the row and one event are written
            store.append(done, [close, close])
        add(store, b)
        other = open_store(url)
        assert other.connection.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
        other.close()
        assert store.writable()
    assert ids(store.open_alerts()) == ["A-1", "A-2"]
    assert store.get("A-1") == a and store.events("A-1") == [raised(a)]

    with pytest.raises(KeyError), store.bulk():
        add(store, make_alert("A-3", subject="S3"))
        raise KeyError("boom")
    assert store.get("A-3") is None


# -- schema -----------------------------------------------------------------------------


def version(path: Path) -> int:
    db = sqlite3.connect(path)
    (v,) = db.execute("PRAGMA user_version").fetchone()
    db.close()
    return int(v)


def test_a_new_database_gets_the_latest_schema_in_wal_mode(path: Path) -> None:
    SqliteStore(path).close()
    assert version(path) == len(_sqlite._MIGRATIONS) >= 1
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert {"alerts", "alert_zones", "events", "silences", "snapshots"} <= tables


def test_reopening_keeps_data_and_the_dead_letters_beside_it(url: str) -> None:
    s = open_store(url)
    SqliteDeadLetters(s.connection).add(DeadLetter("t", "bad", "why", b"x", T0))
    add(s, make_alert("A-1"))
    s.close()
    s = open_store(url)
    assert s.get("A-1") is not None
    assert [d.payload for d in SqliteDeadLetters(s.connection).recent()] == [b"x"]
    s.close()


def test_only_missing_migrations_are_applied(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SqliteStore(path).close()
    # re-running the first migration would fail: its CREATE TABLEs have no IF NOT EXISTS
    monkeypatch.setattr(_sqlite, "_MIGRATIONS",
                        (*_sqlite._MIGRATIONS, "CREATE TABLE extra (x);\n"))
    SqliteStore(path).close()
    assert version(path) == len(_sqlite._MIGRATIONS)
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM extra").fetchone() == (0,)
    db.close()


def test_a_failed_migration_leaves_the_previous_version(
    path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    SqliteStore(path).close()
    monkeypatch.setattr(_sqlite, "_MIGRATIONS", (
        *_sqlite._MIGRATIONS, "CREATE TABLE extra (x);\nCREATE TABLE alerts (x);\n",
    ))
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        SqliteStore(path)
    assert version(path) == len(_sqlite._MIGRATIONS) - 1
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'extra'").fetchone() == (0,)
    db.close()


def test_a_database_from_a_newer_version_is_refused(path: Path) -> None:
    SqliteStore(path).close()
    newer = len(_sqlite._MIGRATIONS) + 1
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {newer}")
    db.close()
    with pytest.raises(RuntimeError) as refused:
        SqliteStore(path)
    message = str(refused.value)
    assert str(path) in message
    assert f"version {newer}" in message and f"the {len(_sqlite._MIGRATIONS)}" in message
    assert version(path) == newer


# -- health -----------------------------------------------------------------------------


def test_writable_sqlite(path: Path) -> None:
    s = SqliteStore(path)
    assert s.writable()
    readonly = SqliteStore(f"file:{path}?mode=ro")
    assert readonly.get("A-1") is None  # it reads
    assert readonly.writable() is False
    readonly.close()
    s.close()
    assert s.writable() is False
