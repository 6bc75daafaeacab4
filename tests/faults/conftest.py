"""The fault suite: the service as a separate process (so that it can be killed with
SIGKILL), real Mosquitto, and a subscriber that watches what the officers receive.

Every test here breaks a guarantee of the README's "Guarantees" on purpose and asserts
what survives, printing the figure it measured (`scripts/test -s tests/faults` shows
them)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import write_config
from tests.support import Broker, free_port, wait_until

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class ServiceProcess:
    """`lantian run` in a process of its own, on the config in `config`, with `env` over
    the environment; `url` is its HTTP port's (by default the one the config names).
    Its output goes to `log`: in the `service_logs` folder, the report of a failed test
    shows its tail."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None,
                 url: str | None = None, name: str = "the service") -> None:
        self.config = config
        self.log = log
        self.env = dict(env or {})
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        if url is None:
            text = (config / "lantian.toml").read_text()
            port = text.split('http = "127.0.0.1:', 1)[1].split('"', 1)[0]
            url = f"http://127.0.0.1:{port}"
        self.url = url

    def start(self) -> Self:
        env = {**os.environ, "LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN, **self.env}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lantian", "--config", str(self.config), "run"],
                stdout=out, stderr=out, env=env,
            )
        wait_until(self._up, timeout=30, what=f"{self.name} to answer /healthz")
        return self

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """kill -9: no shutdown, no last snapshot, nothing flushed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def samples(self, name: str) -> dict[str, float]:
        """The samples of one metric on /metrics, by their labels as written."""
        text = httpx.get(f"{self.url}/metrics", timeout=30).text
        out = {}
        for line in text.splitlines():
            key, _, value = line.rpartition(" ")
            series, _, labels = key.partition("{")
            if series == name:
                out[",".join(sorted(labels.rstrip("}").split(",")))] = float(value)
        return out

    def metric(self, name: str, **labels: str) -> float:
        """A sample of /metrics (0 when absent)."""
        want = ",".join(sorted(f'{k}="{v}"' for k, v in labels.items()))
        return self.samples(name).get(want, 0.0)

    def metric_sum(self, name: str) -> float:
        """All the samples of a metric added up (0 when absent)."""
        return sum(self.samples(name).values())


class Watcher:
    """A QoS 1 subscriber that stays up through the service's crashes, as an officer's
    console would: every payload per topic."""

    def __init__(self, broker: Broker, topic: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"watcher-{free_port()}")
        c.on_connect = lambda cl, *_: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda *_: self._subscribed.set()
        c.on_message = self._on_message
        c.connect(broker.host, broker.port)
        c.loop_start()
        self._client = c
        if not self._subscribed.wait(10):
            raise AssertionError("the watcher did not subscribe")

    def _on_message(self, _c: paho.Client, _u: object, m: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((m.topic, bytes(m.payload)))

    def received(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def store_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the service's store from outside, as an auditor would."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture
def service_factory(tmp_path: Path, broker: Broker, service_logs: Path) -> Iterator[object]:
    started: list[ServiceProcess] = []

    def make(extra: str = "", on: Broker | None = None) -> ServiceProcess:
        config = write_config(
            tmp_path / "config", broker_url=(on or broker).url, http_port=free_port(),
            store=tmp_path / "lantian.sqlite", extra=extra,
        )
        svc = ServiceProcess(config, service_logs / "service.log")
        started.append(svc)
        return svc

    yield make
    for svc in started:
        svc.stop()
