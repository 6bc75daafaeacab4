"""The writer's turns: the store's one writer, its waits for the database off the event loop.

The service's work is synchronous code on the event loop's thread (a burst of messages,
an officer's step, a sweep): it needs no locks, and a burst's transaction has one owner.
On PostgreSQL each statement is a round trip, and a server that is slow, locked or gone
held the loop for as long, with the consoles, `/healthz` and `/metrics` waiting behind it.

A turn keeps the code as it is and takes the waits off the loop. `await turns(work)` runs
`work` in a greenlet on the loop's thread. Where it waits for the database, the greenlet
switches back to the loop, which serves everything else until the wait is over, and
`work` then goes on from there: `awaiting` waits for an awaitable on the loop (psycopg's
own wait for its socket: `PgConnection`, a few tens of µs a statement), `blocking` hands
a call that would block to the store's writer thread (connecting again: seconds; a hop
to the thread and back costs ~100 µs, so it is kept for that). The technique is
SQLAlchemy's asyncio extension's, on the same library, greenlet. Turns run one at a
time, in the order they were asked for (an `asyncio.Lock` is first come, first served):
a burst's transaction is never interleaved with another writer's, and each command
still commits before its answer. What runs on the loop meanwhile must not use the
writer: it reads through its own connections (`ReadLane`) or the service's memory, which
a turn leaves as it was between two messages, never in the middle of one.

SQLite's calls are microseconds in this process: `Turns.inline()` runs a turn's work at
once, as a plain call, and there is nothing to hand off.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import greenlet

P = ParamSpec("P")
T = TypeVar("T")


class OutsideTurn(RuntimeError):
    """The writer was used from the loop outside a turn (`Turns.own`); while a turn
    held it, that call would have run inside the other turn's open transaction."""


class Turns:
    """One store's writer turns; `off_loop` False: see `inline`."""

    def __init__(self, *, off_loop: bool = True, name: str = "store-writer") -> None:
        self._off_loop, self._name = off_loop, name
        # the writer thread, started with the first call it is handed (`blocking`): a
        # plain thread and a queue, since an executor's futures cost the loop 1.6 times
        # as much a call
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = asyncio.Lock()
        self._loop_thread: int | None = None  # the thread whose loop the running turn is on
        self._owner: int | None = None  # the thread that uses the writer only in turns

    @classmethod
    def inline(cls) -> Turns:
        return cls(off_loop=False)

    @property
    def off_loop(self) -> bool:
        return self._off_loop

    @property
    def busy(self) -> bool:
        """A turn is running (or waiting on the database)."""
        return self._lock.locked()

    def own(self) -> None:
        """From now on this thread (the event loop's) uses the writer only in turns: a
        call outside one raises `OutsideTurn` even when no turn runs, so that a path
        that forgot its turn fails the first time, not when it meets another turn."""
        if self._off_loop:
            self._owner = threading.get_ident()

    async def idle(self) -> None:
        """Wait until the turns asked for so far have run."""
        if self._off_loop:
            async with self._lock:
                pass

    async def __call__(self, work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
                       ) -> T:
        """Run `work` in the writer's next turn, and return what it returns (or raise
        what it raised). Cancelled while waiting for its turn it never runs; cancelled
        once it runs, it runs to its end (a transaction is not left half done), and the
        cancellation is raised then."""
        if not self._off_loop:
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
            if isinstance(asked, _Call):
                call: _Call = asked
                call.answered = loop.create_future()
                call.loop = loop
                self._hand(call)
            else:  # an awaitable (`awaiting`): its wait is the loop's
                call = _Call(_unused, (), {})
                call.answered = loop.create_future()
                waited = asyncio.ensure_future(asked)
                waited.add_done_callback(functools.partial(_settle, call))
            while not call.done:
                try:
                    await call.answered
                except asyncio.CancelledError:
                    cancelled = True  # a call cannot be stopped midway: wait for its end
                    call.answered = loop.create_future()
            failure = call.failure
            asked = (turn.throw(type(failure), failure, failure.__traceback__)
                     if failure is not None else turn.switch(call.value))
        if cancelled:
            raise asyncio.CancelledError
        return asked

    def _hand(self, call: _Call) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write, name=self._name, daemon=True)
            self._writer.start()
        self._calls.put(call)

    def _write(self) -> None:
        while (call := self._calls.get()) is not None:
            call.run()
            assert call.loop is not None
            call.loop.call_soon_threadsafe(call.wake)

    def in_turn(self) -> bool:
        """Whether this code runs in one of these turns (else see `outside`)."""
        current = greenlet.getcurrent()
        return isinstance(current, _Turn) and current.turns is self

    def awaiting(self, awaitable: Awaitable[T]) -> T:
        """From a turn: wait for `awaitable` on the loop, which goes on meanwhile, and
        return its result (a driver's wait for its socket: `PgConnection`)."""
        current = greenlet.getcurrent()
        assert isinstance(current, _Turn) and current.turns is self, "not in a turn"
        parent = current.parent
        assert parent is not None
        return parent.switch(awaitable)  # type: ignore[no-any-return]

    def outside(self) -> None:
        """Say that the writer is used here outside a turn: `OutsideTurn` on the loop's
        thread once it is owned (`own`), or while a turn runs; else nothing."""
        if threading.get_ident() in (self._loop_thread, self._owner):
            raise OutsideTurn("the store's writer was used on the event loop outside a"
                              " turn (a bug: run the work in a turn)")

    def blocking(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Make a call that blocks (connecting to the database): from a turn, on the
        writer thread while the loop goes on; elsewhere (start-up, a command line, a
        thread of its own) here and now."""
        current = greenlet.getcurrent()
        if isinstance(current, _Turn) and current.turns is self:
            parent = current.parent
            assert parent is not None
            return parent.switch(_Call(call, args, kwargs))  # type: ignore[no-any-return]
        self.outside()
        return call(*args, **kwargs)

    def close(self) -> None:
        if self._writer is not None:
            self._calls.put(None)
            self._writer.join()
            self._writer = None


class _Call:
    """A call a turn hands to the writer thread, and its answer."""

    __slots__ = ("_args", "_call", "_kwargs", "answered", "done", "failure", "loop", "value")

    def __init__(self, call: Callable[..., Any], args: Any, kwargs: Any) -> None:
        self._call, self._args, self._kwargs = call, args, kwargs
        self.loop: asyncio.AbstractEventLoop | None = None
        self.answered: asyncio.Future[None] | None = None  # what the turn awaits
        self.done = False
        self.value: Any = None
        self.failure: BaseException | None = None

    def run(self) -> None:
        """On the writer thread."""
        try:
            self.value = self._call(*self._args, **self._kwargs)
        except BaseException as e:  # raised in the turn's work, where it was called
            self.failure = e
        self.done = True

    def wake(self) -> None:
        """On the loop, once `run` is over: the turn goes on."""
        if self.answered is not None and not self.answered.done():
            self.answered.set_result(None)


def _unused() -> None:  # the stand-in call of an awaited wait's answer
    return None


def _settle(call: _Call, waited: asyncio.Future[Any]) -> None:
    """An awaited wait is over: its answer, as a call's."""
    if waited.cancelled():
        call.failure = asyncio.CancelledError()
    else:
        call.failure = waited.exception()
        if call.failure is None:
            call.value = waited.result()
    call.done = True
    call.wake()


class _Turn(greenlet.greenlet):
    def __init__(self, turns: Turns, work: Callable[..., Any]) -> None:
        super().__init__(work)
        self.turns = turns
        # the work sees the context of the task that asked for it (logging's, say)
        self.gr_context = contextvars.copy_context()
