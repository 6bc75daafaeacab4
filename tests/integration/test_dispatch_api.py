"""The closed loop through the HTTP API, against a service on a real Mosquitto with an
injected clock: a dust reading becomes an incident that officers acknowledge, send a drone
to, see arrive on scene, close with a receipt; the bureau's figures are the ones computed
here by hand; escalations happen once; a restart loses nothing; every role boundary holds.
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from tests.integration.conftest import ADMIN, BLUE_SKY, BUREAU, DOCK, LAW, SITE_CS01, Deployment
from tests.support import Broker, wait_until

pytestmark = pytest.mark.integration

def test_the_story_from_reading_to_receipt(deployment: Deployment, broker: Broker) -> None:
    d = deployment
    d.position(*DOCK, seconds_ago=30)
    with broker.sub("lantian/queues/blue_sky/alerts", count=1) as blue:
        d.fume("KY-CS-001")
        [published] = blue.messages(timeout=20)
    alert = json.loads(published)
    aid = alert["id"]
    assert (alert["queue"], alert["state"], alert["zone"]["id"]) == (
        "blue_sky", "dispatched", "cs-01")
    assert alert["drone_suggestion"]["direction"] == "S"

    d.clock.advance(minutes=3)
    r = d.post(aid, "ack", BLUE_SKY, {"actor": "李值班"})
    assert r.status_code == 200, r.text
    assert r.json()["alert"]["state"] == "acknowledged"
    assert d.post(aid, "ack", BLUE_SKY, {"actor": "李值班"}).json()["events"] == []  # harmless

    d.clock.advance(minutes=1)
    r = d.post(aid, "verify", BLUE_SKY)  # no drone named: the suggested one is sent
    assert (r.status_code, r.json()["alert"]["drone"]) == (200, "KY-UAV-01"), r.text

    with broker.sub("lantian/queues/law_enforcement/alerts", count=1) as law:
        r = d.post(aid, "assist", BLUE_SKY, {"queue": "law_enforcement"})
        assert r.status_code == 200, r.text
        [assisted] = law.messages(timeout=10)
    assert json.loads(assisted)["assists"] == ["law_enforcement"]
    # the assisting team may now act on it, and see it in its queue
    assert d.alert(aid, LAW)["id"] == aid

    # the drone arrives over the site: inside for longer than the 10 s dwell
    d.clock.advance(minutes=4)
    d.position(*SITE_CS01, seconds_ago=12)
    d.position(*SITE_CS01)
    arrived = wait_until(lambda: (a := d.alert(aid))["state"] == "on_scene" and a,
                         what="the drone recorded on scene")
    on_scene = [e for e in arrived["events"] if e["kind"] == "on_scene"]
    assert on_scene[0]["actor"] == "drone:KY-UAV-01"

    d.clock.advance(minutes=12)  # 20 minutes after the raise
    # the body's actor is ignored: the receipt is the authenticated caller's
    r = d.post(aid, "close", LAW, {"actor": "王执法", "outcome": "resolved",
                                   "note": "现场洒水降尘，责令覆盖裸土"})
    assert r.status_code == 200, r.text
    closed = r.json()["alert"]
    assert closed["state"] == "closed"
    assert closed["receipt"] == {"outcome": "resolved", "note": "现场洒水降尘，责令覆盖裸土",
                                 "officer": "law-enforcement duty officer (demo)"}
    kinds = [e["kind"] for e in d.alert(aid)["events"]]
    assert kinds == ["raised", "dispatched", "acknowledged", "verifying", "assist",
                     "on_scene", "closed"]

    # the bureau's figures: one incident, acknowledged after 180 s, closed after 1200 s
    r = httpx.get(f"{d.url}/api/metrics/response-times", headers=BUREAU,
                  params={"since": "2026-06-12", "until": "2026-06-13", "group_by": "queue"})
    assert r.status_code == 200, r.text
    groups = {g["group"]: g for g in r.json()["groups"]}
    blue_sky = groups["blue_sky"]
    assert (blue_sky["count"], blue_sky["closed"], blue_sky["open"]) == (1, 1, 0)
    assert blue_sky["time_to_ack"]["median"] == 180.0
    assert blue_sky["time_to_close"]["p90"] == 1200.0
    assert blue_sky["sla_attainment"] == 1.0
    csv = httpx.get(f"{d.url}/api/metrics/response-times", headers=BUREAU,
                    params={"since": "2026-06-12", "until": "2026-06-13", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert "blue_sky,1," in csv.text

    report = httpx.get(f"{d.url}/api/reports/monthly", headers=BUREAU,
                       params={"month": "2026-06"}).json()
    assert [i["id"] for i in report["closed"]] == [aid]
    assert report["carried_over"] == []

    # the flight counts for the day's patrol coverage: the town's patrol area was visited
    coverage = httpx.get(f"{d.url}/api/reports/coverage", headers=BUREAU,
                         params={"day": "2026-06-12"}).json()
    assert coverage["drones"] == {"KY-UAV-01": ["pa-01"]}
    [patrol_area] = [z for z in coverage["zones"] if z["id"] == "pa-01"]
    assert patrol_area["visited_by"] == ["KY-UAV-01"]
    assert coverage["covered"] == 1 < coverage["total"]
    assert httpx.get(f"{d.url}/api/reports/coverage", headers=BLUE_SKY,
                     params={"day": "2026-06-12"}).status_code == 403


def test_transfer_delivers_to_the_other_queue_and_moves_ownership(
    deployment: Deployment, broker: Broker
) -> None:
    d = deployment
    d.fume("KY-CS-002")
    aid = d.open_alert("KY-CS-002")["id"]
    with broker.sub("lantian/queues/law_enforcement/alerts", count=1) as law:
        r = d.post(aid, "transfer", BLUE_SKY, {"queue": "law_enforcement"})
        assert r.status_code == 200, r.text
        [moved] = law.messages(timeout=10)
    assert json.loads(moved)["queue"] == "law_enforcement"
    # now the blue-sky officer no longer owns it, the law-enforcement officer does
    assert d.post(aid, "ack", BLUE_SKY).status_code == 403
    assert d.post(aid, "ack", LAW).status_code == 200
    r = d.post(aid, "transfer", LAW, {"queue": "no_such_queue"})
    assert (r.status_code, "no queue 'no_such_queue'" in r.text) == (409, True)


def test_overdue_is_escalated_once_per_stage_across_a_restart(
    deployment: Deployment, broker: Broker
) -> None:
    d = deployment
    d.fume("KY-CS-003")
    aid = d.open_alert("KY-CS-003")["id"]
    with broker.sub("lantian/escalations", count=1) as esc:
        d.clock.advance(minutes=5, seconds=1)
        [first] = esc.messages(timeout=10)
    assert (json.loads(first)["alert_id"], json.loads(first)["stage"]) == (aid, "ack")

    d.restart()  # deadlines live in the store: nothing is lost, nothing repeated
    restored = d.alert(aid)
    assert (restored["state"], restored["escalated"]) == ("dispatched", ["ack"])
    with broker.sub("lantian/escalations", count=1) as esc:
        d.clock.advance(minutes=25)
        [second] = esc.messages(timeout=10)
    assert json.loads(second)["stage"] == "close"
    events = [e["kind"] for e in d.alert(aid)["events"]]
    assert events.count("escalated") == 2  # many sweeps ran; each stage once


def test_role_boundaries(deployment: Deployment) -> None:
    d = deployment
    d.fume("KY-CS-004")
    aid = d.open_alert("KY-CS-004")["id"]
    metrics = f"{d.url}/api/metrics/response-times?since=2026-06-12&until=2026-06-13"
    cases = [
        ("GET", f"{d.url}/api/alerts", {}, 401),
        ("GET", f"{d.url}/api/alerts", {"Authorization": "Bearer wrong-token"}, 401),
        ("GET", f"{d.url}/api/alerts", {"Authorization": "Basic abc"}, 401),
        ("GET", f"{d.url}/api/alerts", BUREAU, 403),
        ("GET", f"{d.url}/api/alerts?queue=law_enforcement", BLUE_SKY, 403),
        ("GET", f"{d.url}/api/alerts/{aid}", LAW, 403),
        ("GET", f"{d.url}/api/alerts/{aid}", BLUE_SKY, 200),
        ("GET", f"{d.url}/api/alerts/{aid}", ADMIN, 200),
        ("GET", f"{d.url}/api/alerts/nope", ADMIN, 404),
        ("POST", f"{d.url}/api/alerts/{aid}/ack", BUREAU, 403),
        ("POST", f"{d.url}/api/alerts/{aid}/ack", LAW, 403),
        ("GET", metrics, BLUE_SKY, 403),
        ("GET", metrics, {}, 401),
        ("GET", metrics, BUREAU, 200),
        ("GET", metrics, ADMIN, 200),
        ("GET", f"{d.url}/api/reports/monthly?month=2026-06", LAW, 403),
        ("GET", f"{d.url}/api/reports/monthly?month=2026-13", BUREAU, 422),
        ("POST", f"{d.url}/api/alerts/{aid}/ack", BLUE_SKY, 200),
    ]
    got = [(m, u.removeprefix(d.url), httpx.request(m, u, headers=h).status_code)
           for m, u, h, _ in cases]
    assert got == [(m, u.removeprefix(d.url), s) for m, u, h, s in cases]


def test_bad_requests_say_what_is_wrong(deployment: Deployment) -> None:
    d = deployment
    d.fume("KY-CS-001")
    aid = d.open_alert("KY-CS-001")["id"]
    r = d.post(aid, "close", BLUE_SKY, {"outcome": "fixed", "note": "x"})
    assert r.status_code == 422
    assert "outcome" in r.text
    r = d.post(aid, "close", BLUE_SKY, {"outcome": "resolved", "note": "done"})
    assert r.status_code == 200
    r = d.post(aid, "ack", BLUE_SKY)
    assert (r.status_code, r.json()["detail"]) == (
        409, f"alert {aid} is closed; reopen it before you acknowledge it")
    r = d.post(aid, "verify", BLUE_SKY, {"drone": ""})
    assert r.status_code == 422


def test_concurrent_requests_do_not_break_each_others_transactions(
    deployment: Deployment,
) -> None:
    # Regression: plain `def` routes ran on a thread pool and shared the store's one
    # SQLite connection; concurrent writes nested transactions and failed with 500s.
    from concurrent.futures import ThreadPoolExecutor

    d = deployment
    ends = (d.clock() + timedelta(hours=1)).isoformat()

    def client(n: int) -> list[int]:
        codes = []
        with httpx.Client(base_url=d.url, headers=BLUE_SKY) as http:
            for i in range(25):
                codes.append(http.post("/api/silences", json={
                    "stations": [f"KY-CS-00{1 + n}"], "ends_at": ends,
                    "reason": f"client {n} #{i}"}).status_code)
                codes.append(http.get("/api/silences").status_code)
        return codes

    with ThreadPoolExecutor(4) as pool:
        codes = [c for batch in pool.map(client, range(4)) for c in batch]
    assert sorted(set(codes)) == [200, 201]
    silences = httpx.get(f"{d.url}/api/silences", headers=BLUE_SKY).json()["silences"]
    assert len(silences) == 100
