"""The ingest shell: decode, dedupe, then hand records on; dead-letter what is bad.

Everything it touches arrives as a parameter (the clock, the sinks, the publisher), so a
unit test runs it with fakes and the service with the real MQTT client and stores.

A message that brought new records is written to the `journal` (in the transaction of
its effects, see `lantian.recovery`); after a crash, `replay` turns the journalled
messages into the same records again, with no other effect, to rebuild the state the
last snapshot did not cover.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final, Protocol

from ingest._context import DecodeContext
from ingest._deadletters import PAYLOAD_CAP, DeadLetter, DeadLetterStore
from ingest._decode import Decoding, decode_message
from ingest._dedupe import Deduplicator
from ingest._dji import DeviceState
from ingest._metrics import IngestMetrics
from ingest._ratelimit import TokenBucket
from ingest._result import Decoded, Rejection
from ingest._topics import InboundTopics, Kind, TopicAddress
from ingest._without_metrics import ReadingsWithoutMetrics
from rules.records import Reading, Record

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int = 1) -> object: ...


class PointSink(Protocol):
    def write(self, record: Record) -> None: ...


class Journal(Protocol):
    def message(self, topic: str, payload: bytes, at: datetime) -> None: ...


RecordSink = Callable[[Record], None]

#: topics whose address is kept: every station's and drone's, and then some
_ADDRESSES_KEPT: Final = 10_000


class Ingestor:
    def __init__(
        self,
        *,
        ctx: DecodeContext,
        topics: InboundTopics,
        clock: Callable[[], datetime],
        records: RecordSink,
        deadletters: DeadLetterStore,
        publisher: Publisher | None = None,
        timeseries: PointSink | None = None,
        metrics: IngestMetrics | None = None,
        dedupe: Deduplicator | None = None,
        journal: Journal | None = None,
        live_deadletters: TokenBucket | None = None,
        deadletter_cap: int = PAYLOAD_CAP,
    ) -> None:
        self.ctx = ctx
        self.topics = topics
        self._clock = clock
        self._records = records
        self._deadletters = deadletters
        self.publisher = publisher
        self._timeseries = timeseries
        self.metrics = metrics or IngestMetrics()
        self._dedupe = dedupe or Deduplicator()
        self._dji: dict[str, DeviceState] = {}
        self.journal = journal
        self._live = live_deadletters or TokenBucket(rate=50, burst=500)
        self._cap = deadletter_cap
        self._quiet = 0
        self._without_metrics = ReadingsWithoutMetrics(self.metrics)
        # topic -> its address: the same few topics (one a station) over and over, parsed
        # once each; bounded, as misspelt topics are many
        self._addresses: dict[str, TopicAddress | None] = {}

    def forget(self) -> None:
        """Forget what was seen (record identities, DJI devices' merged state). Ingest's
        memory is not snapshotted: after a restart, or a commit that failed, the journal's
        recent entries replayed through `replay` bring it back (`lantian.recovery`)."""
        self._dedupe.restore([])
        self._dji = {}

    def handle(self, topic: str, payload: bytes, *, origin: str | None = None) -> Decoding:
        """Process one message. Never raises for anything the message contains.
        `origin` (where it came from, when not from the broker: "tcp 10.0.0.7:50123")
        is added to a dead letter's reason."""
        now = self._clock()
        outcome = self._decode(topic, payload, now)
        kind = outcome.kind
        m = self.metrics
        m.received.counts[kind] += 1
        result = outcome.result
        if not isinstance(result, Decoded):
            m.count(m.rejected, kind, result.code)
            reason = result.reason if origin is None else f"{result.reason} (from {origin})"
            self._dead_letter(DeadLetter(topic, result.code, reason, payload, now))
            return outcome
        m.decoded.counts[kind] += 1
        fresh = self._fresh(result.records, kind)
        if not fresh:
            return outcome
        if self.journal is not None:
            self.journal.message(topic, payload, now)
        counts, timeseries, hand_on = m.records.counts, self._timeseries, self._records
        for record in fresh:
            counts[type(record).__name__] += 1
            if type(record) is Reading and not record.values:
                self._without_metrics.saw(record.station, result.note)
            if timeseries is not None:
                timeseries.write(record)
            hand_on(record)
        return outcome

    def replay(self, topic: str, payload: bytes, at: datetime) -> list[Record]:
        """The new records a journalled message received at `at` brings, as `handle`
        found them then (decoding and deduplication), and nothing else: no metrics, time
        series, dead letters or hand-off."""
        result = self._decode(topic, payload, at).result
        return self._fresh(result.records, None) if isinstance(result, Decoded) else []

    def _fresh(self, records: Sequence[Record], kind: str | None) -> list[Record]:
        first_time = self._dedupe.first_time
        fresh = []
        for record in records:
            if first_time(record.dedupe_key):
                fresh.append(record)
            elif kind is not None:
                self.metrics.count(self.metrics.duplicates, kind)
        return fresh

    def _address(self, topic: str) -> TopicAddress | None:
        addresses = self._addresses
        try:
            return addresses[topic]
        except KeyError:
            pass
        address = self.topics.address(topic)
        if len(addresses) >= _ADDRESSES_KEPT:
            addresses.clear()
        addresses[topic] = address
        return address

    def _decode(self, topic: str, payload: bytes, now: datetime) -> Decoding:
        address = self._address(topic)
        dji = address is not None and address.kind is Kind.DJI_OSD
        previous = self._dji.get(address.source) if dji and address else None
        try:
            outcome = decode_message(
                topic, payload, ctx=self.ctx, topics=self.topics, now=now,
                dji_previous=previous, address=address,
            )
        except Exception as exc:  # a decoder bug must cost one message, not the service
            log.exception("decoder failed on %s", topic)
            outcome = Decoding(
                address, Rejection("decoder_error", f"internal decoder error: {exc!r}")
            )
        if outcome.dji_state is not None and outcome.address is not None:
            self._dji[outcome.address.source] = outcome.dji_state
        return outcome

    def dead_letter(self, topic: str, kind: Kind, code: str, reason: str, payload: bytes) -> None:
        """Dead-letter bytes that never became a message to decode (junk between HJ 212
        packets on a TCP stream), counted and kept like a rejected message."""
        self.metrics.count(self.metrics.rejected, kind.value, code)
        self._dead_letter(DeadLetter(topic, code, reason, payload, self._clock()))

    def _dead_letter(self, letter: DeadLetter) -> None:
        """Stored always; logged and published live within the rate of `live_deadletters`:
        a flood of junk is one line a minute (`quiet_deadletters`), not a line each."""
        self._deadletters.add(letter)
        if not self._live.take(letter.received_at.timestamp()):
            self._quiet += 1
            self.metrics.deadletters_unpublished.inc()
            return
        log.info("dead letter from %s: %s", letter.topic, letter.reason, extra={
            "event": "deadletter", "topic": letter.topic, "code": letter.code})
        if self.publisher is not None:
            self.publisher.publish(self.topics.deadletter(), letter.to_json(self._cap), 1)

    def quiet_deadletters(self) -> int:
        """How many dead letters were stored but neither logged nor published since the
        last call (the shell logs the figure once a minute)."""
        quiet, self._quiet = self._quiet, 0
        return quiet
