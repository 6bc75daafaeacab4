"""The MQTT connection keeps trying, politely, whatever the broker does: refuses us, drops
us at once, goes away and comes back, or forgets our session (issue 9, items 2 and 5).

Each test drives an `MqttConnection` on an event loop of its own thread, as the service
does, against a real Mosquitto (or a TCP listener that closes every connection). Retry
counts are bounded over an observation window: with reconnect_min_s 0.2 s and
reconnect_max_s 2 s, exponential backoff makes about 5 attempts in 3 s (16 at the very
most, if every jittered delay came out at the minimum); the code this replaced made
hundreds a second.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from dispatch.stores import Turns
from ingest import BrokerSettings, MqttConnection
from tests.support import (
    REPO,
    Broker,
    broker_dir,
    free_port,
    mosquitto_log,
    password_conf,
    persistence_conf,
    reload_mosquitto,
    require_binary,
    run_closing_listener,
    run_mosquitto,
    run_mosquitto_conf,
    tls_listener_conf,
    wait_until,
    write_password_file,
)

pytestmark = pytest.mark.integration

T = TypeVar("T")

#: attempts allowed in the first WINDOW_S seconds of a fault (see the module docstring)
WINDOW_S = 3.0
MAX_ATTEMPTS_IN_WINDOW = 9
TOPIC = "lantian/sensors/KY-CS-001/reading"


class LoopThread:
    """An asyncio loop on its own thread: the connection lives there, the test waits here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        done: Future[T] = Future()

        def call() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:  # handed to the test thread
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(call)
        return done.result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


class Client:
    """An MqttConnection and what it saw."""

    def __init__(self, loop: LoopThread, settings: BrokerSettings, **kwargs: Any) -> None:
        self.loop = loop
        self.messages: list[bytes] = []
        self.sessions_lost: list[bool] = []
        self.conn = loop.call(lambda: MqttConnection(
            settings, [TOPIC], on_message=lambda _t, p: self.messages.append(p),
            on_session_lost=self.sessions_lost.append, **kwargs,
        ))

    def start(self) -> Client:
        self.loop.run(self.conn.start())
        return self

    def stop(self) -> None:
        self.loop.run(self.conn.stop())

    def attempts(self, result: str) -> float:
        value = self.conn.metrics.registry.get_sample_value(
            "lantian_mqtt_connect_attempts_total", {"result": result})
        return value or 0.0

    def sessions_lost_total(self) -> float:
        value = self.conn.metrics.registry.get_sample_value("lantian_mqtt_session_lost_total")
        return value or 0.0

    def connected(self) -> bool:
        return self.conn.connected.is_set()


@pytest.fixture
def client(loop: LoopThread) -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(settings: BrokerSettings, **kwargs: Any) -> Client:
        made.append(c := Client(loop, settings, **kwargs).start())
        return c

    yield make
    for c in made:
        c.stop()


def settings(port: int, **kw: Any) -> BrokerSettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1", "port": port, "client_id": f"lantian-test-{port}",
        "reconnect_min_s": 0.2, "reconnect_max_s": 2.0, "keepalive_s": 5,
    }
    return BrokerSettings(**(base | kw))


def observe_attempts(c: Client, result: str, timeout: float = 15) -> list[float]:
    """Watch the attempt counter (polling, so each time is good to the poll interval)
    until an attempt comes after the observation window; returns the attempt times."""
    times: list[float] = []
    seen = c.attempts(result)

    def note() -> bool:
        nonlocal seen
        now = c.attempts(result)
        times.extend([time.monotonic()] * int(now - seen))
        seen = now
        return window_passed(times)

    wait_until(note, timeout=timeout, what=f"{result} attempts past the observation window")
    return times


def in_window(times: list[float]) -> int:
    """How many of these attempt times fall in the first WINDOW_S s after the first one."""
    return sum(1 for t in times if t - times[0] <= WINDOW_S)


def window_passed(times: list[float]) -> bool:
    """True once an attempt came after the window: the observation is complete (and the
    client is still trying)."""
    return bool(times) and times[-1] - times[0] > WINDOW_S


# -- a listener that drops us at once ------------------------------------------------------


def test_a_listener_that_closes_at_once_is_retried_with_backoff_for_good(
    client: Callable[..., Client],
) -> None:
    with run_closing_listener() as listener:
        c = client(settings(listener.port))
        wait_until(lambda: window_passed(listener.accepted_at), timeout=15,
                   what="an attempt after the observation window")
        assert 2 <= in_window(listener.accepted_at) <= MAX_ATTEMPTS_IN_WINDOW, \
            listener.accepted_at
        assert c.attempts("dropped") >= in_window(listener.accepted_at)
        assert not c.connected()


