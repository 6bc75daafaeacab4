"""The demo's own MQTT clients (paho, each on its own network thread): one per simulated
device, publishing as that device would, and one observer of what the service publishes.

Each device has its own connection and client id, as real monitors and docks do, so the
broker sees eight publishers, and one device's messages arrive in the order it sent them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from lantian.demo._broker import BrokerAddress
from lantian.demo._sim import Ledger

_CONNECT_TIMEOUT_S = 10.0


def _client(client_id: str) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=paho.MQTTv5)
    # a burst of QoS 1 messages in flight at once, rather than paho's default 20
    client.max_inflight_messages_set(200)
    return client


def _connect(client: paho.Client, broker: BrokerAddress, what: str) -> None:
    connected = threading.Event()
    failure: list[str] = []

    def on_connect(
        _c: paho.Client, _u: object, _f: object, reason: ReasonCode, _p: object = None
    ) -> None:
        if reason.is_failure:
            failure.append(str(reason))
        connected.set()

    client.on_connect = on_connect
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    if not connected.wait(_CONNECT_TIMEOUT_S) or failure:
        client.loop_stop()
        raise ConnectionError(
            f"{what} could not connect to the broker at {broker.url}: "
            f"{failure[0] if failure else 'timed out'}"
        )


class DeviceLink:
    """A device's connection: publishes QoS 1 and counts each message in the ledger."""

    def __init__(self, client_id: str, broker: BrokerAddress, ledger: Ledger) -> None:
        self.client_id = client_id
        self._ledger = ledger
        self._client = _client(client_id)
        _connect(self._client, broker, f"device {client_id}")

    def send(self, topic: str, payload: bytes) -> None:
        self._ledger.sent()
        self._client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


Handler = Callable[[str, bytes], None]


class Observer:
    """Subscribes to the service's outbound topics; each message is handed to `handle` on
    the demo's event loop (so the console and officers need no locks). `on_any_thread`
    sees every message first, on paho's thread, for what must not wait for the loop."""

    def __init__(
        self, broker: BrokerAddress, topics: list[str], loop: asyncio.AbstractEventLoop,
        handle: Handler, on_any_thread: Handler | None = None, client_id: str = "demo-observer",
    ) -> None:
        self._loop = loop
        self._handle = handle
        self._direct = on_any_thread
        self._subscribed = threading.Event()
        self._client = _client(client_id)
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        _connect(self._client, broker, "the demo's observer")
        self._client.subscribe([(t, 1) for t in topics])
        if not self._subscribed.wait(_CONNECT_TIMEOUT_S):
            self.close()
            raise ConnectionError("the demo's observer could not subscribe")

    def _on_subscribe(self, *_args: object) -> None:
        self._subscribed.set()

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        topic, payload = msg.topic, bytes(msg.payload)
        if self._direct is not None:
            self._direct(topic, payload)
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._handle, topic, payload)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
