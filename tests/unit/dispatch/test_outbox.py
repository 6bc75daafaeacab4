"""The outbox on an in-memory store and a broker that acknowledges when told: what is
handed when, what is marked sent, what is handed again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dispatch._outbox import Outbox, Publication
from dispatch._sqlite_outbox import SqliteOutbox
from dispatch.stores import SqlStore, open_store
from tests.support import wait_until

T0 = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)


class Broker:
    def __init__(self) -> None:
        self.handed: list[tuple[int, str]] = []  # (mid, topic)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        self.handed.append((len(self.handed) + 1, topic))
        return len(self.handed)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def parts(store_url: str) -> Iterator[tuple[SqlStore, Outbox, Broker, Clock]]:
    store, broker, clock = open_store(store_url), Broker(), Clock()
    yield store, Outbox(SqliteOutbox(store, name="lantian-0"), clock, broker=broker, window=3,
                        resend_after_s=60), broker, clock
    store.close()


def add(store: SqlStore, outbox: Outbox, *topics: str) -> None:
    with store.transaction():
        outbox.add([Publication(t, b"{}") for t in topics])


def test_nothing_is_handed_before_the_commit(parts) -> None:  # type: ignore[no-untyped-def]
    store, outbox, broker, _ = parts
    with store.transaction():
        outbox.add([Publication("a", b"{}")])
        assert outbox.flush() == 0  # it may yet be rolled back
    assert broker.handed == []
    assert outbox.flush() == 1
    assert broker.handed == [(1, "a")]


def test_after_a_burst_the_table_is_read_only_for_what_this_process_added_or_had_acked(
    parts,  # type: ignore[no-untyped-def]
) -> None:
    store, outbox, broker, _ = parts
    reads: list[int] = []
    unsent = outbox.table.unsent
    outbox.table.unsent = lambda after, limit: reads.append(after) or unsent(after, limit)  # type: ignore[method-assign]
    assert outbox.flush_new() == 0 and reads == []  # nothing new: the table is not read
    add(store, outbox, "a")
    assert outbox.flush_new() == 1 and len(reads) == 1
    assert outbox.flush_new() == 0 and len(reads) == 1
    outbox.acknowledged(1)  # an ack to record: that is a flush, and a read
    assert outbox.flush_new() == 0 and len(reads) == 2
    with store.transaction():  # another's row (or one left by a restart): the periodic flush
        store.connection.execute("INSERT INTO outbox (topic, payload, created_at)"
                                 " VALUES ('b', ?, 0)", (b"{}",))
    assert outbox.flush_new() == 0
    assert outbox.flush() == 1
    assert [t for _, t in broker.handed] == ["a", "b"]


def test_a_rolled_back_publication_is_never_handed(parts) -> None:  # type: ignore[no-untyped-def]
    store, outbox, broker, _ = parts
    with pytest.raises(RuntimeError), store.transaction():
        outbox.add([Publication("lost", b"{}")])
        raise RuntimeError("the change failed")
    assert outbox.flush() == 0 and broker.handed == []


def test_acknowledged_rows_are_marked_sent_and_the_rest_wait(parts) -> None:  # type: ignore[no-untyped-def]
    store, outbox, _broker, _ = parts
    add(store, outbox, "a", "b")
    outbox.flush()
    outbox.acknowledged(1)
    outbox.acknowledged(99)  # somebody else's message (a dead letter): ignored
    outbox.flush()
    assert outbox.table.backlog()[0] == 1  # "b" has no PUBACK yet
    assert outbox.in_flight() == 1


def test_at_most_the_window_is_in_flight(parts) -> None:  # type: ignore[no-untyped-def]
    store, outbox, broker, _ = parts
    add(store, outbox, *"abcde")
    assert outbox.flush() == 3
    assert outbox.flush() == 0  # the broker has not acknowledged any
    outbox.acknowledged(1)
    assert outbox.flush() == 1
    assert [t for _, t in broker.handed] == ["a", "b", "c", "d"]


def test_what_gets_no_puback_is_handed_again_after_a_while(parts) -> None:  # type: ignore[no-untyped-def]
    store, outbox, broker, clock = parts
    add(store, outbox, "a")
    outbox.flush()
    clock.now += timedelta(seconds=59)
    assert outbox.flush() == 0
    clock.now += timedelta(seconds=2)
    assert outbox.flush() == 1
    assert [t for _, t in broker.handed] == ["a", "a"]
    outbox.acknowledged(2)
    outbox.flush()
    assert outbox.table.backlog() == (0, None)


def test_a_new_process_hands_what_an_old_one_left_unsent(parts) -> None:  # type: ignore[no-untyped-def]
    store, outbox, _broker, clock = parts
    add(store, outbox, "a", "b")
    outbox.flush()
    outbox.acknowledged(1)
    outbox.flush()  # "a" sent; "b" handed, but the process dies before its PUBACK
    again = Broker()
    restarted = Outbox(SqliteOutbox(store, name="lantian-0"), clock, broker=again)
    assert restarted.flush() == 1
    assert again.handed == [(1, "b")]


@pytest.mark.postgres
def test_two_instances_never_hand_the_same_row(pg_url: str) -> None:
    store_a, store_b, clock = open_store(pg_url), open_store(pg_url), Clock()
    a, b = Broker(), Broker()
    relay_a = Outbox(SqliteOutbox(store_a, name="a", claim_s=3), clock, broker=a, window=4)
    relay_b = Outbox(SqliteOutbox(store_b, name="b"), clock, broker=b, window=4)
    add(store_a, relay_a, *(f"t{i}" for i in range(10)))
    while relay_a.flush() + relay_b.flush():  # each hands up to 4, unacknowledged
        pass
    topics_a, topics_b = {t for _, t in a.handed}, {t for _, t in b.handed}
    assert len(topics_a) == len(topics_b) == 4  # each window full; 2 rows wait for room
    assert not topics_a & topics_b
    # both die; b's replacement takes back b's 4 and the 2 left at once, a's 4 once
    # their claim is over: never one while another instance holds it
    c = Broker()
    b_again = Outbox(SqliteOutbox(store_b, name="b"), clock, broker=c, window=10)
    assert b_again.flush() == 6
    assert not {t for _, t in c.handed} & topics_a
    wait_until(lambda: b_again.flush(), 10, "a's claims to end")
    assert sorted(t for _, t in c.handed) == sorted(f"t{i}" for i in range(10))
    store_a.close()
    store_b.close()
