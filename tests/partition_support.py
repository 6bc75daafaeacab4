"""Several `lantian run` processes on one config, one broker and one shared store, each
told its partition by LANTIAN_PARTITION and its HTTP port by LANTIAN_HTTP, as a
StatefulSet's pods would be (docs/scale.md). The store is named by its URL alone
(`SharedStore`, handed to every instance as LANTIAN_STORE_URL and read by the tests with
plain SQL): a SQLite file the processes share (WAL, busy_timeout) until the PostgreSQL
store lands, then a `postgresql://` URL, nothing else changed."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import shipped_rules, write_config
from tests.support import Broker, free_port, wait_until

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BLUE_SKY = {"Authorization": "Bearer demo-blue-sky-officer-token"}
LAW = {"Authorization": "Bearer demo-law-enforcement-officer-token"}


@dataclass(frozen=True)
class SharedStore:
    """The store every instance is given, by URL, and read from outside as an auditor
    would (portable SQL: the tests' queries run on either backend)."""

    url: str

    @classmethod
    def sqlite(cls, path: Path) -> SharedStore:
        return cls(f"sqlite:///{path}")

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        if self.url.startswith("sqlite:///"):
            db = sqlite3.connect(f"file:{self.url.removeprefix('sqlite:///')}?mode=ro",
                                 uri=True)
            try:
                return db.execute(sql).fetchall()
            finally:
                db.close()
        import psycopg  # the PostgreSQL store's driver, only when one is named

        with psycopg.connect(self.url) as pg:
            return [tuple(r) for r in pg.execute(sql).fetchall()]

    def count(self, sql: str) -> int:
        return int(str(self.rows(sql)[0][0]))


def as_json(value: object) -> dict[str, object]:
    """A JSON column: text in SQLite, already decoded by a PostgreSQL driver (jsonb)."""
    return value if isinstance(value, dict) else json.loads(str(value))  # type: ignore[no-any-return]


class Instance:
    """`lantian run` as partition `partition` ("k/N") of the deployment in `config`,
    on `store`."""

    def __init__(self, config: Path, partition: str, log: Path, store: SharedStore,
                 env: dict[str, str] | None = None) -> None:
        self.config = config
        self.partition = partition
        self.log = log
        self.env = {"LANTIAN_STORE_URL": store.url, **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Instance:
        env = {**os.environ, "LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN,
               "LANTIAN_PARTITION": self.partition, "LANTIAN_HTTP": f"127.0.0.1:{self.port}",
               **self.env}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lantian", "--config", str(self.config), "run"],
                stdout=out, stderr=out, env=env)
        wait_until(self._up, timeout=30, what=f"partition {self.partition} to answer /healthz")
        return self

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"partition {self.partition} exited:"
                                 f" {self.log.read_text()[-3000:]}")
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

    def metric(self, name: str, **labels: str) -> float:
        """A sample of /metrics (0 when absent)."""
        want = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
        for line in httpx.get(f"{self.url}/metrics", timeout=30).text.splitlines():
            key, _, value = line.rpartition(" ")
            if key == name + want:
                return float(value)
        return 0.0

    def alerts(self) -> list[dict[str, object]]:
        r = httpx.get(f"{self.url}/api/alerts", headers=ADMIN, params={"limit": 500},
                      timeout=10)
        assert r.status_code == 200, r.text
        alerts: list[dict[str, object]] = r.json()["alerts"]
        return alerts


def partition_config(tmp_path: Path, broker: Broker, extra: str = "",
                     rules: str | None = None) -> Path:
    """One config for every instance: the shipped rules and routes (SLA sweep every
    0.2 s, the law-enforcement queue's acknowledgement due in `2 s` so that escalations
    happen within a test)."""
    text = re.sub(r"(?m)^sweep_s = 15\b", "sweep_s = 0.2", shipped_rules() if rules is None
                  else rules)
    text = text.replace("[dispatch.queues.law_enforcement]\nack_s = 300",
                        "[dispatch.queues.law_enforcement]\nack_s = 2")
    # the store is each instance's LANTIAN_STORE_URL (`SharedStore`); this one is unused
    return write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                        store=tmp_path / "unused.sqlite", extra=text + extra)


def reading(station: str, at: datetime, pm10: float) -> tuple[str, bytes]:
    return (f"lantian/sensors/{station}/reading",
            json.dumps({"station": station, "ts": at.isoformat(), "pm10": pm10}).encode())


def publish(broker: Broker, messages: Iterable[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 with one client, every PUBACK awaited."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"devices-{free_port()}")
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        infos = [c.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        c.loop_stop()
        c.disconnect()


def settle(broker: Broker, *instances: Instance) -> None:
    """Wait until every instance's subscriptions are live: /healthz answers once the
    broker accepted the connection, and the first SUBACK (of a new session) may come a
    little later. Every instance subscribes to every drone's topics in the same
    SUBSCRIBE, so a probe drone's position, counted by each, says all are."""
    before = [i.metric("lantian_records_total", type="DronePosition") for i in instances]
    probe = json.dumps({"drone": "PROBE", "ts": datetime.now(UTC).isoformat(),
                        "lat": 29.0, "lon": 119.0, "alt_m": 0.0}).encode()

    def counted() -> bool:
        publish(broker, [("lantian/drones/PROBE/telemetry", probe)])
        return all(i.metric("lantian_records_total", type="DronePosition") > b
                   for i, b in zip(instances, before, strict=True))

    wait_until(counted, timeout=20, what="every instance subscribed")
