"""The MQTT connection's own Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge

#: how a connection attempt ended: a CONNACK accepting us; a CONNACK refusing us (bad
#: credentials, not authorised, ...); the socket closed before any CONNACK (a TLS port
#: spoken to in plain MQTT, a proxy with no backend, a CONNACK that never came within the
#: keep-alive); no TCP/TLS connection at all (refused, unreachable, DNS, handshake).
AttemptResult = Literal["connected", "refused", "dropped", "unreachable"]
ATTEMPT_RESULTS: tuple[AttemptResult, ...] = ("connected", "refused", "dropped", "unreachable")


class MqttMetrics:
    """On the registry the composition root hands in; without one, on a private registry
    nobody scrapes (a no-op for the service, still readable by tests)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.attempts = Counter(
            "lantian_mqtt_connect_attempts", "MQTT connection attempts, by how they ended",
            ["result"], registry=self.registry,
        )
        for result in ATTEMPT_RESULTS:  # every series exists from the start, at 0
            self.attempts.labels(result)
        self.session_lost = Counter(
            "lantian_mqtt_session_lost",
            "CONNACKs without the session we expected the broker to keep (messages queued "
            "for us while we were away are lost)", registry=self.registry,
        )
        self.last_handled = Gauge(
            "lantian_mqtt_last_handled_timestamp_seconds",
            "When messages from the broker were last handled and their effect committed "
            "(Unix time; 0 before the first): a stream gone quiet while connected shows "
            "here, as `time() - this`", registry=self.registry,
        )

    def attempt(self, result: AttemptResult) -> None:
        self.attempts.labels(result).inc()
