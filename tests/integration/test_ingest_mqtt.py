"""The ingest path end to end: `mosquitto_pub` to a real Mosquitto, the service decoding,
records handed on, dead letters published and stored."""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ingest import PAYLOAD_CAP
from rules.records import DronePosition, Interval, Reading
from tests.conftest import RunningService
from tests.support import FIXTURES, Broker, wait_until

pytestmark = pytest.mark.integration


def _dead_letters(svc: RunningService) -> list[tuple[str, str, str, bytes]]:
    db = sqlite3.connect(svc.settings.store_path)
    try:
        return db.execute(
            "SELECT topic, code, reason, payload FROM dead_letters ORDER BY id"
        ).fetchall()
    finally:
        db.close()


def _readings(svc: RunningService, station: str) -> list[Reading]:
    return [r for r in svc.records if isinstance(r, Reading) and r.station == station]


def test_json_reading_becomes_a_record_once(broker: Broker, service: RunningService) -> None:
    payload = json.dumps(
        {"station": "KY-CS-001", "ts": "2026-06-12T10:31:00+08:00", "pm10": 187.0, "tsp": 320}
    ).encode()
    broker.pub("lantian/sensors/KY-CS-001/reading", payload)
    broker.pub("lantian/sensors/KY-CS-001/reading", payload)  # the station re-sends it
    got = wait_until(lambda: _readings(service, "KY-CS-001"), what="the reading")
    assert got[0].values["pm10"].value == 187.0
    assert got[0].ts == datetime(2026, 6, 12, 2, 31, tzinfo=UTC)
    metrics = wait_until(
        lambda: "lantian_records_duplicate_total{kind=\"reading\"} 1.0"
        in (t := httpx.get(f"{service.base_url}/metrics").text) and t,
        what="the duplicate to be counted",
    )
    assert 'lantian_messages_received_total{kind="reading"} 2.0' in metrics
    assert len(_readings(service, "KY-CS-001")) == 1


@pytest.mark.parametrize(
    ("fixture", "station", "metric", "value"),
    [
        ("ambient-minute-2051.hj212", "FX-AMBIENT", "pm10", 31.0),
        ("dust-realtime-2011.hj212", "FX-DUST", "tsp", 92.0),
        ("gases-realtime-2011-lowercase-crc.hj212", "FX-GASES", "co", 0.0),
        ("noise-la-realtime-2011.hj212", "FX-NOISE-LA", "noise", 66.8),
        ("noise-leq-realtime-2011-low-pressure.hj212", "FX-NOISE-LEQ", "noise", 60.97),
    ],
    ids=["ambient-minute", "dust-realtime", "gases-lowercase-crc", "noise-la", "noise-leq"],
)
def test_hj212_fixtures_are_accepted(
    broker: Broker, service: RunningService, fixture: str, station: str, metric: str,
    value: float,
) -> None:
    broker.pub(f"lantian/sensors/{station}/hj212", (FIXTURES / "hj212" / fixture).read_bytes())
    got = wait_until(lambda: _readings(service, station), what=f"a reading from {station}")
    assert got[0].source == "hj212"
    assert got[0].values[metric].value == pytest.approx(value)


def test_a_station_sending_only_unmapped_codes_is_counted_and_its_readings_go_on(
    broker: Broker, service: RunningService
) -> None:
    raw = (FIXTURES / "hj212" / "water-realtime-2011-unmapped.hj212").read_bytes()
    broker.pub("lantian/sensors/FX-WATER/hj212", raw)
    got = wait_until(lambda: _readings(service, "FX-WATER"), what="the reading")
    assert got[0].values == {} and got[0].extras["w01018-Rtd"] == "194.200"
    wait_until(
        lambda: 'lantian_readings_without_metrics_total{station="FX-WATER"} 1.0'
        in httpx.get(f"{service.base_url}/metrics").text,
        what="the reading without metrics to be counted",
    )


@pytest.mark.parametrize(
    ("fixture", "station", "code", "reason_part"),
    [
        ("std-appendix-a-1062.hj212", "FX-STD", "hj212_not_data", "not a data upload"),
        ("reply-9011.hj212", "FX-STD", "hj212_not_data", "not a data upload"),
        ("bad-crc-readme.hj212", "FX-OLD", "hj212_crc", "3C00"),
        ("wrong-length-2051.hj212", "FX-DUST", "hj212_length", "121"),
    ],
    ids=["command-1062", "reply-9011", "bad-crc", "wrong-length"],
)
def test_hj212_fixtures_are_dead_lettered(
    broker: Broker, service: RunningService, fixture: str, station: str, code: str,
    reason_part: str,
) -> None:
    raw = (FIXTURES / "hj212" / fixture).read_bytes()
    topic = f"lantian/sensors/{station}/hj212"
    with broker.sub("lantian/deadletter", count=1) as sub:
        broker.pub(topic, raw)
        (line,) = sub.messages()
    published = json.loads(line)
    assert published["topic"] == topic
    assert published["code"] == code
    assert reason_part in published["reason"]
    assert base64.b64decode(published["payload_b64"]) == raw
    stored = wait_until(lambda: _dead_letters(service), what="the stored dead letter")
    assert stored == [(topic, code, published["reason"], raw)]