def test_a_tls_port_spoken_to_in_plain_mqtt_is_retried_with_backoff(
    tmp_path: Path, client: Callable[..., Client],
) -> None:
    tls_port = free_port()
    with broker_dir() as d, run_mosquitto(tmp_path / "b", tls_listener_conf(d, tls_port)):
        c = client(settings(tls_port))
        times = observe_attempts(c, "dropped")
        assert in_window(times) <= MAX_ATTEMPTS_IN_WINDOW, times
        assert c.attempts("connected") == 0


def test_after_the_dropping_listener_a_broker_on_that_port_gets_connected(
    tmp_path: Path, client: Callable[..., Client],
) -> None:
    with run_closing_listener() as listener:
        port = listener.port
        c = client(settings(port))
        wait_until(lambda: len(listener.accepted_at) >= 3, what="a few dropped attempts")
    with run_mosquitto(tmp_path / "b", port=port) as broker:
        # the next attempt comes within reconnect_max_s
        wait_until(c.connected, timeout=2.0 + 3, what="the connection to the real broker")
        broker.pub(TOPIC, b"after the fault")
        wait_until(lambda: c.messages == [b"after the fault"], what="the message")


# -- a broker that refuses us --------------------------------------------------------------


def test_refused_credentials_are_retried_with_backoff_until_they_are_fixed(
    tmp_path: Path, client: Callable[..., Client],
) -> None:
    device = ("device", "device-password")
    users = dict([device, ("lantian", "the-new-password")])
    with broker_dir() as d, run_mosquitto(tmp_path / "b", password_conf(d, users)) as broker:
        # the service still has the old password
        c = client(settings(broker.port, username="lantian", password="the-old-password"))
        times = observe_attempts(c, "refused")
        assert in_window(times) <= MAX_ATTEMPTS_IN_WINDOW, times
        assert c.attempts("connected") == 0
        assert "not authorised" in mosquitto_log(broker)
        # the operator puts the password the service has back, and reloads the broker
        write_password_file(d, users | {"lantian": "the-old-password"})
        reload_mosquitto(broker)
        wait_until(c.connected, timeout=2.0 + 3, what="the connection once the password fits")
        assert c.attempts("connected") == 1
        broker.pub(TOPIC, b"hello", auth=device)
        wait_until(lambda: c.messages == [b"hello"], what="the message")


# -- a broker that is down and comes back --------------------------------------------------


def test_a_broker_that_is_down_is_retried_with_backoff_and_connected_when_back(
    tmp_path: Path, client: Callable[..., Client],
) -> None:
    port = free_port()
    c = client(settings(port))
    times = observe_attempts(c, "unreachable")
    assert in_window(times) <= MAX_ATTEMPTS_IN_WINDOW, times
    with run_mosquitto(tmp_path / "b", port=port) as broker:
        wait_until(c.connected, timeout=2.0 + 3, what="the connection once the broker is up")
        broker.pub(TOPIC, b"hello")
        wait_until(lambda: c.messages == [b"hello"], what="the message")
    # and down again: the loop carries on from a lost connection as well
    wait_until(lambda: not c.connected(), what="the loss to be noticed")
    with run_mosquitto(tmp_path / "b2", port=port) as broker:
        wait_until(c.connected, timeout=2.0 + 3, what="the connection after a restart")
    assert c.attempts("connected") == 2


# -- a broker that lost our session ----------------------------------------------------------


def test_a_broker_restarted_without_persistence_is_noticed_and_resubscribed(
    tmp_path: Path, client: Callable[..., Client],
) -> None:
    port = free_port()
    with run_mosquitto(tmp_path / "b1", port=port):
        c = client(settings(port))  # a first run: no session expected yet
        wait_until(c.connected, what="the first connection")
        assert c.sessions_lost_total() == 0
    with run_mosquitto(tmp_path / "b2", port=port) as broker:
        wait_until(lambda: c.attempts("connected") == 2, timeout=2.0 + 5,
                   what="the reconnection")
        assert c.sessions_lost_total() == 1
        assert c.sessions_lost == [False]  # lost while this process was running
        broker.pub(TOPIC, b"after the restart")
        wait_until(lambda: c.messages == [b"after the restart"], what="the message")


def test_a_session_expected_from_a_previous_run_and_missing_is_reported(
    broker: Broker, client: Callable[..., Client],
) -> None:
    c = client(settings(broker.port, client_id=f"lantian-fresh-{free_port()}"),
               expect_session=True)
    wait_until(c.connected, what="the connection")
    assert c.sessions_lost == [True]
    assert c.sessions_lost_total() == 1
    broker.pub(TOPIC, b"hello")
    wait_until(lambda: c.messages == [b"hello"], what="the message")


