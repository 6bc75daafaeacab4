"""Readings and positions reach a real InfluxDB-v2-protocol server (victoria-metrics), and
an outage of that server delays points without dropping them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lantian.config import load_settings
from tests.conftest import RunningService, write_config
from tests.support import FIXTURES, Broker, Victoria, free_port, run_victoria, wait_until

pytestmark = pytest.mark.integration


def _metric(svc: RunningService, name: str) -> float:
    text = httpx.get(f"{svc.base_url}/metrics").text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def _samples(vm: Victoria, match: str) -> list[tuple[int, float]]:
    out = []
    for series in vm.export(match):
        out += zip(series["timestamps"], series["values"], strict=True)  # type: ignore[arg-type]
    return sorted(out)


def _reading(station: str, ts: datetime, pm10: float) -> bytes:
    return json.dumps({"station": station, "ts": ts.isoformat(), "pm10": pm10}).encode()


def test_readings_and_positions_are_written(
    tmp_path: Path, broker: Broker, victoria: Victoria
) -> None:
    cfg = write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                       store=tmp_path / "l.sqlite", influx_url=victoria.url)
    svc = RunningService(load_settings(cfg)).start()
    try:
        ts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        broker.pub("lantian/sensors/KY-CS-004/reading", _reading("KY-CS-004", ts, 187.5))
        broker.pub("thing/product/1581F5BKD225D00BP891/osd",
                   (FIXTURES / "dji" / "aircraft-osd-in-flight.json").read_bytes())
        got = wait_until(
            lambda: _samples(victoria, '{__name__="reading_pm10",station="KY-CS-004"}'),
            timeout=20, what="the reading in victoria-metrics",
        )
        assert got == [(int(ts.timestamp() * 1000), 187.5)]
        lat = wait_until(
            lambda: _samples(victoria, '{__name__="drone_position_lat",drone="KY-UAV-01"}'),
            timeout=20, what="the drone position in victoria-metrics",
        )
        assert lat == [(1781231585000, 30.033127)]
        wait_until(lambda: _metric(svc, "lantian_influx_points_written_total") == 2.0,
                   what="both points counted as written")
        assert _metric(svc, "lantian_influx_points_pending") == 0.0
    finally:
        svc.stop()


def test_points_wait_out_a_server_outage(tmp_path: Path, broker: Broker) -> None:
    port = free_port()  # nothing listens here yet: the server is "down"
    cfg = write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                       store=tmp_path / "l.sqlite", influx_url=f"http://127.0.0.1:{port}")
    svc = RunningService(load_settings(cfg)).start()
    try:
        ts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        for i in range(3):
            broker.pub("lantian/sensors/KY-CS-002/reading",
                       _reading("KY-CS-002", ts + timedelta(minutes=i), 100.0 + i))
        wait_until(lambda: len(svc.records) == 3, what="the three readings")
        assert _metric(svc, "lantian_influx_points_pending") == 3.0
        assert _metric(svc, "lantian_influx_points_written_total") == 0.0
        with run_victoria(tmp_path / "vm", port=port) as vm:  # the server comes back
            got = wait_until(
                lambda: len(s := _samples(vm, '{__name__="reading_pm10",station="KY-CS-002"}'))
                == 3 and s,
                timeout=60, what="the parked points to be written",
            )
            assert [v for _, v in got] == [100.0, 101.0, 102.0]
            wait_until(lambda: _metric(svc, "lantian_influx_points_pending") == 0.0,
                       what="nothing pending")
        assert _metric(svc, "lantian_influx_points_failed_total") == 0.0
    finally:
        svc.stop()
