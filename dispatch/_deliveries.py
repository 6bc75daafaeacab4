"""Notifications delivered at least once: recorded with their event, sent until done.

`Notifier.record` runs inside the dispatcher's commit transaction: a row per channel that
wants the event (`dispatch._notify`), so a notification exists exactly when its event
does, and a crash after the commit loses none (the next start sends it).

`DeliveryWorker` runs on the service's event loop, one task a channel: it picks the
channel's due rows, sends them (within the robot's minute, folding the overflow into a
digest, `dispatch._notify.plan_sends`), and marks each delivered, retried later
(exponential backoff with jitter, capped; at least as late as the channel asked), or
dead (refused for good, or failing for longer than `dead_after`). The tasks never wait
on each other, and the raise path never waits on any of them: it only writes rows. A
delivery that succeeded is remembered by this process even if its mark could not be
written, so the same instance never sends it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random as _random
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

import httpx
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dispatch._alert import Alert
from dispatch._channels import Message, Outcome, Request, classify, request
from dispatch._lifecycle import Event
from dispatch._notify import (
    RATE_WINDOW,
    ROBOT_PER_MINUTE,
    Backoff,
    Channel,
    ChannelBacklog,
    Notice,
    digest,
    notice,
    plan_sends,
)
from dispatch._sqlite_deliveries import Delivery, SqliteDeliveries
from dispatch._turns import Turns

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: Sends a request; the answer's status and body. Raises on a transport failure.
Post = Callable[[Request], Awaitable[tuple[int, bytes]]]
#: How long a dead notification keeps /healthz degraded.
DEAD_VISIBLE: Final = timedelta(hours=24)


class Notifier:
    """Records the notifications of committed events (called in the commit's
    transaction; see `Dispatcher`)."""

    def __init__(self, table: SqliteDeliveries, channels: Sequence[Channel], tz: tzinfo,
                 console_url: str, clock: Clock) -> None:
        self.table = table
        self.channels = tuple(channels)
        self.tz = tz
        self.console_url = console_url
        self.clock = clock

    def record(self, alert: Alert, events: list[Event], after: list[tuple[str, str]]) -> None:
        rows: list[tuple[str, Notice]] = []
        for event, (state, queue) in zip(events, after, strict=True):
            made: Notice | None = None
            for channel in self.channels:
                if channel.wants(alert, event, queue):
                    made = made or notice(alert, event, state, queue, self.tz,
                                          self.console_url)
                    rows.append((channel.name, made))
        self.table.add(rows, self.clock())


def httpx_post(timeout_s: float = 10.0) -> tuple[Post, Callable[[], Awaitable[None]]]:
    """A `Post` over one pooled `httpx.AsyncClient`, and its closing."""
    client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    async def post(r: Request) -> tuple[int, bytes]:
        answer = await client.post(r.url, headers=list(r.headers), content=r.content)
        return answer.status_code, answer.content

    return post, client.aclose


class DeliveryWorker:
    def __init__(
        self, table: SqliteDeliveries, channels: Sequence[Channel], clock: Clock,
        post: Post | None = None, *, tz: tzinfo = UTC, timeout_s: float = 10.0,
        retry_first: timedelta = timedelta(seconds=2), retry_max: timedelta = timedelta(minutes=5),
        dead_after: timedelta = timedelta(hours=1), poll_s: float = 1.0,
        random: Callable[[], float] = _random.random, registry: CollectorRegistry | None = None,
        store_reads: CollectorRegistry | None = None, turns: Turns | None = None,
    ) -> None:
        """`post` sends a request (default: an `httpx.AsyncClient` with `timeout_s`);
        `random` spreads the retries ([0, 1)); `poll_s` is how often a channel looks
        for due rows when nothing wakes it. The table is read and written in the store
        writer's `turns`; the backlog, read at scrape time, registers in `store_reads`
        (by default `registry`)."""
        self.table = table
        self.turns = turns or Turns.inline()
        self.channels = {c.name: c for c in channels}
        self.clock = clock
        self._close: Callable[[], Awaitable[None]] | None = None
        if post is None:
            post, self._close = httpx_post(timeout_s)
        self.post = post
        self.tz = tz
        self.backoff = Backoff(retry_first, retry_max)
        self.dead_after = dead_after
        self.poll_s = poll_s
        self.random = random
        self._sent: dict[str, deque[datetime]] = {c.name: deque(maxlen=100) for c in channels}
        self._delivered: set[int] = set()  # sent by this process, its mark not yet written
        self._wake = {c.name: asyncio.Event() for c in channels}
        self.results = Counter(
            "lantian_notifications", "Notification attempts by channel and result "
            "(delivered, retry, dead)", ["channel", "result"],
            registry=registry if registry is not None else CollectorRegistry(),
        )
        backlog_in = store_reads or registry
        if backlog_in is not None:
            backlog_in.register(NotificationBacklog(self))

    async def close(self) -> None:
        if self._close is not None:
            await self._close()

    def wake(self, *_: object) -> None:
        """Something was committed: look for due rows now (a `Dispatcher` listener)."""
        for event in self._wake.values():
            event.set()

    def healthy(self) -> bool:
        """False while a notification died in the last day (see the admin page)."""
        return self.table.dead_since(self.clock() - DEAD_VISIBLE) == 0

    def backlog(self) -> list[ChannelBacklog]:
        return self.table.backlog(self.clock() - DEAD_VISIBLE)

    async def run(self) -> None:
        """Deliver until cancelled, every channel on its own."""
        await self.turns(self._recall_last_minute)
        await asyncio.gather(*(self._run_channel(c) for c in self.channels.values()))

    def _recall_last_minute(self) -> None:
        """A robot's minute goes on across a restart: what an earlier run sent in it counts."""
        now = self.clock()
        for name, sent in self._sent.items():
            for at in self.table.sent_since(name, now - RATE_WINDOW)[-ROBOT_PER_MINUTE:]:
                sent.append(datetime.fromtimestamp(at, UTC))

    async def _run_channel(self, channel: Channel) -> None:
        wake = self._wake[channel.name]
        while True:
            wake.clear()
            try:
                await self.deliver_due(channel.name)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or a locked store costs a round, not the worker
                log.exception("notification round for channel %s failed", channel.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.poll_s)

    async def deliver_due(self, name: str) -> int:
        """One round for a channel: send what is due and may go now; how many rows were
        settled (delivered or dead)."""
        channel = self.channels[name]
        await self._outside_transaction()  # rows an open burst wrote may yet roll back
        now = self.clock()
        rows = await self.turns(self._due, name, now)
        plan = plan_sends([r.id for r in rows], self._sent[name], now, channel.per_minute)
        by_id = {r.id: r for r in rows}
        settled = 0
        for i in plan.single:
            settled += await self._send(channel, [by_id[i]], _message(by_id[i]))
        if plan.folded:
            folded = [by_id[i] for i in plan.folded]
            message = _message(folded[0]) if len(folded) == 1 else self._digest(folded)
            settled += await self._send(channel, folded, message)
        return settled

    def _due(self, name: str, now: datetime) -> list[Delivery]:
        rows = [r for r in self.table.due(name, now) if r.id not in self._delivered]
        self._forget_marked()
        return rows

    def _forget_marked(self) -> None:
        """Write the marks a failure left unwritten (the rows were filtered out above)."""
        if self._delivered and not self.table.in_transaction:
            marked = list(self._delivered)
            self.table.mark_sent(marked, self.clock())  # if this fails, they stay remembered
            self._delivered.difference_update(marked)

    def _digest(self, rows: list[Delivery]) -> Message:
        notices = [Notice(r.message_id, "", "", r.title, r.text, {}) for r in rows]
        title, text = digest(notices, self.clock().astimezone(self.tz))
        return Message(f"digest.{rows[0].message_id}", title, text, b"{}")

    async def _send(self, channel: Channel, rows: list[Delivery], message: Message) -> int:
        now = self.clock()
        try:
            status, body = await self.post(request(channel, message,
                                                   int(now.timestamp() * 1000)))
        except (httpx.HTTPError, OSError) as exc:
            outcome = Outcome("retry", f"{type(exc).__name__}: {exc}")
        else:
            if status < 500:  # the robot took it in: it counts towards its minute
                self._sent[channel.name].append(now)
            outcome = classify(channel, status, body)
        return await self._settle(channel, rows, outcome)

    async def _settle(self, channel: Channel, rows: list[Delivery], outcome: Outcome) -> int:
        await self._outside_transaction()
        settled: int = await self.turns(self._settled, channel, rows, outcome)
        return settled

    def _settled(self, channel: Channel, rows: list[Delivery], outcome: Outcome) -> int:
        now = self.clock()
        ids = [r.id for r in rows]
        if outcome.result == "delivered":
            self._delivered.update(ids)
            self.table.mark_sent(ids, now)
            self._delivered.difference_update(ids)
            self.results.labels(channel.name, "delivered").inc(len(ids))
            return len(ids)
        expired = [r for r in rows if outcome.result == "rejected"
                   or now.timestamp() - r.created_at >= self.dead_after.total_seconds()]
        if expired:
            log.error("notifications to %s given up (%s): %s", channel.name, outcome.reason,
                      ", ".join(r.message_id for r in expired),
                      extra={"event": "notification.dead", "channel": channel.name})
            self.table.mark_dead([r.id for r in expired], now, outcome.reason)
            self.results.labels(channel.name, "dead").inc(len(expired))
        later = [r for r in rows if r not in expired]
        if later:
            next_at = {r.id: self._next_attempt(r, now, outcome) for r in later}
            log.warning("notifications to %s will be tried again (%s)", channel.name,
                        outcome.reason, extra={"event": "notification.retry",
                                               "channel": channel.name})
            self.table.retry(list(next_at), next_at, outcome.reason)
            self.results.labels(channel.name, "retry").inc(len(later))
        return len(expired)

    def _next_attempt(self, row: Delivery, now: datetime, outcome: Outcome) -> datetime:
        wait = self.backoff.delay(row.attempts + 1, self.random)
        if outcome.retry_after is not None:
            wait = max(wait, outcome.retry_after)
        return now + wait

    async def _outside_transaction(self) -> None:
        """Marks are written outside a burst's open transaction (which may yet roll
        back); bursts are short and never span an await, so this is a turn or two."""
        while self.table.in_transaction:
            await asyncio.sleep(0.01)


def _message(row: Delivery) -> Message:
    return Message(row.message_id, row.title, row.text, row.body)


class NotificationBacklog(Collector):
    """Pending notifications and the age of the oldest, by channel, read at scrape time."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self._worker = worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily("lantian_notifications_pending", "Notifications not yet "
                                    "delivered, by channel", labels=["channel"])
        age = GaugeMetricFamily("lantian_notifications_oldest_pending_age_seconds", "How "
                                "long the oldest undelivered notification has waited, by "
                                "channel (0 when none)", labels=["channel"])
        dead = GaugeMetricFamily("lantian_notifications_dead", "Notifications given up on "
                                 "in the last day, by channel", labels=["channel"])
        now = self._worker.clock().timestamp()
        rows = {b.channel: b for b in self._worker.backlog()}
        for name in self._worker.channels:
            b = rows.get(name)
            pending.add_metric([name], b.pending if b else 0)
            oldest = b.oldest_pending if b else None
            age.add_metric([name], 0.0 if oldest is None else max(0.0, now - oldest))
            dead.add_metric([name], b.dead if b else 0)
        yield pending
        yield age
        yield dead
