"""`ReadLane`: the bureau's long reads on a store of their own, in a worker thread, one
at a time; on the loop where there is no second connection."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatch import Queries
from dispatch.stores import ReadLane, SqliteStore

SH = ZoneInfo("Asia/Shanghai")


def test_an_in_memory_store_has_no_reader_and_its_reads_stay_on_the_loop() -> None:
    store = SqliteStore(":memory:", tz=SH)
    assert store.reader() is None
    reads = ReadLane(Queries(store, SH))
    assert not reads.apart

    async def main() -> tuple[int, int]:
        return threading.get_ident(), await reads(lambda q: threading.get_ident())

    loop_thread, read_thread = asyncio.run(main())
    assert read_thread == loop_thread


def test_a_file_store_is_read_apart_one_read_at_a_time(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "lantian.db", tz=SH)
    reader = store.reader()
    assert reader is not None
    reads = ReadLane(Queries(store, SH), Queries(reader, SH))
    assert reads.apart
    inside: list[str] = []
    first_in, let_go = threading.Event(), threading.Event()

    def slow(q: Queries) -> int:
        inside.append("first in")
        first_in.set()
        let_go.wait(10)
        inside.append("first out")
        return threading.get_ident()

    def quick(q: Queries) -> int:
        inside.append("second")
        return threading.get_ident()

    async def main() -> tuple[int, int, int, list[str]]:
        first = asyncio.create_task(reads(slow))
        await asyncio.to_thread(first_in.wait, 10)
        second = asyncio.create_task(reads(quick))
        await asyncio.sleep(0)  # the second is asked while the first is inside
        seen = list(inside)
        let_go.set()
        return threading.get_ident(), await first, await second, seen

    loop_thread, first_thread, second_thread, while_first = asyncio.run(main())
    assert loop_thread not in (first_thread, second_thread)
    assert while_first == ["first in"]
    assert inside == ["first in", "first out", "second"]
    reader.close()
    store.close()


def test_the_reader_sees_what_the_store_committed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "lantian.db", tz=SH)
    reader = store.reader()
    assert reader is not None
    with store.transaction() as db:
        db.execute("INSERT INTO labels (text) VALUES ('seen by the reader')")
    assert reader.connection.execute(
        "SELECT count(*) FROM labels WHERE text = 'seen by the reader'").fetchone() == (1,)
    reader.close()
    store.close()
