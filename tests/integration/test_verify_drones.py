"""A drone sent to verify, or said to be on scene, must be one the service knows,
registered in config's `[ingest.dji] aircraft` or heard from over MQTT: a mistyped one is
refused 422 with the names of the known ones, and the alert is left as it was. Against the
real service and Mosquitto."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.conftest import ADMIN, BLUE_SKY, DOCK, Deployment
from tests.support import wait_until

pytestmark = pytest.mark.integration


def test_an_unknown_drone_is_refused_naming_the_known_ones(deployment: Deployment) -> None:
    d = deployment
    d.fume("KY-CS-001")
    aid = d.open_alert("KY-CS-001")["id"]
    assert d.post(aid, "ack", BLUE_SKY).status_code == 200

    r = d.post(aid, "verify", BLUE_SKY, {"drone": "KY-UAV-99"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "KY-UAV-99" in detail and "KY-UAV-01" in detail  # config's aircraft
    alert = d.alert(aid)
    assert alert["state"] == "acknowledged"
    assert [e["kind"] for e in alert["events"]][-1] == "acknowledged"

    # a drone not in config, once heard over MQTT, may be sent
    lat, lon = DOCK
    d.broker.pub("lantian/drones/KY-UAV-07/telemetry", json.dumps(
        {"drone": "KY-UAV-07", "ts": d.clock().isoformat(), "lat": lat, "lon": lon,
         "alt_m": 60.0}).encode())
    wait_until(lambda: any(x["id"] == "KY-UAV-07" for x in httpx.get(
        f"{d.url}/api/map", headers=ADMIN).json()["drones"]), what="KY-UAV-07 heard")
    r = d.post(aid, "verify", BLUE_SKY, {"drone": "KY-UAV-07"})
    assert r.status_code == 200, r.text
    assert d.alert(aid)["state"] == "verifying"


def test_on_scene_names_a_known_drone_or_none(deployment: Deployment) -> None:
    d = deployment
    d.fume("KY-CS-001")
    aid = d.open_alert("KY-CS-001")["id"]
    assert d.post(aid, "verify", BLUE_SKY, {"drone": "KY-UAV-01"}).status_code == 200
    r = d.post(aid, "on-scene", BLUE_SKY, {"drone": "KY-UAV-O1"})  # a letter O for a 0
    assert r.status_code == 422 and "KY-UAV-01" in r.json()["detail"], r.text
    assert d.alert(aid)["state"] == "verifying"
    r = d.post(aid, "on-scene", BLUE_SKY)  # an officer on foot names no drone
    assert r.status_code == 200, r.text
    assert d.alert(aid)["state"] == "on_scene"
