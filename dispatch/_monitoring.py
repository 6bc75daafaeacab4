"""Dispatch's Prometheus metrics, on a registry the composition root hands in.

Counters for what happened (alerts raised by queue, kind and whether muted; escalations
by stage; officers' commands by result), and a gauge of what is open now (by queue,
state and muted: the queue depth), read from the store at scrape time so it can never
drift from the truth.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dispatch._outbox import Outbox
from dispatch._store import AlertLog


class DispatchMetrics:
    def __init__(self, registry: CollectorRegistry, store: AlertLog,
                 store_reads: CollectorRegistry | None = None) -> None:
        """`store_reads`: where what is read from the store at scrape time registers
        (the service reads it in the store writer's turn); by default `registry`."""
        self.raised = Counter(
            "lantian_alerts_raised", "Incidents opened, by queue, kind and whether muted",
            ["queue", "kind", "muted"], registry=registry,
        )
        self.escalations = Counter(
            "lantian_escalations", "SLA escalations, by stage", ["stage"], registry=registry
        )
        self.commands = Counter(
            "lantian_commands", "Lifecycle commands, by command and result (done, repeat, "
            "refused)", ["command", "result"], registry=registry,
        )
        self.raise_path_errors = Counter(
            "lantian_raise_path_errors", "Signals, silences, sweeps or outbox flushes that "
            "failed on one item and were skipped (see the log)", ["stage"], registry=registry,
        )
        (store_reads or registry).register(_OpenAlerts(store))


class OutboxBacklog(Collector):
    """The outbox's unsent publications and the age of the oldest, read at scrape time."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def collect(self) -> Iterator[GaugeMetricFamily]:
        n, oldest = self._outbox.table.backlog()
        yield GaugeMetricFamily(
            "lantian_outbox_pending", "Publications committed but not yet acknowledged by "
            "the broker", value=n,
        )
        age = 0.0 if oldest is None else max(0.0, self._outbox.clock().timestamp() - oldest)
        yield GaugeMetricFamily(
            "lantian_outbox_oldest_pending_age_seconds", "How long the oldest unsent "
            "publication has waited (0 when none)", value=age,
        )


class _OpenAlerts(Collector):
    def __init__(self, store: AlertLog) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "lantian_alerts_open", "Open incidents by queue, state and whether muted (the "
            "queue depth)", labels=["queue", "state", "muted"],
        )
        for queue, state, muted, n in self._store.open_counts():
            gauge.add_metric([queue, state, "true" if muted else "false"], n)
        yield gauge
