"""Stepping simulated time: what happens next, when, and not before the service is ready.

`Scheduler` holds the day's future as a heap of (time, action). It repeatedly takes the
earliest time, waits until that time is due in real time (`SimClock.wall_due`), steps the
clock to it and runs every action due then: a device publishing, an officer calling the
API. Actions may schedule more (a station its next reading, an officer the next look).

`Ledger` keeps the simulation from running ahead of the service. Each message a device
publishes yields exactly one record (a reading, a position, a mission, a finding) or one
dead letter, and the service reports each record through `serve(records=...)`. Before the
clock moves on, every message published so far must have been taken, so the service
handles a reading stamped 07:00:05 while its clock still says 07:00:05: raise times and
deadlines come out the same at any --speed. (If a message is lost the wait gives up after
a while rather than hanging the demo; the count is then re-based.)
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from lantian.demo._clock import SimClock

log = logging.getLogger("lantian.demo")

Action = Callable[[], Awaitable[None] | None]


class Ledger:
    """Messages published by the devices vs messages the service has taken."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self.published = 0
        self.settled = 0
        self.records = 0
        self.rejected = 0
        self._target: int | None = None
        self._caught_up = asyncio.Event()
        self._service_loop: asyncio.AbstractEventLoop | None = None

    def sent(self) -> None:
        with self._lock:
            self.published += 1

    def record_taken(self, _record: object) -> None:
        """serve()'s `records` hook, on the service's event-loop thread. It runs before
        the rules see the record, so the count is taken in a callback queued behind the
        message handler: by then the rules and dispatch are done with it."""
        loop = self._service_loop
        if loop is None:
            loop = self._service_loop = asyncio.get_running_loop()
        loop.call_soon(self._settle, True)

    def dead_letter(self) -> None:
        """A message the service rejected (seen on the dead-letter topic, any thread)."""
        self._settle(False)

    def _settle(self, record: bool) -> None:
        with self._lock:
            self.settled += 1
            if record:
                self.records += 1
            else:
                self.rejected += 1
            wake = self._target is not None and self.settled >= self._target
            if wake:
                self._target = None
        if wake:
            self._loop.call_soon_threadsafe(self._caught_up.set)

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until the service has taken everything published so far."""
        with self._lock:
            if self.settled >= self.published:
                return True
            self._target = self.published
            self._caught_up.clear()
        try:
            await asyncio.wait_for(self._caught_up.wait(), timeout_s)
            return True
        except TimeoutError:
            with self._lock:
                missing = self.published - self.settled
                self._target = None
                self.settled = self.published  # re-base: do not wait for it again
            log.warning("the service has not taken %d message(s) after %.1f s; going on",
                        missing, timeout_s)
            return False


class Scheduler:
    def __init__(self, clock: SimClock, ledger: Ledger, *, catch_up_s: float = 5.0) -> None:
        self.clock = clock
        self.ledger = ledger
        self.catch_up_s = catch_up_s
        self._heap: list[tuple[datetime, int, Action]] = []
        self._seq = itertools.count()  # ties run in the order they were scheduled
        self._wake = asyncio.Event()

    def at(self, t: datetime, action: Action) -> None:
        """Run `action` at simulated time t (now, if t has already passed)."""
        heapq.heappush(self._heap, (max(t, self.clock()), next(self._seq), action))
        self._wake.set()

    def now(self) -> datetime:
        return self.clock()

    async def run_until(self, end: datetime) -> None:
        """Run everything scheduled before `end`, paced, then step the clock to `end`."""
        while True:
            await self.ledger.caught_up(self.catch_up_s)
            t = self._heap[0][0] if self._heap else end
            if t >= end:
                t = end
            delay = self.clock.wall_due(t) - time.monotonic()
            if delay > 0:
                # an action scheduled meanwhile (an officer notified of an alert) may be
                # due earlier than t: wake for it
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                    continue
                except TimeoutError:
                    pass
            self.clock.advance_to(t)
            if t >= end and (not self._heap or self._heap[0][0] >= end):
                return
            while self._heap and self._heap[0][0] <= t:
                _, _, action = heapq.heappop(self._heap)
                result = action()
                if inspect.isawaitable(result):
                    await result
