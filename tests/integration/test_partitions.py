"""Two instances (partitions 0/2 and 1/2) from one config, on one Mosquitto and one
shared store: each station's readings reach the instance owning it, every alert is
raised once and by its owner, an officer acts through either instance, and the SLA
sweep, run by both, escalates each alert once per stage."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bench._sse import SseReader
from lantian.partition import owner_of
from tests.hj212_logger import Logger, parsed, upload
from tests.partition_support import (
    BLUE_SKY,
    LAW,
    Instance,
    SharedStore,
    as_json,
    partition_config,
    publish,
    reading,
    settle,
)
from tests.support import Broker, free_port, wait_until

#: Each shipped station and the alert the story below raises for it: three PM10
#: readings over the construction-site limit, a jump of the road monitor's PM10, an
#: ambient AQI over 200.
EXPECTED = {
    ("site-pm10-15min", "station:KY-CS-001"), ("site-pm10-15min", "station:KY-CS-002"),
    ("site-pm10-15min", "station:KY-CS-003"), ("site-pm10-15min", "station:KY-CS-004"),
    ("road-pm10-rise", "station:KY-RD-001"),
    ("ambient-aqi", "station:KY-AQ-001"), ("ambient-aqi", "station:KY-AQ-002"),
}
STATIONS = sorted(s.removeprefix("station:") for _, s in EXPECTED)


def story(now: datetime) -> list[tuple[str, bytes]]:
    return [reading(s, now - timedelta(minutes=3 - i), pm10)
            for i, pm10 in enumerate((20.0, 400.0, 400.0, 400.0)) for s in STATIONS]


@pytest.fixture
def store(store_url: str) -> SharedStore:
    """The one store of the deployment, on each engine in turn: a SQLite file both
    processes open, then a PostgreSQL database."""
    return SharedStore(store_url)


@pytest.fixture
def pair(tmp_path: Path, broker: Broker, store: SharedStore,
         service_logs: Path) -> Iterator[list[Instance]]:
    # both queues' deadlines short: every alert escalates within the test, twice
    config = partition_config(tmp_path, broker)
    toml = config / "lantian.toml"
    toml.write_text(toml.read_text().replace("ack_s = 300", "ack_s = 2")
                    .replace("close_s = 1800", "close_s = 4"))
    instances = [Instance(config, f"{k}/2", service_logs / f"partition-{k}.log", store)
                 for k in (0, 1)]
    try:
        for i in instances:
            i.start()
        settle(broker, *instances)
        yield instances
    finally:
        for i in instances:
            i.stop()


def raised_by(instance: Instance) -> float:
    text = httpx.get(f"{instance.url}/metrics", timeout=10).text
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
               if line.startswith("lantian_rule_signals_total{") and 'action="raise"' in line)


def test_two_partitions_raise_each_alert_once_and_share_the_officers_work(
    pair: list[Instance], broker: Broker, store: SharedStore
) -> None:
    a, b = pair
    publish(broker, story(datetime.now(UTC)))

    def all_raised() -> bool:
        return store.count("SELECT count(*) FROM alerts") >= len(EXPECTED)

    wait_until(all_raised, timeout=30, what="an alert for every station")
    stored = Counter((str(r), str(s)) for r, s in store.rows("SELECT rule, subject FROM alerts"))
    assert set(stored) == EXPECTED
    assert max(stored.values()) == 1  # each raised once, though both saw the references

    # each alert was raised by the instance owning its station
    owned = Counter(owner_of(s, 2) for s in STATIONS)
    assert (raised_by(a), raised_by(b)) == (owned[0], owned[1])
    # both serve the whole store
    assert {x["id"] for x in a.alerts()} == {x["id"] for x in b.alerts()}

    # an officer acknowledges through one instance and closes through the other the
    # alert partition 1 raised
    aid = next(str(x["id"]) for x in a.alerts() if x["subject"] == "station:KY-CS-004")
    r = httpx.post(f"{a.url}/api/alerts/{aid}/ack", headers=BLUE_SKY, timeout=10)
    assert r.status_code == 200, r.text
    r = httpx.post(f"{b.url}/api/alerts/{aid}/close", headers=BLUE_SKY, timeout=10,
                   json={"outcome": "resolved", "note": "site watered down"})
    assert r.status_code == 200, r.text
    seen = httpx.get(f"{a.url}/api/alerts/{aid}", headers=BLUE_SKY, timeout=10).json()
    assert seen["state"] == "closed"
    kinds = [e["kind"] for e in seen["events"]]
    assert kinds[:3] == ["raised", "dispatched", "acknowledged"] and kinds[-1] == "closed"
    # a step refused through one instance is refused through the other alike
    again = httpx.post(f"{b.url}/api/alerts/{aid}/ack", headers=BLUE_SKY, timeout=10)
    assert again.status_code == 409, again.text

    # both instances sweep every 0.2 s: each open alert escalates at the acknowledgement
    # deadline (2 s) and at the closing one (4 s), and at each once
    def escalations() -> list[tuple[str, str]]:
        return [(str(aid_), str(as_json(data)["stage"])) for aid_, data in store.rows(
            "SELECT alert_id, data FROM events WHERE kind = 'escalated'")]

    def all_escalated_at_close() -> bool:
        closing = {x for x, stage in escalations() if stage == "close"}
        return len(closing) == len(EXPECTED) - 1  # all but the closed one

    wait_until(all_escalated_at_close, timeout=30, what="every open alert escalated twice")
    per_stage = Counter(escalations())
    print(f"\nescalations: {len(per_stage)} (alert, stage) pairs,"
          f" most per pair {max(per_stage.values())}")
    assert max(per_stage.values()) == 1
    law = next(x for x in b.alerts() if x["subject"] == "station:KY-RD-001")
    assert httpx.get(f"{a.url}/api/alerts/{law['id']}", headers=LAW,
                     timeout=10).status_code == 200


def test_an_alert_of_one_partition_suggests_a_drone_another_owns(
    pair: list[Instance], broker: Broker
) -> None:
    """The drone suggestion reads every drone's last fix: partition 1 raises KY-CS-004's
    alert and must know where KY-UAV-01, partition 0's drone, is."""
    assert (owner_of("KY-UAV-01", 2), owner_of("KY-CS-004", 2)) == (0, 1)
    a, b = pair
    now = datetime.now(UTC)
    seen = b.metric("lantian_records_total", type="DronePosition")
    publish(broker, [("lantian/drones/KY-UAV-01/telemetry", json.dumps(
        {"drone": "KY-UAV-01", "ts": now.isoformat(), "lat": 30.044, "lon": 120.501,
         "alt_m": 60.0}).encode())])
    wait_until(lambda: b.metric("lantian_records_total", type="DronePosition") > seen,
               what="partition 1 to have the drone's position")
    publish(broker, [reading("KY-CS-004", now - timedelta(minutes=2 - m), pm10)
                     for m, pm10 in enumerate((160.0, 170.0, 180.0))])
    alert = wait_until(lambda: next((x for x in a.alerts()
                                     if x["subject"] == "station:KY-CS-004"), None),
                       what="KY-CS-004's alert")
    suggestion = httpx.get(f"{a.url}/api/alerts/{alert['id']}", headers=BLUE_SKY,
                           timeout=10).json()["drone_suggestion"]
    assert suggestion["drone"] == "KY-UAV-01"
    assert raised_by(b) == 1 and raised_by(a) == 0


