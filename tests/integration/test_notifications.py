"""Notifications through the real service: alerts raised over a real Mosquitto reach local
HTTP receivers that speak like a DingTalk robot, a WeCom robot and a webhook consumer,
each exactly once after the retries its receiver forces; a robot's minute holds at most
20 messages; a channel that never answers delays neither the others nor the raise path."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from lantian.config import load_settings
from tests.conftest import RunningService, shipped_rules, write_config
from tests.integration.conftest import ADMIN, ADMIN_TOKEN, BLUE_SKY, T0, Deployment, FakeClock
from tests.notify_receivers import Receivers, run_black_hole, run_receivers
from tests.support import Broker, free_port, wait_until

pytestmark = pytest.mark.integration

ROBOT_SECRET = "SECrobotsecret0123456789abcdef"
HOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BURST_RULE = """
[[rules.threshold]]
id = "burst-pm10"
kind = "dust_exceedance"
metric = "pm10"
station_kinds = ["burst"]
levels = [{ severity = "major", limit = 100 }]
"""


def channel(name: str, kind: str, url: str, secret: str | None = None,
            events: str = '["raised"]') -> str:
    line = f'secret = "{secret}"\n' if secret else ""
    return (f'[[notify.channels]]\nname = "{name}"\nkind = "{kind}"\nurl = "{url}"\n{line}'
            f"events = {events}\n")


def start(tmp_path: Path, broker: Broker, clock: FakeClock, notify: str,
          burst_stations: int = 0) -> Deployment:
    rules = re.sub(r"(?m)^sweep_s = 15\b", "sweep_s = 0.2", shipped_rules())
    config = write_config(
        tmp_path / "config", broker_url=broker.url, http_port=free_port(),
        store=tmp_path / "lantian.sqlite",
        extra=rules + (BURST_RULE if burst_stations else "") + '\n[notify]\nconsole_url = "https://console.example"\n'
        "retry_first_s = 2\nretry_max_s = 30\n" + notify,
    )
    if burst_stations:
        path = config / "stations.geojson"
        geo = json.loads(path.read_text())
        geo["features"] += [{
            "type": "Feature", "properties": {"id": f"BU-{i:02d}", "kind": "burst"},
            "geometry": {"type": "Point", "coordinates": [120.3 + i * 1e-3, 29.9]},
        } for i in range(burst_stations)]
        path.write_text(json.dumps(geo))
    svc = RunningService(load_settings(config, {"LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN}),
                         clock).start()
    return Deployment(config, clock, broker, svc)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def receivers(clock: FakeClock) -> Iterator[Receivers]:
    with run_receivers(lambda: int(clock().timestamp() * 1000)) as r:
        yield r


def metric(d: Deployment, name: str, **labels: str) -> float:
    text = httpx.get(f"{d.url}/metrics").text
    want = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    for line in text.splitlines():
        if line.startswith(name + (want if labels else " ")):
            return float(line.rpartition(" ")[2])
    return 0.0


def pending(d: Deployment) -> dict[str, tuple[int, int]]:
    answer = httpx.get(f"{d.url}/api/notifications", headers=ADMIN).json()
    return {c["channel"]: (c["pending"], c["dead"]) for c in answer["channels"]}


def tried(store: Path) -> int:
    """Notifications attempted at least once, read from the store as an auditor would."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM notifications WHERE attempts > 0"
                              ).fetchone()[0])
    finally:
        db.close()


