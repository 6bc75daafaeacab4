"""The read-ahead, write-holding socket paho runs on (ingest/_socket.py), on a real
`socket.socketpair()`: our end non-blocking as paho sets it, the test writing or reading the
other end. Packets are read the way paho reads them (`read_packet` below)."""

from __future__ import annotations

import inspect
import select
import socket
import threading
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest

from ingest._socket import CHUNK, HOLD_MAX, BufferedSocket


@pytest.fixture
def pair() -> Iterator[tuple[BufferedSocket, socket.socket]]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    wrapped = BufferedSocket(ours)
    yield wrapped, peer
    wrapped.close()
    peer.close()


def publish_packet(payload: bytes) -> bytes:
    """An MQTT PUBLISH, QoS 0, topic "t": its remaining length takes 1 to 3 bytes."""
    body = b"\x00\x01t" + payload
    length, n = b"", len(body)
    while True:
        byte, n = n % 128, n // 128
        length += bytes([byte | (128 if n else 0)])
        if not n:
            return b"\x30" + length + body


class PahoReader:
    """paho's `_packet_read` in miniature: a 1-byte recv for the type, one per length byte,
    then recv(rest) until it is all there; state kept across "would block"."""

    def __init__(self, sock: BufferedSocket) -> None:
        self.sock = sock
        self.packets: list[bytes] = []
        self._reset()

    def _reset(self) -> None:
        self._head = b""
        self._length: int | None = None
        self._body = bytearray()

    def read_packet(self) -> bool:
        """True when a packet was completed; False on "would block"."""
        try:
            if not self._head:
                self._head = self.sock.recv(1)
                assert self._head, "EOF in the middle of the stream"
            while self._length is None:
                byte = self.sock.recv(1)
                assert byte, "EOF in a remaining length"
                self._head += byte
                if not byte[0] & 128:
                    self._length = sum((b & 127) << (7 * i) for i, b in enumerate(self._head[1:]))
            while len(self._body) < self._length:
                data = self.sock.recv(self._length - len(self._body))
                assert data, "EOF in a packet body"
                self._body += data
        except BlockingIOError:
            return False
        self.packets.append(self._head + bytes(self._body))
        self._reset()
        return True

    def read_all(self) -> None:
        while self.read_packet():
            pass


def test_one_recv_takes_what_waits_and_the_rest_is_served_from_the_buffer(
    pair: tuple[BufferedSocket, socket.socket],
) -> None:
    sock, peer = pair
    stream = b"".join(publish_packet(b"reading %d" % i) for i in range(50))
    peer.sendall(stream)
    reader = PahoReader(sock)
    assert reader.read_packet()
    # the whole burst came in with the first read: paho's next reads need no kernel
    assert sock.pending() == len(stream) - len(reader.packets[0])
    reader.read_all()
    assert b"".join(reader.packets) == stream
    assert sock.pending() == 0


def test_nothing_to_read_is_would_block_as_paho_expects(
    pair: tuple[BufferedSocket, socket.socket],
) -> None:
    sock, peer = pair
    with pytest.raises(BlockingIOError):
        sock.recv(1)
    peer.close()
    assert sock.recv(1) == b""  # and the end of the stream is still an empty read


def test_a_stream_split_at_every_byte_is_read_whole() -> None:
    # a 2-byte and a 1-byte remaining length, then a 3-byte one: each split point falls
    # in a type byte, a length or a body once
    packets = [publish_packet(b"x" * 200), publish_packet(b"pm10=187"),
               publish_packet(b"y" * 20_000)]
    stream = b"".join(packets)
    for split in range(1, len(stream)):
        ours, peer = socket.socketpair()
        ours.setblocking(False)
        sock = BufferedSocket(ours)
        try:
            reader = PahoReader(sock)
            peer.sendall(stream[:split])
            reader.read_all()
            assert sock.pending() == 0  # all taken: the reader waits for the kernel
            peer.sendall(stream[split:])
            reader.read_all()
            assert reader.packets == packets, f"split at {split}"
        finally:
            sock.close()
            peer.close()