@pytest.mark.parametrize(
    ("topic", "payload", "code"),
    [
        ("lantian/sensors/FX-AMBIENT/hj212",
         (FIXTURES / "hj212" / "ambient-minute-2051.hj212").read_bytes()[:200], "hj212_length"),
        ("lantian/sensors/KY-CS-001/reading",
         b'{"station": "KY-CS-001", "ts": "2026-06-12T10:31:00+08:00", "pm10": NaN}', "bad_json"),
        ("lantian/sensors/KY-CS-001/reading",
         b'{"station": "KY-CS-001", "ts": "2026-06-12T10:31:00+08:00", "pm10": "187"}',
         "wrong_type"),
        ("lantian/sensors/KY-CS-001/reading", b"{" + b" " * 70000 + b"}", "too_large"),
        ("lantian/sensors/KY-CS-001/readings", b"{}", "unknown_topic"),
        ("lantian/sensors/KY-CS-001/reading",
         b'{"station": "KY-CS-001", "ts": "2026-06-12T10:31:00+08:00", "pm10": 99999}',
         "implausible"),
    ],
    ids=["truncated-hj212", "nan", "string-value", "huge", "unknown-topic", "implausible"],
)
def test_malformed_messages_are_dead_lettered(
    broker: Broker, service: RunningService, topic: str, payload: bytes, code: str
) -> None:
    broker.pub(topic, payload)
    stored = wait_until(lambda: _dead_letters(service), what="the dead letter")
    # kept up to the cap (issue 9, item 8): the huge one is cut, the others are whole
    assert [(t, c, p) for t, c, _, p in stored] == [(topic, code, payload[:PAYLOAD_CAP])]
    assert service.records == []
    # and the service is still there for the next message
    broker.pub("lantian/sensors/KY-CS-002/reading",
               b'{"station": "KY-CS-002", "ts": 1781231460000, "pm10": 80}')
    wait_until(lambda: _readings(service, "KY-CS-002"), what="the next reading")


def test_future_reading_is_dead_lettered(broker: Broker, service: RunningService) -> None:
    ts = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    broker.pub("lantian/sensors/KY-CS-001/reading",
               json.dumps({"station": "KY-CS-001", "ts": ts, "pm10": 50}).encode())
    stored = wait_until(lambda: _dead_letters(service), what="the dead letter")
    assert stored[0][1] == "future_time"


def test_dji_osd_in_flight_becomes_a_drone_position(
    broker: Broker, service: RunningService
) -> None:
    raw = (FIXTURES / "dji" / "aircraft-osd-in-flight.json").read_bytes()
    broker.pub("thing/product/1581F5BKD225D00BP891/osd", raw)
    dock = (FIXTURES / "dji" / "dock-osd.json").read_bytes()
    broker.pub("thing/product/7CTDM3D00BVY4B/osd", dock)
    got = wait_until(
        lambda: [r for r in service.records if isinstance(r, DronePosition)], what="position"
    )
    assert got[0].drone == "KY-UAV-01"
    assert (got[0].location.lat, got[0].location.lon) == (30.033127, 120.501928)
    metrics = wait_until(
        lambda: 'lantian_messages_decoded_total{kind="dji_osd"} 2.0'
        in (t := httpx.get(f"{service.base_url}/metrics").text) and t,
        what="both OSD messages decoded",
    )
    assert len([r for r in service.records if isinstance(r, DronePosition)]) == 1
    assert 'lantian_messages_rejected_total{kind="dji_osd"' not in metrics


def test_healthz_reports_broker_and_store(service: RunningService) -> None:
    r = httpx.get(f"{service.base_url}/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {
        "broker_connected": True, "store_writable": True, "raise_path": True}}


def test_the_store_file_is_checkpointed_by_a_thread_of_its_own(
    broker: Broker, service: RunningService
) -> None:
    # the service's SQLite store has its WAL checkpointed apart from the event loop, the
    # writer left to checkpoint itself only as a backstop (dispatch._wal_checkpoints)
    broker.pub("lantian/sensors/KY-CS-001/reading", json.dumps(
        {"station": "KY-CS-001", "ts": "2026-06-12T10:31:00+08:00", "pm10": 87.0}).encode())
    wait_until(lambda: 'lantian_sqlite_checkpoints_total{result="done"}'
               in httpx.get(f"{service.base_url}/metrics").text, what="a checkpoint")


def test_hj212_minute_data_keeps_interval_and_units(
    broker: Broker, service: RunningService
) -> None:
    broker.pub("lantian/sensors/FX-AMBIENT/hj212",
               (FIXTURES / "hj212" / "ambient-minute-2051.hj212").read_bytes())
    (r,) = wait_until(lambda: _readings(service, "FX-AMBIENT"), what="the reading")
    assert r.interval is Interval.MINUTE
    assert {m: v.value for m, v in r.values.items()} == {
        "no2": 4, "o3": 63, "so2": 6, "co": 0.427, "pm25": 14, "pm10": 31,
        "wind_speed": 1, "wind_dir": 11, "temp": 17, "rh": 85, "pressure": 95,
    }
