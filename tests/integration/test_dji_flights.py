"""'Send a drone' flies a DJI dock's drone, against the real service on a real Mosquitto
with simulated docks (mosquitto_sub/pub speaking the Cloud API): the dock receives
`takeoff_to_point` at the alert's WGS-84 location and the configured height, answers on
`services_reply` and reports progress on `events`; the incident's events show the flight.
A second dock refuses (its code shown); a drone behind no configured dock gets no request.
With two partitions, the dock is flown once and followed by its drone's owner alone.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from lantian.config import load_settings
from lantian.partition import owner_of
from tests.conftest import RunningService, shipped_rules, write_config
from tests.faults.conftest import Watcher
from tests.integration.conftest import ADMIN_TOKEN, BLUE_SKY, T0, Deployment, FakeClock
from tests.partition_support import (
    Instance,
    SharedStore,
    as_json,
    partition_config,
    publish,
    reading,
    settle,
)
from tests.support import Broker, free_port, wait_until

pytestmark = pytest.mark.integration

DOCK_A, DOCK_B = "7CTDM3D00BVY4B", "7CTDM3D00BVY4C"
DJI = f"""[ingest.dji]
docks = ["{DOCK_A}", "{DOCK_B}"]
[ingest.dji.aircraft]
"1581F5BKD225D00BP891" = "KY-UAV-01"
"1581F5BKD225D00BP892" = "KY-UAV-02"
"1581F5BKD225D00BP897" = "KY-UAV-07"
"""
FLIGHTS = f"""
[ingest.dji.flights."{DOCK_A}"]
enabled = true
aircraft = "1581F5BKD225D00BP891"
height_m = 118.5
max_speed = 12
progress_every_s = 30
[ingest.dji.flights."{DOCK_B}"]
enabled = true
aircraft = "1581F5BKD225D00BP892"
"""


@pytest.fixture
def deployment(tmp_path: Path, broker: Broker) -> Iterator[Deployment]:
    rules = re.sub(r"(?m)^sweep_s = 15\b", "sweep_s = 0.2", shipped_rules())
    config = write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                          store=tmp_path / "lantian.sqlite", extra=rules + FLIGHTS)
    toml = config / "lantian.toml"  # two aircraft and two docks instead of the fixture's one
    toml.write_text(re.sub(r"(?ms)^\[ingest\.dji\]\n.*?^docks = .*?\n", DJI, toml.read_text(),
                           count=1))
    clock = FakeClock(T0)
    svc = RunningService(load_settings(config, {"LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN}),
                         clock).start()
    d = Deployment(config, clock, broker, svc)
    yield d
    d.service.stop()


def flight_events(d: Deployment, aid: str) -> list[dict[str, Any]]:
    events = d.alert(aid)["events"]
    return [e["data"] if isinstance(e["data"], dict) else json.loads(e["data"])
            for e in events if e["kind"] == "flight"]


def envelope(bid: str, method: str, data: dict[str, Any], **more: Any) -> bytes:
    return json.dumps({"tid": "dock-tid", "bid": bid, "timestamp": 1_781_229_600_000,
                       "method": method, "data": data, **more}).encode()


def test_a_docked_drone_flies_to_the_alert(deployment: Deployment, broker: Broker) -> None:
    d = deployment
    d.fume("KY-CS-001")
    alert = d.open_alert("KY-CS-001")
    aid = alert["id"]
    assert d.post(aid, "ack", BLUE_SKY).status_code == 200

    with broker.sub(f"thing/product/{DOCK_A}/services", count=1) as dock:
        r = d.post(aid, "verify", BLUE_SKY, {"drone": "KY-UAV-01"})
        assert r.status_code == 200, r.text
        [raw] = dock.messages(timeout=10)
    request = json.loads(raw)
    assert request["method"] == "takeoff_to_point"
    data = request["data"]
    assert (data["target_latitude"], data["target_longitude"], data["target_height"]) == (
        alert["location"]["lat"], alert["location"]["lon"], 118.5)
    assert (data["max_speed"], data["flight_id"]) == (12, request["bid"])
    bid = request["bid"]

    broker.pub(f"thing/product/{DOCK_A}/services_reply",
               envelope(bid, "takeoff_to_point", {"result": 0}))
    with broker.sub(f"thing/product/{DOCK_A}/events_reply", count=2) as answers:
        for status, left in (("wayline_progress", 1450.0), ("wayline_ok", 0.0)):
            broker.pub(f"thing/product/{DOCK_A}/events", envelope(
                "dock-bid", "takeoff_to_point_progress",
                {"result": 0, "status": status, "flight_id": bid,
                 "remaining_distance": left, "remaining_time": 95}, need_reply=1))
        replies = [json.loads(m) for m in answers.messages(timeout=10)]
    assert [r["data"] for r in replies] == [{"result": 0}, {"result": 0}]
    assert all(r["method"] == "takeoff_to_point_progress" for r in replies)

    flights = wait_until(lambda: (f := flight_events(d, aid)) and len(f) >= 4 and f,
                         what="the flight on the incident")
    assert [f["status"] for f in flights] == ["requested", "accepted", "progress", "arrived"]
    assert flights[2]["remaining_distance_m"] == 1450.0
    assert d.alert(aid)["state"] == "verifying"  # the drone's position puts it on scene


def test_a_refusal_and_an_unconfigured_drone(deployment: Deployment, broker: Broker) -> None:
    d = deployment
    d.fume("KY-CS-002")
    aid = d.open_alert("KY-CS-002")["id"]
    with broker.sub("thing/product/+/services", count=1) as docks:
        # a registered drone behind no configured dock: the step is a record, nothing is
        # sent ...
        r = d.post(aid, "verify", BLUE_SKY, {"drone": "KY-UAV-07"})
        assert (r.status_code, r.json()["alert"]["drone"]) == (200, "KY-UAV-07"), r.text
        # ... so the first request the docks hear is the one for dock B (the outbox keeps
        # the order of commits)
        assert d.post(aid, "verify", BLUE_SKY, {"drone": "KY-UAV-02"}).status_code == 200
        [raw] = docks.messages(timeout=10)
    request = json.loads(raw)
    assert request["method"] == "takeoff_to_point"
    # hostile and stray answers first: logged and counted, and the service goes on
    broker.pub(f"thing/product/{DOCK_B}/services_reply", b"\xff{not json")
    broker.pub(f"thing/product/{DOCK_B}/services_reply",
               envelope("someone-elses-bid", "takeoff_to_point", {"result": 0}))
    broker.pub(f"thing/product/{DOCK_B}/services_reply",
               envelope(request["bid"], "takeoff_to_point", {"result": 314001}))
    flights = wait_until(lambda: (f := flight_events(d, aid)) and len(f) >= 2 and f,
                         what="the refusal on the incident")
    assert [(f["status"], f["dock"]) for f in flights] == [
        ("requested", DOCK_B), ("refused", DOCK_B)]
    assert flights[1]["code"] == 314001
    metrics = httpx.get(f"{d.url}/metrics").text
    for outcome in ("unreadable", "unknown_bid", "recorded"):
        assert (f'lantian_dji_flight_messages_total{{kind="services_reply",outcome="{outcome}"}}'
                f" 1.0") in metrics


def raise_site_alert(broker: Broker, seen_by: Instance) -> dict[str, object]:
    """Three readings of KY-CS-001 over its limit; the alert they raise, as `seen_by`
    lists it."""
    now = datetime.now(UTC)
    publish(broker, [reading("KY-CS-001", now - timedelta(minutes=2 - m), pm10)
                     for m, pm10 in enumerate((160.0, 170.0, 180.0))])
    found: dict[str, object] = wait_until(
        lambda: next((x for x in seen_by.alerts() if x["subject"] == "station:KY-CS-001"),
                     None), what="KY-CS-001's alert")
    return found


def test_two_partitions_fly_a_dock_once_whoever_took_the_request(
    tmp_path: Path, broker: Broker, store_url: str, service_logs: Path
) -> None:
    """KY-UAV-01 (dock A's aircraft) is partition 0's; the officer sends it through
    partition 1. The request reaches the dock once, and what the dock says is read by
    partition 0 alone: each reply and progress recorded once, each need_reply answered
    once (before partitions knew of docks, both instances did both)."""
    assert owner_of("KY-UAV-01", 2) == 0
    store = SharedStore(store_url)
    config = partition_config(tmp_path, broker, extra=FLIGHTS.split(
        f'[ingest.dji.flights."{DOCK_B}"]')[0])
    a, b = (Instance(config, f"{k}/2", service_logs / f"p{k}.log", store) for k in (0, 1))
    watcher: Watcher | None = None
    try:
        a.start(), b.start()
        settle(broker, a, b)
        watcher = Watcher(broker, f"thing/product/{DOCK_A}/+")
        alert = raise_site_alert(broker, b)
        aid = str(alert["id"])
        steps = f"{b.url}/api/alerts/{aid}"
        assert httpx.post(f"{steps}/ack", headers=BLUE_SKY, timeout=10).status_code == 200
        r = httpx.post(f"{steps}/verify", headers=BLUE_SKY, json={"drone": "KY-UAV-01"},
                       timeout=10)
        assert r.status_code == 200, r.text

        def on(leaf: str) -> list[dict[str, Any]]:
            return [json.loads(p) for t, p in watcher.received()  # type: ignore[union-attr]
                    if t == f"thing/product/{DOCK_A}/{leaf}" and p != b"sentinel"]

        [request] = wait_until(lambda: on("services"), what="the request at the dock")
        bid = request["bid"]
        broker.pub(f"thing/product/{DOCK_A}/services_reply",
                   envelope(bid, "takeoff_to_point", {"result": 0}))
        for status, left in (("wayline_progress", 1450.0), ("wayline_ok", 0.0)):
            broker.pub(f"thing/product/{DOCK_A}/events", envelope(
                f"dock-bid-{status}", "takeoff_to_point_progress",
                {"result": 0, "status": status, "flight_id": bid,
                 "remaining_distance": left, "remaining_time": 95}, need_reply=1))

        def flights() -> list[str]:
            return [str(as_json(d)["status"]) for (d,) in store.rows(
                f"SELECT data FROM events WHERE kind = 'flight' AND alert_id = '{aid}'"
                " ORDER BY seq")]

        wait_until(lambda: len(flights()) >= 4, what="the flight on the incident")
        # every publication acknowledged, then one of the test's own behind them: once
        # the dock's topic carries it, Mosquitto (one thread, in order) has passed on
        # any copy a second instance sent
        wait_until(lambda: store.count("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                   == 0, what="every publication acknowledged")
        broker.pub(f"thing/product/{DOCK_A}/services", b"sentinel")
        wait_until(lambda: any(p == b"sentinel" for _, p in watcher.received()),  # type: ignore[union-attr]
                   what="the sentinel")
        assert flights() == ["requested", "accepted", "progress", "arrived"]
        requests = Counter(x["bid"] for x in on("services"))
        answers = Counter(x["bid"] for x in on("events_reply"))
        print(f"\n{store_url.partition(':')[0]}: the dock heard {requests} and {answers}")
        assert set(requests) == {bid}  # one request, whoever sent it
        assert set(answers) == {"dock-bid-wayline_ok", "dock-bid-wayline_progress"}
        if store_url.startswith("postgresql"):  # each outbox row claimed by one relay
            assert max(requests.values()) == max(answers.values()) == 1
        else:  # SQLite's outbox has no claims: both relays may hand on a row (scale.md)
            assert max(requests.values()) <= 2 and max(answers.values()) <= 2
        recorded = 'lantian_dji_flight_messages_total'
        assert a.metric(recorded, kind="services_reply", outcome="recorded") == 1
        assert a.metric(recorded, kind="event", outcome="recorded") == 2
        assert b.metric_sum(recorded) == 0  # partition 1 never heard the dock
    finally:
        if watcher is not None:
            watcher.close()
        for i in (a, b):
            i.stop()


def test_the_docks_owner_killed_its_replacement_records_what_the_dock_said_meanwhile(
    tmp_path: Path, broker: Broker, store_url: str, service_logs: Path
) -> None:
    """kill -9 of partition 0, the dock's owner; the officer sends the drone through
    partition 1 and the dock accepts while partition 0 is away. The broker keeps the
    reply in partition 0's session; its replacement, which never saw the flight, finds
    it in the store and records the acceptance, once."""
    store = SharedStore(store_url)
    config = partition_config(tmp_path, broker, extra=FLIGHTS.split(
        f'[ingest.dji.flights."{DOCK_B}"]')[0])
    a, b = (Instance(config, f"{k}/2", service_logs / f"p{k}.log", store) for k in (0, 1))
    started = [a, b]
    try:
        a.start(), b.start()
        settle(broker, a, b)
        alert = raise_site_alert(broker, b)
        a.kill()
        steps = f"{b.url}/api/alerts/{alert['id']}"
        assert httpx.post(f"{steps}/ack", headers=BLUE_SKY, timeout=10).status_code == 200
        with broker.sub(f"thing/product/{DOCK_A}/services", count=1) as dock:
            r = httpx.post(f"{steps}/verify", headers=BLUE_SKY, json={"drone": "KY-UAV-01"},
                           timeout=10)
            assert r.status_code == 200, r.text
            [raw] = dock.messages(timeout=10)
        bid = json.loads(raw)["bid"]
        broker.pub(f"thing/product/{DOCK_A}/services_reply",
                   envelope(bid, "takeoff_to_point", {"result": 0}))
        replacement = Instance(config, "0/2", service_logs / "p0-again.log", store)
        started.append(replacement)
        replacement.start()

        def flights() -> list[str]:
            return [str(as_json(d)["status"]) for (d,) in store.rows(
                "SELECT data FROM events WHERE kind = 'flight' ORDER BY seq")]

        recorded = "lantian_dji_flight_messages_total"
        wait_until(lambda: replacement.metric(recorded, kind="services_reply",
                                              outcome="recorded") == 1,
                   what="the acceptance recorded by the replacement")
        assert flights() == ["requested", "accepted"]
        assert b.metric_sum(recorded) == 0
    finally:
        for i in started:
            i.stop()
