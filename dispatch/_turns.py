"""The writer's turns: the store's one writer, its calls to the database off the event loop.

The service's work is synchronous code on the event loop's thread (a burst of messages,
an officer's step, a sweep): it needs no locks, and a burst's transaction has one owner.
On PostgreSQL each statement is a round trip, and a server that is slow, locked or gone
held the loop for as long, with the consoles, `/healthz` and `/metrics` waiting behind it.

A turn keeps the code as it is and takes the waits off the loop. `await turns(work)` runs
`work` in a greenlet on the loop's thread; where it calls the database
(`Turns.blocking`, which `PgConnection` calls), the greenlet hands the call to the
store's writer thread and switches back to the loop, which serves everything else until
the call returns; then `work` goes on from there. (The technique SQLAlchemy's asyncio
extension uses; greenlet is the library both use.) Turns run one at a time, in the
order they were asked for (an `asyncio.Lock` is first come, first served): a burst's
transaction is never interleaved with another writer's, and each command still commits
before its answer. What runs on the loop meanwhile must not use the writer: it reads
through its own connections (`ReadLane`) or the service's memory, which a turn leaves as
it was between two messages, never in the middle of one.

SQLite's calls are microseconds in this process: `Turns.inline()` runs a turn's work at
once, as a plain call, and there is nothing to hand off.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import greenlet

P = ParamSpec("P")
T = TypeVar("T")


class OutsideTurn(RuntimeError):
    """The writer was used from the loop outside a turn while a turn held it: that call
    would have run inside the other turn's open transaction."""


class Turns:
    """One store's writer turns; `off_loop` False: see `inline`."""

    def __init__(self, *, off_loop: bool = True, name: str = "store-writer") -> None:
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=name) if off_loop else None
        self._lock = asyncio.Lock()
        self._loop_thread: int | None = None  # the thread whose loop the running turn is on
        self._owner: int | None = None  # the thread that uses the writer only in turns

    @classmethod
    def inline(cls) -> Turns:
        return cls(off_loop=False)

    @property
    def off_loop(self) -> bool:
        return self._writer is not None

    @property
    def busy(self) -> bool:
        """A turn is running (or waiting on the database)."""
        return self._lock.locked()

    def own(self) -> None:
        """From now on this thread (the event loop's) uses the writer only in turns: a
        call outside one raises `OutsideTurn` even when no turn runs, so that a path
        that forgot its turn fails the first time, not when it meets another turn."""
        if self._writer is not None:
            self._owner = threading.get_ident()

    async def idle(self) -> None:
        """Wait until the turns asked for so far have run."""
        if self._writer is not None:
            async with self._lock:
                pass

    async def __call__(self, work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
                       ) -> T:
        """Run `work` in the writer's next turn, and return what it returns (or raise
        what it raised). Cancelled while waiting for its turn it never runs; cancelled
        once it runs, it runs to its end (a transaction is not left half done), and the
        cancellation is raised then."""
        if self._writer is None:
            return work(*args, **kwargs)
        async with self._lock:
            self._loop_thread = threading.get_ident()
            try:
                done: T = await self._drive(_Turn(self, work), args, kwargs)
                return done
            finally:
                self._loop_thread = None

    async def _drive(self, turn: _Turn, args: Any, kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        cancelled = False
        asked = turn.switch(*args, **kwargs)
        while not turn.dead:
            call = loop.run_in_executor(self._writer, asked.run)
            while not call.done():
                try:
                    await asyncio.wait((call,))  # which, cancelled, leaves `call` be
                except asyncio.CancelledError:
                    cancelled = True  # a call cannot be stopped midway: wait for its end
            failure = call.exception()
            asked = (turn.throw(type(failure), failure, failure.__traceback__)
                     if failure is not None else turn.switch(call.result()))
        if cancelled:
            raise asyncio.CancelledError
        return asked

    def blocking(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Make a call that waits on the database: from a turn, on the writer thread
        while the loop goes on; elsewhere (start-up, a command line, a thread of its
        own) here and now."""
        current = greenlet.getcurrent()
        if isinstance(current, _Turn) and current.turns is self:
            parent = current.parent
            assert parent is not None
            return parent.switch(_Call(call, args, kwargs))  # type: ignore[no-any-return]
        here = threading.get_ident()
        if here in (self._loop_thread, self._owner):
            raise OutsideTurn("the store's writer was used on the event loop outside a"
                              " turn while a turn held it (a bug: run it in a turn)")
        return call(*args, **kwargs)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)


class _Call:
    """A call a turn hands to the writer thread."""

    __slots__ = ("_args", "_call", "_kwargs")

    def __init__(self, call: Callable[..., Any], args: Any, kwargs: Any) -> None:
        self._call, self._args, self._kwargs = call, args, kwargs

    def run(self) -> Any:
        return self._call(*self._args, **self._kwargs)


class _Turn(greenlet.greenlet):
    def __init__(self, turns: Turns, work: Callable[..., Any]) -> None:
        super().__init__(work)
        self.turns = turns
        # the work sees the context of the task that asked for it (logging's, say)
        self.gr_context = contextvars.copy_context()
