"""What journalling a burst of MQTT messages costs the event loop, on each store engine:
a row a message (how Lantian wrote the journal before schema version 10) against one
row a burst, its messages packed (`lantian.recovery.Journal` now).

    python -m bench.journal [--burst 64] [--bursts 200] [--rounds 5] [--no-postgres]

A burst, timed as `lantian.recovery.Burst` runs it: `store.begin()`, each message handed
to the journal as ingest hands it (`message(topic, payload, at)`, ~200-byte readings on
1,000 stations' topics), then the row made with the commit (`store.commit(journal.take())`;
the old way: `journal.flush()`, then `store.commit()`). Both ways write the
same table of the same store, in rounds that alternate between them (the box's drift
hits both alike); the figures are medians over every burst of every round, wall time
(the loop is blocked for it) and this process's CPU time.

On PostgreSQL a third way is the row a burst compressed as the server does by default,
pglz, where the store asks for lz4 (`dispatch._sql_engine.TOAST_COMPRESSION`; a burst's
row is past the 2 KB at which the server compresses a value), and a column says what
each way cost the server: its backend's CPU over all the bursts of all rounds, a burst.

The engines: a SQLite store file (WAL) in a temporary directory; a PostgreSQL server of
its own (`tests.postgres.run_postgres(durable=True)`: loopback TCP, a commit waiting for
its WAL write, fsync off as in the tests — add the disk's flush to each commit in
production), as docs/postgresql.md's table describes it.

Last, a restart's read of the journal (`Journal.after`) of one round's bursts each way:
the replay reads the packed rows back, unpacking every message.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from bench._common import console, machine_info, print_header, reading_payload, reading_topic
from bench._service import process_cpu_s
from dispatch._sql_engine import TOAST_COMPRESSION
from dispatch.stores import PgStore, SqlStore, open_store
from lantian.layouts import SINGLE
from lantian.recovery import Journal
from tests.postgres import new_database, run_postgres


class RowAMessage:
    """The journal's writes as they were before schema version 10: the burst's messages
    held, then one `executemany` of a row each (the code of `Journal` then, verbatim)."""

    def __init__(self, store: SqlStore, partition: str = SINGLE) -> None:
        self._store = store
        self.partition = partition
        self._pending: list[tuple[float, str, bytes, str]] = []
        self._holding = False

    def hold(self) -> None:
        self._holding = True

    def message(self, topic: str, payload: bytes, at: datetime) -> None:
        self._pending.append((at.timestamp(), topic, payload, self.partition))

    def flush(self) -> None:
        self._holding = False
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        with self._store.transaction() as db:
            db.executemany("INSERT INTO inputs (at, topic, payload, partition)"
                           " VALUES (?, ?, ?, ?)", rows)


Writer = RowAMessage | Journal
WAYS: dict[str, Callable[[SqlStore, str], Writer]] = {
    "row a message (before)": RowAMessage,
    "row a burst, pglz (before)": Journal,
    "row a burst (now)": Journal,
}
#: the ways that differ from "now" by the server's compression alone (PostgreSQL only)
COMPRESSION: dict[str, str] = {"row a burst, pglz (before)": "pglz"}


def messages(n: int) -> list[tuple[str, bytes, datetime]]:
    base_ms = int(time.time() * 1000) - 3_600_000
    now = datetime.now(UTC)
    return [(reading_topic(i), reading_payload(i, base_ms, time.time()), now) for i in range(n)]


def bursts(store: SqlStore, journal: Writer, burst: list[tuple[str, bytes, datetime]],
           count: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of `count` bursts."""
    wall, cpu = [], []
    for _ in range(count):
        w0, c0 = time.perf_counter(), time.process_time()
        store.begin()
        journal.hold()
        for topic, payload, at in burst:
            journal.message(topic, payload, at)
        if isinstance(journal, Journal):  # as Burst.end makes it
            store.commit(journal.take())
        else:
            journal.flush()
            store.commit()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


