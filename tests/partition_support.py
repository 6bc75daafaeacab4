"""Several `lantian run` processes on one config, one broker and one shared store, each
told its partition by LANTIAN_PARTITION and its HTTP port by LANTIAN_HTTP, as a
StatefulSet's pods would be (docs/scale.md). The store is named by its URL alone
(`SharedStore`, handed to every instance as LANTIAN_STORE_URL and read by the tests with
plain SQL): a SQLite file the processes share (WAL, busy_timeout) until the PostgreSQL
store lands, then a `postgresql://` URL, nothing else changed."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import shipped_rules, write_config
from tests.faults.conftest import ADMIN, ServiceProcess
from tests.support import Broker, free_port, wait_until

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


class Instance(ServiceProcess):
    """`lantian run` as partition `partition` ("k/N") of the deployment in `config`,
    on `store`, on an HTTP port of its own."""

    def __init__(self, config: Path, partition: str, log: Path, store: SharedStore,
                 env: dict[str, str] | None = None) -> None:
        port = free_port()
        super().__init__(
            config, log, {"LANTIAN_PARTITION": partition, "LANTIAN_HTTP": f"127.0.0.1:{port}",
                          "LANTIAN_STORE_URL": store.url, **(env or {})},
            url=f"http://127.0.0.1:{port}", name=f"partition {partition}")
        self.partition = partition

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