def test_every_channel_gets_each_alert_exactly_once_after_its_retries(
    tmp_path: Path, broker: Broker, clock: FakeClock, receivers: Receivers
) -> None:
    receivers.secrets = {"/dingtalk/blue": ROBOT_SECRET, "/dingtalk/bad": ROBOT_SECRET,
                         "/dingtalk/supervisors": ROBOT_SECRET}
    receivers.webhook_secret = HOOK_SECRET
    receivers.wecom_throttles = 1
    receivers.webhook_failures = 2
    d = start(tmp_path, broker, clock, "".join([
        channel("blue", "dingtalk", receivers.url("/dingtalk/blue"), ROBOT_SECRET),
        channel("bad", "dingtalk", receivers.url("/dingtalk/bad"), "SECwrongsecret"),
        channel("group", "wecom", receivers.url("/wecom")),
        channel("district", "webhook", receivers.url("/webhook"), HOOK_SECRET),
        channel("supervisors", "dingtalk", receivers.url("/dingtalk/supervisors"),
                ROBOT_SECRET, events='["escalated"]'),
    ]))
    try:
        d.fume("KY-CS-001")
        alert = d.open_alert("KY-CS-001")
        wait_until(lambda: receivers.to("/dingtalk/blue"), what="the DingTalk robot")
        text = receivers.to("/dingtalk/blue")[0].json["markdown"]["text"]
        assert "扬尘超标" in text and "blue_sky" in text and "限值 150" in text
        assert f"https://console.example/alerts/{alert['id']}" in text
        wait_until(lambda: receivers.refused_at("/dingtalk/bad") == ["sign"],
                   what="the robot to refuse the wrong signature")
        wait_until(lambda: receivers.refused_at("/wecom") == ["130101"], what="WeCom's 130101")
        wait_until(lambda: receivers.refused_at("/webhook") == ["500"], what="the first 500")

        def all_delivered() -> bool:  # the time the retries wait passes, a second a poll
            clock.advance(seconds=1)
            return bool(receivers.to("/wecom")) and bool(receivers.to("/webhook"))

        wait_until(all_delivered, timeout=30, what="WeCom and the webhook after retries")
        assert receivers.refused_at("/webhook") == ["500", "500"]
        hook = receivers.to("/webhook")[0]
        assert hook.headers["webhook-id"] == f"{alert['id']}.1"
        assert hook.json["type"] == "alert.raised" and hook.json["alert"]["id"] == alert["id"]

        # past the acknowledgement deadline: the supervisors hear of the escalation
        clock.advance(seconds=300)
        wait_until(lambda: receivers.to("/dingtalk/supervisors"), what="the escalation")
        assert "超时升级" in receivers.to("/dingtalk/supervisors")[0].json["markdown"]["title"]

        def settled() -> bool:
            clock.advance(seconds=5)
            return all(p == 0 for p, _ in pending(d).values())

        wait_until(settled, what="nothing pending")
        for path in ("/dingtalk/blue", "/wecom", "/webhook", "/dingtalk/supervisors"):
            assert len(receivers.to(path)) == 1, path  # exactly once each
        assert receivers.to("/dingtalk/bad") == []
        assert pending(d)["bad"] == (0, 1)
        health = httpx.get(f"{d.url}/healthz").json()
        assert health["status"] == "degraded" and health["checks"]["notifications"] is False
        assert metric(d, "lantian_notifications_total", channel="district",
                      result="retry") == 2
        assert metric(d, "lantian_notifications_total", channel="district",
                      result="delivered") == 1
        assert metric(d, "lantian_notifications_total", channel="bad", result="dead") == 1
        assert httpx.get(f"{d.url}/api/notifications", headers=BLUE_SKY).status_code == 403
    finally:
        d.service.stop()


