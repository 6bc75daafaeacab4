"""Reads kept off the event loop: a lane of their own.

Two kinds of read would otherwise hold the event loop while they run, and the MQTT
traffic, the consoles' streams and every other request with them:

- the bureau's figures for a year and a month's report read tens of thousands of rows:
  up to a second on a city's year (`python -m bench.dispatch`);
- a console's list of up to 1,000 alerts: ~20 ms on either engine, most of it building
  the alerts from their rows, and on PostgreSQL a wait for the server besides, as long
  as the server is slow (a lock, a load, a network).

A `ReadLane` runs its reads on a store of its own (`SqlStore.reader`: a second
connection to the same database, which sees what the service has committed) in a worker
thread, one at a time: a bureau clicking twice queues behind itself and not in front of
the raise path. A wait for the database is then the thread's alone, and the Python work
of a long read gives the loop its turn every few milliseconds (the interpreter's switch
interval) instead of holding it to the end. The service gives the bureau one lane and
the consoles another, so that a console's list never waits behind a year's figures.
Without such a store (an in-memory database has no second connection) the reads run
on the writer's, in its turn (`dispatch._turns`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from dispatch._queries import Queries
from dispatch._turns import Turns

T = TypeVar("T")


class ReadLane:
    def __init__(self, queries: Queries, apart: Queries | None = None,
                 turns: Turns | None = None) -> None:
        self._queries = queries
        self._turns = turns or Turns.inline()
        self._apart = apart
        self._one_at_a_time = asyncio.Lock()

    @property
    def apart(self) -> bool:
        """Whether the reads run on a connection and a thread of their own."""
        return self._apart is not None

    async def __call__(self, read: Callable[[Queries], T]) -> T:
        if self._apart is None:
            return await self._turns(read, self._queries)
        async with self._one_at_a_time:
            return await asyncio.to_thread(read, self._apart)
