"""Readings over a real Mosquitto raise an alert that reaches dispatch: the rules wired
into the running service with the shipped rule set and routes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lantian.config import load_settings
from tests.conftest import RunningService, shipped_rules, write_config
from tests.support import Broker, free_port

pytestmark = pytest.mark.integration

OFFICER = {"Authorization": "Bearer demo-blue-sky-officer-token"}


@pytest.fixture
def shipped(tmp_path: Path, broker: Broker) -> Iterator[RunningService]:
    config = write_config(
        tmp_path / "config", broker_url=broker.url, http_port=free_port(),
        store=tmp_path / "lantian.sqlite", extra=shipped_rules(),
    )
    svc = RunningService(load_settings(config)).start()
    yield svc
    svc.stop()


def test_site_pm10_over_its_limit_reaches_the_blue_sky_queue(
    broker: Broker, shipped: RunningService
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with broker.sub("lantian/queues/+/alerts", count=1) as queue:
        broker.pub("lantian/drones/KY-UAV-01/telemetry", json.dumps(
            {"drone": "KY-UAV-01", "ts": (now - timedelta(minutes=3)).isoformat(),
             "lat": 30.044, "lon": 120.501, "alt_m": 30.0}
        ).encode())
        for minutes_ago, pm10 in ((2, 160.0), (1, 170.0), (0, 180.0)):
            broker.pub("lantian/sensors/KY-CS-001/reading", json.dumps(
                {"station": "KY-CS-001", "ts": (now - timedelta(minutes=minutes_ago)).isoformat(),
                 "pm10": pm10}
            ).encode())
        [message] = queue.messages(timeout=20)
    alert = json.loads(message)
    assert (alert["kind"], alert["rule"], alert["severity"], alert["subject"]) == (
        "dust_exceedance", "site-pm10-15min", "major", "station:KY-CS-001"
    )
    assert (alert["queue"], alert["state"]) == ("blue_sky", "dispatched")
    assert alert["zone"] == {"id": "cs-01", "name": "鉴湖路南侧住宅项目工地",
                             "kind": "construction_site", "grid": "KY-G-022"}
    assert {"cs-01", "KY-G-022", "pa-01"} <= set(alert["zones"])
    assert (alert["value"], alert["threshold"], alert["window_s"]) == (170.0, 150, 900)
    assert [v for _, v in alert["evidence"]["readings"]] == [160.0, 170.0, 180.0]
    suggestion = alert["drone_suggestion"]
    assert (suggestion["drone"], suggestion["direction"]) == ("KY-UAV-01", "S")
    assert 1700 <= suggestion["distance_m"] <= 1900
    raised = datetime.fromisoformat(alert["raised_at"])
    assert datetime.fromisoformat(alert["sla"]["close_by"]) - raised == timedelta(minutes=30)

    response = httpx.get(f"{shipped.base_url}/api/alerts", headers=OFFICER)
    assert response.status_code == 200, response.text
    listed = response.json()["alerts"]
    assert [a["id"] for a in listed] == [alert["id"]]