def test_a_persistent_broker_keeps_session_and_queued_messages_across_its_restart(
    tmp_path: Path, loop: LoopThread, client: Callable[..., Client],
) -> None:
    port = free_port()
    with broker_dir() as data:
        conf = persistence_conf(data)
        with run_mosquitto(tmp_path / "b", conf, port=port):
            first = Client(loop, settings(port)).start()
            wait_until(first.connected, what="the first run's connection")
            first.stop()  # the service stops; its session stays at the broker
        with run_mosquitto(tmp_path / "b", conf, port=port) as broker:
            for i in range(3):
                broker.pub(TOPIC, b"while away %d" % i)
        # SIGTERM above: a clean stop, so the broker saved sessions and queued messages
        assert (data / "mosquitto.db").stat().st_size > 0
        with run_mosquitto(tmp_path / "b", conf, port=port):
            second = client(settings(port), expect_session=True)
            wait_until(lambda: len(second.messages) == 3, what="the queued messages")
            assert second.messages == [b"while away 0", b"while away 1", b"while away 2"]
            assert second.sessions_lost == []
            assert second.sessions_lost_total() == 0


# -- manual acknowledgement ------------------------------------------------------------------


def _record_acks(c: Client, events: list[tuple[str, int]]) -> None:
    """Note each ack the connection sends, in the same list as the burst ends."""
    real = c.conn._client.ack

    def ack(mid: int, qos: int) -> Any:
        events.append(("ack", mid))
        return real(mid, qos)

    c.conn._client.ack = ack  # type: ignore[method-assign]


def assert_session_empty(loop: LoopThread, on: BrokerSettings, broker: Broker) -> None:
    """A new connection on the session `on` names is handed nothing the broker kept (every
    message was acknowledged), only a marker published after it connected."""
    again = Client(loop, on, manual_ack=True).start()
    try:
        wait_until(again.connected, what="a new connection on the session")
        broker.pub(TOPIC, b"marker")
        wait_until(lambda: again.messages[-1:] == [b"marker"], what="the marker")
        assert again.messages == [b"marker"]
    finally:
        again.stop()


def test_manual_acks_go_out_after_the_burst_end_hook_in_arrival_order(
    broker: Broker, loop: LoopThread,
) -> None:
    cid = f"lantian-ack-{free_port()}"
    events: list[tuple[str, int]] = []  # ("burst end", messages so far) / ("ack", mid)
    c = Client(loop, settings(broker.port, client_id=cid), manual_ack=True,
               on_burst_end=lambda: events.append(("burst end", len(c.messages))))
    _record_acks(c, events)
    c.start()
    try:
        wait_until(c.connected, what="the connection")
        for i in range(5):
            broker.pub(TOPIC, b"m%d" % i)
        wait_until(lambda: sum(kind == "ack" for kind, _ in events) == 5, what="5 acks")
        committed = acked = 0
        for kind, n in events:
            if kind == "burst end":
                committed = n
            else:
                acked += 1
                assert acked <= committed, f"an ack before its burst end: {events}"
        mids = [n for kind, n in events if kind == "ack"]
        assert len(set(mids)) == 5
        assert mids == sorted(mids)  # arrival order (the broker numbers them in order)
    finally:
        c.stop()
    # all acked: a new connection on that session gets nothing again
    assert_session_empty(loop, settings(broker.port, client_id=cid), broker)


@contextmanager
def paho_publisher(broker: Broker) -> Iterator[Callable[[str, bytes], None]]:
    """QoS 1 publishes from one connection (a burst, where `Broker.pub` is a process
    each), all acknowledged by the broker when the block ends."""
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{free_port()}")
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    sent: list[paho.MQTTMessageInfo] = []
    try:
        yield lambda topic, payload: sent.append(pub.publish(topic, payload, qos=1))
        for info in sent:
            info.wait_for_publish(10)
    finally:
        pub.disconnect()
        pub.loop_stop()


