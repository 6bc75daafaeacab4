"""The two SQL engines the store runs on, behind the few calls its modules make.

The store's modules (`dispatch._sqlite*`, `lantian.recovery`, ingest's dead letters and
data gaps) were written against `sqlite3.Connection`: `execute(sql, params)` with `?`
marks, `executemany`, the cursor's `fetchone`/`fetchall`/`rowcount`/iteration,
`in_transaction`, and BEGIN/COMMIT/SAVEPOINT as statements. `Connection` is that much,
which `sqlite3.Connection` has as it is and `PgConnection` gives over a psycopg 3
connection in autocommit mode (so that, as with SQLite, a statement outside BEGIN commits
by itself, and the store alone decides where transactions begin and end). Most SQL text
is the same for both engines (`ON CONFLICT`, `RETURNING`, partial indexes, `FILTER`);
where they differ the store asks `Dialect`.

`PgConnection` bounds every call: a server that is down or refuses makes a call fail at
once, one that does not answer the connection within `CONNECT_TIMEOUT_S`, a statement or
lock wait past `STATEMENT_TIMEOUT_S` is ended by the server, and a peer gone without a
word is noticed by TCP keepalives (`connect_args`). A server that is there but answers
nothing (frozen: SIGSTOP, a hung host, a partition that drops packets the kernel still
acknowledges) is what none of those notice; a watchdog thread, the connection's only
other user, shuts the socket down under a call that has run `call_timeout_s`, and the
call fails with `psycopg.OperationalError`. The next call outside a transaction connects
again. A transaction the lost connection held is gone with it (the server rolls it back
when it notices), so the ROLLBACK that follows the failure is not sent.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import psycopg
from psycopg import pq, waiting

from dispatch._turns import Turns


class StoreUnavailable(RuntimeError):
    """The store's database cannot be reached, or opened by this version of Lantian; the
    message names it (never with a password) and why."""


#: What a refused write raises, on either engine.
INTEGRITY_ERRORS: Final[tuple[type[Exception], ...]] = (
    sqlite3.IntegrityError, psycopg.IntegrityError,
)
#: What a store that cannot be used raises, on either engine.
STORE_ERRORS: Final[tuple[type[Exception], ...]] = (sqlite3.Error, psycopg.Error)

#: Seconds a statement, a lock wait or a connection attempt may take on PostgreSQL.
STATEMENT_TIMEOUT_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 5
#: Seconds a call may take before the watchdog cuts the connection: past the server's
#: own statement timeout, so that a slow statement gets the server's clear error first.
CALL_TIMEOUT_S: Final = STATEMENT_TIMEOUT_S + 5
#: Seconds a statement in a turn waits for the server's answer on the spot, the loop
#: held, before it gives the loop back to wait there: a loopback server answers most
#: statements within it, and each trip through the loop cost a raise's alert latency.
ON_THE_SPOT_S: Final = 0.0003
#: How PostgreSQL compresses the large values this store writes (a burst's journal row,
#: ~24 KB for 110 readings; snapshots; payloads): with its default, pglz, such a burst
#: cost the server 240 µs of CPU and its commit 377 µs; with lz4 90 and 248 µs
#: (`python -m bench.journal --burst 110`). PostgreSQL 14 on, built with lz4 (Debian's is).
TOAST_COMPRESSION: Final = "lz4"


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store's modules use of a database connection."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """The few SQL texts that differ between the engines."""

    name: str
    #: how a write transaction begins: SQLite takes the write lock up front, since
    #: another connection (the `lantian users` command) may write in between
    begin: str
    #: whether a burst's BEGIN waits for the store's first use (`SqlStore.begin`): where
    #: it is a round trip to a server. SQLite's is a call into this process, and takes
    #: the file's write lock before the burst does anything: a burst that cannot have it
    #: (another process holds it) fails before its messages are processed and counted.
    deferred_begin: bool

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def in_json_list(self, column: str, marks: str) -> str:
        """A condition: the JSON list in `column` holds one of the values of `marks`."""
        if self.postgres:
            return (f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({column}::jsonb)"
                    f" AS j(value) WHERE j.value IN ({marks}))")
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value IN ({marks}))"


SQLITE: Final = Dialect("sqlite", "BEGIN IMMEDIATE", deferred_begin=False)
POSTGRES: Final = Dialect("postgresql", "BEGIN", deferred_begin=True)

_MARK = re.compile(r"\?")


@functools.lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """`?` marks as psycopg's `%s` (the store's SQL has no `?` nor `%` in literals);
    cached: the store's statements are a few hundred texts, run again and again."""
    return _MARK.sub("%s", sql.replace("%", "%%"))


