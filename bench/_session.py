"""Persistent MQTT sessions at the broker, set up and torn down with a plain paho client.

A backlog is made by subscribing a session, disconnecting, and publishing: the broker then
queues every QoS 1 message for the absent session. Each run uses a fresh client id and
ends its session afterwards, because a forgotten subscribed session would keep queueing
(and costing broker CPU for) every later run's messages.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from tests.support import Broker

SESSION_EXPIRY_S = 3600
#: The service's default (BrokerSettings.receive_maximum). The bare subscriber asks for the
#: same, so that CEILING and INGEST differ only in what runs per message.
RECEIVE_MAXIMUM = 100


def connect_properties(session_expiry_s: int = SESSION_EXPIRY_S) -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    return props


def new_client(client_id: str) -> paho.Client:
    return paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)


def _pump_until(client: paho.Client, done: list[bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done:
        if client.loop(timeout=0.05) != paho.MQTT_ERR_SUCCESS or time.monotonic() > deadline:
            raise RuntimeError(f"MQTT: gave up waiting for {what}")


def register_session(broker: Broker, client_id: str, filters: Sequence[str]) -> None:
    """Create a persistent session subscribed (QoS 1) to `filters`, then disconnect."""
    client = new_client(client_id)
    subscribed: list[bool] = []

    def on_subscribe(_c: paho.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        subscribed.append(all(not code.is_failure for code in codes))

    client.on_subscribe = on_subscribe
    client.connect(broker.host, broker.port, clean_start=False, properties=connect_properties())
    client.subscribe([(f, SubscribeOptions(qos=1)) for f in filters])
    _pump_until(client, subscribed, 10, "SUBACK")
    if not subscribed[0]:
        raise RuntimeError(f"broker refused the subscription of {client_id}")
    client.disconnect()
    client.loop(timeout=0.05)


def forget_session(broker: Broker, client_id: str) -> None:
    """End `client_id`'s session: a clean start replaces it, and expiry 0 drops it on
    disconnect."""
    client = new_client(client_id)
    connected: list[bool] = []
    client.on_connect = lambda *_args: connected.append(True)
    client.connect(broker.host, broker.port, clean_start=True,
                   properties=connect_properties(session_expiry_s=0))
    _pump_until(client, connected, 10, "CONNACK")
    client.disconnect()
    client.loop(timeout=0.05)
