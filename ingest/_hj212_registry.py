"""The data loggers connected over TCP, by MN: who is on the line now, since when, from
where, and how their packets fared; and, beyond a connection's life, the newest data
time each logger sent (where a back-fill's gap starts when the server is not handed the
rules state's newer knowledge).

One `LoggerSession` per TCP connection. Its MN is learned from its first packet whose
header could be read; a logger that reconnects before its old connection timed out shows
twice, until the old one does. Memory only: after a restart the registry starts empty
and fills as loggers reconnect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["LoggerRegistry", "LoggerSession", "TcpMetrics"]


@dataclass(slots=True, eq=False)
class LoggerSession:
    """One connection from a data logger (mutable: the server counts as packets come)."""

    peer: str
    connected_at: datetime
    mn: str | None = None
    station: str | None = None
    last_packet_at: datetime | None = None
    packets: int = 0
    rejects: int = 0
    junk_bytes: int = 0
    answers: int = 0
    backfill_asked: bool = False

    def as_dict(self, tz: tzinfo) -> dict[str, object]:
        def local(at: datetime | None) -> str | None:
            return None if at is None else at.astimezone(tz).isoformat()

        return {
            "mn": self.mn, "station": self.station, "peer": self.peer,
            "connected_since": local(self.connected_at),
            "last_packet_at": local(self.last_packet_at),
            "packets": self.packets, "rejects": self.rejects, "junk_bytes": self.junk_bytes,
            "answers": self.answers,
        }


class LoggerRegistry:
    def __init__(self) -> None:
        self._open: dict[int, LoggerSession] = {}
        #: (MN, CN) -> the newest DataTime of data that logger sent with that CN
        self._newest: dict[tuple[str, str], datetime] = {}

    def open(self, peer: str, at: datetime) -> LoggerSession:
        session = LoggerSession(peer, at)
        self._open[id(session)] = session
        return session

    def close(self, session: LoggerSession) -> None:
        self._open.pop(id(session), None)

    def __len__(self) -> int:
        return len(self._open)

    def sessions(self) -> list[LoggerSession]:
        """The open connections, by MN (those not yet identified last), then by peer."""
        return sorted(self._open.values(), key=lambda s: (s.mn is None, s.mn or "", s.peer))

    def by_mn(self, mn: str) -> list[LoggerSession]:
        return [s for s in self._open.values() if s.mn == mn]

    def newest(self, mn: str, cn: str) -> datetime | None:
        return self._newest.get((mn, cn))

    def saw_data(self, mn: str, cn: str, at: datetime) -> None:
        key = (mn, cn)
        newest = self._newest.get(key)
        if newest is None or at > newest:
            self._newest[key] = at


class TcpMetrics:
    """`lantian_hj212_*`: the TCP listener's side of ingest (decoding is counted by the
    ingest metrics, as for MQTT)."""

    def __init__(self, loggers: LoggerRegistry, registry: CollectorRegistry | None = None):
        r = registry if registry is not None else CollectorRegistry()
        self.connections = Gauge(
            "lantian_hj212_connections", "Data loggers connected over TCP now", registry=r
        )
        self.connections.set_function(lambda: len(loggers))
        self.packets = Counter(
            "lantian_hj212_packets", "HJ 212 packets framed on TCP connections, by outcome",
            ["outcome"], registry=r,
        )
        self.answers = Counter(
            "lantian_hj212_answers", "Answers and requests sent to data loggers, by CN",
            ["cn"], registry=r,
        )
        self.junk_bytes = Counter(
            "lantian_hj212_junk_bytes", "Bytes on TCP connections that were no packet",
            registry=r,
        )
        self.closed = Counter(
            "lantian_hj212_closed", "TCP connections ended, by why", ["why"], registry=r
        )
