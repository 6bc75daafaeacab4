"""The MQTT client: paho 2.x (callback API v2, MQTT 5) driven by the service's asyncio loop.

paho's documented external-loop integration: paho tells us when its socket opens,
closes, and has something to write; the event loop calls `loop_read` / `loop_write` when
the socket is ready and `loop_misc` once a second for keep-alive. Message callbacks thus
run on the event loop's thread, the same thread as the rules and the store: no locks.

The session is persistent (clean start off, a session expiry), so QoS 1 messages sent
while the service is down or reconnecting wait at the broker; the ack for a message is
sent only after `on_message` returns, so a crash mid-message means a redelivery, which
deduplication absorbs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)

#: packets read per wake-up of the event loop, at most (see MqttConnection._readable)
_READ_BUDGET = 64


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    client_id: str = "lantian"
    keepalive_s: int = 30
    session_expiry_s: int = 86_400
    receive_maximum: int = 100
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0


class MqttConnection:
    def __init__(
        self,
        settings: BrokerSettings,
        subscriptions: list[str],
        on_message: Callable[[str, bytes], Any],
        on_connected_change: Callable[[bool], None] = lambda _: None,
        on_published: Callable[[int], None] | None = None,
        on_burst_end: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connected_change = on_connected_change
        self._on_published = on_published
        self._on_burst_end = on_burst_end
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._fd: int | None = None
        self._messages = 0
        self._misc: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = asyncio.Event()
        self._client = self._make_client()

    def _make_client(self) -> paho.Client:
        s = self._settings
        c = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=paho.MQTTv5
        )
        if s.username is not None:
            c.username_pw_set(s.username, s.password)
        if s.tls:
            c.tls_set(ca_certs=s.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        c.max_inflight_messages_set(100)
        c.on_connect = self._handle_connect
        c.on_disconnect = self._handle_disconnect
        c.on_message = self._handle_message
        c.on_publish = self._handle_publish
        c.on_socket_open = self._socket_open
        c.on_socket_close = self._socket_close
        c.on_socket_register_write = self._socket_register_write
        c.on_socket_unregister_write = self._socket_unregister_write
        return c

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: returns at once, and keeps retrying with backoff
        until the broker answers (the service is useful while the broker is away: its API
        and health endpoint say so)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._reconnecting = self._loop.create_task(self._connect_with_backoff(first=True))

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._reconnecting, self._misc):
            if task is not None:
                task.cancel()
        if self._client.is_connected():
            self._client.disconnect()
            # let the DISCONNECT packet go out before the socket is dropped
            self._client.loop_write()
        self._client.loop_read()  # notices the close and fires on_socket_close

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        """Queue a message; paho keeps it (and resends it) across a reconnect. Returns its
        message id, which `on_published` is called with when the broker has it."""
        return int(self._client.publish(topic, payload, qos=qos).mid)

    def _handle_publish(
        self, _c: paho.Client, _u: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        if self._on_published is not None:
            self._on_published(mid)

    # -- connecting --------------------------------------------------------------------

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._settings.session_expiry_s
        props.ReceiveMaximum = self._settings.receive_maximum
        return props

    def _blocking_connect(self, first: bool) -> None:
        s = self._settings
        if first:
            self._client.connect(
                s.host, s.port, keepalive=s.keepalive_s, clean_start=False,
                properties=self._connect_properties(),
            )
        else:
            self._client.reconnect()

    async def _connect_with_backoff(self, first: bool) -> None:
        assert self._loop is not None
        delay = self._settings.reconnect_min_s
        while not self._stopping:
            try:
                # a TCP connect (and DNS) may block for seconds: not on the event loop
                await self._loop.run_in_executor(None, self._blocking_connect, first)
                return
            except (OSError, ssl.SSLError, ValueError) as exc:
                log.warning("MQTT broker %s:%d not reachable (%s); retrying in %.1f s",
                            self._settings.host, self._settings.port, exc, delay)
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, self._settings.reconnect_max_s)

    def _handle_connect(
        self, client: paho.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused the connection: %s", reason)
            return
        log.info("MQTT connected to %s:%d", self._settings.host, self._settings.port)
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in self._subscriptions])
        self.connected.set()
        self._on_connected_change(True)

    def _handle_disconnect(
        self, _c: paho.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected.clear()
        self._on_connected_change(False)
        if self._stopping or self._loop is None:
            return
        log.warning("MQTT connection lost (%s); reconnecting", reason)
        self._loop.call_soon_threadsafe(self._schedule_reconnect)

    def _schedule_reconnect(self) -> None:
        assert self._loop is not None
        if self._stopping or (self._reconnecting and not self._reconnecting.done()):
            return
        self._reconnecting = self._loop.create_task(self._connect_with_backoff(first=False))

    def _handle_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self._messages += 1
        self._on_message(message.topic, bytes(message.payload))

    def _readable(self) -> None:
        """paho's loop_read takes one packet. Under load many wait in the socket buffer,
        and a trip through the event loop per packet (select, callback) costs about as
        much as the packet itself: keep reading while messages keep coming, up to a
        budget so timers and the HTTP server still get their turn."""
        try:
            for _ in range(_READ_BUDGET):
                before = self._messages
                if self._client.loop_read() != paho.MQTT_ERR_SUCCESS or self._messages == before:
                    return
        finally:
            if self._on_burst_end is not None:
                self._on_burst_end()

    # -- paho's socket callbacks ---------------------------------------------------------
    # They fire on the loop's thread, except while connecting, which runs in an executor
    # thread; `_on_loop` runs the action now or hands it to the loop. The loop watches
    # the file descriptor number, which stays valid to unregister after paho closes it.

    def _on_loop(self, action: Callable[..., object], *args: object) -> None:
        assert self._loop is not None
        if self._loop_thread == threading.get_ident():
            action(*args)
        else:
            self._loop.call_soon_threadsafe(action, *args)

    def _socket_open(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._on_loop(self._watch, sock.fileno())

    def _watch(self, fd: int) -> None:
        assert self._loop is not None
        self._fd = fd
        self._loop.add_reader(fd, self._readable)
        if self._misc is None or self._misc.done():
            self._misc = self._loop.create_task(self._misc_loop())

    def _socket_close(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        self._on_loop(self._unwatch)

    def _unwatch(self) -> None:
        assert self._loop is not None
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = None

    def _socket_register_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._on_loop(self._want_write, sock.fileno())

    def _want_write(self, fd: int) -> None:
        assert self._loop is not None
        if fd == self._fd:
            self._loop.add_writer(fd, self._client.loop_write)

    def _socket_unregister_write(self, _c: paho.Client, _u: Any, _sock: Any) -> None:
        self._on_loop(self._done_writing)

    def _done_writing(self) -> None:
        assert self._loop is not None
        if self._fd is not None:
            self._loop.remove_writer(self._fd)

    async def _misc_loop(self) -> None:
        while self._client.loop_misc() == paho.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1)