def test_in_a_turn_bursts_are_handled_in_order_one_at_a_time_and_acked_after_their_commit(
    broker: Broker, loop: LoopThread,
) -> None:
    """With the store writer's turns (PostgreSQL's, `dispatch._turns`) a burst's commit
    waits on the loop, which goes on meanwhile: still no message is handled while a
    commit waits, the messages are handled in arrival order, and each ack follows the
    commit of its burst."""
    cid = f"lantian-turn-{free_port()}"
    turns = Turns()
    events: list[tuple[str, int]] = []
    waits: list[int] = []

    def commit() -> None:  # a commit that waits for its server, as PostgreSQL's does
        events.append(("commit waits", len(c.messages)))
        turns.awaiting(asyncio.sleep(0.005))  # the server's answer: not a synchronisation
        waits.append(1)
        events.append(("burst end", len(c.messages)))

    c = Client(loop, settings(broker.port, client_id=cid), manual_ack=True,
               on_burst_end=commit, turn=turns)
    _record_acks(c, events)
    c.start()
    try:
        wait_until(c.connected, what="the connection")
        with paho_publisher(broker) as publish:
            for i in range(200):
                publish(TOPIC, b"m%03d" % i)
        wait_until(lambda: sum(kind == "ack" for kind, _ in events) == 200, what="200 acks")
        assert c.messages == [b"m%03d" % i for i in range(200)]  # arrival order, once
        committed = acked = 0
        for (kind, n), after in zip(events, [*events[1:], ("", 0)], strict=True):
            if kind == "commit waits":  # nothing handled until it is over
                assert after == ("burst end", n), events
            elif kind == "burst end":
                committed = n
            else:
                acked += 1
                assert acked <= committed, f"an ack before its burst end: {events}"
        assert waits  # the commits did wait on the loop
    finally:
        c.stop()
        turns.close()
    assert_session_empty(loop, settings(broker.port, client_id=cid), broker)


def test_a_failing_burst_end_leaves_messages_unacked_and_they_come_again(
    broker: Broker, client: Callable[..., Client],
) -> None:
    failures = [RuntimeError("the store is locked")]

    def commit() -> None:
        if failures:
            raise failures.pop()

    c = client(settings(broker.port, client_id=f"lantian-nack-{free_port()}"),
               manual_ack=True, on_burst_end=commit)
    wait_until(c.connected, what="the connection")
    broker.pub(TOPIC, b"precious")
    # the failed commit drops the connection; the broker redelivers on the next one
    wait_until(lambda: c.messages == [b"precious", b"precious"], timeout=2.0 + 5,
               what="the redelivery")
    assert c.attempts("connected") == 2
    assert not failures


def test_the_last_handled_time_is_that_of_the_last_burst_whose_commit_succeeded(
    broker: Broker, client: Callable[..., Client],
) -> None:
    seen: list[float] = []  # the gauge as each commit begins

    def last_handled() -> float:
        value = c.conn.metrics.registry.get_sample_value(
            "lantian_mqtt_last_handled_timestamp_seconds")
        assert value is not None
        return value

    def commit() -> None:
        seen.append(last_handled())
        if len(seen) == 1:
            raise RuntimeError("the store is locked")

    c = client(settings(broker.port, client_id=f"lantian-last-{free_port()}"),
               manual_ack=True, on_burst_end=commit)
    wait_until(c.connected, what="the connection")
    before = time.time()
    broker.pub(TOPIC, b"precious")
    wait_until(lambda: len(seen) == 2 and last_handled() > 0, timeout=2.0 + 5,
               what="the redelivery's commit")
    assert seen == [0.0, 0.0]  # the failed burst did not count as handled
    assert before <= last_handled() <= time.time()


def test_a_message_whose_handling_raises_stays_unacked_and_its_burst_goes_on(
    broker: Broker, loop: LoopThread,
) -> None:
    cid = f"lantian-bug-{free_port()}"
    events: list[tuple[str, int]] = []
    c = Client(loop, settings(broker.port, client_id=cid), manual_ack=True)
    _record_acks(c, events)
    handle = c.conn._on_message

    def on_message(topic: str, payload: bytes) -> None:
        if payload == b"bad":
            raise ValueError("a bug in one message's handling")
        handle(topic, payload)

    c.conn._on_message = on_message
    c.start()
    try:
        wait_until(c.connected, what="the connection")
        for payload in (b"a", b"bad", b"b"):
            broker.pub(TOPIC, payload)
        wait_until(lambda: c.messages == [b"a", b"b"], what="the messages around it")
        wait_until(lambda: len(events) == 2, what="their acks")
    finally:
        c.stop()
    assert len(events) == 2
    # the broker still holds the one never acknowledged, for the session's next connection
    again = Client(loop, settings(broker.port, client_id=cid), manual_ack=True).start()
    try:
        wait_until(lambda: again.messages == [b"bad"], what="its redelivery")
    finally:
        again.stop()


