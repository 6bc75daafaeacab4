"""`GET /api/alerts/{id}/readings` on the running service: the readings around an alert
from a real InfluxDB when configured, else (or when it cannot be read) the rule window of
the alert's evidence, saying why; with the alert's own access rules.

The InfluxDB here is Debian's influxd 1.6 (`tests/influxdb.py`), the only one there is:
it serves the `/query` endpoint the service reads, but not the `/api/v2/write` its writer
uses, so the service's own writes fail (and are given up, logged) and the test writes
the points itself, through v1 `/write`, in the lines the writer emits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest._timeseries import to_lines
from rules.records import Measurement, Reading
from tests.influxdb import InfluxDB
from tests.integration.conftest import (
    ADMIN,
    BLUE_SKY,
    LAW,
    T0,
    Deployment,
    start_deployment,
)
from tests.support import Broker, free_port, wait_until

pytestmark = pytest.mark.integration

MIN = timedelta(minutes=1)
STATION = "KY-CS-001"


@pytest.fixture
def with_influx(tmp_path: Path, broker: Broker, influxdb: InfluxDB) -> Iterator[Deployment]:
    d = start_deployment(tmp_path, broker, influx_url=influxdb.url)
    yield d
    d.service.stop()


def _stored_minutely(influxdb: InfluxDB, first: int, last: int) -> None:
    """A pm10 reading a minute around T0, valued 100 + the minute (the alert's station)."""
    influxdb.write([line for m in range(first, last + 1) for line in to_lines(
        Reading(STATION, T0 + m * MIN, {"pm10": Measurement(100.0 + m)}))])


def _readings(d: Deployment, aid: str, headers: dict[str, str] = BLUE_SKY,
              **params: int) -> httpx.Response:
    return httpx.get(f"{d.url}/api/alerts/{aid}/readings", headers=headers, params=params)


def test_the_readings_around_the_alert_come_from_influxdb(
    with_influx: Deployment, influxdb: InfluxDB
) -> None:
    d = with_influx
    _stored_minutely(influxdb, -45, 45)
    d.fume(STATION)
    aid = d.open_alert(STATION)["id"]
    alert = d.alert(aid)

    d.clock.advance(minutes=10)  # ten minutes on: the chart runs up to now
    r = _readings(d, aid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["metric"], body["unit"], body["limit"]) == (
        "influxdb", "pm10", "µg/m³", alert["threshold"])
    assert "error" not in body
    assert [v for _, v in body["readings"]] == [100.0 + m for m in range(-30, 11)]
    assert body["readings"][0][0] == "2026-06-12T09:30:00+08:00"  # the service's zone
    assert (body["since"], body["until"]) == ("2026-06-12T09:30:00+08:00",
                                              "2026-06-12T10:10:00+08:00")

    d.clock.advance(minutes=60)  # long after: half an hour either side of the raise
    assert [v for _, v in _readings(d, aid).json()["readings"]] == [
        100.0 + m for m in range(-30, 31)]
    assert [v for _, v in _readings(d, aid, minutes=5).json()["readings"]] == [
        100.0 + m for m in range(-5, 6)]


def test_the_readings_are_read_as_the_alert_is(
    with_influx: Deployment, influxdb: InfluxDB
) -> None:
    d = with_influx
    d.fume(STATION)
    aid = d.open_alert(STATION)["id"]
    assert _readings(d, aid, LAW).status_code == 403  # another queue's alert
    assert _readings(d, aid, ADMIN).status_code == 200
    assert _readings(d, "no-such-alert").status_code == 404
    assert httpx.get(f"{d.url}/api/alerts/{aid}/readings").status_code == 401
    for minutes in (0, 721):
        r = _readings(d, aid, minutes=minutes)
        assert r.status_code == 422 and "minutes" in r.text, r.text


def test_without_influxdb_the_rule_window_is_charted(deployment: Deployment) -> None:
    d = deployment
    d.fume(STATION)
    alert = d.open_alert(STATION)
    body = _readings(d, alert["id"]).json()
    assert body["source"] == "rule window" and "error" not in body
    assert body["readings"] == alert["evidence"]["readings"]
    assert [v for _, v in body["readings"]] == [160.0, 170.0, 180.0]


def test_an_influxdb_that_cannot_be_read_falls_back_to_the_rule_window_saying_why(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    d = start_deployment(tmp_path, broker, influx_url=f"http://127.0.0.1:{free_port()}")
    try:
        d.fume(STATION)
        alert = d.open_alert(STATION)
        with caplog.at_level(logging.WARNING, logger="dispatch._api_readings"):
            answers = [_readings(d, alert["id"]) for _ in range(3)]
        for r in answers:
            body = r.json()
            assert r.status_code == 200 and body["source"] == "rule window", r.text
            assert "cannot be read" in body["error"]
            assert body["readings"] == alert["evidence"]["readings"]
        warned = [m for m in caplog.messages if "from InfluxDB" in m]
        assert len(warned) == 1, warned  # once a minute at most, not once a request
    finally:
        d.service.stop()


def test_a_drones_alert_has_no_station_to_read_and_answers_its_rule_window(
    with_influx: Deployment
) -> None:
    """A drone's finding raises an alert of no station: nothing is asked of InfluxDB."""
    d = with_influx
    d.broker.pub("lantian/drones/KY-UAV-01/finding", json.dumps(
        {"drone": "KY-UAV-01", "ts": d.clock().isoformat(), "kind": "muck_truck",
         "confidence": 0.9, "lat": 30.0279, "lon": 120.5026}).encode())

    def found() -> dict[str, Any] | None:
        alerts = httpx.get(f"{d.url}/api/alerts", headers=ADMIN).json()["alerts"]
        return next((a for a in alerts if a["kind"] == "muck_on_road"), None)

    alert = wait_until(found, what="the finding's alert")
    assert not alert["subject"].startswith("station:")
    r = _readings(d, alert["id"], ADMIN)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["readings"]) == ("rule window", [])
    assert "error" not in body
