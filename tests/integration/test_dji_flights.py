"""'Send a drone' flies a DJI dock's drone, against the real service on a real Mosquitto
with simulated docks (mosquitto_sub/pub speaking the Cloud API): the dock receives
`takeoff_to_point` at the alert's WGS-84 location and the configured height, answers on
`services_reply` and reports progress on `events`; the incident's events show the flight.
A second dock refuses (its code shown); a drone behind no configured dock gets no request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lantian.config import load_settings
from tests.conftest import RunningService, shipped_rules, write_config
from tests.integration.conftest import ADMIN_TOKEN, BLUE_SKY, T0, Deployment, FakeClock
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