def test_a_logger_connected_to_another_partition_reaches_its_stations_owner(
    tmp_path: Path, broker: Broker, store: SharedStore, service_logs: Path
) -> None:
    """KY-CS-004 is partition 1's; its data logger connects to partition 0's HJ 212
    port. Partition 0 hands each packet to partition 1 (on the station's hj212 topic,
    through the outbox) and answers 9014 once that is committed; partition 1 raises."""
    assert owner_of("KY-CS-004", 2) == 1
    config = partition_config(tmp_path, broker, extra='[hj212_tcp]\nlisten = "127.0.0.1:0"\n')
    tcp = [free_port(), free_port()]
    instances = [Instance(config, f"{k}/2", service_logs / f"p{k}.log", store,
                          env={"LANTIAN_HJ212_LISTEN": f"127.0.0.1:{tcp[k]}"})
                 for k in (0, 1)]
    try:
        a, b = (i.start() for i in instances)
        settle(broker, a, b)
        logger = Logger(tcp[0])
        now = datetime.now(UTC)
        packets = [upload("33060300KY0004", now - timedelta(minutes=2 - m), pm10)
                   for m, pm10 in enumerate((160.0, 170.0, 180.0))]  # µg/m³: no [sources]
        for packet in packets:
            logger.send(packet)
            (answer,) = logger.answers(1)
            assert parsed(answer).cn == "9014" and parsed(answer).qn == parsed(packet).qn
        logger.close()
        assert a.metric("lantian_hj212_packets_total", outcome="routed") == 3
        wait_until(lambda: b.metric("lantian_records_total", type="Reading") == 3,
                   what="the three readings at partition 1")
        assert a.metric("lantian_records_total", type="Reading") == 0
        alert = wait_until(lambda: next((x for x in b.alerts()
                                         if x["subject"] == "station:KY-CS-004"), None),
                           what="KY-CS-004's alert, raised by its owner")
        assert alert["rule"] == "site-pm10-15min"
        assert (raised_by(a), raised_by(b)) == (0, 1)
    finally:
        for i in instances:
            i.stop()