def connect_args(url: str) -> dict[str, Any]:
    """The bounds of a call to PostgreSQL: connecting, a statement, a lock wait, and the
    TCP keepalives and user timeout that notice a peer gone without a word."""
    ms = int(STATEMENT_TIMEOUT_S * 1000)
    return {
        "conninfo": url, "autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S,
        "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"
                   f" -c idle_in_transaction_session_timeout={6 * ms}",
        "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
        "keepalives_count": 3, "tcp_user_timeout": ms,
        "application_name": "lantian",
    }


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PgConnection:
    """`Connection` over psycopg 3: see the module docstring."""

    def __init__(self, url: str, *, call_timeout_s: float = CALL_TIMEOUT_S,
                 turns: Turns | None = None) -> None:
        self.url = url
        #: in a turn a call's waits for the server are the event loop's, which goes on
        #: meanwhile (`_LoopWaits`), and connecting again the writer thread's
        self._turns = turns
        self._pg: psycopg.Connection[tuple[Any, ...]] = self._connect()
        self._closed = False
        self._call_timeout = call_timeout_s
        self._deadline = 0.0  # monotonic time the running call must end by; 0: none runs
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="pg-watchdog", daemon=True).start()

    def _watch(self) -> None:
        tick = min(1.0, self._call_timeout / 4)
        while not self._stop.wait(tick):
            deadline = self._deadline
            if deadline and time.monotonic() > deadline and self._deadline == deadline:
                self._deadline = 0.0
                _cut(self._pg)

    def _live(self, sql: str) -> psycopg.Connection[tuple[Any, ...]] | None:
        if self._pg.closed and not self._closed:
            if sql.startswith(("ROLLBACK", "RELEASE")):
                return None  # the transaction died with the connection
            self._pg = (self._connect() if self._turns is None or not self._turns.in_turn()
                        else self._turns.blocking(self._connect))  # off the loop: seconds
        return self._pg

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        pg = _LoopWaits.connect(**connect_args(self.url))
        pg.turns = self._turns
        # not in `options`, which a server that does not know it (before 14, or built
        # without lz4) would refuse the connection for: there its default stays
        with contextlib.suppress(psycopg.Error):
            pg.execute(f"SET default_toast_compression = {TOAST_COMPRESSION}")
        return pg

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        pg = self._live(sql)
        if pg is None:
            return _NO_ROWS
        self._deadline = time.monotonic() + self._call_timeout
        try:
            if not parameters:  # no marks: psycopg sends the text as it is
                return pg.execute(sql.encode())
            return pg.execute(pg_sql(sql), parameters)
        finally:
            self._deadline = 0.0

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        pg = self._live(sql)
        assert pg is not None
        self._deadline = time.monotonic() + self._call_timeout
        try:
            cur = pg.cursor()
            cur.executemany(pg_sql(sql), parameters)
            return cur
        finally:
            self._deadline = 0.0

    @property
    def in_transaction(self) -> bool:
        status = self._pg.info.transaction_status
        return status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)

    @property
    def pg(self) -> psycopg.Connection[tuple[Any, ...]]:
        return self._pg

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        self._pg.close()


class _LoopWaits(psycopg.Connection[tuple[Any, ...]]):
    """psycopg's connection, whose every wait for the server goes through `wait`: in a
    turn (`dispatch._turns`) the wait is the event loop's (psycopg's own `wait_async`,
    on the connection's socket), and the loop serves everything else meanwhile; the
    statement and its rows are then the same as ever. Elsewhere, psycopg's own wait."""

    turns: Turns | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        turns = self.turns
        if turns is None or not turns.in_turn():
            if turns is not None:
                turns.outside()
            return super().wait(gen, interval, timeout)
        fd = self.pgconn.socket
        try:  # first on the spot: a trip through the loop costs more than a short wait
            asked = next(gen)
            while ready := _ready(fd, asked, ON_THE_SPOT_S):
                asked = gen.send(ready)
        except StopIteration as done:
            return done.value
        return turns.awaiting(waiting.wait_async(
            _resumed(gen, asked), fd, interval=interval, timeout=timeout))


def _ready(fd: int, asked: int, within_s: float) -> int:
    """What of `asked` (psycopg's `Wait`) the socket is ready for within `within_s`."""
    r, w, _ = select.select([fd] if asked & waiting.WAIT_R else [],
                            [fd] if asked & waiting.WAIT_W else [], [], within_s)
    return (waiting.READY_R if r else 0) | (waiting.READY_W if w else 0)


def _resumed(gen: Any, asked: int) -> Any:
    """`gen`, already started and asking for `asked`, as a generator from its start."""
    ready = yield asked
    while True:
        try:
            asked = gen.send(ready)
        except StopIteration as done:
            return done.value
        ready = yield asked


def _cut(pg: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Shut down the connection's socket under the call blocked on it (from the watchdog
    thread): the call then fails as on a connection reset."""
    try:
        fd = os.dup(pg.pgconn.socket)
    except (OSError, psycopg.Error):
        return  # closed meanwhile
    with socket.socket(fileno=fd) as s, contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)


class _NoRows:
    rowcount = 0

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


_NO_ROWS: Final = _NoRows()
