"""The ingest shell: decode, dedupe, then hand records on; dead-letter what is bad.

Everything it touches arrives as a parameter (the clock, the sinks, the publisher), so a
unit test runs it with fakes and the service with the real MQTT client and stores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from ingest._context import DecodeContext
from ingest._deadletters import DeadLetter, DeadLetterStore
from ingest._decode import Outcome, decode_message
from ingest._dedupe import Deduplicator
from ingest._dji import DeviceState
from ingest._metrics import IngestMetrics
from ingest._result import Decoded, Rejection
from ingest._topics import Kind, Topics
from rules import Record

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None: ...


class PointSink(Protocol):
    def write(self, record: Record) -> None: ...


RecordSink = Callable[[Record], None]


class Ingestor:
    def __init__(
        self,
        *,
        ctx: DecodeContext,
        topics: Topics,
        clock: Callable[[], datetime],
        records: RecordSink,
        deadletters: DeadLetterStore,
        publisher: Publisher | None = None,
        timeseries: PointSink | None = None,
        metrics: IngestMetrics | None = None,
        dedupe: Deduplicator | None = None,
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

    def handle(self, topic: str, payload: bytes) -> Outcome:
        """Process one message. Never raises for anything the message contains."""
        now = self._clock()
        route = self.topics.route(topic)
        previous = self._dji.get(route.source) if route and route.kind is Kind.DJI_OSD else None
        try:
            outcome = decode_message(
                topic, payload, ctx=self.ctx, topics=self.topics, now=now,
                dji_previous=previous, route=route,
            )
        except Exception as exc:  # a decoder bug must cost one message, not the service
            log.exception("decoder failed on %s", topic)
            outcome = Outcome(route, Rejection("decoder_error", f"internal decoder error: {exc!r}"))
        kind = outcome.kind
        m = self.metrics
        m.count(m.received, kind)
        if outcome.dji_state is not None and outcome.route is not None:
            self._dji[outcome.route.source] = outcome.dji_state
        result = outcome.result
        if not isinstance(result, Decoded):
            m.count(m.rejected, kind, result.code)
            self._dead_letter(DeadLetter(topic, result.code, result.reason, payload, now))
            return outcome
        m.count(m.decoded, kind)
        for record in result.records:
            if not self._dedupe.first_time(record.dedupe_key):
                m.count(m.duplicates, kind)
                continue
            m.count(m.records, type(record).__name__)
            if self._timeseries is not None:
                self._timeseries.write(record)
            self._records(record)
        return outcome

    def _dead_letter(self, letter: DeadLetter) -> None:
        log.info("dead letter from %s: %s", letter.topic, letter.reason)
        self._deadletters.add(letter)
        if self.publisher is not None:
            self.publisher.publish(self.topics.deadletter(), letter.to_json(), 1)