def test_30_alerts_in_a_minute_reach_a_robot_as_at_most_20_messages(
    tmp_path: Path, broker: Broker, clock: FakeClock, receivers: Receivers
) -> None:
    receivers.secrets = {"/dingtalk/blue": ROBOT_SECRET}
    receivers.down.add("/dingtalk/blue")  # while the burst comes in, nothing gets through
    d = start(tmp_path, broker, clock,
              channel("blue", "dingtalk", receivers.url("/dingtalk/blue"), ROBOT_SECRET),
              burst_stations=30)
    try:
        for i in range(30):
            broker.pub(f"lantian/sensors/BU-{i:02d}/reading", json.dumps(
                {"station": f"BU-{i:02d}", "ts": T0.isoformat(), "pm10": 150.0}).encode())
        store = tmp_path / "lantian.sqlite"
        wait_until(lambda: tried(store) == 30, what="every alert tried once")
        receivers.down.clear()
        clock.advance(seconds=10)  # every retry due at once, within one minute
        wait_until(lambda: pending(d)["blue"] == (0, 0), what="the burst delivered")
        messages = [m.json["markdown"] for m in receivers.to("/dingtalk/blue")]
        print(f"30 alerts -> {len(messages)} DingTalk messages")
        assert len(messages) <= 20
        digests = [m for m in messages if m["title"].startswith("【汇总】")]
        assert len(digests) == 1
        singles = [m for m in messages if m not in digests]
        folded = [line for line in digests[0]["text"].splitlines() if "【新告警】" in line]
        assert len(singles) + len(folded) == 30
        sites = {re.search(r"BU-\d\d", m["text"])[0] for m in singles}  # type: ignore[index]
        sites |= {re.search(r"BU-\d\d", line)[0] for line in folded}  # type: ignore[index]
        assert len(sites) == 30
    finally:
        d.service.stop()


def test_a_channel_that_never_answers_delays_no_other_nor_the_raise(
    tmp_path: Path, broker: Broker, clock: FakeClock, receivers: Receivers
) -> None:
    receivers.secrets = {"/dingtalk/blue": ROBOT_SECRET}
    with run_black_hole() as hole:
        d = start(tmp_path, broker, clock, "timeout_s = 600\n" + "".join([
            channel("blue", "dingtalk", receivers.url("/dingtalk/blue"), ROBOT_SECRET),
            channel("down", "webhook", hole.url),
        ]))
        try:
            latencies = []
            for n, station in enumerate(("KY-CS-001", "KY-CS-002")):
                with broker.sub("lantian/queues/blue_sky/alerts", 1) as sub:
                    d.reading(station, 160.0, 2)
                    d.reading(station, 170.0, 1)
                    began = time.monotonic()
                    d.reading(station, 180.0, 0)
                    sub.messages()
                    latencies.append(time.monotonic() - began)
                wait_until(lambda n=n: len(receivers.to("/dingtalk/blue")) == n + 1,
                           what="the robot's message")
                wait_until(lambda: hole.held, what="the down channel's request, unanswered")
            print(f"raise-to-queue latency: {latencies[0] * 1000:.0f} ms before the"
                  f" channel hung, {latencies[1] * 1000:.0f} ms while it hangs")
            # the second alert went out while the first request to the down channel hangs
            assert len(hole.held) == 1
            assert pending(d)["down"][0] == 2
        finally:
            d.service.stop()


def test_a_channel_down_for_an_hour_delays_no_other_and_gives_up_visibly(
    tmp_path: Path, broker: Broker, clock: FakeClock, receivers: Receivers
) -> None:
    receivers.secrets = {"/dingtalk/blue": ROBOT_SECRET}
    nobody = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connection refused
    d = start(tmp_path, broker, clock, "".join([
        channel("blue", "dingtalk", receivers.url("/dingtalk/blue"), ROBOT_SECRET),
        channel("down", "webhook", nobody),
    ]))

    def robot_heard(station: str) -> bool:
        return any(station in m.json["markdown"]["text"] for m in receivers.to("/dingtalk/blue"))

    try:
        d.fume("KY-CS-001")
        wait_until(lambda: robot_heard("KY-CS-001"), what="the robot, first alert")

        def an_hour_later() -> bool:  # a minute of the clock a poll, while the worker retries
            clock.advance(seconds=60)
            return pending(d)["down"] == (0, 1)

        wait_until(an_hour_later, timeout=30, what="the down channel giving the first up")
        assert clock() - T0 >= timedelta(hours=1)
        d.fume("KY-CS-002")
        wait_until(lambda: robot_heard("KY-CS-002"), what="the robot, an hour on")
        assert pending(d)["down"] == (1, 1)  # the new one waits its turn, the old one is dead
        assert httpx.get(f"{d.url}/healthz").json()["checks"]["notifications"] is False
        assert metric(d, "lantian_notifications_pending", channel="down") == 1
    finally:
        d.service.stop()
