"""The journal a row a burst: a burst's messages are one row and replay one by one, in
order with the sweeps; `RECENT_KEPT` still counts messages; a row that cannot be read is
said by its id and skipped, as an unreadable snapshot is; and the rows of a store from
before (a row a message, schema version 9) replay after the upgrade in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from dispatch import _pg, _sqlite
from dispatch._pg_schema import PG_MIGRATIONS
from dispatch._schema import MIGRATIONS
from dispatch.stores import SqlStore, open_store
from lantian.recovery import Burst, Entry, Journal, Unreadable
from tests.unit.lantian.test_recovery import SH, T0, TOPIC, Process, Relay, reading


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = open_store(store_url, tz=SH)
    yield s
    s.close()


def burst(p: Process, *minutes: int, pm10: float = 180.0) -> None:
    """One burst of readings, as the MQTT client's callbacks run it."""
    b = Burst(p.store, Relay(), p.checkpoints)  # type: ignore[arg-type]
    b.begin()
    for m in minutes:
        p.ingestor.handle(TOPIC, reading(m, pm10))
    b.end()


def journal_rows(store: SqlStore) -> list[tuple[object, ...]]:
    return [tuple(r) for r in store.connection.execute(
        "SELECT topic, messages FROM inputs ORDER BY id").fetchall()]


def test_a_burst_is_one_row_and_replays_message_by_message(store: SqlStore) -> None:
    first = Process(store)
    burst(first, 0, 1)
    assert journal_rows(store) == [(None, 2)]
    assert len(first.checkpoints.journal) == 2

    second = Process(store)  # kill -9, restart
    assert (second.recovered.replayed, second.sink.got) == (2, [])
    second.message(reading(1))  # redelivered: a duplicate
    assert second.seen == []
    second.message(reading(2))  # the third over the limit: both came back from the row
    assert second.sink.raised() == ["site-pm10-15min"]


def test_sweeps_keep_their_place_among_a_bursts_messages(store: SqlStore) -> None:
    journal = Journal(store)
    at = T0.astimezone(SH)
    journal.hold()
    journal.message("a", b"1", at)
    journal.message("b", b"2", at + timedelta(seconds=1))
    journal.sweep(at + timedelta(seconds=2))  # writes the burst so far first
    journal.message("c", b"3", at + timedelta(seconds=3))
    journal.flush()
    assert journal_rows(store) == [(None, 2), (None, None), (None, 1)]
    entries = [e for e in journal.after(0) if isinstance(e, Entry)]
    assert [(e.topic, e.payload, e.at) for e in entries] == [
        ("a", b"1", at), ("b", b"2", at + timedelta(seconds=1)),
        (None, None, at + timedelta(seconds=2)), ("c", b"3", at + timedelta(seconds=3))]
    assert [e.id for e in entries][:2] == [entries[0].id] * 2  # one row, one id
    assert len(journal) == 4


def test_the_messages_kept_behind_a_snapshot_are_counted_as_messages(
    store: SqlStore,
) -> None:
    p = Process(store)
    burst(p, 0, 1, pm10=20.0)
    burst(p, 2, 3, pm10=20.0)
    p.checkpoints.journal.sweep(T0)  # no message: counts for none
    burst(p, 4, 5, pm10=20.0)
    journal = p.checkpoints.journal
    journal.checkpoint(b"{}", T0, keep=2)  # exactly the last burst's two
    assert len(journal) == 2
    journal.checkpoint(b"{}", T0, keep=3)  # nothing more to keep: those two remain
    assert len(journal) == 2

    p = Process(store)
    burst(p, 6, 7, pm10=20.0)
    journal = p.checkpoints.journal
    journal.checkpoint(b"{}", T0, keep=3)  # at least 3: two whole bursts of two
    assert len(journal) == 4
    journal.checkpoint(b"{}", T0, keep=0)
    assert len(journal) == 0


def test_an_unreadable_row_is_said_by_its_id_and_skipped(
    store: SqlStore, caplog: pytest.LogCaptureFixture,
) -> None:
    first = Process(store)
    burst(first, 0)
    burst(first, 1)
    burst(first, 2)
    (damaged,) = store.connection.execute(
        "SELECT id FROM inputs ORDER BY id LIMIT 1 OFFSET 1").fetchone()
    with store.transaction() as db:  # a torn page, a hand edit: the row is no burst now
        db.execute("UPDATE inputs SET payload = ? WHERE id = ?", (b"LJ\x01garbage", damaged))
    assert isinstance(list(first.checkpoints.journal.after(0))[1], Unreadable)

    second = Process(store)  # starts: the rest replays, in order
    assert (second.recovered.replayed, second.recovered.unreadable) == (2, (damaged,))
    assert f"skipping journal row {damaged} of partition 0/1 (1 messages)" in caplog.text
    assert second.sink.got == []
    second.message(reading(3))  # 0, 2 and 3 over the limit: the window kept the rest
    assert second.sink.raised() == ["site-pm10-15min"]

    assert Process(store).recovered.unreadable == (damaged,)  # no crash loop either
    assert second.checkpoints.save()  # covered by a snapshot (keep 0): pruned with it
    assert Process(store).recovered.unreadable == ()


def test_a_journal_from_before_replays_after_the_upgrade_in_place(
    store_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store of schema version 9 with a row a message (as Lantian wrote them then) and
    no snapshot covering them, opened by this version: nothing is lost, and the old rows
    and the new replay together, in order."""
    with monkeypatch.context() as m:
        m.setattr(_sqlite, "_MIGRATIONS", MIGRATIONS[:9])
        m.setattr(_pg, "PG_MIGRATIONS", PG_MIGRATIONS[:9])
        old = open_store(store_url, tz=SH)
        # what `Journal` wrote then: a message a row, a sweep with no topic
        with old.transaction() as db:
            db.executemany("INSERT INTO inputs (at, topic, payload, partition)"
                           " VALUES (?, ?, ?, ?)",
                           [(T0.timestamp(), TOPIC, reading(0), "0/1"),
                            (T0.timestamp() + 1, None, None, "0/1"),
                            (T0.timestamp() + 2, TOPIC, reading(1), "0/1")])
        old.close()

    store = open_store(store_url, tz=SH)  # migrated to version 10 in place
    try:
        first = Process(store)
        assert (first.recovered.snapshot, first.recovered.replayed) == (False, 3)
        assert first.recovered.last_input_at == T0 + timedelta(seconds=2)
        first.message(reading(1))  # known again: a duplicate
        assert first.seen == []
        burst(first, 2)  # the third over the limit: the old rows rebuilt the window
        assert first.sink.raised() == ["site-pm10-15min"]
        assert journal_rows(store) == [(TOPIC, None), (None, None), (TOPIC, None),
                                       (None, 1)]

        second = Process(store, keep=2)  # old and new rows replay together, silently
        assert (second.recovered.replayed, second.sink.got) == (4, [])
        assert second.checkpoints.save()  # keeps 2 messages: the new row and reading 1's
        assert len(second.checkpoints.journal) == 2
    finally:
        store.close()


@pytest.mark.postgres
def test_a_bursts_row_is_compressed_with_lz4_on_postgresql(pg_url: str) -> None:
    # the server's default, pglz, cost it 2.7x the CPU a burst (`TOAST_COMPRESSION`)
    store = open_store(pg_url, tz=SH)
    try:
        burst(Process(store), *range(-100, 0))  # 12 KB: past the 2 KB where values compress
        assert store.connection.execute(
            "SELECT pg_column_compression(payload) FROM inputs").fetchall() == [("lz4",)]
    finally:
        store.close()
