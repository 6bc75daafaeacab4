"""The MQTT client: paho 2.x (callback API v2, MQTT 5) driven by the service's asyncio loop.

paho's documented external-loop integration: paho tells us when its socket opens,
closes, and has something to write; the event loop calls `loop_read` / `loop_write` when
the socket is ready (ingest/_mqtt_watch.py) and `loop_misc` once a second for
keep-alive. paho's socket is ours, reading ahead and writing corked (ingest/_socket.py).
Message callbacks thus run on the event loop's thread, the same thread as the rules and
the store: no locks.

The session is persistent (clean start off, a session expiry), so QoS 1 messages sent
while the service is down or reconnecting wait at the broker. By default paho sends the
ack for a message once `on_message` returns, so a crash mid-message means a redelivery,
which deduplication absorbs; with `manual_ack` the ack waits until `on_burst_end` (the
caller's commit) has returned, and the messages of a burst are handed to `on_message`
together, in order, just before it (see `_end_burst`).

One task, `_run`, owns every connection attempt: the first, and the retry after a TCP
failure, a refusing CONNACK, a drop right after connecting, or a keep-alive loss. paho's
callbacks only tell it that the current attempt is over; they never start one.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry

from ingest._backoff import Backoff
from ingest._mqtt_metrics import MqttMetrics
from ingest._mqtt_watch import SocketWatch
from ingest._socket import make_client
from ingest._turn import Turn

log = logging.getLogger(__name__)

#: packets read per wake-up of the event loop, at most (see MqttConnection._readable)
_READ_BUDGET = 64
#: With a turn (`_end_burst`), the messages read and not yet taken by one at which the
#: socket is no longer read: a burst decoded ahead while another waits on the store, not
#: a backlog in memory (the broker does not hold back a queued backlog for our acks).
_READ_AHEAD = 2 * _READ_BUDGET


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
    #: a connection must stay up this long before the backoff starts again from min
    reconnect_stable_s: float = 30.0


class MqttConnection:
    """`expect_session`: the broker should still hold our session (the store has state
    from a previous run); after the first accepting CONNACK of this process it always
    should. A CONNACK without it then is logged, counted, and reported through
    `on_session_lost(at_connect)` (at_connect: it is this process's first connection, so
    what went missing was queued while the service was down).

    `manual_ack`: acknowledge QoS 1/2 messages only after `on_burst_end` returned, for
    a caller that commits their effect there; a burst's messages then reach `on_message`
    at its end, in arrival order (see `_end_burst`). With `turn` as well, the burst's
    handling and commit run in the store writer's turn (`ingest._turn`), while the
    socket is read on; bursts are still handled in arrival order, committed one after
    the other and acknowledged in order."""

    def __init__(
        self,
        settings: BrokerSettings,
        subscriptions: list[str],
        on_message: Callable[[str, bytes], Any],
        on_connected_change: Callable[[bool], None] = lambda _: None,
        *,
        registry: CollectorRegistry | None = None,
        expect_session: bool = False,
        on_session_lost: Callable[[bool], None] = lambda _: None,
        manual_ack: bool = False,
        on_published: Callable[[int], None] | None = None,
        on_burst_end: Callable[[], None] | None = None,
        turn: Turn | None = None,
    ) -> None:
        self._settings = settings
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connected_change = on_connected_change
        self._on_published = on_published
        self.metrics = MqttMetrics(registry)
        self._expect_session = expect_session
        self._connected_once = False
        self._on_session_lost = on_session_lost
        self._manual_ack = manual_ack
        self._on_burst_end = on_burst_end
        self._turn = turn if manual_ack else None
        self._committing: set[asyncio.Task[None]] = set()  # bursts in or waiting for a turn
        self._waiting: asyncio.Task[None] | None = None  # the one whose turn has not come
        self._paused = False  # reading waits until a turn takes what was read
        #: with manual_ack, the burst's messages read and not yet handed over, in
        #: arrival order: (topic, payload, mid, qos)
        self._read: list[tuple[str, bytes, int, int]] = []
        self._unacked: list[tuple[int, int]] = []  # (mid, qos), in arrival order
        self._backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s,
                                settings.reconnect_stable_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read_soon: asyncio.Handle | None = None
        self._messages = 0
        self._misc: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connecting: asyncio.Future[None] | None = None
        self._attempt_over: asyncio.Future[None] | None = None
        self._up_since: float | None = None  # loop time of the accepting CONNACK
        self._refused = False
        self._stopping = False
        self.connected = asyncio.Event()
        self._client = self._make_client()
        self._io = SocketWatch(self._client, self._readable, self._keep_alive)

    @property
    def _broker(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    def _make_client(self) -> paho.Client:
        s = self._settings
        c = make_client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=s.client_id,
            protocol=paho.MQTTv5, manual_ack=self._manual_ack,
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
        return c

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: returns at once, and keeps retrying with backoff
        for as long as the service runs (the service is useful while the broker is away:
        its API and health endpoint say so)."""
        self._loop = asyncio.get_running_loop()
        self._io.bind(self._loop)
        self._runner = self._loop.create_task(self._run(), name="mqtt-connect")

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._runner, self._misc):
            if task is not None:
                task.cancel()
        if self._read_soon is not None:
            self._read_soon.cancel()
        if self._connecting is not None and not self._connecting.done():
            # a TCP connect in a worker thread cannot be cancelled; wait for it (paho's
            # connect timeout bounds it) so that its socket is closed below, not leaked
            await asyncio.wait({self._connecting}, timeout=10)
        if self._connecting is not None and self._connecting.done() \
                and not self._connecting.cancelled():
            self._connecting.exception()  # seen: a failure then is no news at stop
        if self._client.socket() is not None:
            self._client.disconnect()
            # let the DISCONNECT packet go out before the socket is dropped
            self._client.loop_write()
        await asyncio.gather(*self._committing, return_exceptions=True)
        self._client.loop_read()  # notices the close and fires on_socket_close
        if self._turn is not None:
            await self._turn(self._commit_burst)  # anything read just now: not acked
        else:
            self._end_burst(ack=False)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        """Queue a message; paho keeps it (and resends it) across a reconnect. Returns its
        message id, which `on_published` is called with when the broker has it."""
        return int(self._client.publish(topic, payload, qos=qos).mid)

    def _handle_publish(
        self, _c: paho.Client, _u: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        if self._on_published is not None:
            self._on_published(mid)

    # -- the reconnect loop --------------------------------------------------------------

    async def _run(self) -> None:
        """Attempt, wait for the attempt to be over, back off, again; until cancelled by
        stop(). Nothing but cancellation ends it."""
        while True:
            up_for = await self._attempt()
            self._backoff.ended(up_for)
            delay = self._backoff.next_delay()
            log.info("MQTT: next connection attempt to %s in %.1f s", self._broker, delay)
            await asyncio.sleep(delay)

    async def _attempt(self) -> float | None:
        """One connection attempt, until that connection is gone; returns how long it was
        up after an accepting CONNACK, None if it never got that far."""
        assert self._loop is not None
        # made before connecting: a socket the broker drops at once may report its end
        # before the worker thread below has even returned
        self._attempt_over = self._loop.create_future()
        self._up_since = None
        self._refused = False
        self._unacked.clear()  # acks belong to a network connection; the broker resends
        try:
            # a TCP connect (DNS, TLS handshake) may block for seconds: not on the loop
            self._connecting = self._loop.run_in_executor(None, self._blocking_connect)
            # shielded: a stop() during the connect waits for it rather than leaking it
            await asyncio.shield(self._connecting)
        except (OSError, ValueError) as exc:  # ssl.SSLError and socket.gaierror included
            self.metrics.attempt("unreachable")
            log.warning("MQTT broker %s not reachable: %s", self._broker, exc)
            return None
        except Exception:  # whatever it is, the loop must not die of it
            self.metrics.attempt("unreachable")
            log.exception("MQTT connection attempt to %s failed", self._broker)
            return None
        await self._attempt_over
        if self._up_since is not None:
            return self._loop.time() - self._up_since
        if not self._refused:
            self.metrics.attempt("dropped")
            log.warning("MQTT broker %s closed the connection before answering it (a TLS "
                        "port spoken to in plain MQTT, or the other way round?)", self._broker)
        return None

    def _blocking_connect(self) -> None:
        s = self._settings
        self._client.connect(
            s.host, s.port, keepalive=s.keepalive_s, clean_start=False,
            properties=self._connect_properties(),
        )

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._settings.session_expiry_s
        props.ReceiveMaximum = self._settings.receive_maximum
        return props

    def _handle_connect(
        self, client: paho.Client, _u: Any, flags: paho.ConnectFlags, reason: Any,
        _props: Any,
    ) -> None:
        assert self._loop is not None
        if reason.is_failure:
            self._refused = True
            self.metrics.attempt("refused")
            log.error("MQTT broker %s refused the connection as %r: %s", self._broker,
                      self._settings.client_id, reason)
            return  # paho closes the socket next, which ends the attempt
        self.metrics.attempt("connected")
        self._up_since = self._loop.time()
        at_connect = not self._connected_once
        self._connected_once = True
        if flags.session_present:
            log.info("MQTT connected to %s, session resumed", self._broker,
                     extra={"event": "mqtt.connected", "broker": self._broker,
                            "session": "resumed"})
        elif self._expect_session:
            self.metrics.session_lost.inc()
            log.warning(
                "MQTT broker %s has no session for client id %r: messages queued for us "
                "while %s are lost; subscribing afresh", self._broker,
                self._settings.client_id,
                "the service was down" if at_connect else "we were disconnected",
            )
            try:
                self._on_session_lost(at_connect)
            except Exception:  # the connection must carry on regardless
                log.exception("on_session_lost failed")
        else:
            log.info("MQTT connected to %s, new session", self._broker,
                     extra={"event": "mqtt.connected", "broker": self._broker,
                            "session": "new"})
        self._expect_session = True  # from now on the broker holds our session
        # every time: a broker without our session has no subscriptions either, and one
        # with it just confirms them
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in self._subscriptions])
        self.connected.set()
        self._on_connected_change(True)

    def _handle_disconnect(
        self, _c: paho.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        # paho has closed the socket by now, on every path (read, write, keep-alive,
        # DISCONNECT from the broker or from us)
        if self.connected.is_set():
            self.connected.clear()
            self._on_connected_change(False)
            if not self._stopping:
                log.warning("MQTT connection to %s lost: %s", self._broker, reason,
                            extra={"event": "mqtt.lost", "broker": self._broker})
        self._io.on_loop(self._end_attempt)

    def _end_attempt(self) -> None:
        if self._attempt_over is not None and not self._attempt_over.done():
            self._attempt_over.set_result(None)

    # -- messages ------------------------------------------------------------------------

    def _handle_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self._messages += 1
        if self._manual_ack:  # handed over at the burst's end (`_deliver`)
            self._read.append((message.topic, bytes(message.payload), message.mid,
                               message.qos))
        else:  # paho acks it as soon as this returns: it must have been handled by then
            self._on_message(message.topic, bytes(message.payload))

    def _deliver(self) -> None:
        """Hand the burst's messages to `on_message`, in arrival order, noting the acks
        owed for those it took. Reading a burst's packets first and handling them after
        keeps each stage's code and data hot in the CPU's caches: paho's for 64 packets,
        then ours for 64 messages. Interleaved, message by message, the same work cost
        14 % more a message in `bench.service`.

        A message whose handling raised is logged and left unacknowledged (the broker
        redelivers it on the next connection), as when paho's own callback raised; the
        rest of the burst goes on."""
        read, self._read = self._read, []
        for topic, payload, mid, qos in read:
            try:
                self._on_message(topic, payload)
            except Exception:
                log.exception("handling a message from %s failed; it stays unacknowledged",
                              topic)
                continue
            if qos > 0:
                self._unacked.append((mid, qos))

    def _readable(self) -> None:
        """paho's loop_read takes one packet. Under load many wait in the socket buffer,
        and a trip through the event loop per packet (select, callback) costs about as
        much as the packet itself: keep reading while messages keep coming or bytes
        wait in our read buffer, up to a budget so timers and the HTTP server still get
        their turn. That is a burst.

        Bytes read ahead into the BufferedSocket do not make the kernel socket readable:
        a burst that ends with some still buffered comes back by `call_soon`, not by
        `select`, which might never wake for them."""
        self._read_soon = None
        start = self._messages
        client = self._client
        try:
            for _ in range(_READ_BUDGET):
                before = self._messages
                if client.loop_read() != paho.MQTT_ERR_SUCCESS:
                    break
                if self._messages == before and not self._io.read_ahead():
                    break
        finally:
            if self._messages != start:
                self._end_burst()
            if self._turn is not None and len(self._read) >= _READ_AHEAD:
                self._pause()  # until a turn takes them: memory, and caches, bounded
            elif self._io.read_ahead() and self._read_soon is None and self._loop is not None:
                self._read_soon = self._loop.call_soon(self._readable)

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._io.pause_reading()

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            self._io.resume_reading()
            if self._loop is not None and self._read_soon is None and not self._stopping:
                self._read_soon = self._loop.call_soon(self._readable)  # bytes read ahead

    def _end_burst(self, ack: bool = True) -> None:
        """Messages were read: hand them over and commit their effect (`_commit_burst`),
        then, with manual_ack, send the acks, in arrival order.

        With a `turn` that is done in the store writer's turn. One burst at a time
        waits for its turn, and takes, when it comes, every message read by then (the
        socket is read on while it waits behind another turn, up to `_READ_AHEAD`
        messages); so the messages are still handled in arrival order, and each
        turn's acks are sent before the next turn begins."""
        if self._turn is not None and self._loop is not None:
            if self._waiting is None:
                task = self._loop.create_task(self._end_burst_in_turn(self._turn),
                                              name="mqtt-burst")
                self._waiting = task
                self._committing.add(task)  # held: the loop keeps only a weak reference
                task.add_done_callback(self._committing.discard)
            return
        pending = self._commit_burst()
        if ack and pending:
            self._ack(pending)

    async def _end_burst_in_turn(self, turn: Turn) -> None:
        try:
            pending = await turn(self._take_turn)
            if pending:
                self._ack(pending)
        except Exception:  # what the turn could not even run: nothing is acked
            log.exception("a burst's turn failed; its messages stay unacknowledged")
            if self._client.socket() is not None:
                self._client.disconnect()
        finally:
            if self._waiting is asyncio.current_task():  # its turn never came
                self._waiting = None

    def _take_turn(self) -> list[tuple[int, int]]:
        self._waiting = None  # what is read from now on waits for a turn of its own
        try:
            return self._commit_burst()
        finally:
            if len(self._read) < _READ_AHEAD:
                self._resume()

    def _commit_burst(self) -> list[tuple[int, int]]:
        """`on_message` for each message read (`_deliver`), then `on_burst_end` (the
        caller commits their effect): the acks owed, in arrival order. If the commit
        fails none is owed, and the connection is dropped so that the broker redelivers
        those messages on the next one (the reconnect loop makes it) rather than
        holding them unacked in our receive window for as long as this connection
        lasts.

        In a turn the socket is not read until the turn is over: a raise waits on the
        store a dozen times, a commit once, and each wait's answer would wait behind a
        read (read on, a reading's alert took a median 8.5-9.8 ms to reach its queue
        at 6,800 readings a second on PostgreSQL; not, 6.7-6.9 ms)."""
        if self._turn is not None:
            self._pause()
        self._deliver()
        pending, self._unacked = self._unacked, []
        if self._on_burst_end is not None:
            try:
                self._on_burst_end()
            except Exception:
                log.exception("on_burst_end failed; %d messages left unacknowledged%s",
                              len(pending), ", reconnecting for their redelivery"
                              if pending else "")
                if pending and self._client.socket() is not None:
                    self._client.disconnect()
                return []
        self.metrics.last_handled.set_to_current_time()
        return pending if self._client.socket() is not None else []

    def _ack(self, pending: list[tuple[int, int]]) -> None:
        """paho queues each ack as a packet and writes each with a `send` of its own, on
        the next writability: on the BufferedSocket they are written at once, corked,
        and go to the kernel together (`SocketWatch.write`). Whatever paho had queued
        before them goes first, as it would have."""

        def queue() -> None:
            for mid, qos in pending:
                self._client.ack(mid, qos)

        self._io.write(queue)

    def _keep_alive(self) -> None:
        assert self._loop is not None
        if self._misc is None or self._misc.done():
            self._misc = self._loop.create_task(self._misc_loop())

    async def _misc_loop(self) -> None:
        # keep-alive, and the CONNACK timeout: paho gives up on a connection that has
        # not been answered within keepalive_s, which ends the attempt
        while self._client.loop_misc() == paho.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1)
