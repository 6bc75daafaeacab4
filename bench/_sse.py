"""A Server-Sent Events reader on its own thread (httpx, streaming): what the stream
tests and `bench.console` listen with. Each event is kept with the monotonic time it
arrived."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Sse:
    id: str
    event: str
    data: str
    received_at: float


class SseReader:
    """Listens on `url` until `close()` or the server ends the stream (`ended`)."""

    def __init__(self, url: str, headers: dict[str, str],
                 last_event_id: str | None = None) -> None:
        self.url = url
        self.headers = dict(headers) | (
            {"Last-Event-ID": last_event_id} if last_event_id is not None else {})
        self.events: list[Sse] = []
        self.status: int | None = None
        self.connected = threading.Event()
        self.ended = threading.Event()
        self._response: httpx.Response | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers,
                              timeout=httpx.Timeout(10, read=None)) as response:
                self._response = response
                self.status = response.status_code
                self.connected.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if not line:
                        if "data" in fields or "event" in fields:
                            self.events.append(Sse(
                                fields.get("id", ""), fields.get("event", "message"),
                                fields.get("data", ""), time.monotonic()))
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except (httpx.HTTPError, OSError, RuntimeError):
            if not self._closing:
                raise
        finally:
            self.connected.set()
            self.ended.set()

    def named(self, event: str) -> list[Sse]:
        return [e for e in self.events if e.event == event]

    def close(self) -> None:
        self._closing = True
        if self._response is not None:
            # closing the response from here does not wake the reader's blocked read;
            # shutting the socket down does
            stream = self._response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
