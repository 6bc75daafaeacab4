"""The reads that take long, kept off the event loop.

The bureau's figures for a year and a month's report read tens of thousands of rows:
up to a second on a city's year (`python -m bench.dispatch`). On the store's own
connection that second is the event loop's, and the MQTT traffic, the consoles' streams
and every other request wait for it. `LongReads` runs them instead on a store of their
own (`SqlStore.reader`: a second connection to the same database, which sees what the
service has committed) in a worker thread, one at a time, so that a bureau clicking
twice queues behind itself and not in front of the raise path. Without such a store
(an in-memory database has no second connection) they run where they are asked, as
before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from dispatch._queries import Queries

T = TypeVar("T")


class LongReads:
    def __init__(self, queries: Queries, apart: Queries | None = None) -> None:
        self._queries = queries
        self._apart = apart
        self._one_at_a_time = asyncio.Lock()

    @property
    def apart(self) -> bool:
        """Whether the reads run on a connection and a thread of their own."""
        return self._apart is not None

    async def __call__(self, read: Callable[[Queries], T]) -> T:
        if self._apart is None:
            return read(self._queries)
        async with self._one_at_a_time:
            return await asyncio.to_thread(read, self._apart)
