"""The writer's turns (`dispatch._turns`): a turn's waits on the database run on the
writer thread while the loop goes on; turns never interleave; failures and cancellations
reach the right party. The database is stood in for by calls that wait on an event."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from dispatch._turns import OutsideTurn, Turns

DEADLINE_S = 5.0


async def until(condition: Callable[[], bool]) -> None:
    """Give the loop its turns until `condition` holds, within the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.001)


@pytest.fixture
def turns() -> Iterator[Turns]:
    t = Turns()
    yield t
    t.close()


def test_a_turns_wait_runs_on_the_writer_thread_while_the_loop_goes_on(turns: Turns) -> None:
    released = threading.Event()
    where: list[str] = []

    def wait_on_database() -> str:
        where.append(threading.current_thread().name)
        assert released.wait(DEADLINE_S), "the loop never ran while the call waited"
        return "rows"

    def work() -> tuple[str, str]:
        rows = turns.blocking(wait_on_database)
        return rows, threading.current_thread().name  # back on the loop's thread

    async def main() -> tuple[str, str]:
        job = asyncio.create_task(turns(work))
        await until(lambda: bool(where))  # the call has started: the loop is ours again
        released.set()
        return await job

    rows, after = asyncio.run(main())
    assert rows == "rows"
    assert where[0].startswith("store-writer")
    assert after == threading.main_thread().name


def test_turns_run_one_at_a_time_in_the_order_asked(turns: Turns) -> None:
    log: list[str] = []

    def work(name: str) -> None:
        log.append(f"{name} begins")
        turns.blocking(lambda: None)
        turns.blocking(lambda: None)
        log.append(f"{name} ends")

    async def main() -> None:
        await asyncio.gather(*(turns(work, n) for n in "abc"))

    asyncio.run(main())
    assert log == ["a begins", "a ends", "b begins", "b ends", "c begins", "c ends"]


def test_the_databases_error_is_raised_in_the_work_and_from_the_turn(turns: Turns) -> None:
    def fail() -> None:
        raise ConnectionError("server closed the connection")

    def caught() -> str:
        try:
            turns.blocking(fail)
        except ConnectionError as e:
            return f"caught: {e}"
        return "not raised"

    def uncaught() -> None:
        turns.blocking(fail)

    async def main() -> str:
        said = await turns(caught)
        with pytest.raises(ConnectionError, match="server closed"):
            await turns(uncaught)
        return said

    assert asyncio.run(main()) == "caught: server closed the connection"
    assert not turns.busy


def test_the_writer_used_outside_a_turn_while_one_holds_it_is_refused(turns: Turns) -> None:
    released, started = threading.Event(), threading.Event()

    def wait_on_database() -> None:
        started.set()
        released.wait(DEADLINE_S)

    async def main() -> None:
        job = asyncio.create_task(turns(lambda: turns.blocking(wait_on_database)))
        await until(started.is_set)
        try:
            with pytest.raises(OutsideTurn):
                turns.blocking(lambda: "inside the other turn's transaction")
        finally:
            released.set()
        await job
        assert turns.blocking(lambda: "now") == "now"  # the writer is free again

    asyncio.run(main())


def test_a_turn_cancelled_mid_call_runs_to_its_end_then_says_cancelled(turns: Turns) -> None:
    released, started = threading.Event(), threading.Event()
    done: list[str] = []

    def wait_on_database() -> None:
        started.set()
        released.wait(DEADLINE_S)

    def work() -> None:
        turns.blocking(wait_on_database)
        turns.blocking(lambda: None)
        done.append("committed")

    async def main() -> None:
        job = asyncio.create_task(turns(work))
        await until(started.is_set)
        job.cancel()  # at once: the task's wait for the call's answer is cancelled
        released.set()
        with pytest.raises(asyncio.CancelledError):
            await job

    asyncio.run(main())
    assert done == ["committed"]
    assert not turns.busy


def test_inline_turns_run_the_work_at_once_on_the_callers_thread() -> None:
    inline = Turns.inline()

    def work() -> str:
        return inline.blocking(lambda: threading.current_thread().name)

    assert not inline.off_loop
    assert asyncio.run(inline(work)) == threading.main_thread().name


def test_outside_any_loop_the_call_is_made_here_and_now(turns: Turns) -> None:
    assert turns.blocking(lambda: threading.current_thread().name) \
        == threading.main_thread().name


def test_a_turn_awaits_on_the_loop_what_its_work_waits_for(turns: Turns) -> None:
    """How the PostgreSQL connection waits for its socket (`Turns.awaiting`): the loop
    runs other tasks meanwhile, and the work goes on with the answer."""
    events: list[str] = []

    async def the_server_answers() -> str:
        events.append("waiting")
        await asyncio.sleep(0.01)  # the server's answer, on its way: not a synchronisation
        return "rows"

    def work() -> str:
        assert turns.in_turn()
        answer = turns.awaiting(the_server_answers())
        events.append("work goes on")
        return answer

    async def meanwhile() -> None:
        await until(lambda: "waiting" in events)
        events.append("the loop ran meanwhile")

    async def main() -> str:
        answer, _ = await asyncio.gather(turns(work), meanwhile())
        return answer

    assert asyncio.run(main()) == "rows"
    assert events == ["waiting", "the loop ran meanwhile", "work goes on"]
    assert not turns.in_turn()


def test_a_failed_wait_raises_in_the_work(turns: Turns) -> None:
    async def the_server_is_gone() -> None:
        raise ConnectionResetError("consuming input failed")

    def work() -> str:
        try:
            turns.awaiting(the_server_is_gone())
        except ConnectionResetError as e:
            return f"caught: {e}"
        return "not raised"

    assert asyncio.run(turns(work)) == "caught: consuming input failed"
