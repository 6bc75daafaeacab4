"""The event loop's watch on paho's socket: readable → a read burst, writable → paho's
queue written out.

paho's external-loop hooks say when its socket opens, closes, and has something to
write. They fire on the loop's thread, except while connecting, which runs in an
executor thread; `on_loop` runs the action now or hands it to the loop. The loop
watches the file descriptor number, which stays valid to unregister after paho closes it.

On a BufferedSocket (ingest/_socket.py) paho's queue is written corked, so what piled up
since the last write (a burst's acks, PINGREQ, publishes) leaves in one `send`; what the
kernel did not take keeps the socket watched for writability, and goes out before
anything of paho's after it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from ingest._socket import BufferedSocket


class SocketWatch:
    """Installs itself as `client`'s socket callbacks. `on_readable` is called when the
    socket is readable, `on_open` (on the loop) once a new socket is watched."""

    def __init__(self, client: paho.Client, on_readable: Callable[[], None],
                 on_open: Callable[[], None]) -> None:
        self._client = client
        self._on_readable = on_readable
        self._on_open = on_open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._fd: int | None = None
        self._paused = False  # reading waits (a burst is being committed)
        self._writing = False  # the loop watches self._fd for writability
        self._writing_now = False  # paho's queue is written corked now: its callbacks wait
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._socket_register_write
        client.on_socket_unregister_write = self._socket_unregister_write

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop to watch on, whose thread this is called on."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def pause_reading(self) -> None:
        """Stop watching for readability, on this socket and on any opened meanwhile."""
        if not self._paused and self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._paused = True

    def resume_reading(self) -> None:
        if self._paused and self._fd is not None and self._loop is not None:
            self._loop.add_reader(self._fd, self._on_readable)
        self._paused = False

    def on_loop(self, action: Callable[..., object], *args: object) -> None:
        assert self._loop is not None
        if self._loop_thread == threading.get_ident():
            action(*args)
        else:
            self._loop.call_soon_threadsafe(action, *args)

    def buffered(self) -> BufferedSocket | None:
        """paho's socket, if it is ours (not on a paho we fell back from, nor closed)."""
        sock = self._client.socket()
        return sock if isinstance(sock, BufferedSocket) else None

    def read_ahead(self) -> int:
        """Bytes readable that `select` does not see (BufferedSocket.pending)."""
        sock = self.buffered()
        return sock.pending() if sock is not None else 0

    def write(self, queue: Callable[[], None]) -> None:
        """`queue` packets with paho and have them written: on a BufferedSocket at once and
        corked; on paho's own socket its way, on the next writability."""
        sock = self.buffered()
        if sock is None:
            queue()
        else:
            self._write_corked(sock, queue)

    def _write_corked(self, sock: BufferedSocket, queue: Callable[[], None]) -> None:
        """`queue` packets, then have paho write its whole queue into the corked socket,
        which sends it on in one piece; paho's write callbacks are moot meanwhile (the
        watch for writability is settled once, after)."""
        self._writing_now = True
        sock.cork()
        try:
            queue()
            self._client.loop_write()
        finally:
            sock.uncork()
            self._writing_now = False
        self._watch_writes(sock.unsent() > 0 or self._client.want_write())

    # -- paho's socket callbacks ---------------------------------------------------------

    def _socket_open(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self.on_loop(self._watch, sock.fileno())

    def _watch(self, fd: int) -> None:
        assert self._loop is not None
        self._fd = fd
        if not self._paused:
            self._loop.add_reader(fd, self._on_readable)
        self._on_open()

    def _socket_close(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        self.on_loop(self._unwatch)

    def _unwatch(self) -> None:
        assert self._loop is not None
        if self._fd is not None:
            if not self._paused:
                self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = None
            self._writing = False

    def _socket_register_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        if not self._writing_now:
            self.on_loop(self._want_write, sock.fileno())

    def _want_write(self, fd: int) -> None:
        if fd == self._fd:
            self._watch_writes(True)

    def _socket_unregister_write(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        if not self._writing_now:
            self.on_loop(self._done_writing)

    def _done_writing(self) -> None:
        # paho's queue is empty; bytes the BufferedSocket still holds keep the watch
        sock = self.buffered()
        self._watch_writes(sock is not None and sock.unsent() > 0)

    def _watch_writes(self, on: bool) -> None:
        assert self._loop is not None
        if self._fd is None or on == self._writing:
            return
        self._writing = on
        if on:
            self._loop.add_writer(self._fd, self._writable)
        else:
            self._loop.remove_writer(self._fd)

    def _writable(self) -> None:
        """First what the BufferedSocket holds, then, once that is all out, paho's queue
        after it (PUBACKs paho sends itself without manual_ack, publishes, pings), corked
        too: one `send` for what piled up since the last writability."""
        sock = self.buffered()
        if sock is None:  # paho's own socket; its callbacks keep the watch
            self._client.loop_write()
            return
        sock.flush()
        if sock.unsent():
            return  # still writable-watched: paho's packets wait behind these bytes
        self._write_corked(sock, lambda: None)
