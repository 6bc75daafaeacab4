"""The socket paho reads and writes through: reads ahead, and can hold writes back.

paho reads a packet as a 1-byte `recv` for its type, one per byte of its remaining length
and one for the rest: three system calls for a ~200-byte reading. `recv` here is served
from a user-space buffer refilled with one large `recv` when it runs dry, so a backlog
costs one system call per 64 KiB instead. Bytes can then wait here while the kernel socket
is not readable: `pending()` says how many, and a reader driven by `select` must not wait
for the socket while it is non-zero (`MqttConnection._readable`).

`cork()` ... `uncork()` holds what paho sends in between and hands it to the kernel in one
`send`: a burst's PUBACKs go out together. paho still writes every byte of every packet,
in its own order; this only re-times them. What the kernel did not take waits here, in
order, and goes out first: a later `send` from paho flushes it before its own bytes and,
if it cannot, says "would block" so that paho keeps its packet and waits for writability.
A stream thus never carries a packet half-written with another one's bytes after it.

The wrapped socket may be TLS: its `SSLWantReadError`/`SSLWantWriteError` reach paho
from `recv`/`send` as paho expects them, and a retried TLS write starts with the same
bytes as the one that wanted to be retried (the held bytes only ever shrink from the
front by what was sent, or grow at the back), which OpenSSL requires.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt import __version__ as paho_version

log = logging.getLogger(__name__)

#: one refill of the read buffer; also the size from which a read bypasses the buffer
CHUNK = 65_536
#: a read past the buffer asks for this much at most: paho asks for a packet's whole rest,
#: which a remaining length may put at 256 MiB, allocated by `recv` before it is filled
BIG_READ = 1 << 20
#: bytes held at most; past it a corked `send` says "would block" and paho keeps the rest
#: of its queue itself (a reconnect's resent outbox is not copied here all at once)
HOLD_MAX = 262_144

_NOT_NOW = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class BufferedSocket:
    """Wraps a connected, non-blocking socket for paho's `recv`, `send` and `close`."""

    __slots__ = ("_broken", "_corked", "_in", "_out", "_pos", "_sock", "_tls")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._tls = isinstance(sock, ssl.SSLSocket)
        self._in = b""  # read ahead; self._in[self._pos:] not yet given to paho
        self._pos = 0
        self._out = bytearray()  # sent by paho, not yet taken by the kernel
        self._corked = False
        self._broken: OSError | None = None

    @property
    def inner(self) -> socket.socket:
        return self._sock

    # -- reading -------------------------------------------------------------------------

    def recv(self, n: int) -> bytes:
        pos, held = self._pos, self._in
        if pos < len(held):
            chunk = held[pos:pos + n]
            self._pos = pos + len(chunk)
            return chunk
        if n >= CHUNK:  # the rest of a large payload: straight into paho's packet
            return self._sock.recv(min(n, BIG_READ))
        # raises BlockingIOError or SSLWantReadError when there is nothing: paho's cue
        data = self._sock.recv(CHUNK)
        if len(data) <= n:
            return data
        self._in, self._pos = data, n
        return data[:n]

    def pending(self) -> int:
        """Bytes `recv` returns without the kernel socket being readable: ours, and those
        TLS has decrypted but not yet handed out (paho's own `loop()` asks this too)."""
        held = len(self._in) - self._pos
        return held + self._sock.pending() if self._tls else held  # type: ignore[attr-defined]

    # -- writing -------------------------------------------------------------------------

    def send(self, data: bytes | bytearray) -> int:
        if self._broken is not None:
            raise self._broken
        if self._corked:
            if len(self._out) >= HOLD_MAX:
                raise BlockingIOError(errno.EAGAIN, "enough bytes held already")
            self._out += data
            return len(data)
        if self._out:
            self.flush()
            if self._out:
                raise BlockingIOError(errno.EAGAIN, "earlier bytes wait to be sent")
            if self._broken is not None:
                raise self._broken
        return self._sock.send(data)

    def cork(self) -> None:
        """Hold what paho sends from now on, until `uncork`."""
        self._corked = True

    def uncork(self) -> None:
        """Send what was held, in one `send` if the kernel takes it all."""
        self._corked = False
        self.flush()

    def unsent(self) -> int:
        """Bytes held that the kernel has not taken yet; wait for writability and call
        `flush` while non-zero."""
        return len(self._out)

    def flush(self) -> None:
        """Send what is held, as much as the kernel takes now. A failing connection is
        remembered, and reported to paho by its next `send` (its reads see it anyway)."""
        while self._out:
            try:
                sent = self._sock.send(self._out)
            except _NOT_NOW:
                return
            except OSError as exc:
                self._broken = exc
                self._out.clear()  # the connection is gone, and the broker resends
                return
            del self._out[:sent]

    # -- the rest of what paho asks of a socket --------------------------------------------

    def close(self) -> None:
        # paho closes after sending DISCONNECT: what the kernel takes now, it sends
        try:
            self.flush()
        finally:
            self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)


class BufferedClient(paho.Client):
    """paho's Client on a `BufferedSocket`.

    Installed by overriding `_create_socket` rather than from `on_socket_open`: paho
    stores what `_create_socket` returns as its socket before anything else sees it, so
    paho, its socket callbacks and the event loop all hold the same object from the first
    byte (CONNECT) on; `on_socket_open` would have to swap paho's private `_sock` from a
    callback, between paho's assignment and its first write. A paho whose `_create_socket`
    is gone would never call this and keep its own socket; `make_client` checks for that
    up front and says so."""

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if isinstance(sock, socket.socket):  # plain TCP or TLS (an SSLSocket is one)
            return BufferedSocket(sock)
        return sock  # a websocket wrapper frames its own reads: left alone


#: the paho internals a BufferedClient relies on: the socket factory, and the two
#: methods through which paho reads and writes its socket (recv and send only)
_PAHO_INTERNALS = ("_create_socket", "_sock_recv", "_sock_send", "_sock_close")
_warned = False


def make_client(**kwargs: Any) -> paho.Client:
    """A BufferedClient; paho's own Client, with one warning a process, if this paho
    lacks what the buffered socket relies on (reading then costs more, nothing else)."""
    global _warned
    missing = [n for n in _PAHO_INTERNALS if not callable(getattr(paho.Client, n, None))]
    if not missing:
        return BufferedClient(**kwargs)
    if not _warned:
        _warned = True
        log.warning("paho-mqtt %s lacks %s: MQTT is read and written through paho's own "
                    "socket, one system call per packet part", paho_version,
                    ", ".join(missing))
    return paho.Client(**kwargs)