def test_a_console_on_one_instance_hears_changes_made_through_the_other(
    pair: list[Instance], broker: Broker
) -> None:
    """Partition 0 raises KY-CS-001's alert and an officer acknowledges it through
    instance A: a console connected to instance B hears both, from the shared store."""
    a, b = pair
    console = SseReader(f"{b.url}/api/stream", BLUE_SKY, None)
    try:
        assert console.connected.wait(10) and console.status == 200
        wait_until(lambda: console.events, what="the stream's hello")
        now = datetime.now(UTC)
        publish(broker, [reading("KY-CS-001", now - timedelta(minutes=2 - m), pm10)
                         for m, pm10 in enumerate((160.0, 170.0, 180.0))])

        def heard(kind: str) -> dict[str, object] | None:
            for e in console.named("alert"):
                change = json.loads(e.data)
                if change["alert"]["subject"] == "station:KY-CS-001" and \
                        kind in [x["kind"] for x in change["events"]]:
                    return change  # type: ignore[no-any-return]
            return None

        raised = wait_until(lambda: heard("raised"), what="the raise on B's console")
        assert raised["alert"]["state"] == "dispatched"  # type: ignore[index]
        aid = raised["alert"]["id"]  # type: ignore[index]
        r = httpx.post(f"{a.url}/api/alerts/{aid}/ack", headers=BLUE_SKY, timeout=10)
        assert r.status_code == 200, r.text
        acked_at = time.monotonic()
        acked = wait_until(lambda: heard("acknowledged"), what="the ack on B's console")
        print(f"\nA's ack heard on B's console after {time.monotonic() - acked_at:.3f} s")
        assert acked["alert"]["state"] == "acknowledged"  # type: ignore[index]
        assert [x["state"] for x in acked["events"]] == ["acknowledged"]  # type: ignore[union-attr]
        # each change once: B's own feed does not echo what B committed
        assert sum(1 for e in console.named("alert")
                   if json.loads(e.data)["alert"]["id"] == aid) == 2
    finally:
        console.close()


def test_a_misspelt_topic_is_dead_lettered_once_by_partition_0(
    pair: list[Instance], broker: Broker, store: SharedStore
) -> None:
    """Partition 0 keeps the wide filters: an unknown station's topic is dead-lettered,
    by it alone; partition 1 never receives it."""
    a, b = pair
    now = datetime.now(UTC)
    publish(broker, [reading("KY-CS-00l", now, 20.0)])  # l for 1
    wait_until(lambda: store.count("SELECT count(*) FROM dead_letters") >= 1,
               what="the dead letter")
    (topic, code), = store.rows("SELECT topic, code FROM dead_letters")
    assert (topic, code) == ("lantian/sensors/KY-CS-00l/reading", "unknown_station")
    # a reading of a station partition 1 owns reaches partition 1 alone
    publish(broker, [reading("KY-CS-004", now, 20.0)])
    wait_until(lambda: b.metric("lantian_records_total", type="Reading") == 1,
               what="partition 1's reading")
    assert a.metric("lantian_records_total", type="Reading") == 0
    assert store.count("SELECT count(*) FROM dead_letters") == 1
