"""Reading → queue-topic latency of a running `lantian run`, for `bench.service`: probes
that each raise a new alert, sent beside a paced background of quiet readings, timed
from their publish to their alert's message on the queue topic."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from rich.table import Table

from bench import _publisher
from bench._common import past_base_ms, percentile
from bench._service import PROBE_QUEUE_TOPIC, PROBE_STATIONS, probe_station
from tests.support import Broker, wait_until


@dataclass(frozen=True, slots=True)
class LatencyRun:
    background_rate: float  # asked for, msg/s
    background_published_rate: float
    background_sent: int
    probes: int
    answered: int
    latencies_ms: list[float]

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies_ms), q)

    def table(self, target_p99_ms: float) -> Table:
        table = Table(title="Latency: a reading that raises an alert → the alert on "
                      "lantian/queues/+/alerts (lantian run with InfluxDB)",
                      title_justify="left")
        for col in ("background msg/s (asked / published)", "probes answered", "p50 ms",
                    "p99 ms", "max ms", f"p99 ≤ {target_p99_ms:g} ms"):
            table.add_column(col, justify="right")
        p99 = self.p(99)
        table.add_row(
            f"{self.background_rate:,.0f} / {self.background_published_rate:,.0f}",
            f"{self.answered}/{self.probes}", f"{self.p(50):.1f}", f"{p99:.1f}",
            f"{max(self.latencies_ms, default=float('nan')):.1f}",
            "met" if p99 <= target_p99_ms else "not met",
        )
        return table


def _client(broker: Broker) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    wait_until(client.is_connected, 10, "the probe client connected")
    return client


def measure_latency(
    broker: Broker, stations: list[str], rate: float, duration: float, probes: int,
) -> LatencyRun:
    """`probes` (at most PROBE_STATIONS) spread over `duration` s of background at `rate`."""
    probes = min(probes, PROBE_STATIONS)
    arrived: dict[str, float] = {}
    lock = threading.Lock()
    subscribed = threading.Event()

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        at = time.time()
        subject = orjson.loads(msg.payload).get("subject", "")
        with lock:
            arrived.setdefault(subject, at)

    listener = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    listener.on_message = on_message
    listener.on_subscribe = lambda *_a: subscribed.set()
    listener.connect(broker.host, broker.port)
    listener.subscribe(PROBE_QUEUE_TOPIC, qos=1)
    listener.loop_start()
    sender = _client(broker)
    n = max(1, round(rate * duration))
    background = subprocess.Popen(
        _publisher.command(broker.port, n, rate, 1, 0, past_base_ms(time.time()),
                           stations=stations),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    sent: dict[str, float] = {}
    try:
        if not subscribed.wait(10):
            raise RuntimeError("the queue-topic listener was not subscribed in 10 s")
        every = duration / probes
        start = time.monotonic()
        for i in range(probes):
            # paced by the clock, not by sleeping a fixed time after each
            time.sleep(max(0.0, start + i * every - time.monotonic()))
            station = probe_station(i)
            payload = orjson.dumps({"station": station, "pm10": 600.0,
                                    "ts": datetime.now(UTC).isoformat()})
            sent[f"station:{station}"] = time.time()
            sender.publish(f"lantian/sensors/{station}/reading", payload, qos=1)
        out, err = background.communicate(timeout=600)
        if background.returncode != 0:
            raise RuntimeError(f"background publisher failed: {err.decode()[-2000:]}")
        published = _publisher.parse(out)
        with contextlib.suppress(AssertionError):  # the table shows how many were answered
            wait_until(lambda: len(arrived) >= probes, 30, "every probe's alert")
    finally:
        if background.poll() is None:
            background.kill()
        for c in (sender, listener):
            c.loop_stop()
            c.disconnect()
    latencies = [(arrived[s] - t) * 1e3 for s, t in sent.items() if s in arrived]
    return LatencyRun(rate, published.rate, published.sent, probes, len(latencies), latencies)