def test_a_megabyte_payload_crosses_many_reads_between_small_ones(
    pair: tuple[BufferedSocket, socket.socket],
) -> None:
    sock, peer = pair
    packets = [publish_packet(b"a"), publish_packet(bytes(range(256)) * 4096),  # 1 MiB
               publish_packet(b"b"), publish_packet(b"c" * (CHUNK - 10)), publish_packet(b"d")]
    writer = threading.Thread(target=peer.sendall, args=(b"".join(packets),))
    writer.start()  # more than the socket buffers hold: the peer writes as we read
    reader = PahoReader(sock)
    try:
        while len(reader.packets) < len(packets):
            reader.read_all()  # until "would block": nothing held, so wait for the kernel
            if len(reader.packets) < len(packets):
                assert select.select([sock.inner], [], [], 10)[0], "the peer stopped"
    finally:
        writer.join(10)
    assert reader.packets == packets


def test_corked_sends_reach_the_peer_together_and_in_order_once_uncorked(
    pair: tuple[BufferedSocket, socket.socket],
) -> None:
    sock, peer = pair
    acks = [b"\x40\x02" + mid.to_bytes(2, "big") for mid in range(1, 65)]
    sock.cork()
    for ack in acks:
        assert sock.send(ack) == len(ack)  # taken whole, as paho expects of a send
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(1)  # nothing left us yet
    sock.uncork()
    assert sock.unsent() == 0
    peer.setblocking(True)
    assert recv_exactly(peer, 4 * 64) == b"".join(acks)


def recv_exactly(peer: socket.socket, n: int) -> bytes:
    got = bytearray()
    while len(got) < n:
        data = peer.recv(n - len(got))
        assert data, "EOF before all bytes came"
        got += data
    return bytes(got)


def test_what_the_kernel_does_not_take_is_kept_sent_first_and_never_interleaved() -> None:
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ours.setblocking(False)
    sock = BufferedSocket(ours)
    try:
        acks = b"".join(b"\x40\x02" + (i % 65535 + 1).to_bytes(2, "big") for i in range(100_000))
        sock.cork()
        sock.send(acks)
        sock.uncork()  # the peer does not read: the kernel takes only part
        assert 0 < sock.unsent() < len(acks)
        ping = b"\xc0\x00"  # paho's next packet must wait behind the held bytes
        with pytest.raises(BlockingIOError):
            sock.send(ping)
        received = bytearray()
        while sock.unsent():
            received += peer.recv(65536)  # the peer reads a little; we flush as we can
            sock.flush()
        assert sock.send(ping) == len(ping)
        received += recv_exactly(peer, len(acks) + len(ping) - len(received))
        assert bytes(received) == acks + ping
    finally:
        sock.close()
        peer.close()


def test_held_bytes_are_bounded_and_paho_keeps_what_would_pass_the_bound(
    pair: tuple[BufferedSocket, socket.socket],
) -> None:
    sock, _ = pair
    sock.cork()
    packet = b"\x32" + b"\x7f" + b"p" * 127
    sent = 0
    with pytest.raises(BlockingIOError):  # paho's cue to keep its packet and wait
        while True:
            sock.send(packet)
            sent += 1
    assert sock.unsent() == sent * len(packet) < HOLD_MAX + len(packet)


def test_close_sends_what_was_held_before_closing(
    pair: tuple[BufferedSocket, socket.socket],
) -> None:
    sock, peer = pair
    sock.cork()
    sock.send(b"\x40\x02\x00\x01")  # a PUBACK
    sock.send(b"\xe0\x00")  # DISCONNECT: paho closes the socket right after it
    sock.close()
    assert recv_exactly(peer, 6) == b"\x40\x02\x00\x01\xe0\x00"
    assert peer.recv(1) == b""


def test_a_connection_broken_while_flushing_is_reported_by_the_next_send(
    pair: tuple[BufferedSocket, socket.socket],
) -> None:
    sock, peer = pair
    peer.close()
    sock.cork()
    sock.send(b"\x40\x02\x00\x01")
    sock.uncork()
    with pytest.raises(OSError):
        sock.send(b"\xc0\x00")


def test_paho_reads_and_writes_its_socket_through_recv_and_send_only() -> None:
    # what BufferedSocket relies on; a paho upgrade that reads otherwise fails here
    assert "self._sock.recv(bufsize)" in inspect.getsource(paho.Client._sock_recv)
    assert "self._sock.send(buf)" in inspect.getsource(paho.Client._sock_send)
    assert "self._sock = self._create_socket()" in inspect.getsource(paho.Client.reconnect)
