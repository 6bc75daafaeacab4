"""A simulated HJ 212 data logger (数采仪), for the tests and the bench: it builds
uploads with the standard's CRC, writes them to the platform's TCP port and reads the
answers back, framed by their CRLF."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ingest._hj212_frame import Packet, parse_packet
from ingest._hj212_replies import frame

TZ = ZoneInfo("Asia/Shanghai")


def upload(mn: str, at: datetime, pm10: float, *, cn: str = "2051", flag: int = 5,
           qn: str | None = None, st: str = "39") -> bytes:
    """A minute (2051), hourly (2061) or real-time (2011) upload of PM10 at `at`."""
    local = at.astimezone(TZ)
    qn = qn or local.strftime("%Y%m%d%H%M%S") + "000"
    suffix = "Rtd" if cn == "2011" else "Avg"
    return frame(
        f"QN={qn};ST={st};CN={cn};PW=123456;MN={mn};Flag={flag};"
        f"CP=&&DataTime={local.strftime('%Y%m%d%H%M%S')};"
        f"a34002-{suffix}={pm10},a34002-Flag=N&&"
    )


def command(mn: str, cn: str, cp: str = "", *, flag: int = 5, qn: str = "20260612095900001",
            st: str = "39") -> bytes:
    return frame(f"QN={qn};ST={st};CN={cn};PW=123456;MN={mn};Flag={flag};CP=&&{cp}&&")


def parsed(data: bytes) -> Packet:
    """An answer, checked as strictly as the decoder checks a station's packet."""
    packet = parse_packet(data, frozenset())
    assert isinstance(packet, Packet), (packet, data)
    return packet


class Logger:
    """One blocking TCP connection to the platform."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answers(self, n: int, timeout: float = 10.0) -> list[bytes]:
        """The next `n` packets the platform sent, each to its CRLF."""
        deadline = time.monotonic() + timeout
        out: list[bytes] = []
        while len(out) < n:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                out.append(self._buf[: end + 2])
                self._buf = self._buf[end + 2 :]
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{len(out)} of {n} answers in {timeout} s: {out}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"the platform closed the connection after {out}")
            self._buf += chunk
        return out

    def closed_by_platform(self, timeout: float = 10.0) -> bool:
        """Waits for the platform to end the connection (EOF or reset)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return True

    def reset(self) -> None:
        """Drop the connection abruptly (RST), as a 4G link does."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


async def upload_hour(port: int, mn: str, start: datetime, latencies: list[float],
                      minutes: int = 60, hold: asyncio.Event | None = None) -> int:
    """One logger's hour of minute data, each upload waiting for its 9014 (as loggers
    do); the answers' latencies (s) are appended. Returns the answers received. With
    `hold`, the connection stays open until it is set."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = 0
    try:
        for m in range(minutes):
            packet = upload(mn, start + timedelta(minutes=m), 40.0 + m)
            sent = time.perf_counter()
            writer.write(packet)
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), 60)
            latencies.append(time.perf_counter() - sent)
            if b"CN=9014" in answer and parsed(answer).qn == parsed(packet).qn:
                got += 1
        if hold is not None:
            await hold.wait()
    finally:
        writer.close()
        await writer.wait_closed()
    return got
