"""The platform's (上位机) TCP port for HJ 212 data loggers: they connect over 4G, push
packets, and wait for the 9014 answer to each one whose Flag asks for it.

Each connection is read on the service's event loop (asyncio streams). Its bytes are cut
into packets by `_hj212_stream`, and each packet goes through the very path an HJ 212
message on MQTT takes, `Ingestor.handle`, as if published on its station's `hj212` topic
(the station is the one whose `mn` the packet names): the same strictness and dialects
per station, units, flags, dedupe on (station, interval, DataTime), journal and dead
letters, with the peer's address in a dead letter's reason.

A read's packets are processed inside a store transaction (`begin` ... `commit`, handed
in by the composition root; the reads of one turn of the event loop share one), and the
answers go out only after the commit: a 9014 means the packet's effect is durable. A
crash or a lost connection before it leaves the logger without its answer, so it sends
the packet again, and dedupe absorbs it. A packet that cannot be framed or fails its CRC
gets no answer (the logger's resend may arrive intact); one that is refused for what it
says is answered once its dead letter is stored, since sending it again would change
nothing.

What a logger sends that is not data: an HJ 212-2025 heartbeat (9015) or a clock
request (1013) gets 9013 when it asks for an answer; the logger's answers to our
requests (9011, 9012, 9013, 9014) are noted; anything else goes to the decoder, which
dead-letters it with its reason (CN ... is not a data upload), and is answered 9014 if
asked.

Limits per connection: a frame over `max_frame_bytes` is dropped (dead-lettered, the
connection kept); no byte for `idle_timeout_s`, more than `max_bytes_per_s` on average
(beyond a burst of `burst_bytes`), or more than `max_junk_bytes` of junk, and the
connection is closed. Past `max_connections` a new connection is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

from prometheus_client import CollectorRegistry

from ingest._hj212_backfill import BackfillPolicy, backfill_span
from ingest._hj212_frame import BadPacket, split_packet
from ingest._hj212_registry import LoggerRegistry, LoggerSession, TcpMetrics
from ingest._hj212_replies import data_answer, history_request, notice_answer, qn_at, wants_answer
from ingest._hj212_stream import MAX_FRAME, Frame, FrameSplitter, Junk, Piece
from ingest._ingestor import Ingestor
from ingest._result import Decoded
from ingest._topics import Kind
from ingest._turn import Turn, at_once
from rules.records import Reading

__all__ = ["Hj212Server", "Hj212TcpSettings"]

log = logging.getLogger(__name__)

#: The logger's answers to the platform's requests: noted, never decoded as data.
_ANSWERS = frozenset({"9011", "9012", "9013", "9014"})
#: Notifications answered with 9013: HJ 212-2025's heartbeat, a clock calibration request.
_NOTICES = frozenset({"9015", "1013"})
_READ = 65536


@dataclass(frozen=True, slots=True)
class Hj212TcpSettings:
    #: a station's back-fill policy (here, so that the package exports one name for both)
    Backfill: ClassVar[type[BackfillPolicy]] = BackfillPolicy

    host: str
    port: int
    idle_timeout_s: float = 600.0
    max_frame_bytes: int = MAX_FRAME
    max_connections: int = 5000
    max_bytes_per_s: float = 20_000.0
    burst_bytes: int = 1 << 20
    max_junk_bytes: int = 1 << 16
    write_timeout_s: float = 30.0
    #: station id -> its back-fill policy (stations not named get none)
    backfill: Mapping[str, BackfillPolicy] = field(
        default_factory=lambda: MappingProxyType({})
    )


class _ByteBudget:
    """A token bucket in bytes: `rate` a second on average, `burst` at once."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate, self._burst, self._tokens, self._at = rate, burst, burst, now

    def take(self, n: int, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + max(0.0, now - self._at) * self._rate)
        self._at = now
        self._tokens -= n
        return self._tokens >= 0


