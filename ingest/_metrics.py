"""The ingest path's Prometheus metrics, on a registry the composition root hands in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class Tally(Collector):
    """A counter of one label that every message adds to: a plain count per label value,
    read out as a Prometheus counter when scraped. A Prometheus child's inc (its lock, its
    checks) cost more than the rest of a message's counting; `counts[label] += 1` is a
    dict's own operation. One thread adds (the event loop's, which also serves /metrics,
    an async route); the scrape copies the counts before reading them."""

    def __init__(self, name: str, documentation: str, label: str,
                 registry: CollectorRegistry) -> None:
        self._name, self._documentation, self._label = name, documentation, label
        self.counts: defaultdict[str, int] = defaultdict(int)
        registry.register(self)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=[self._label])
        for value, n in list(self.counts.items()):
            family.add_metric([value], n)
        yield family

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self._name, self._documentation, labels=[self._label])


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}
        r = self.registry
        self.received = Tally(
            "lantian_messages_received", "MQTT messages received, by topic kind", "kind", r
        )
        self.decoded = Tally("lantian_messages_decoded", "Messages decoded into records", "kind", r)
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
        self.records = Tally("lantian_records", "Records handed to the rules engine", "type", r)
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

    def count(self, counter: Counter, *labels: str) -> None:
        """counter.labels(*labels).inc(), with the labelled child looked up once: the
        lookup (a lock and a tuple) cost more than the increment on the per-message path."""
        key = (id(counter), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        child.inc()
