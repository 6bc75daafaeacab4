"""kill -9 of the service: no acknowledged reading loses its effect, no alert goes
unpublished, none is raised twice."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import shipped_rules
from tests.faults.conftest import ADMIN, ServiceProcess, Watcher, store_rows
from tests.support import Broker, wait_until

Factory = Callable[..., ServiceProcess]


def reading(station: str, at: datetime, pm10: float) -> bytes:
    return json.dumps({"station": station, "ts": at.isoformat(), "pm10": pm10}).encode()


def alerts_for(svc: ServiceProcess, subject: str) -> list[dict[str, object]]:
    found = httpx.get(f"{svc.url}/api/alerts", headers=ADMIN, timeout=5).json()["alerts"]
    return [a for a in found if a["subject"] == subject]


def two_readings_over_the_limit(svc: ServiceProcess, broker: Broker) -> tuple[str, datetime]:
    """KY-CS-001's PM10 at 160 and 170, two and one minutes ago, processed: a third
    completes the 15-minute mean's alert. Its topic, and now."""
    topic = "lantian/sensors/KY-CS-001/reading"
    now = datetime.now(UTC)
    broker.pub(topic, reading("KY-CS-001", now - timedelta(minutes=2), 160))
    broker.pub(topic, reading("KY-CS-001", now - timedelta(minutes=1), 170))
    wait_until(lambda: svc.metric("lantian_records_total", type="Reading") == 2,
               what="two readings processed")
    return topic, now


def test_readings_acknowledged_before_a_kill_still_count_after_it(
    service_factory: Factory, broker: Broker
) -> None:
    """The issue's reproduction: two PM10 readings over the limit, kill -9, a third after
    the restart. The 15-minute mean needs all three."""
    svc = service_factory(shipped_rules()).start()
    topic, now = two_readings_over_the_limit(svc, broker)
    svc.kill()  # long before the minute's snapshot
    svc.start()
    broker.pub(topic, reading("KY-CS-001", now, 180))
    alert = wait_until(lambda: alerts_for(svc, "station:KY-CS-001"), what="the alert")
    assert [a["rule"] for a in alert] == ["site-pm10-15min"]


STATIONS = 1200
FAULT_RULE = """
[[rules.threshold]]
id = "fault-pm10"
kind = "dust_exceedance"
metric = "pm10"
station_kinds = ["fault"]
levels = [{ severity = "major", limit = 100 }]
"""


def add_stations(config: Path, n: int) -> list[str]:
    path = config / "stations.geojson"
    geo = json.loads(path.read_text())
    ids = [f"FT-{i:04d}" for i in range(n)]
    for i, sid in enumerate(ids):
        geo["features"].append({
            "type": "Feature", "properties": {"id": sid, "kind": "fault"},
            "geometry": {"type": "Point", "coordinates": [120.3 + i * 1e-4, 29.9]},
        })
    path.write_text(json.dumps(geo))
    return ids


def publish_paced(broker: Broker, messages: list[tuple[str, bytes]], per_s: float,
                  client_id: str = "fault-publisher") -> threading.Thread:
    """Publish at a pace in the background (the stream a kill lands in the middle of)."""

    def run() -> None:
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        c.connect(broker.host, broker.port)
        c.loop_start()
        infos = []
        for t, p in messages:
            infos.append(c.publish(t, p, qos=1))
            time.sleep(1 / per_s)  # the pace of the devices, not a synchronisation
        for info in infos:
            info.wait_for_publish(10)
        c.loop_stop()
        c.disconnect()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_kill_9_mid_stream_loses_no_alert_and_publishes_each(
    service_factory: Factory, broker: Broker, tmp_path: Path
) -> None:
    svc = service_factory("[rules]\n" + FAULT_RULE)
    stations = add_stations(svc.config, STATIONS)
    svc.start()
    watcher = Watcher(broker, "lantian/queues/+/alerts")
    now = datetime.now(UTC)
    stream = publish_paced(broker, [(f"lantian/sensors/{s}/reading", reading(s, now, 150.0))
                                    for s in stations], per_s=1000)
    wait_until(lambda: svc.metric("lantian_records_total", type="Reading") >= STATIONS // 4,
               timeout=60, what="a quarter of the stream processed")
    svc.kill()
    store = tmp_path / "lantian.sqlite"
    raised_before = store_rows(store, "SELECT count(*) FROM alerts")[0][0]
    unsent_at_kill = store_rows(store, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]

    started = time.monotonic()
    svc.start()

    def every_station_alerted() -> bool:
        return store_rows(store, "SELECT count(*) FROM alerts")[0][0] >= STATIONS

    stream.join(60)
    wait_until(every_station_alerted, timeout=120, what="an alert for every station")
    stored = {r[0]: r[1] for r in store_rows(store, "SELECT id, subject FROM alerts")}

    def all_published() -> bool:
        got = {json.loads(p)["id"] for _, p in watcher.received()}
        return stored.keys() <= got

    wait_until(all_published, timeout=60, what="every stored alert published")
    recovered_s = time.monotonic() - started
    watcher.close()
    published = Counter(json.loads(p)["id"] for _, p in watcher.received())
    per_subject = Counter(stored.values())
    print(f"\nkill -9 after {raised_before} of {STATIONS} alerts raised;"
          f" {unsent_at_kill} stored but unpublished at the kill;"
          f" after restart: {len(stored)} alerts, {len(published)} published"
          f" ({sum(published.values()) - len(published)} repeats),"
          f" all in {recovered_s:.1f} s")
    assert len(stored) == STATIONS  # no reading's effect lost...
    assert max(per_subject.values()) == 1  # ...and none counted twice
    assert set(published) == set(stored)  # every alert reached the queue
    assert store_rows(store, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == 0 \
        or wait_until(lambda: store_rows(
            store, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == 0,
            what="the outbox drained")
