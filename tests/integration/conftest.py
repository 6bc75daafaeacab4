"""Fixtures for integration tests that run a whole deployment: the shipped rules and
routes, a real Mosquitto, and a clock the test moves."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from lantian.config import load_settings
from tests.conftest import RunningService, shipped_rules, write_config
from tests.support import Broker, free_port, wait_until

BLUE_SKY = {"Authorization": "Bearer demo-blue-sky-officer-token"}
LAW = {"Authorization": "Bearer demo-law-enforcement-officer-token"}
BUREAU = {"Authorization": "Bearer demo-environment-bureau-token"}
ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}

#: 2026-06-12 10:00 in Asia/Shanghai: the morning of the story.
T0 = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
SITE_CS01 = (30.02783, 120.502557)  # KY-CS-001, inside construction site cs-01
DOCK = (30.044, 120.501)


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self._at = at
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._at

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._at += timedelta(**delta)
            return self._at


@dataclass
class Deployment:
    config: Path
    clock: FakeClock
    broker: Broker
    service: RunningService

    @property
    def url(self) -> str:
        return self.service.base_url

    def restart(self) -> None:
        self.service.stop()
        self.service = RunningService(
            load_settings(self.config, {"LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN}), self.clock
        ).start()

    def reading(self, station: str, pm10: float, minutes_ago: float = 0) -> None:
        ts = self.clock() - timedelta(minutes=minutes_ago)
        self.broker.pub(f"lantian/sensors/{station}/reading", json.dumps(
            {"station": station, "ts": ts.isoformat(), "pm10": pm10}).encode())

    def position(self, lat: float, lon: float, seconds_ago: float = 0) -> None:
        ts = self.clock() - timedelta(seconds=seconds_ago)
        self.broker.pub("lantian/drones/KY-UAV-01/telemetry", json.dumps(
            {"drone": "KY-UAV-01", "ts": ts.isoformat(), "lat": lat, "lon": lon,
             "alt_m": 60.0}).encode())

    def fume(self, station: str) -> None:
        """Three readings whose 15-minute mean is over the shipped 150 µg/m³ limit."""
        for minutes_ago, pm10 in ((2, 160.0), (1, 170.0), (0, 180.0)):
            self.reading(station, pm10, minutes_ago)

    def post(self, alert_id: str, step: str, headers: dict[str, str],
             body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}/api/alerts/{alert_id}/{step}", headers=headers,
                          json=body)

    def alert(self, alert_id: str, headers: dict[str, str] = BLUE_SKY) -> dict[str, Any]:
        r = httpx.get(f"{self.url}/api/alerts/{alert_id}", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def open_alert(self, station: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            alerts = httpx.get(f"{self.url}/api/alerts", headers=ADMIN).json()["alerts"]
            return next((a for a in alerts if a["subject"] == f"station:{station}"), None)
        return wait_until(find, what=f"an alert for {station}")


ADMIN_TOKEN = ADMIN["Authorization"].removeprefix("Bearer ")


def start_deployment(
    tmp_path: Path, broker: Broker, influx_url: str = "", extra: str = "",
    env: dict[str, str] | None = None,
) -> Deployment:
    rules = re.sub(r"(?m)^sweep_s = 15\b", "sweep_s = 0.2", shipped_rules())
    config = write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                          store=tmp_path / "lantian.sqlite", influx_url=influx_url,
                          extra=rules + extra)
    clock = FakeClock(T0)
    svc = RunningService(load_settings(config, {"LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN,
                                                **(env or {})}), clock).start()
    return Deployment(config, clock, broker, svc)


@pytest.fixture
def deployment(tmp_path: Path, broker: Broker) -> Iterator[Deployment]:
    d = start_deployment(tmp_path, broker)
    yield d
    d.service.stop()