class Hj212Server:
    def __init__(
        self,
        settings: Hj212TcpSettings,
        ingestor: Ingestor,
        *,
        begin: Callable[[], None],
        commit: Callable[[], None],
        clock: Callable[[], datetime],
        registry: CollectorRegistry | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        newest: Callable[[str], datetime | None] | None = None,
        route: Callable[[str, str, bytes], bool] | None = None,
        turn: Turn = at_once,
    ) -> None:
        """`newest(station)`: the time of the station's newest record from any source,
        where a back-fill's gap starts (the service passes the rules state's, which
        survives a restart); without it, the newest data this listener saw.
        `route(station, topic, packet)`: True when it handed the packet to another
        instance (the station's owner, `lantian.partition`) inside the read's
        transaction, so that it is answered after the commit without being ingested
        here; without it, every packet is ingested here. `turn`: how the service runs
        a batch of reads' handling and commit (`ingest._turn`: the store writer's)."""
        self.settings = settings
        self._ingestor = ingestor
        self._begin = begin
        self._commit = commit
        self._clock = clock
        self._monotonic = monotonic
        self._newest = newest
        self._route = route
        self._turn = turn
        self._committing: set[asyncio.Task[None]] = set()
        self.loggers = LoggerRegistry()
        self.metrics = TcpMetrics(self.loggers, registry)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._batch: list[tuple[LoggerSession, list[Piece], asyncio.Future[list[bytes]]]] = []
        self._qn_last = ""

    @property
    def port(self) -> int:
        """The port listened on (the one chosen, when configured as 0)."""
        assert self._server is not None, "not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._connected, self.settings.host, self.settings.port, limit=_READ,
                reuse_address=True,
            )
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen for HJ 212 data loggers on"
                          f" {self.settings.host}:{self.settings.port}: {exc.strerror}") from exc
        log.info("listening for HJ 212 data loggers on %s:%d", self.settings.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*self._committing, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = self.settings
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        if len(self.loggers) >= s.max_connections:
            self.metrics.closed.labels("too_many_connections").inc()
            log.warning("refused a data logger's connection from %s: %d open already",
                        peer, len(self.loggers))
            writer.close()
            return
        session = self.loggers.open(peer, self._clock())
        splitter = FrameSplitter(s.max_frame_bytes)
        budget = _ByteBudget(s.max_bytes_per_s, s.burst_bytes, self._monotonic())
        why = "closed_by_logger"
        try:
            while True:
                try:
                    async with asyncio.timeout(s.idle_timeout_s):
                        data = await reader.read(_READ)
                except TimeoutError:
                    why = "idle"
                    break
                if not data:
                    break
                if not budget.take(len(data), self._monotonic()):
                    why = "over_byte_rate"
                    log.warning("closing %s (MN %s): over %.0f bytes/s", peer, session.mn,
                                s.max_bytes_per_s)
                    break
                pieces = splitter.feed(data)
                if not pieces:
                    continue
                try:
                    out = await self._durably(session, pieces)
                except Exception:  # not durable: no answer, and the logger sends again
                    why = "not_committed"
                    log.exception("could not commit the packets from %s (MN %s): closing"
                                  " without answers, the logger will send them again",
                                  peer, session.mn)
                    break
                if session.junk_bytes > s.max_junk_bytes:
                    why = "too_much_junk"
                    log.warning("closing %s (MN %s): over %d bytes of junk", peer,
                                session.mn, s.max_junk_bytes)
                    break
                if out:
                    writer.writelines(out)
                    async with asyncio.timeout(s.write_timeout_s):
                        await writer.drain()
        except (ConnectionError, TimeoutError) as exc:
            why = "connection_lost"
            log.info("data logger %s (MN %s): %r", peer, session.mn, exc)
        except asyncio.CancelledError:
            why = "shutdown"
            raise
        except Exception:  # a bug costs this connection, not the listener
            why = "internal_error"
            log.exception("data logger connection %s failed", peer)
        finally:
            self.metrics.closed.labels(why).inc()
            if why != "shutdown":
                leftover = splitter.close()
                if leftover:
                    with contextlib.suppress(Exception):
                        await self._turn(self._commit_now, [(session, leftover)])
            self.loggers.close(session)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _durably(self, session: LoggerSession, pieces: list[Piece]) -> list[bytes]:
        """Ingest a read's pieces; the answers to send, once the transaction holding
        their effect committed (raises, and nothing is to be answered, if it did not).

        The reads that complete in one turn of the event loop share one transaction
        (group commit, run on the next turn): with a thousand loggers a commit each
        would be most of the work, and none of them waits longer for it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bytes]] = loop.create_future()
        if not self._batch:
            task = loop.create_task(self._commit_batch(), name="hj212-commit")
            self._committing.add(task)  # held: the loop keeps only a weak reference
            task.add_done_callback(self._committing.discard)
        self._batch.append((session, pieces, future))
        return await future

    async def _commit_batch(self) -> None:
        batch, self._batch = self._batch, []
        try:
            outs = await self._turn(
                self._commit_now, [(session, pieces) for session, pieces, _ in batch])
        except Exception as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), out in zip(batch, outs, strict=True):
            if not future.done():  # its connection may have been cancelled meanwhile
                future.set_result(out)

    def _commit_now(self, reads: list[tuple[LoggerSession, list[Piece]]]) -> list[list[bytes]]:
        """Ingest `reads` in one transaction; each read's answers, once it committed."""
        outs: list[list[bytes]] = []
        self._begin()
        try:
            for session, pieces in reads:
                out: list[bytes] = []
                for piece in pieces:
                    if isinstance(piece, Junk):
                        self._junk(session, piece)
                    else:
                        out.extend(self._packet(session, piece))
                outs.append(out)
        finally:
            self._commit()
        for (session, _), out in zip(reads, outs, strict=True):
            session.answers += len(out)
        return outs

    def _topic(self, source: str) -> str:
        return f"{self._ingestor.topics.prefix}/sensors/{source}/hj212"

    def _junk(self, session: LoggerSession, junk: Junk) -> None:
        session.junk_bytes += junk.size
        self.metrics.junk_bytes.inc(junk.size)
        self.metrics.packets.labels("junk").inc()
        self._ingestor.dead_letter(
            self._topic(session.station or "_tcp"), Kind.HJ212, "hj212_framing",
            f"{junk.reason}: {junk.size} bytes (from tcp {session.peer})", junk.sample,
        )

    def _packet(self, session: LoggerSession, frame: Frame) -> list[bytes]:
        now = self._clock()
        session.packets += 1
        session.last_packet_at = now
        try:
            header, _, _ = split_packet(frame.data)
        except BadPacket:
            header = None  # refused below by the decoder, with its reason; no answer
        out: list[bytes] = []
        if header is not None:
            mn, cn = header["MN"], header["CN"]
            if session.mn != mn:
                station = self._ingestor.ctx.station_by_mn(mn)
                session.mn, session.station = mn, station.id if station else None
            if cn in _ANSWERS:
                self.metrics.packets.labels("answer").inc()
                log.debug("data logger %s answered: %s", mn, frame.data[:120])
                return out
            if cn in _NOTICES:
                self.metrics.packets.labels("notice").inc()
                if wants_answer(header.get("Flag")):
                    out.append(notice_answer(header.get("QN"), header.get("PW"), mn))
                    self.metrics.answers.labels("9013").inc()
                return out
            out.extend(self._backfill(session, header, now))
        source = session.station if header is not None and session.station else (
            _topic_safe(header["MN"]) if header is not None else "_tcp"
        )
        if header is not None and session.station and self._route is not None \
                and self._route(session.station, self._topic(source), frame.data):
            self.metrics.packets.labels("routed").inc()
            if wants_answer(header.get("Flag")):
                out.insert(0, data_answer(header.get("QN"), header.get("PW"), header["MN"]))
                self.metrics.answers.labels("9014").inc()
            return out
        outcome = self._ingestor.handle(
            self._topic(source), frame.data, origin=f"tcp {session.peer}"
        )
        result = outcome.result
        if not isinstance(result, Decoded):
            session.rejects += 1
            self.metrics.packets.labels("rejected").inc()
        else:
            self.metrics.packets.labels("accepted").inc()
            if header is not None:
                for record in result.records:
                    if isinstance(record, Reading):
                        self.loggers.saw_data(header["MN"], header["CN"], record.ts)
        if header is not None and wants_answer(header.get("Flag")):
            out.insert(0, data_answer(header.get("QN"), header.get("PW"), header["MN"]))
            self.metrics.answers.labels("9014").inc()
        return out

    def _backfill(
        self, session: LoggerSession, header: Mapping[str, str], now: datetime
    ) -> list[bytes]:
        """The history request to send a reconnected logger, once per connection (before
        this packet counts as the newest data)."""
        if session.backfill_asked or session.station is None:
            return []
        session.backfill_asked = True
        policy = self.settings.backfill.get(session.station)
        if policy is None:
            return []
        mn = header["MN"]
        newest = (self._newest(session.station) if self._newest is not None
                  else self.loggers.newest(mn, policy.cn))
        span = backfill_span(policy, newest, now)
        if span is None:
            return []
        tz = self._ingestor.ctx.tz
        log.info("data logger %s (%s) back after a gap: asking for CN %s data %s .. %s",
                 mn, session.station, policy.cn, span[0].astimezone(tz).isoformat(),
                 span[1].astimezone(tz).isoformat())
        self.metrics.answers.labels(policy.cn).inc()
        return [history_request(
            policy.cn, st=header["ST"], pw=header.get("PW"), mn=mn, begin=span[0],
            end=span[1], qn=self._qn(now), tz=tz,
        )]

    def _qn(self, now: datetime) -> str:
        """A QN for a request: the time to the millisecond, unique within this process."""
        qn = qn_at(now, self._ingestor.ctx.tz)
        if qn <= self._qn_last:
            qn = str(int(self._qn_last) + 1)
        self._qn_last = qn
        return qn


def _topic_safe(mn: str) -> str:
    """The MN as a topic level (the decoder refuses an unknown MN with its own reason)."""
    return mn if mn and not any(c in mn for c in "/+#") else "_unknown"
