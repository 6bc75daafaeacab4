"""Notifications through the store: recorded in the event's transaction by the dispatcher,
delivered by the worker with a recording sender (the HTTP side is
tests/integration/test_notifications.py): retries, giving up, a robot's minute, and one
channel that hangs while another delivers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import orjson
import pytest

from dispatch import AlertTopics, Deadlines, Dispatcher, Router
from dispatch._channels import Request
from dispatch._deliveries import DeliveryWorker, Notifier
from dispatch._lifecycle import Ack, Close, Outcome
from dispatch._notify import Channel
from dispatch._sqlite_deliveries import SqliteDeliveries
from dispatch.stores import SqlStore, open_store
from rules.signals import Action
from tests.postgres import drop_trigger, fail_writes
from tests.support import wait_until
from tests.unit.dispatch.test_dispatcher import SH, SUGGESTION, Clock, signal

ROBOT = Channel("robot", "dingtalk", "http://robot.test/send?access_token=t", "SECx",
                events=frozenset({"raised", "escalated", "closed"}))
HOOK = Channel("hook", "webhook", "http://hook.test/in", "whsec_c2VjcmV0")
OK = (200, b'{"errcode":0,"errmsg":"ok"}')


def on_a_loop(test: Callable[..., Coroutine[object, object, None]]) -> Callable[..., None]:
    """Run an async test on an event loop of its own (the worker lives on one)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Sender:
    """Answers each channel's requests from a script (then `OK`), recording them."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: dict[str, list[tuple[int, bytes]]] = {}
        self.hang: set[str] = set()
        self.released = asyncio.Event()

    async def __call__(self, r: Request) -> tuple[int, bytes]:
        host = urlsplit(r.url).hostname or ""
        name = host.split(".")[0]
        if name in self.hang:
            await self.released.wait()
        self.requests.append(r)
        answers = self.script.get(name) or []
        return answers.pop(0) if answers else OK

    def to(self, name: str) -> list[Request]:
        return [r for r in self.requests if urlsplit(r.url).hostname == f"{name}.test"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = open_store(store_url, tz=SH)
    yield s
    s.close()


def dispatcher_with(store: SqlStore, clock: Clock, *channels: Channel) -> Dispatcher:
    ids = iter(f"a{i}" for i in range(1, 1000))
    return Dispatcher(
        store=store, router=Router((), "blue_sky"), queues={"blue_sky": Deadlines()},
        topics=AlertTopics("lantian"), clock=clock, tz=SH, new_id=lambda: next(ids),
        notifications=Notifier(SqliteDeliveries(store), channels, SH, "https://c.example",
                               clock),
    )


def worker(store: SqlStore, clock: Clock, sender: Sender, *channels: Channel,
           **kw: object) -> DeliveryWorker:
    return DeliveryWorker(SqliteDeliveries(store), channels, clock, sender, tz=SH,
                          random=lambda: 0.5, **kw)  # type: ignore[arg-type]


def rows(store: SqlStore) -> list[tuple[str, str, str, int]]:
    return store.connection.execute(
        "SELECT channel, message_id, state, attempts FROM notifications ORDER BY id").fetchall()


def test_events_are_recorded_per_channel_in_their_transaction(
    store: SqlStore, clock: Clock
) -> None:
    d = dispatcher_with(store, clock, ROBOT, HOOK)
    d.receive([signal(Action.RAISE, drone_suggestion=SUGGESTION)])
    assert rows(store) == [("robot", "a1.1", "pending", 0), ("hook", "a1.1", "pending", 0)]
    d.command("a1", Ack("officer-1"))  # neither channel asked for acknowledgements
    d.command("a1", Close("officer-1", Outcome.RESOLVED, "watered"))
    assert [r[:2] for r in rows(store)][2:] == [("robot", "a1.4")]


def test_a_failed_commit_records_no_notification(store: SqlStore, clock: Clock) -> None:
    d = dispatcher_with(store, clock, ROBOT)
    d.receive([signal(Action.RAISE)])
    fail_writes(store, "no_more", "INSERT", "events", "disk full")
    d.receive([signal(Action.RAISE, subject="station:KY-CS-002")])  # fails, is logged
    assert [r[1] for r in rows(store)] == ["a1.1"]


@on_a_loop
async def test_delivered_once_then_never_again(store: SqlStore, clock: Clock) -> None:
    dispatcher_with(store, clock, ROBOT, HOOK).receive([signal(Action.RAISE)])
    sender = Sender()
    w = worker(store, clock, sender, ROBOT, HOOK)
    assert await w.deliver_due("robot") == 1 and await w.deliver_due("hook") == 1
    assert await w.deliver_due("robot") == 0 and await w.deliver_due("hook") == 0
    assert len(sender.requests) == 2
    assert [r[2:] for r in rows(store)] == [("sent", 1), ("sent", 1)]
    body = orjson.loads(sender.to("hook")[0].content)
    assert body["type"] == "alert.raised" and body["alert"]["id"] == "a1"


@on_a_loop
async def test_failures_back_off_then_deliver(store: SqlStore, clock: Clock) -> None:
    dispatcher_with(store, clock, HOOK).receive([signal(Action.RAISE)])
    sender = Sender()
    sender.script["hook"] = [(500, b""), (500, b"")]
    w = worker(store, clock, sender, HOOK, retry_first=timedelta(seconds=2))
    assert await w.deliver_due("hook") == 0
    assert await w.deliver_due("hook") == 0 and len(sender.requests) == 1  # not due yet
    clock.now += timedelta(seconds=2)
    await w.deliver_due("hook")
    clock.now += timedelta(seconds=3)
    assert await w.deliver_due("hook") == 0 and len(sender.requests) == 2  # 4 s this time
    clock.now += timedelta(seconds=1)
    assert await w.deliver_due("hook") == 1
    assert rows(store) == [("hook", "a1.1", "sent", 3)]
    ids = {dict(r.headers)["webhook-id"] for r in sender.requests}
    assert ids == {"a1.1"}  # the same id on every attempt: the receiver can drop repeats
    assert w.results.labels("hook", "retry")._value.get() == 2


@on_a_loop
async def test_a_notification_failing_too_long_dies_and_shows(
    store: SqlStore, clock: Clock
) -> None:
    dispatcher_with(store, clock, HOOK).receive([signal(Action.RAISE)])
    sender = Sender()
    sender.script["hook"] = [(503, b"")] * 100
    w = worker(store, clock, sender, HOOK, dead_after=timedelta(minutes=10),
               retry_max=timedelta(minutes=1))
    assert w.healthy()
    for _ in range(12):
        await w.deliver_due("hook")
        clock.now += timedelta(minutes=1)
    assert rows(store)[0][2] == "dead"
    assert not w.healthy()
    (backlog,) = w.backlog()
    assert (backlog.channel, backlog.pending, backlog.dead) == ("hook", 0, 1)
    assert backlog.last_error == "HTTP 503"
    clock.now += timedelta(days=1, minutes=1)
    assert w.healthy()  # a day later it no longer degrades the service


@on_a_loop
async def test_a_refusal_for_good_dies_at_once(store: SqlStore, clock: Clock) -> None:
    dispatcher_with(store, clock, ROBOT).receive([signal(Action.RAISE)])
    sender = Sender()
    sender.script["robot"] = [(200, b'{"errcode":310000,"errmsg":"sign not match"}')]
    w = worker(store, clock, sender, ROBOT)
    assert await w.deliver_due("robot") == 1
    assert rows(store)[0][2] == "dead"


@on_a_loop
async def test_30_alerts_reach_a_robot_as_20_messages(store: SqlStore, clock: Clock) -> None:
    d = dispatcher_with(store, clock, ROBOT)
    d.receive([signal(Action.RAISE, subject=f"station:S{i:02d}") for i in range(30)])
    sender = Sender()
    w = worker(store, clock, sender, ROBOT)
    assert await w.deliver_due("robot") == 30
    assert len(sender.requests) == 20
    texts = [orjson.loads(r.content)["markdown"]["text"] for r in sender.requests]
    assert "11 条告警通知" in texts[-1]
    assert {r[2] for r in rows(store)} == {"sent"}


@on_a_loop
async def test_a_hanging_channel_delays_no_other(store: SqlStore, clock: Clock) -> None:
    d = dispatcher_with(store, clock, ROBOT, HOOK)
    sender = Sender()
    sender.hang.add("hook")
    w = worker(store, clock, sender, ROBOT, HOOK, poll_s=0.01)
    d.listeners.append(w.wake)
    running = asyncio.create_task(w.run())
    try:
        d.receive([signal(Action.RAISE)])
        d.receive([signal(Action.RAISE, subject="station:KY-CS-002")])
        async with asyncio.timeout(10):
            while len(sender.to("robot")) < 2:
                await asyncio.sleep(0.01)
        assert sender.to("hook") == []  # still hanging on the first
        sender.released.set()
        async with asyncio.timeout(10):
            while len(sender.to("hook")) < 2:
                await asyncio.sleep(0.01)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert {r[2] for r in rows(store)} == {"sent"}


@on_a_loop
async def test_a_robots_minute_goes_on_across_a_restart(store: SqlStore, clock: Clock) -> None:
    d = dispatcher_with(store, clock, ROBOT)
    d.receive([signal(Action.RAISE, subject=f"station:S{i:02d}") for i in range(15)])
    sender = Sender()
    await worker(store, clock, sender, ROBOT).deliver_due("robot")
    assert len(sender.requests) == 15
    d.receive([signal(Action.RAISE, subject=f"station:T{i:02d}") for i in range(10)])
    restarted = worker(store, clock, sender, ROBOT, poll_s=0.01)
    running = asyncio.create_task(restarted.run())
    try:
        async with asyncio.timeout(10):
            while len(sender.requests) < 20:
                await asyncio.sleep(0.01)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert len(sender.requests) == 20  # 15 before, 4 and a digest of 6 after: 20 a minute
    assert "6 条告警通知" in orjson.loads(sender.requests[-1].content)["markdown"]["text"]


@on_a_loop
async def test_a_delivery_whose_mark_failed_is_not_sent_again(
    store: SqlStore, clock: Clock
) -> None:
    dispatcher_with(store, clock, HOOK).receive([signal(Action.RAISE)])
    sender = Sender()
    w = worker(store, clock, sender, HOOK)
    fail_writes(store, "no_marks", "UPDATE", "notifications", "disk full")
    with pytest.raises(Exception, match="disk full"):
        await w.deliver_due("hook")  # delivered; the mark fails
    with pytest.raises(Exception, match="disk full"):
        await w.deliver_due("hook")  # the mark fails again; nothing is sent
    drop_trigger(store, "no_marks", "notifications")
    clock.now += timedelta(minutes=5)
    await w.deliver_due("hook")
    assert len(sender.requests) == 1
    assert rows(store) == [("hook", "a1.1", "sent", 1)]


@pytest.mark.postgres
def test_two_instances_never_take_the_same_notification(pg_url: str, clock: Clock) -> None:
    store_a, store_b = open_store(pg_url, tz=SH), open_store(pg_url, tz=SH)
    d = dispatcher_with(store_a, clock, HOOK)
    for i in range(3):
        d.receive([signal(Action.RAISE, subject=f"station:KY-CS-00{i}")])
    a = SqliteDeliveries(store_a, name="a", claim_s=2)
    b = SqliteDeliveries(store_b, name="b")
    taken_a = [r.message_id for r in a.due("hook", clock(), limit=2)]
    taken_b = [r.message_id for r in b.due("hook", clock())]
    assert len(taken_a) == 2 and len(taken_b) == 1 and not set(taken_a) & set(taken_b)
    assert b.due("hook", clock()) != []  # its own, again: b's worker decides, not the claim
    assert [r.message_id for r in a.due("hook", clock())] == taken_a  # b's is b's
    # a is gone: its rows go to b when its claim is over, and only then
    wait_until(lambda: len(b.due("hook", clock())) == 3, 10, "a's claims to end")
    store_a.close()
    store_b.close()
