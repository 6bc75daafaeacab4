"""Vendors' own JSON without a bridge, end to end: two differently shaped vendors publish
to a real Mosquitto, the service reads them through their mappings into readings that
raise alerts like any other, a message missing a mapped field is dead-lettered naming it,
and `lantian decode` shows an operator the same."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lantian.config import load_settings
from rules.records import Reading
from tests.conftest import RunningService, shipped_rules, write_config
from tests.support import REPO, Broker, free_port, wait_until

pytestmark = pytest.mark.integration

VENDORS = """
[[ingest.vendors]]
name = "yuntian"
topic = "yuntian/+/up"
device = "deviceId"
stations = { "YT-8812" = "KY-CS-001" }
time = "ts"
time_format = "epoch_ms"
[ingest.vendors.metrics]
pm10 = { field = "PM10", unit = "mg/m3" }

[[ingest.vendors]]
name = "airbox"
topic = "vendors/airbox/#"
device_topic_level = 2
time = "data.time"
time_format = "%Y-%m-%d %H:%M:%S"
[ingest.vendors.metrics]
pm10 = { field = "data.pm10" }
noise = { field = "data.leq", unit = "dB(A)" }
"""


@pytest.fixture
def vendor_service(tmp_path: Path, broker: Broker) -> Iterator[RunningService]:
    cfg = write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                       store=tmp_path / "l.sqlite", extra=VENDORS + shipped_rules())
    svc = RunningService(load_settings(cfg)).start()
    yield svc
    svc.stop()


def readings(svc: RunningService, source: str) -> list[Reading]:
    return [r for r in svc.records if isinstance(r, Reading) and r.source == source]


def test_two_vendors_read_into_readings_that_raise_alerts(
    broker: Broker, vendor_service: RunningService
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for minute in (3, 2, 1):  # a fuming site, in mg/m³, device ids of its own
        ts = int((now - timedelta(minutes=minute)).timestamp() * 1000)
        broker.pub("yuntian/gw-3/up", json.dumps(
            {"deviceId": "YT-8812", "ts": ts, "PM10": 0.190, "CSQ": 27}).encode())
    local = (now.astimezone(vendor_service.settings.tz)).strftime("%Y-%m-%d %H:%M:%S")
    broker.pub("vendors/airbox/KY-CS-002/data",
               json.dumps({"data": {"time": local, "pm10": 60, "leq": 58.5}}).encode())
    yt = wait_until(lambda: len(readings(vendor_service, "yuntian")) == 3
                    and readings(vendor_service, "yuntian"), what="the three yuntian readings")
    assert {(r.station, round(r.values["pm10"].value, 3)) for r in yt} == {("KY-CS-001", 190.0)}
    (ab,) = wait_until(lambda: readings(vendor_service, "airbox"), what="the airbox reading")
    assert (ab.station, ab.ts, ab.values["noise"].value) == ("KY-CS-002", now, 58.5)
    # read like any reading: the site's 15-minute PM10 rule raises on them
    token = {"Authorization": "Bearer demo-blue-sky-officer-token"}
    alerts = wait_until(
        lambda: httpx.get(f"{vendor_service.base_url}/api/alerts", headers=token)
        .json()["alerts"], what="the alert raised on vendor readings")
    assert (alerts[0]["subject"], alerts[0]["metric"]) == ("station:KY-CS-001", "pm10")


def test_a_message_missing_a_mapped_field_is_dead_lettered_naming_it(
    broker: Broker, vendor_service: RunningService
) -> None:
    broker.pub("yuntian/gw-3/up", b'{"deviceId": "YT-8812", "PM10": 0.19}')

    def stored() -> list[tuple[str, str, str]]:
        db = sqlite3.connect(vendor_service.settings.store_path)
        try:
            return db.execute("SELECT topic, code, reason FROM dead_letters").fetchall()
        finally:
            db.close()

    assert wait_until(stored, what="the dead letter") == [(
        "yuntian/gw-3/up", "missing_field",
        'mapping "yuntian": field "ts" (the time) is missing')]
    assert readings(vendor_service, "yuntian") == []


def test_decode_shows_the_mapped_reading(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config", broker_url="mqtt://127.0.0.1:1", http_port=8080,
                       store=tmp_path / "l.sqlite", extra=VENDORS)
    done = subprocess.run(
        [sys.executable, "-m", "lantian", "--config", str(cfg), "decode", "--topic",
         "yuntian/gw-3/up"],
        input=b'{"deviceId": "YT-8812", "ts": 1781233200000, "PM10": 0.187}',
        capture_output=True, cwd=REPO, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["kind"] == "vendor"
    (record,) = out["records"]
    assert (record["station"], record["source"], record["values"]["pm10"]["value"]) == (
        "KY-CS-001", "yuntian", 187.0)
