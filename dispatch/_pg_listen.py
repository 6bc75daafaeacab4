"""A wake-up from PostgreSQL: LISTEN on a channel, on a connection of its own watched by
the event loop, and a call of `wake` when a notification arrives.

The change feed (`dispatch._feed`) polls the shared store for what other instances
committed; PostgreSQL notifies `lantian_changes` as their outbox rows commit, so with
this the feed reads them within milliseconds instead of at its next poll. A notification
carries nothing the feed needs (it reads the rows), and several in one transaction are
one: the wake is a nudge, never the data.

The connection is connected in a thread (a server that does not answer must not hold
the loop for the connect timeout) and read on the loop, without blocking, when its
socket is readable. When it breaks, `up` turns False, the feed's fallback polling covers
the gap, and it connects again after a pause that doubles up to `RETRY_MAX`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

import psycopg

from dispatch._sql_engine import connect_args, redact

log = logging.getLogger(__name__)

#: The channel the outbox trigger notifies (`dispatch._pg_schema`, version 8).
CHANNEL: Final = "lantian_changes"
RETRY_FIRST: Final = 1.0
RETRY_MAX: Final = 30.0


class PgWakeup:
    def __init__(self, url: str, wake: Callable[[], object], channel: str = CHANNEL) -> None:
        self._url = url
        self._wake = wake
        self._channel = channel
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._fd = -1
        self._lost: asyncio.Event | None = None

    @property
    def up(self) -> bool:
        """Listening now: notifications will wake the feed."""
        return self._conn is not None

    async def run(self) -> None:
        """Listen until cancelled, connecting again whenever the connection is lost."""
        pause = RETRY_FIRST
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    conn = await asyncio.to_thread(self._connect)
                except psycopg.Error as e:
                    log.warning("cannot listen for other instances' changes at %s (%s);"
                                " polling meanwhile", redact(self._url),
                                str(e).strip().splitlines()[0] if str(e).strip() else e)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, RETRY_MAX)
                    continue
                pause = RETRY_FIRST
                self._lost = asyncio.Event()
                self._conn, self._fd = conn, conn.pgconn.socket
                loop.add_reader(self._fd, self._readable)
                self._nudge()  # what committed while we were not listening
                await self._lost.wait()
                await asyncio.sleep(pause)
        finally:
            self._drop()

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(
            **connect_args(self._url) | {"application_name": "lantian-listen"})
        try:
            conn.execute(f"LISTEN {self._channel}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _readable(self) -> None:
        conn = self._conn
        if conn is None:
            return
        heard = False
        try:
            conn.pgconn.consume_input()
            while conn.pgconn.notifies() is not None:
                heard = True
        except psycopg.Error as e:
            log.warning("lost the listening connection to %s (%s); polling meanwhile",
                        redact(self._url), e)
            self._drop()
            return
        if conn.pgconn.status != psycopg.pq.ConnStatus.OK:  # the peer hung up
            log.warning("lost the listening connection to %s; polling meanwhile",
                        redact(self._url))
            self._drop()
            return
        if heard:
            self._nudge()

    def _nudge(self) -> None:
        try:
            self._wake()
        except Exception:  # the feed's read failed (the store away): its next poll retries
            log.exception("the change feed failed on a wake-up")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            with contextlib.suppress(psycopg.Error):
                conn.close()
        if self._lost is not None:
            self._lost.set()
