"""The MQTT session survives what production throws at it: a service restart (QoS 1
messages wait at the broker) and a broker restart (the service reconnects by itself)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lantian.config import load_settings
from rules.records import Reading
from tests.conftest import RunningService, write_config
from tests.support import Broker, free_port, run_mosquitto, wait_until

pytestmark = pytest.mark.integration


def _reading(i: int) -> bytes:
    return (b'{"station": "KY-CS-001", "ts": "2026-06-12T10:%02d:00+08:00", "pm10": %d}'
            % (i, 100 + i))


def _pm10s(svc: RunningService) -> list[float]:
    return [r.values["pm10"].value for r in svc.records if isinstance(r, Reading)]


def test_messages_sent_while_the_service_is_down_arrive_after_restart(
    tmp_path: Path, broker: Broker
) -> None:
    cfg = write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                       store=tmp_path / "l.sqlite")
    first = RunningService(load_settings(cfg)).start()
    first.stop()
    for i in range(3):
        broker.pub("lantian/sensors/KY-CS-001/reading", _reading(i))
    second = RunningService(load_settings(cfg)).start()
    try:
        wait_until(lambda: len(_pm10s(second)) == 3, what="the queued readings")
        assert sorted(_pm10s(second)) == [100.0, 101.0, 102.0]
    finally:
        second.stop()


def test_service_reconnects_after_the_broker_restarts(tmp_path: Path) -> None:
    port = free_port()
    with run_mosquitto(tmp_path / "b1", port=port) as broker:
        cfg = write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                           store=tmp_path / "l.sqlite")
        svc = RunningService(load_settings(cfg)).start()
        broker.pub("lantian/sensors/KY-CS-001/reading", _reading(1))
        wait_until(lambda: _pm10s(svc) == [101.0], what="the first reading")
    try:
        health = wait_until(
            lambda: (r := httpx.get(f"{svc.base_url}/healthz")).status_code == 503 and r,
            what="health to report the broker gone",
        )
        assert health.json()["checks"] == {
            "broker_connected": False, "store_writable": True, "raise_path": True}
        with run_mosquitto(tmp_path / "b2", port=port) as broker:
            wait_until(lambda: httpx.get(f"{svc.base_url}/healthz").status_code == 200,
                       timeout=15, what="the service to reconnect")
            broker.pub("lantian/sensors/KY-CS-001/reading", _reading(2))
            wait_until(lambda: _pm10s(svc) == [101.0, 102.0], what="the reading after restart")
    finally:
        svc.stop()
