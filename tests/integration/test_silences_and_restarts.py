"""Silences and maintenance flags mute alerts; closed incidents reach the time-series
server; the rules' windows survive a restart of the service."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from ingest import hj212_crc16
from tests.integration.conftest import ADMIN, BLUE_SKY, Deployment, start_deployment
from tests.support import Broker, Victoria, wait_until

pytestmark = pytest.mark.integration
SH = ZoneInfo("Asia/Shanghai")


def hj212(d: Deployment, mn: str, cp: str) -> bytes:
    """A real-time (CN 2011) packet stamped with the deployment's clock, correct CRC."""
    at = d.clock().astimezone(SH)
    segment = (f"QN={at:%Y%m%d%H%M%S}000;ST=22;CN=2011;PW=123456;MN={mn};Flag=4;"
               f"CP=&&DataTime={at:%Y%m%d%H%M%S};{cp}&&").encode()
    return b"##%04d%s%04X\r\n" % (len(segment), segment, hj212_crc16(segment))


def test_a_silenced_station_is_recorded_not_dispatched(
    deployment: Deployment, broker: Broker
) -> None:
    d = deployment
    ends = (d.clock() + timedelta(hours=1)).isoformat()
    r = httpx.post(f"{d.url}/api/silences", headers=BLUE_SKY, json={
        "stations": ["KY-CS-002"], "ends_at": ends, "reason": "渣土清运，已报备",
        "actor": "李值班"})
    assert r.status_code == 201, r.text
    with broker.sub("lantian/queues/+/alerts", count=1) as queue:
        d.fume("KY-CS-002")
        d.fume("KY-CS-004")  # processed after KY-CS-002's: its arrival proves the first passed
        [published] = queue.messages(timeout=20)
    assert json.loads(published)["subject"] == "station:KY-CS-004"
    muted = d.open_alert("KY-CS-002")
    assert (muted["muted"], muted["state"]) == (True, "raised")
    events = d.alert(muted["id"], ADMIN)["events"]
    assert [e["kind"] for e in events] == ["raised", "silenced"]
    assert events[1]["data"]["reason"] == "渣土清运，已报备"

    [silence] = httpx.get(f"{d.url}/api/silences?active=true", headers=BLUE_SKY).json()[
        "silences"]
    r = httpx.delete(f"{d.url}/api/silences/{silence['id']}", headers=BLUE_SKY)
    assert (r.status_code, r.json()["ended_by"]) == (200, "blue-sky duty officer (demo)")
    assert httpx.get(f"{d.url}/api/silences?active=true", headers=BLUE_SKY).json() == {
        "silences": []}
    bad = httpx.post(f"{d.url}/api/silences", headers=BLUE_SKY,
                     json={"ends_at": ends, "reason": "everything"})
    assert (bad.status_code, bad.json()["detail"]) == (
        422, "a silence needs at least one station, zone or rule")


def test_maintenance_flags_silence_a_station_while_they_last(
    deployment: Deployment, broker: Broker
) -> None:
    d = deployment
    broker.pub("lantian/sensors/KY-CS-003/hj212", hj212(
        d, "33060300KY0003", "a34002-Rtd=0.080,a34002-Flag=M;a34001-Rtd=0.150,a34001-Flag=N"))

    def active() -> list[dict[str, object]]:
        return httpx.get(f"{d.url}/api/silences?active=true", headers=BLUE_SKY).json()[
            "silences"]  # type: ignore[no-any-return]

    [silence] = wait_until(active, what="the maintenance silence")
    assert (silence["author"], silence["stations"]) == ("system:maintenance", ["KY-CS-003"])
    assert "flags M" in str(silence["reason"])
    d.clock.advance(minutes=1)
    broker.pub("lantian/sensors/KY-CS-003/hj212", hj212(
        d, "33060300KY0003", "a34002-Rtd=0.080,a34002-Flag=N"))
    wait_until(lambda: active() == [], what="the maintenance silence to end")


def test_closed_incidents_are_written_as_points(
    tmp_path: Path, broker: Broker, victoria: Victoria
) -> None:
    d = start_deployment(tmp_path, broker, influx_url=victoria.url)
    try:
        d.fume("KY-CS-001")
        aid = d.open_alert("KY-CS-001")["id"]
        d.clock.advance(minutes=2)
        assert d.post(aid, "ack", BLUE_SKY).status_code == 200
        d.clock.advance(minutes=10)
        r = d.post(aid, "close", BLUE_SKY, {"outcome": "resolved", "note": "已处置"})
        assert r.status_code == 200, r.text

        def point(field: str) -> list[float]:
            series = victoria.export(f'{{__name__="incident_{field}",queue="blue_sky"}}')
            return [v for s in series for v in s["values"]]  # type: ignore[attr-defined]

        assert wait_until(lambda: point("time_to_close_s"), timeout=20,
                          what="the incident point") == [720.0]
        assert point("time_to_ack_s") == [120.0]
        assert point("sla_met") == [1.0]
    finally:
        d.service.stop()


def test_a_restart_keeps_the_windows(deployment: Deployment, broker: Broker) -> None:
    d = deployment
    d.reading("KY-CS-001", 160.0, minutes_ago=2)
    d.reading("KY-CS-001", 170.0, minutes_ago=1)
    wait_until(lambda: len(d.service.records) == 2, what="two readings")
    d.restart()  # the rule state is snapshotted at shutdown and restored at start
    with broker.sub("lantian/queues/blue_sky/alerts", count=1) as queue:
        d.reading("KY-CS-001", 180.0)  # only with the first two is min_samples reached
        [published] = queue.messages(timeout=20)
    alert = json.loads(published)
    assert [v for _, v in alert["evidence"]["readings"]] == [160.0, 170.0, 180.0]