@contextmanager
def engines(postgres: bool) -> Iterator[Iterator[tuple[str, str]]]:
    """(engine, URL of a fresh store) for each way, for each engine."""
    with tempfile.TemporaryDirectory(prefix="lantian-bench-journal-") as tmp:
        def urls() -> Iterator[tuple[str, str]]:
            yield "SQLite", f"sqlite:///{Path(tmp) / 'journal.db'}"
            if postgres:
                for server in run_postgres(durable=True):
                    yield "PostgreSQL", new_database(server)
        yield urls()


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.journal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--burst", type=int, default=64, help="messages a burst (default 64)")
    p.add_argument("--bursts", type=int, default=200, help="bursts a round and way")
    p.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = p.parse_args(argv)
    print_header("Lantian journal benchmark", machine_info())
    burst = messages(args.burst)
    table = Table(title=f"a burst of {args.burst} messages journalled and committed"
                        f" (medians of {args.rounds} × {args.bursts} bursts)")
    for column in ("engine", "way", "wall / burst", "CPU / burst", "server CPU / burst",
                   "wall / message", "replay read / message"):
        table.add_column(column, justify="left" if column in ("engine", "way") else "right")
    with engines(not args.no_postgres) as found:
        for engine, url in found:
            store = open_store(url)
            try:
                server = server_cpu_s(store)
                ways = [w for w in WAYS if server is not None or w not in COMPRESSION]
                journals = {way: WAYS[way](store, SINGLE) for way in ways}
                walls: dict[str, list[float]] = {way: [] for way in ways}
                cpus: dict[str, list[float]] = {way: [] for way in ways}
                served = dict.fromkeys(ways, 0.0)
                bursts(store, journals["row a burst (now)"], burst, 10)  # warm up
                for r in range(args.rounds):
                    for way, journal in journals.items():
                        if server is not None:
                            compress(store, COMPRESSION.get(way, TOAST_COMPRESSION))
                            before = server()
                        wall, cpu = bursts(store, journal, burst, args.bursts)
                        if server is not None:
                            served[way] += server() - before
                        walls[way] += wall
                        cpus[way] += cpu
                        console.print(f"[dim]{engine} round {r + 1}: {way}:"
                                      f" {statistics.median(wall) * 1e6:,.0f} µs a burst[/dim]")
                reads = replay_reads(url, burst, args.bursts, ways)
            finally:
                store.close()
            base = statistics.median(walls["row a message (before)"])
            for way in ways:
                median = statistics.median(walls[way])
                table.add_row(engine, way, f"{median * 1e6:,.0f} µs ({median / base:.2f}×)",
                              f"{statistics.median(cpus[way]) * 1e6:,.0f} µs",
                              f"{served[way] / len(walls[way]) * 1e6:,.0f} µs"
                              if server is not None else "-",
                              f"{median / args.burst * 1e6:,.1f} µs",
                              f"{reads[way] * 1e6:,.1f} µs")
    console.print(table)


def server_cpu_s(store: SqlStore) -> Callable[[], float] | None:
    """The CPU seconds so far of the store's PostgreSQL backend; None on SQLite."""
    if not isinstance(store, PgStore):
        return None
    pid = int(store.connection.execute("SELECT pg_backend_pid()").fetchone()[0])
    return lambda: process_cpu_s(pid)


def compress(store: SqlStore, method: str) -> None:
    store.connection.execute(f"SET default_toast_compression = {method}")


def replay_reads(url: str, burst: list[tuple[str, bytes, datetime]], count: int,
                 ways: Sequence[str]) -> dict[str, float]:
    """Seconds a message to read back a journal of `count` bursts written each way, each
    way in a partition of its own of a fresh store (median of 3 reads)."""
    out: dict[str, float] = {}
    store = open_store(url)
    try:
        for n, way in enumerate(ways):
            partition = f"{n}/9"
            journal = WAYS[way](store, partition)
            if isinstance(store, PgStore):
                compress(store, COMPRESSION.get(way, TOAST_COMPRESSION))
            bursts(store, journal, burst, count)
            reader = Journal(store, partition)
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                entries = sum(1 for _ in reader.after(0))
                times.append(time.perf_counter() - t0)
            assert entries == count * len(burst), (way, entries)
            out[way] = statistics.median(times) / entries
    finally:
        store.close()
    return out


if __name__ == "__main__":
    main()
