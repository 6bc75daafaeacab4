"""The change feed of a shared store: what another instance's dispatcher committed is
told to this instance's listeners (its consoles' stream) once, with the state each event
left the incident in; what this instance committed itself is not told again. On
PostgreSQL, a change committed after one with a later id is still told, and the store's
notification wakes a listening instance at the commit."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import psycopg
import pytest

from dispatch import AlertTopics, Deadlines, Dispatcher, Router
from dispatch._dispatcher_ports import Committed
from dispatch._lifecycle import Ack
from dispatch._sqlite import SqliteStore
from dispatch.feed import ChangeFeed, PgWakeup
from dispatch.stores import SqlStore, open_store
from rules.signals import Action
from tests.unit.dispatch.test_dispatcher import SH, Clock, Recorder, outbox_to, signal


def instance(path: Path | str, clock: Clock, prefix: str = "a") -> Dispatcher:
    store: SqlStore = (open_store(path, tz=SH) if isinstance(path, str)
                       else SqliteStore(str(path), tz=SH))
    ids = iter(f"{prefix}{i}" for i in range(1, 100))
    return Dispatcher(
        store=store, router=Router((), "blue_sky"), queues={"blue_sky": Deadlines()},
        topics=AlertTopics("lantian"), clock=clock, tz=SH,
        outbox=outbox_to(store, Recorder(), clock), new_id=lambda: next(ids))


def test_a_change_committed_elsewhere_is_told_once_and_ours_not_at_all(
    tmp_path: Path,
) -> None:
    clock = Clock()
    a = instance(tmp_path / "shared.sqlite", clock, "a")
    b = instance(tmp_path / "shared.sqlite", clock, "b")
    assert isinstance(b.store, SqliteStore)
    told: list[Committed] = []
    feed = ChangeFeed(b.store, told.append, "lantian")
    b.listeners.append(feed.mine)
    assert feed.poll() == 0

    a.receive([signal(Action.RAISE)])  # instance A raises: B's consoles must hear it
    assert feed.poll() == 1
    (raised,) = told
    assert raised.alert.id == "a1"
    assert [e.kind.value for e in raised.events] == ["raised", "dispatched"]
    assert raised.after == [("raised", "blue_sky"), ("dispatched", "blue_sky")]
    assert feed.poll() == 0  # told once

    b.command("a1", Ack("officer"))  # through B: its own listeners heard it already
    assert feed.poll() == 0 and len(told) == 1
    a.receive([signal(Action.RAISE, subject="station:KY-CS-002")])
    a.command("a2", Ack("officer"))
    assert feed.poll() == 1  # one alert's two changes, told together
    assert [e.kind.value for e in told[-1].events] == ["raised", "dispatched", "acknowledged"]
    assert told[-1].alert.incident.state.value == "acknowledged"


class Ticks:
    """The feed's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.postgres
def test_a_change_committed_after_a_later_id_is_still_told(pg_url: str) -> None:
    clock, ticks = Clock(), Ticks()
    a, b = instance(pg_url, clock, "a"), instance(pg_url, clock, "b")
    told: list[Committed] = []
    feed = ChangeFeed(open_store(pg_url, tz=SH), told.append, "lantian", ticks)
    with a.store.transaction():  # A's change takes its outbox ids first, commits last
        a.receive([signal(Action.RAISE)])
        b.receive([signal(Action.RAISE, subject="station:KY-CS-002")])
        assert feed.poll() == 1 and told[-1].alert.id == "b1"  # past A's ids, uncommitted
        assert feed.waiting_for > 0
    ticks.now += 5
    assert feed.poll() == 1 and told[-1].alert.id == "a1"  # asked for again, and there
    assert [e.kind.value for e in told[-1].events] == ["raised", "dispatched"]
    assert feed.waiting_for == 0 and feed.poll() == 0


@pytest.mark.postgres
def test_an_id_that_never_commits_is_waited_for_a_while_then_forgotten(pg_url: str) -> None:
    clock, ticks = Clock(), Ticks()
    a, b = instance(pg_url, clock, "a"), instance(pg_url, clock, "b")
    feed = ChangeFeed(open_store(pg_url, tz=SH), [].append, "lantian", ticks)
    with contextlib.suppress(RuntimeError), a.store.transaction():
        a.receive([signal(Action.RAISE)])
        b.receive([signal(Action.RAISE, subject="station:KY-CS-002")])
        assert feed.poll() == 1
        raise RuntimeError("A rolls back: its ids are never used")
    waiting = feed.waiting_for
    assert waiting > 0 and feed.poll() == 0 and feed.waiting_for == waiting
    ticks.now += 61  # past GAP_WAIT
    assert feed.poll() == 0 and feed.waiting_for == 0


@pytest.mark.postgres
def test_postgresql_wakes_a_listening_instance_at_the_commit(pg_url: str) -> None:
    clock = Clock()
    a = instance(pg_url, clock, "a")

    async def scenario() -> None:
        woken = asyncio.Event()
        wakeup = PgWakeup(pg_url, woken.set)
        listening = asyncio.create_task(wakeup.run())
        try:
            async with asyncio.timeout(10):
                await woken.wait()  # once at the start: what committed before it listened
                woken.clear()
                with a.store.transaction():
                    a.receive([signal(Action.RAISE)])
                    with pytest.raises(TimeoutError):  # uncommitted: nothing is told
                        await asyncio.wait_for(woken.wait(), 0.2)
                await woken.wait()  # the commit tells
                woken.clear()
                # its connection cut by the server: it listens again, and wakes again
                with psycopg.connect(pg_url, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                  " WHERE application_name = 'lantian-listen'")
                while wakeup.up:  # poll until it notices, within the 10 s deadline
                    await asyncio.sleep(0.01)
                await woken.wait()  # up again: it reads what it may have missed
                woken.clear()
                a.receive([signal(Action.RAISE, subject="station:KY-CS-002")])
                await woken.wait()
        finally:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
        assert not wakeup.up

    asyncio.run(scenario())


@pytest.mark.postgres
def test_two_instances_naming_new_labels_in_open_transactions_do_not_wait(
    pg_url: str,
) -> None:
    """The labels (queue, zone, kind...) a new alert names are interned at once, outside
    the burst's transaction: two instances raising in the same zone inside their open
    transactions once waited on each other's entries, a deadlock between processes (here,
    one thread, it would wait for the statement timeout and fail B's raise)."""
    clock = Clock()
    a, b = instance(pg_url, clock, "a"), instance(pg_url, clock, "b")
    with a.store.transaction(), b.store.transaction():
        a.receive([signal(Action.RAISE)])
        b.receive([signal(Action.RAISE, subject="station:KY-CS-002")])
        assert a.healthy() and b.healthy()
    assert {x.id for x in a.store.open_alerts()} == {"a1", "b1"}
