"""Vendors' own JSON through a mapping: two differently shaped vendors, and every way a
message can fail to match its mapping, each named."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import DecodeContext, Decoded, InboundTopics, Kind
from ingest import decode_message as decode
from ingest._result import Rejection
from ingest.vendors import VendorMapping, VendorMetric
from rules.records import Location, Reading, Station

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 12, 3, 0, tzinfo=UTC)
CTX = DecodeContext(
    tz=SH,
    stations={s: Station(s, s, "construction_site", Location(30.0, 120.5))
              for s in ("KY-CS-001", "KY-CS-002")},
)

#: flat, the device in a field with its own ids, epoch milliseconds, dust in mg/m³
YUNTIAN = VendorMapping(
    name="yuntian", topic="yuntian/+/up", device=("deviceId",), time=("ts",),
    time_format="epoch_ms",
    metrics=MappingProxyType({"pm10": VendorMetric(("PM10",), 1000.0),
                              "pm25": VendorMetric(("PM2_5",), 1000.0)}),
    stations=MappingProxyType({"YT-8812": "KY-CS-001"}),
)
#: nested, the device (a station id) in the topic, local time as text, µg/m³
AIRBOX = VendorMapping(
    name="airbox", topic="vendors/airbox/#", device=2, time=("data", "time"),
    time_format="%Y-%m-%d %H:%M:%S",
    metrics=MappingProxyType({"pm10": VendorMetric(("data", "pm10")),
                              "noise": VendorMetric(("data", "leq"))}),
)
TOPICS = InboundTopics(vendors=(YUNTIAN, AIRBOX))


def reading(topic: str, body: object) -> Reading:
    outcome = decode(topic, orjson.dumps(body), ctx=CTX, topics=TOPICS, now=NOW)
    assert isinstance(outcome.result, Decoded), outcome.result
    (record,) = outcome.result.records
    assert isinstance(record, Reading)
    return record


def refusal(topic: str, payload: bytes | object) -> Rejection:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    outcome = decode(topic, raw, ctx=CTX, topics=TOPICS, now=NOW)
    assert isinstance(outcome.result, Rejection)
    return outcome.result


def test_a_flat_vendor_with_its_own_device_ids_and_milligrams() -> None:
    r = reading("yuntian/gw-3/up", {"deviceId": "YT-8812", "ts": 1781233200000,
                                    "PM10": 0.187, "PM2_5": 0.061, "CO2": 410})
    assert (r.station, r.source) == ("KY-CS-001", "yuntian")
    assert r.ts == datetime(2026, 6, 12, 3, 0, tzinfo=UTC)
    assert r.ts.tzinfo == SH  # in the configured zone, as every decoder gives it
    assert {k: round(m.value, 6) for k, m in r.values.items()} == {"pm10": 187.0, "pm25": 61.0}


def test_a_nested_vendor_naming_the_station_in_its_topic_with_local_text_time() -> None:
    r = reading("vendors/airbox/KY-CS-002/data",
                {"data": {"time": "2026-06-12 11:00:00", "pm10": 95, "leq": 61.5}})
    assert r.station == "KY-CS-002"
    assert r.ts == datetime(2026, 6, 12, 11, 0, tzinfo=SH)  # local: no offset written
    assert {k: m.value for k, m in r.values.items()} == {"pm10": 95.0, "noise": 61.5}


def test_a_metric_the_message_leaves_out_is_simply_absent() -> None:
    r = reading("yuntian/gw-3/up", {"deviceId": "YT-8812", "ts": 1781233200000, "PM10": 0.2})
    assert set(r.values) == {"pm10"}


@pytest.mark.parametrize(("topic", "body", "code", "says"), [
    ("yuntian/g/up", {"ts": 1781233200000, "PM10": 0.1}, "missing_field",
     'mapping "yuntian": field "deviceId" (the device) is missing'),
    ("yuntian/g/up", {"deviceId": "YT-8812", "PM10": 0.1}, "missing_field",
     'mapping "yuntian": field "ts" (the time) is missing'),
    ("yuntian/g/up", {"deviceId": "YT-8812", "ts": 1781233200000, "CO2": 410}, "no_metrics",
     'mapping "yuntian": none of its metric fields ("PM10", "PM2_5") is in the message'),
    ("yuntian/g/up", {"deviceId": "YT-0000", "ts": 1781233200000, "PM10": 0.1},
     "unknown_station", 'station "YT-0000" is not in config/stations.geojson'),
    ("yuntian/g/up", {"deviceId": "YT-8812", "ts": "yesterday", "PM10": 0.1}, "bad_time",
     'field "ts" must be a time as epoch milliseconds, got string "yesterday"'),
    ("yuntian/g/up", {"deviceId": "YT-8812", "ts": 1781233200000, "PM10": "0.1"}, "wrong_type",
     'field "PM10" must be a number'),
    ("yuntian/g/up", {"deviceId": ["YT-8812"], "ts": 1781233200000, "PM10": 0.1}, "wrong_type",
     'field "deviceId (the device)" must be a text or a whole number, got array of length 1'),
    ("yuntian/g/up", {"deviceId": "", "ts": 1781233200000, "PM10": 0.1}, "bad_value",
     "(the device) must be 1 to 64 characters"),
    ("vendors/airbox", {"data": {"time": "2026-06-12 11:00:00", "pm10": 95}},
     "missing_field", 'topic "vendors/airbox" has no level 2 naming the device'),
    ("vendors/airbox/KY-CS-002", {"data": {"time": "12/06/2026", "pm10": 95}}, "bad_time",
     "'%Y-%m-%d %H:%M:%S' (strftime)"),
])
def test_a_message_that_does_not_fit_its_mapping_is_refused_naming_the_field(
    topic: str, body: object, code: str, says: str
) -> None:
    refused = refusal(topic, body)
    assert refused.code == code
    assert says in refused.reason


def test_not_json_is_refused_as_any_json_is() -> None:
    assert refusal("yuntian/g/up", b"PM10=0.1").code == "bad_json"


def test_the_contract_wins_over_a_vendor_filter_and_vendors_match_in_order() -> None:
    greedy = VendorMapping("greedy", "#", ("id",), ("ts",), "iso",
                           MappingProxyType({"pm10": VendorMetric(("pm10",))}))
    topics = InboundTopics(vendors=(YUNTIAN, greedy))
    assert topics.address("lantian/sensors/KY-CS-001/reading").kind is Kind.READING  # type: ignore[union-attr]
    assert topics.address("yuntian/g/up").source == "yuntian"  # type: ignore[union-attr]
    assert topics.address("other/thing").source == "greedy"  # type: ignore[union-attr]


def test_vendor_topics_outside_the_prefix_are_subscribed_to() -> None:
    inside = VendorMapping("inside", "lantian/sensors/+/acme", 2, ("ts",), "iso",
                           MappingProxyType({"pm10": VendorMetric(("pm10",))}))
    subs = InboundTopics(vendors=(YUNTIAN, AIRBOX, inside)).subscriptions()
    assert subs == ["lantian/sensors/#", "lantian/drones/#", "thing/product/+/osd",
                    "yuntian/+/up", "vendors/airbox/#"]
    off = InboundTopics(enabled=frozenset(Kind) - {Kind.VENDOR}, vendors=(YUNTIAN,))
    assert "yuntian/+/up" not in off.subscriptions()


@settings(max_examples=300)
@given(st.sampled_from(["yuntian/g/up", "vendors/airbox/KY-CS-002"]), st.binary(max_size=2000))
def test_any_bytes_give_a_reading_or_a_rejection(topic: str, payload: bytes) -> None:
    outcome = decode(topic, payload, ctx=CTX, topics=TOPICS, now=NOW)
    assert isinstance(outcome.result, Decoded | Rejection)
