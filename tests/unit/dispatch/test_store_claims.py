"""Two instances on one store never escalate the same alert twice: the SLA sweep claims
each alert it escalates (`claim`: FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock
on SQLite) and decides on the alert as committed, not as it read it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from dispatch import AlertTopics, Deadlines, Dispatcher, Router
from dispatch.stores import SqlStore, open_store
from rules.signals import Action
from tests.unit.dispatch.test_dispatcher import SH, Clock, Recorder, outbox_to, signal


def instance(url: str, clock: Clock, wire: Recorder, prefix: str) -> Dispatcher:
    ids = iter(f"{prefix}{i}" for i in range(1, 100))
    store = open_store(url, tz=SH)
    return Dispatcher(
        store=store, router=Router((), "blue_sky"), queues={"blue_sky": Deadlines()},
        topics=AlertTopics("lantian"), clock=clock, tz=SH,
        outbox=outbox_to(store, wire, clock), new_id=lambda: next(ids),
    )


@pytest.fixture
def two(store_url: str) -> Iterator[tuple[Dispatcher, Dispatcher, Clock, Recorder]]:
    clock, wire = Clock(), Recorder()
    a, b = instance(store_url, clock, wire, "a"), instance(store_url, clock, wire, "b")
    yield a, b, clock, wire
    for d in (a, b):
        store = d.store
        assert isinstance(store, SqlStore)
        store.close()


def escalations(wire: Recorder) -> list[tuple[object, object]]:
    return [(b["alert_id"], b["stage"]) for t, b in wire.sent if t == "lantian/escalations"]


def test_a_sweep_that_read_before_the_other_committed_escalates_nothing(
    two: tuple[Dispatcher, Dispatcher, Clock, Recorder], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b, clock, wire = two
    a.receive([signal(Action.RAISE)])
    clock.now += timedelta(minutes=6)
    stale = b.store.open_alerts()  # b's sweep reads the open alerts...
    assert [e.data["stage"] for _, e in a.sweep()] == ["ack"]  # ...a escalates and commits
    monkeypatch.setattr(b.store, "open_alerts", lambda: stale)
    assert b.sweep() == []  # ...b claims the alert as committed: escalated already
    assert escalations(wire) == [("a1", "ack")]
    assert [e.kind for e in a.store.events("a1")].count("escalated") == 1
    assert "could not escalate" not in caplog.text  # not refused by the log's seq: skipped


@pytest.mark.postgres
def test_an_alert_another_instance_holds_is_skipped(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock, wire = Clock(), Recorder()
    a, b = instance(pg_url, clock, wire, "a"), instance(pg_url, clock, wire, "b")
    a.receive([signal(Action.RAISE)])
    clock.now += timedelta(minutes=6)
    held = a.store
    assert isinstance(held, SqlStore)
    held.begin()  # a's sweep is escalating it, not yet committed
    assert held.claim("a1") is not None
    assert b.sweep() == []  # b does not wait for it, nor escalate it too
    assert "could not escalate" not in caplog.text  # skipped, not timed out on the lock
    held.commit()
    assert [e.data["stage"] for _, e in b.sweep()] == ["ack"]  # released: now b may
    assert escalations(wire) == [("a1", "ack")]
    for d in (a, b):
        assert isinstance(d.store, SqlStore)
        d.store.close()
