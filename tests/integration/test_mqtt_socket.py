"""MqttConnection on its read-ahead, ack-coalescing socket (ingest/_socket.py), end to end.

Where the wire has to be exact (one TCP segment carrying a burst, a packet split at a
chosen byte, a peer that stops reading), the broker is `WireBroker`: a real TCP server in
the test's thread that speaks just enough MQTT 5 (CONNACK, SUBACK, then what the test
writes) and reads back every byte the client sends. The rest runs on a real Mosquitto,
TLS included.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import subprocess
import termios
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ingest._socket
from ingest import BrokerSettings
from ingest._socket import BufferedSocket
from tests.integration.test_mqtt_reconnect import (
    TOPIC,
    Client,
    LoopThread,
    assert_session_empty,
    settings,
)
from tests.support import (
    Broker,
    broker_dir,
    free_port,
    require_binary,
    run_mosquitto,
    wait_until,
)

pytestmark = pytest.mark.integration

PUBACK, DISCONNECT = 0x40, 0xE0


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


def remaining_length(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n % 128, n // 128
        out += bytes([byte | (128 if n else 0)])
        if not n:
            return out


def publish(mid: int, payload: bytes, topic: str = TOPIC) -> bytes:
    """An MQTT 5 PUBLISH at QoS 1, no properties."""
    body = struct.pack("!H", len(topic)) + topic.encode() + struct.pack("!H", mid) + b"\x00"
    body += payload
    return b"\x32" + remaining_length(len(body)) + body


class WireBroker:
    """One client's broker, driven by the test: `accept` answers its CONNECT and
    SUBSCRIBE; then the test writes packets and reads what the client sends back."""

    def __init__(self, rcvbuf: int | None = None) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        if rcvbuf is not None:  # inherited by the accepted connection
            self.server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.server.settimeout(10)
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None
        self._in = b""

    def accept(self) -> socket.socket:
        conn, _ = self.server.accept()
        conn.settimeout(10)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.conn is not None:
            self.conn.close()  # the client's previous connection
        self.conn, self._in = conn, b""
        kind, _ = self.packet()
        assert kind == 0x10, "CONNECT first"
        conn.sendall(b"\x20\x03\x00\x00\x00")  # CONNACK: no session, success, no properties
        kind, body = self.packet()
        assert kind == 0x82, "then SUBSCRIBE"
        conn.sendall(b"\x90\x04" + body[:2] + b"\x00\x01")  # SUBACK: granted QoS 1
        return conn

    def packet(self) -> tuple[int, bytes]:
        """The next packet the client sent: (first byte, body)."""
        head = self._take(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._take(1)[0]
            length |= (byte & 127) << shift
            shift += 7
            if not byte & 128:
                return head, self._take(length)

    def _take(self, n: int) -> bytes:
        assert self.conn is not None
        while len(self._in) < n:
            data = self.conn.recv(65536)
            assert data, "the client closed the connection"
            self._in += data
        out, self._in = self._in[:n], self._in[n:]
        return out

    def acks(self, n: int) -> list[int]:
        """The next n packets, which must all be PUBACKs: their message ids."""
        mids = []
        for _ in range(n):
            kind, body = self.packet()
            assert kind == PUBACK, f"packet {kind:#x} where a PUBACK was due"
            mids.append(struct.unpack("!H", body[:2])[0])
        return mids

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def wire() -> Iterator[Callable[..., WireBroker]]:
    made: list[WireBroker] = []

    def make(**kwargs: Any) -> WireBroker:
        made.append(b := WireBroker(**kwargs))
        return b

    yield make
    for b in made:
        b.close()


def wire_settings(port: int) -> BrokerSettings:
    # a long keep-alive: no PINGREQ/PINGRESP traffic to wake a stalled reader
    return settings(port, client_id=f"lantian-wire-{port}", keepalive_s=60)


def unread(c: Client) -> int:
    """Bytes the client has not read yet: in its kernel socket, and read ahead."""
    sock = c.conn._client.socket()
    assert isinstance(sock, BufferedSocket)
    n = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
    return int(n) + sock.pending()


@pytest.mark.parametrize("manual_ack", [True, False], ids=["manual acks", "paho's acks"])
def test_a_burst_in_one_segment_all_arrives_with_no_more_traffic_and_is_acked_in_order(
    loop: LoopThread, wire: Callable[..., WireBroker], manual_ack: bool,
) -> None:
    # more messages than a read burst takes (_READ_BUDGET): after the first burst the
    # rest sit read ahead while the kernel socket has nothing; a reader that went back to
    # select would never see them. paho's own acks (no manual_ack) are written corked
    # on writability: the same bytes, in the same order.
    broker = wire()
    ends: list[int] = []
    c = Client(loop, wire_settings(broker.port), manual_ack=manual_ack,
               on_burst_end=lambda: ends.append(len(c.messages))).start()
    try:
        conn = broker.accept()
        wait_until(c.connected, what="the connection")
        n = 500
        conn.sendall(b"".join(publish(mid, b"reading %d" % mid) for mid in range(1, n + 1)))
        wait_until(lambda: len(c.messages) == n, what=f"all {n} messages, nothing more sent")
        assert c.messages == [b"reading %d" % mid for mid in range(1, n + 1)]
        assert len(ends) > 1  # several bursts, each committed before its acks
        assert broker.acks(n) == list(range(1, n + 1))
    finally:
        c.stop()


def test_packets_split_at_every_byte_are_delivered_whole(
    loop: LoopThread, wire: Callable[..., WireBroker],
) -> None:
    broker = wire()
    c = Client(loop, wire_settings(broker.port), manual_ack=True,
               on_burst_end=lambda: None).start()
    try:
        conn = broker.accept()
        wait_until(c.connected, what="the connection")
        # a 2-byte remaining length, then a 1-byte one
        pair = [b"p" * 200, b"pm10"]
        expected: list[bytes] = []
        stream = publish(1, pair[0]) + publish(2, pair[1])
        for split in range(1, len(stream)):
            conn.sendall(stream[:split])
            # the client has read the first part (and maybe delivered a message) before
            # the rest is written: the split is where its reads stop
            wait_until(lambda: unread(c) == 0, what=f"the first {split} bytes read")
            conn.sendall(stream[split:])
            expected += pair
            due = len(expected)
            wait_until(lambda: len(c.messages) == due,  # noqa: B023  (waited for here)
                       what=f"both messages split at byte {split}")
        assert c.messages == expected
        assert broker.acks(len(expected)) == [1, 2] * (len(stream) - 1)
    finally:
        c.stop()


def test_acks_the_kernel_cannot_take_are_kept_and_sent_once_the_broker_reads(
    loop: LoopThread, wire: Callable[..., WireBroker],
) -> None:
    broker = wire(rcvbuf=4096)
    c = Client(loop, wire_settings(broker.port), manual_ack=True,
               on_burst_end=lambda: None).start()
    try:
        conn = broker.accept()
        wait_until(c.connected, what="the connection")
        sock = c.conn._client.socket()
        assert isinstance(sock, BufferedSocket)
        # a small send buffer on the client's socket too (the same socket, another fd)
        with socket.socket(fileno=os.dup(sock.fileno())) as same:
            same.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        n = 20_000
        conn.sendall(b"".join(publish(mid, b"r") for mid in range(1, n + 1)))
        wait_until(lambda: len(c.messages) == n, what="all messages")
        # the broker has read nothing: the acks fill both kernel buffers, the rest waits
        wait_until(lambda: sock.unsent() > 0, what="acks held back by a full socket")
        assert broker.acks(n) == list(range(1, n + 1))  # all, in order, none interleaved
        wait_until(lambda: sock.unsent() == 0, what="the held acks all sent")
    finally:
        c.stop()


def test_a_failed_commit_sends_no_ack_and_the_connection_is_left(
    loop: LoopThread, wire: Callable[..., WireBroker],
) -> None:
    broker = wire()

    def commit() -> None:
        raise RuntimeError("the store is locked")

    c = Client(loop, wire_settings(broker.port), manual_ack=True, on_burst_end=commit).start()
    try:
        conn = broker.accept()
        wait_until(c.connected, what="the connection")
        conn.sendall(b"".join(publish(mid, b"precious") for mid in range(1, 101)))
        kind, _ = broker.packet()
        assert kind == DISCONNECT  # first thing on the wire after the messages: no PUBACK
        broker.accept()  # and the client comes back for the redelivery
        wait_until(lambda: c.attempts("connected") == 2, what="the reconnection")
    finally:
        c.stop()


def test_a_megabyte_payload_between_small_ones_arrives_whole(
    broker: Broker, loop: LoopThread,
) -> None:
    c = Client(loop, settings(broker.port, client_id=f"lantian-big-{free_port()}"),
               manual_ack=True, on_burst_end=lambda: None).start()
    try:
        wait_until(c.connected, what="the connection")
        big = bytes(range(256)) * 4096  # 1 MiB
        for payload in (b"before", big, b"after"):
            broker.pub(TOPIC, payload)
        wait_until(lambda: len(c.messages) == 3, what="the three messages")
        assert c.messages == [b"before", big, b"after"]
    finally:
        c.stop()


def tls_conf(directory: Path, port: int) -> tuple[str, Path]:
    """A TLS listener whose certificate names 127.0.0.1 as an IP address (which a
    verifying client checks), and that certificate as the client's CA file."""
    key, cert = directory / "server.key", directory / "server.crt"
    subprocess.run(
        [require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, timeout=60, capture_output=True,
    )
    key.chmod(0o644)  # a throwaway key, readable by the `mosquitto` user
    return f"listener {port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n", cert


def test_over_tls_a_backlog_is_read_and_acked(tmp_path: Path, loop: LoopThread) -> None:
    tls_port = free_port()
    with broker_dir() as d:
        conf, ca = tls_conf(d, tls_port)
        with run_mosquitto(tmp_path / "b", conf) as broker:
            tls = settings(tls_port, client_id=f"lantian-tls-{tls_port}", tls=True,
                           ca_file=str(ca), receive_maximum=20)
            c = Client(loop, tls, manual_ack=True, on_burst_end=lambda: None).start()
            try:
                wait_until(c.connected, what="the TLS connection")
                assert isinstance(c.conn._client.socket(), BufferedSocket)
                # published on the plain listener; with 20 in flight at most, all 2,000
                # arriving means the acks went out over TLS all along
                lines = b"".join(b"m%d %s\n" % (i, b"x" * (i % 3000)) for i in range(2000))
                subprocess.run(
                    [require_binary("mosquitto_pub"), "-h", broker.host, "-p",
                     str(broker.port), "-t", TOPIC, "-q", "1", "-l"],
                    input=lines, check=True, timeout=60)
                wait_until(lambda: len(c.messages) == 2000, timeout=30, what="all messages")
                assert c.messages == lines.splitlines()
            finally:
                c.stop()
            # every one acked: the session holds nothing for the next connection
            assert_session_empty(loop, tls, broker)


def test_on_a_paho_without_the_internals_relied_on_its_own_socket_serves_with_one_warning(
    broker: Broker, loop: LoopThread, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # as another paho version would look: one of the internals missing
    monkeypatch.setattr(ingest._socket, "_PAHO_INTERNALS", ("_create_socket", "_gone"))
    monkeypatch.setattr(ingest._socket, "_warned", False)
    made = [Client(loop, settings(broker.port, client_id=f"lantian-old-{free_port()}",
                                  receive_maximum=5), manual_ack=True,
                   on_burst_end=lambda: None) for _ in range(2)]
    warnings = [r for r in caplog.records if "lacks _gone" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    c = made[0].start()
    try:
        wait_until(c.connected, what="the connection")
        sock = c.conn._client.socket()
        assert sock is not None and not isinstance(sock, BufferedSocket)
        # acks by paho's own path keep a window of 5 moving
        lines = b"".join(b"m%d\n" % i for i in range(200))
        subprocess.run([require_binary("mosquitto_pub"), "-h", broker.host, "-p",
                        str(broker.port), "-t", TOPIC, "-q", "1", "-l"],
                       input=lines, check=True, timeout=30)
        wait_until(lambda: len(c.messages) == 200, what="all 200 messages")
        assert c.messages == lines.splitlines()
    finally:
        c.stop()
