"""The ingest path's Prometheus metrics, on a registry the composition root hands in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}
        self._by_kind: dict[str, tuple[Counter, Counter]] = {}
        self._by_record: dict[type, Counter] = {}
        r = self.registry
        self.received = Counter(
            "lantian_messages_received", "MQTT messages received, by topic kind", ["kind"],
            registry=r,
        )
        self.decoded = Counter(
            "lantian_messages_decoded", "Messages decoded into records", ["kind"], registry=r
        )
        self.rejected = Counter(
            "lantian_messages_rejected", "Messages dead-lettered, by reason code",
            ["kind", "reason"], registry=r,
        )
        self.deadletters_unpublished = Counter(
            "lantian_deadletters_unpublished", "Dead letters stored but over the rate of the "
            "live dead-letter topic (50/s, 500 at once), so not published", registry=r,
        )
        self.duplicates = Counter(
            "lantian_records_duplicate", "Records dropped as already processed", ["kind"],
            registry=r,
        )
        self.records = Counter(
            "lantian_records", "Records handed to the rules engine", ["type"], registry=r
        )
        self.readings_without_metrics = Counter(
            "lantian_readings_without_metrics", "Readings that carry no Lantian metric "
            "(every factor code unmapped), by station: no data to the no-data rule",
            ["station"], registry=r,
        )
        self.points_written = Counter(
            "lantian_influx_points_written", "Points the time-series server accepted", registry=r
        )
        self.points_failed = Counter(
            "lantian_influx_points_failed",
            "Points given up on (refused as malformed, or over the pending limit)", registry=r,
        )
        self.points_pending = Gauge(
            "lantian_influx_points_pending", "Points not yet accepted by the time-series server",
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "lantian_mqtt_connected", "1 while connected to the MQTT broker", registry=r
        )

    def of_kind(self, kind: str) -> tuple[Counter, Counter]:
        """The `received` and `decoded` children of a topic kind, for the per-message path:
        one lookup for the two, where `count` costs a key, a lookup and a call for each."""
        pair = self._by_kind.get(kind)
        if pair is None:
            pair = self._by_kind[kind] = (self.received.labels(kind), self.decoded.labels(kind))
        return pair

    def of_record(self, record_type: type) -> Counter:
        """The `records` child of a record type (the type's name is its label)."""
        child = self._by_record.get(record_type)
        if child is None:
            child = self._by_record[record_type] = self.records.labels(record_type.__name__)
        return child

    def count(self, counter: Counter, *labels: str) -> None:
        """counter.labels(*labels).inc(), with the labelled child looked up once: the
        lookup (a lock and a tuple) cost more than the increment on the per-message path."""
        key = (id(counter), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        child.inc()
