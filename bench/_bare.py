"""The bare paho 2.x subscriber: callback API v2, MQTT 5, one thread driving `loop()`,
doing nothing per message but count (and, paced, read `sent_at`). It is the ceiling
Lantian's ingest path is measured against."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import orjson
import paho.mqtt.client as paho

from bench import _publisher
from bench._session import connect_properties, new_client
from bench._tally import Tally
from tests.support import Broker


def _connect(broker: Broker, client_id: str, tally: Tally, paced: bool) -> paho.Client:
    client = new_client(client_id)
    if paced:
        def on_message(_c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
            tally.note_sent_at(orjson.loads(msg.payload)["sent_at"])
    else:
        def on_message(_c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
            tally.note()
    client.on_message = on_message
    # the session (and its subscription) exists already: resume it, do not re-subscribe
    client.connect(broker.host, broker.port, clean_start=False, properties=connect_properties())
    return client


def _close(client: paho.Client) -> None:
    client.disconnect()
    client.loop(timeout=0.05)


def drain(broker: Broker, client_id: str, n: int, timeout: float) -> Tally:
    """Reconnect to the session holding the backlog and count until all `n` are in."""
    tally = Tally(n)
    client = _connect(broker, client_id, tally, paced=False)
    deadline = time.monotonic() + timeout
    while tally.count < n and time.monotonic() < deadline:
        if client.loop(timeout=0.1) != paho.MQTT_ERR_SUCCESS:
            raise RuntimeError("bare subscriber lost its connection")
    _close(client)
    return tally


def paced(
    broker: Broker, client_id: str, publisher: list[str], n: int, grace: float
) -> tuple[Tally, _publisher.PublishResult]:
    """Receive while a publisher process sends `n` at its pace; stop when all are in, or
    `grace` seconds after the publisher is done."""
    tally = Tally(n)
    client = _connect(broker, client_id, tally, paced=True)
    while not client.is_connected():
        client.loop(timeout=0.05)
    proc = subprocess.Popen(publisher, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = float("inf")
    while tally.count < n and time.monotonic() < deadline:
        if client.loop(timeout=0.05) != paho.MQTT_ERR_SUCCESS:
            raise RuntimeError("bare subscriber lost its connection")
        if deadline == float("inf") and proc.poll() is not None:
            deadline = time.monotonic() + grace
    out, err = proc.communicate(timeout=600)
    _close(client)
    if proc.returncode != 0:
        raise RuntimeError(f"publisher failed: {err.decode()[-2000:]}")
    return tally, _publisher.parse(out)
