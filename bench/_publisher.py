"""The load generator: a separate process (so it does not share the receiver's GIL) that
publishes Lantian readings with paho, flat out or paced, and waits for every PUBACK.

    python -m bench._publisher --port P --n N [--rate R] [--qos 1] [--start S] [--base-ms B]

prints one JSON object: sent, acked, seconds (first publish to last ack) and the
achieved rate. Each payload carries `sent_at` (time.time() when it was built), taken just
before `publish()`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench._common import reading_payload, reading_topic, station_payload, station_topic

#: QoS 1 messages the publisher keeps unacknowledged. mosquitto takes 100 in flight from a
#: client happily; more only queues inside paho.
INFLIGHT = 100
#: Flat out, publish() at most this far ahead of the acks (the rest would wait in paho).
FLAT_OUT_WINDOW = 1000


@dataclass(frozen=True, slots=True)
class PublishResult:
    sent: int
    acked: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def publish(
    host: str, port: int, n: int, rate: float, qos: int, start: int, base_ms: int,
    stations: Sequence[str] = (),
) -> PublishResult:
    """`stations`: readings for these stations in turn (`station_payload`, quiet values)
    instead of the synthetic BN-xxxx ones."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(INFLIGHT)
    client.max_queued_messages_set(0)
    acked = 0

    def on_publish(_c: paho.Client, _u: Any, _mid: int, _rc: Any, _p: Any) -> None:
        nonlocal acked
        acked += 1

    client.on_publish = on_publish
    client.connect(host, port, clean_start=True)
    while not client.is_connected():
        client.loop(timeout=0.05)
    sent = 0
    t0 = time.perf_counter()
    # One thread: publish what is due, then let loop() handle the acks until the next is
    # due. With no loop thread paho writes each publish to the socket at once.
    # QoS 0 has no acks: a message is done once paho has written it.
    while (acked if qos else sent) < n:
        now = time.perf_counter()
        due = min(n, int((now - t0) * rate) + 1) if rate > 0 else min(n, acked + FLAT_OUT_WINDOW)
        while sent < due:
            seq = start + sent
            if stations:
                station = stations[seq % len(stations)]
                topic = station_topic(station)
                payload = station_payload(station, seq, base_ms, time.time())
            else:
                topic, payload = reading_topic(seq), reading_payload(seq, base_ms, time.time())
            client.publish(topic, payload, qos=qos)
            sent += 1
        wait = (t0 + sent / rate - time.perf_counter()) if rate > 0 and sent < n else 0.01
        if client.loop(timeout=max(wait, 0.0)) != paho.MQTT_ERR_SUCCESS:
            raise RuntimeError("publisher lost its connection")
    seconds = time.perf_counter() - t0
    client.disconnect()
    client.loop(timeout=0.05)
    return PublishResult(sent, acked if qos else sent, seconds)


def command(
    port: int, n: int, rate: float, qos: int, start: int, base_ms: int, host: str = "127.0.0.1",
    stations: Sequence[str] = (),
) -> list[str]:
    return [
        sys.executable, "-m", "bench._publisher", "--host", host, "--port", str(port),
        "--n", str(n), "--rate", str(rate), "--qos", str(qos), "--start", str(start),
        "--base-ms", str(base_ms), *(["--stations", ",".join(stations)] if stations else []),
    ]  # fmt: skip


def parse(stdout: bytes) -> PublishResult:
    return PublishResult(**json.loads(stdout.decode().strip().splitlines()[-1]))


def run(port: int, n: int, rate: float, qos: int, start: int, base_ms: int,
        stations: Sequence[str] = ()) -> PublishResult:
    """Publish in a child process and wait for it (the backlog is published this way)."""
    out = subprocess.run(
        command(port, n, rate, qos, start, base_ms, stations=stations), capture_output=True,
        check=False,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"publisher failed: {out.stderr.decode()[-2000:]}")
    return parse(out.stdout)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench._publisher")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--rate", type=float, default=0.0, help="msg/s; 0 = flat out")
    p.add_argument("--qos", type=int, default=1, choices=(0, 1))
    p.add_argument("--start", type=int, default=0, help="first sequence number")
    p.add_argument("--base-ms", type=int, required=True, help="ts of seq 0, epoch ms")
    p.add_argument("--stations", default="", help="comma-separated station ids to publish for")
    a = p.parse_args()
    stations = [s for s in a.stations.split(",") if s]
    result = publish(a.host, a.port, a.n, a.rate, a.qos, a.start, a.base_ms, stations)
    print(json.dumps({"sent": result.sent, "acked": result.acked, "seconds": result.seconds}))


if __name__ == "__main__":
    main()