def test_without_manual_ack_the_burst_end_hook_is_still_called(
    broker: Broker, client: Callable[..., Client],
) -> None:
    ends: list[int] = []
    c = client(settings(broker.port, client_id=f"lantian-hook-{free_port()}"),
               on_burst_end=lambda: ends.append(len(c.messages)))
    wait_until(c.connected, what="the connection")
    broker.pub(TOPIC, b"one")
    wait_until(lambda: ends == [1], what="the burst end after the message")


def test_the_shipped_broker_config_keeps_our_session_across_a_restart(
    tmp_path: Path, loop: LoopThread, client: Callable[..., Client],
) -> None:
    # config/mosquitto.conf as scripts/run uses it: another port, another directory
    port = free_port()
    shipped = (REPO / "config" / "mosquitto.conf").read_text()
    assert "listener 1883 127.0.0.1\n" in shipped
    assert "persistence_location /var/lib/mosquitto/\n" in shipped
    with broker_dir() as data:
        conf = shipped.replace("listener 1883 ", f"listener {port} ").replace(
            "/var/lib/mosquitto/", f"{data}/")
        with run_mosquitto_conf(tmp_path / "b", conf, port):
            first = Client(loop, settings(port)).start()
            wait_until(first.connected, what="the first run's connection")
            first.stop()
        with run_mosquitto_conf(tmp_path / "b", conf, port) as broker:
            broker.pub(TOPIC, b"while away")
        with run_mosquitto_conf(tmp_path / "b", conf, port) as broker:
            second = client(settings(port), expect_session=True)
            wait_until(lambda: second.messages == [b"while away"], what="the queued message")
            assert second.sessions_lost_total() == 0
            assert "Error" not in mosquitto_log(broker)


# -- a broker that stops answering -----------------------------------------------------------


def test_a_broker_that_stops_answering_is_left_by_keepalive_and_retried(
    tmp_path: Path, client: Callable[..., Client],
) -> None:
    port = free_port()
    with run_mosquitto(tmp_path / "b", port=port) as broker:
        assert broker.proc is not None
        c = client(settings(port, keepalive_s=1))
        wait_until(c.connected, what="the connection")
        broker.proc.send_signal(signal.SIGSTOP)  # frozen: the kernel still accepts TCP
        try:
            wait_until(lambda: not c.connected(), what="the keep-alive to notice")
            # a new attempt gets its TCP connection but no CONNACK; paho gives up on it
            # after the keep-alive, and the loop tries again later
            wait_until(lambda: c.attempts("dropped") >= 2, what="unanswered attempts")
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: c.attempts("connected") == 2, timeout=2.0 + 5,
                   what="the reconnection once the broker answers again")
        broker.pub(TOPIC, b"awake")
        wait_until(lambda: b"awake" in c.messages, what="the message")


def test_an_unexpected_error_while_connecting_does_not_end_the_loop(
    broker: Broker, loop: LoopThread,
) -> None:
    c = Client(loop, settings(broker.port, client_id=f"lantian-bug-{free_port()}"))
    real = c.conn._client.connect
    calls: list[int] = []

    def connect(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug somewhere below us")
        return real(*args, **kwargs)

    c.conn._client.connect = connect  # type: ignore[method-assign]
    c.start()
    try:
        wait_until(c.connected, what="the connection on the next attempt")
        assert c.attempts("unreachable") == 1
    finally:
        c.stop()


def test_stop_ends_the_loop_while_it_backs_off(loop: LoopThread) -> None:
    with run_closing_listener() as listener:
        c = Client(loop, settings(listener.port, reconnect_min_s=30.0, reconnect_max_s=60.0))
        c.start()
        wait_until(lambda: c.attempts("dropped") == 1, what="the first attempt")
        c.stop()  # in the middle of a 30 s+ wait
        runner = c.conn._runner
        assert runner is not None and runner.done()
        assert len(listener.accepted_at) == 1


def test_manual_acks_keep_a_small_receive_window_moving(
    broker: Broker, client: Callable[..., Client],
) -> None:
    # the broker sends at most receive_maximum unacked messages: were the acks of a burst
    # held back, delivery would stop at 5
    c = client(settings(broker.port, client_id=f"lantian-window-{free_port()}",
                        receive_maximum=5), manual_ack=True, on_burst_end=lambda: None)
    wait_until(c.connected, what="the connection")
    lines = b"".join(b"m%d\n" % i for i in range(200))
    subprocess.run([require_binary("mosquitto_pub"), "-h", broker.host, "-p", str(broker.port),
                    "-t", TOPIC, "-q", "1", "-l"], input=lines, check=True, timeout=30)
    wait_until(lambda: len(c.messages) == 200, what="all 200 messages")
    assert c.messages == lines.splitlines()
