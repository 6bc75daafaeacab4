"""The service itself, `lantian.app.serve`, on its own thread and event loop in this process.

Its own loop rather than the demo's: the service's work per message (rules, store,
publications) then never delays the simulation's timers or the console, and the demo's
HTTP calls reach it the way any client's would. It is given the simulated clock and a
`records` hook (the ledger's), nothing else that `lantian run` would not have.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime

from lantian.app import serve
from lantian.config import Settings
from rules.records import Record


class ServiceThread:
    def __init__(self, settings: Settings, clock: Callable[[], datetime],
                 records: Callable[[Record], None]) -> None:
        self.settings = settings
        self._clock = clock
        self._records = records
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="lantian-service", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}"

    def start(self, timeout_s: float = 30.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"the service did not become ready in {timeout_s:.0f} s")
        if self._error is not None:
            raise RuntimeError(f"the service failed to start: {self._error}") from self._error

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            task = asyncio.create_task(serve(self.settings, self._stop, clock=self._clock,
                                             records=self._records, ready=ready))
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start() and stop()
            self._error = exc
            self._ready.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        if self._error is not None:
            raise RuntimeError(f"the service stopped with an error: {self._error}") \
                from self._error
