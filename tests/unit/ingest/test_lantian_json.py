"""Lantian JSON decoders: the DESIGN.md examples, every way a payload can be wrong, and
arbitrary bytes that must never raise."""

from __future__ import annotations

import dataclasses
import gc
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest._context import DecodeContext, SourceSettings
from ingest._gcj02 import gcj02_to_wgs84
from ingest._lantian_json import (
    decode_drone_telemetry,
    decode_finding,
    decode_mission,
    decode_reading,
)
from ingest._result import Decoded, DecodeResult, Rejection
from ingest._validate import validate
from rules.records import (
    METRIC_UNITS,
    DronePosition,
    Finding,
    Interval,
    Location,
    Measurement,
    Mission,
    Reading,
    Station,
    Waypoint,
)
from tests.support import FIXTURES as REPO_FIXTURES

Decoder = Callable[[str, bytes, DecodeContext], DecodeResult]

FIXTURES: Final = REPO_FIXTURES
SHANGHAI: Final = ZoneInfo("Asia/Shanghai")


def _station(id: str, kind: str, lat: float, lon: float) -> Station:
    return Station(id=id, name=id, kind=kind, location=Location(lat, lon))


# KY-CS-009 is a mobile sensor placed on Amap: its coordinates arrive in GCJ-02.
CTX: Final = DecodeContext(
    stations={
        "KY-CS-001": _station("KY-CS-001", "construction_site", 30.02783, 120.502557),
        "KY-AQ-001": _station("KY-AQ-001", "ambient", 30.044269, 120.501415),
    },
    sources={"KY-CS-009": SourceSettings(gcj02=True)},
)
# The same deployment with the drone's positions and routes in GCJ-02 too.
GCJ_CTX: Final = DecodeContext(
    stations=CTX.stations,
    sources={**CTX.sources, "KY-UAV-01": SourceSettings(gcj02=True)},
)

# --- the examples of DESIGN.md, "Wire contract", verbatim ------------------------------

DESIGN_READING: Final = b"""{"station": "KY-CS-007", "ts": "2026-06-12T10:31:00+08:00",
 "pm10": 187.0, "pm25": 64.0, "tsp": 320.0, "so2": 8, "no2": 31, "o3": 90, "co": 0.6,
 "noise": 62.5, "wind_speed": 2.3, "wind_dir": 175, "temp": 28.1, "rh": 71,
 "lat": 30.0251, "lon": 120.4970}"""

DESIGN_TELEMETRY: Final = b"""{"drone": "KY-UAV-01", "ts": "2026-06-12T10:33:05+08:00", "lat": 30.0302, "lon": 120.4961,
 "alt_m": 80.0, "heading": 182, "speed_mps": 9.5, "mission": "patrol-0612-am",
 "waypoint": 3, "battery_pct": 76, "pm10": 210.0}"""  # noqa: E501

DESIGN_FINDING: Final = b"""{"drone": "KY-UAV-01", "ts": "2026-06-12T10:41:12+08:00", "kind": "dust_plume", "confidence": 0.91,
 "lat": 30.0279, "lon": 120.5026, "media": ["https://media.example/ky-uav-01/0612-104112.jpg"], "note": "..."}"""  # noqa: E501

FIXTURE_MISSION: Final = (FIXTURES / "geo" / "mission-patrol-am.json").read_bytes()

PATROL_AM: Final = (
    (120.501, 30.044, 30.0),
    (120.509302, 30.052085, 80.0),
    (120.527981, 30.052983, 80.0),
    (120.524868, 30.026932, 80.0),
    (120.488547, 30.024237, 80.0),
    (120.475056, 30.030525, 80.0),
    (120.482321, 30.045797, 80.0),
    (120.501, 30.044, 30.0),
)


def _at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 6, 12, hh, mm, ss, tzinfo=SHANGHAI)


def _values(**values: float) -> dict[str, Measurement]:
    return {metric: Measurement(v) for metric, v in values.items()}


DESIGN_VALUES: Final = {
    "pm10": 187.0, "pm25": 64.0, "tsp": 320.0, "so2": 8.0, "no2": 31.0, "o3": 90.0, "co": 0.6,
    "noise": 62.5, "wind_speed": 2.3, "wind_dir": 175.0, "temp": 28.1, "rh": 71.0,
}  # fmt: skip
EXPECTED_READING: Final = Reading(
    station="KY-CS-007",
    ts=_at(10, 31),
    values=_values(**DESIGN_VALUES),
    location=Location(30.0251, 120.4970),
    source="json",
)
EXPECTED_POSITION: Final = DronePosition(
    drone="KY-UAV-01",
    ts=_at(10, 33, 5),
    location=Location(30.0302, 120.4961),
    alt_m=80.0,
    heading=182.0,
    speed_mps=9.5,
    mission="patrol-0612-am",
    waypoint=3,
    battery_pct=76.0,
    source="json",
)
EXPECTED_ON_BOARD: Final = Reading(
    station="KY-UAV-01",
    ts=_at(10, 33, 5),
    values=_values(pm10=210.0),
    location=Location(30.0302, 120.4961),
    source="json",
)
EXPECTED_MISSION: Final = Mission(
    drone="KY-UAV-01",
    mission="patrol-am",
    corridor_m=60.0,
    waypoints=tuple(Waypoint(lon, lat, alt) for lon, lat, alt in PATROL_AM),
)
EXPECTED_FINDING: Final = Finding(
    drone="KY-UAV-01",
    ts=_at(10, 41, 12),
    kind="dust_plume",
    confidence=0.91,
    location=Location(30.0279, 120.5026),
    media=("https://media.example/ky-uav-01/0612-104112.jpg",),
    note="...",
)


@pytest.mark.parametrize(
    ("decode", "topic_id", "payload", "expected"),
    [
        pytest.param(
            decode_reading, "KY-CS-007", DESIGN_READING, Decoded((EXPECTED_READING,)),
            id="reading",
        ),
        pytest.param(
            decode_drone_telemetry, "KY-UAV-01", DESIGN_TELEMETRY,
            Decoded((EXPECTED_POSITION, EXPECTED_ON_BOARD)),
            id="telemetry-with-on-board-pm10",
        ),
        pytest.param(
            decode_mission, "KY-UAV-01", FIXTURE_MISSION, Decoded((EXPECTED_MISSION,)),
            id="mission-fixture-patrol-am",
        ),
        pytest.param(
            decode_finding, "KY-UAV-01", DESIGN_FINDING, Decoded((EXPECTED_FINDING,)),
            id="finding",
        ),
    ],
)  # fmt: skip
def test_design_examples_decode_to_the_records(
    decode: Decoder, topic_id: str, payload: bytes, expected: Decoded
) -> None:
    assert decode(topic_id, payload, CTX) == expected


# --- valid variations -----------------------------------------------------------------

_DROP: Final = object()
"""Marks a key `_json` leaves out of the base document."""

READING: Final[dict[str, Any]] = {
    "station": "KY-CS-001",
    "ts": "2026-06-12T10:31:00+08:00",
    "pm10": 187.0,
}
POSITION: Final[dict[str, Any]] = {
    "drone": "KY-UAV-01",
    "ts": "2026-06-12T10:33:05+08:00",
    "lat": 30.0302,
    "lon": 120.4961,
}
MISSION: Final[dict[str, Any]] = {
    "drone": "KY-UAV-01",
    "mission": "patrol-am",
    "corridor_m": 60,
    "waypoints": [[120.501, 30.044, 30], [120.509302, 30.052085, 80]],
}
FINDING: Final[dict[str, Any]] = {
    "drone": "KY-UAV-01",
    "ts": "2026-06-12T10:41:12+08:00",
    "kind": "dust_plume",
    "confidence": 0.91,
    "lat": 30.0279,
    "lon": 120.5026,
}


def _json(base: dict[str, Any], **changes: object) -> bytes:
    doc = {**base, **changes}
    return orjson.dumps({k: v for k, v in doc.items() if v is not _DROP})


READING_AT: Final = _at(10, 31)
POSITION_AT: Final = Location(30.0302, 120.4961)


def _fixed_reading(ts: datetime = READING_AT, **fields: Any) -> Reading:
    defaults: dict[str, Any] = {"values": _values(pm10=187.0), "source": "json"}
    return Reading("KY-CS-001", ts, **(defaults | fields))


def _position(location: Location = POSITION_AT, **fields: Any) -> DronePosition:
    return DronePosition("KY-UAV-01", _at(10, 33, 5), location, **fields)


def _gcj(lat: float, lon: float) -> Location:
    return Location(*gcj02_to_wgs84(lat, lon))


@pytest.mark.parametrize(
    ("decode", "topic_id", "payload", "expected"),
    [
        pytest.param(
            decode_reading, "KY-CS-001", _json(READING), Decoded((_fixed_reading(),)),
            id="registered-station-without-lat-lon",
        ),
        pytest.param(
            decode_reading, "KY-CS-001", _json(READING, ts="2026-06-12T10:31:00"),
            Decoded((_fixed_reading(),)),
            id="offset-less-ts-is-in-the-configured-tz",
        ),
        pytest.param(
            decode_reading, "KY-CS-001", _json(READING, ts="2026-06-12T02:31:00Z"),
            Decoded((_fixed_reading(),)),
            id="utc-ts",
        ),
        pytest.param(
            decode_reading, "KY-CS-001", _json(READING, ts=1781231460123),
            Decoded((_fixed_reading(_at(10, 31).replace(microsecond=123000)),)),
            id="epoch-milliseconds",
        ),
        pytest.param(
            decode_reading, "KY-CS-001", _json(READING, pm25=None),
            Decoded((_fixed_reading(),)),
            id="null-metric-is-absent",
        ),
        pytest.param(
            decode_reading, "KY-CS-001", _json(READING, pm25=64, flags={"pm10": "C"}),
            Decoded((_fixed_reading(
                values={"pm10": Measurement(187.0, "C"), "pm25": Measurement(64.0)}
            ),)),
            id="flags",
        ),
        pytest.param(
            decode_reading, "KY-CS-001", _json(READING, flags={"pm1": "D"}),
            Decoded((_fixed_reading(
                deviations=('flag for "pm1" ignored: no such metric in the payload',)
            ),)),
            id="flag-for-absent-metric",
        ),
        pytest.param(
            decode_reading, "KY-CS-001", _json(READING, fw="2.1", cfg={"a": [1, True]}),
            Decoded((_fixed_reading(
                extras={"fw": "2.1", "cfg": '{"a":[1,true]}'},
                deviations=('unknown field "fw"', 'unknown field "cfg"'),
            ),)),
            id="unknown-fields-kept-as-extras",
        ),
        pytest.param(
            decode_reading, "KY-CS-009",
            _json(READING, station="KY-CS-009", lat=30.0251, lon=120.497),
            Decoded((Reading(
                "KY-CS-009", _at(10, 31), _values(pm10=187.0), location=_gcj(30.0251, 120.497)
            ),)),
            id="gcj02-source-converted",
        ),
        pytest.param(
            decode_drone_telemetry, "KY-UAV-01", _json(POSITION), Decoded((_position(),)),
            id="telemetry-minimal",
        ),
        pytest.param(
            decode_drone_telemetry, "KY-UAV-01", _json(POSITION, alt_m=None, rssi=-70),
            Decoded((_position(),), 'ignored unknown fields: "rssi"'),
            id="telemetry-unknown-field-noted",
        ),
        pytest.param(
            decode_drone_telemetry, "KY-UAV-01", _json(POSITION, pm25=40, flags={"pm25": "M"}),
            Decoded((_position(), Reading(
                "KY-UAV-01", _at(10, 33, 5), {"pm25": Measurement(40.0, "M")},
                location=Location(30.0302, 120.4961),
            ))),
            id="telemetry-on-board-flag",
        ),
        pytest.param(
            decode_finding, "KY-UAV-01", _json(FINDING, confidence=1),
            Decoded((Finding(
                "KY-UAV-01", _at(10, 41, 12), "dust_plume", 1.0, Location(30.0279, 120.5026)
            ),)),
            id="finding-without-media-or-note",
        ),
    ],
)  # fmt: skip
def test_valid_variations(
    decode: Decoder, topic_id: str, payload: bytes, expected: Decoded
) -> None:
    assert decode(topic_id, payload, CTX) == expected


def test_gcj02_drone_position_and_mission_are_converted() -> None:
    position = decode_drone_telemetry("KY-UAV-01", _json(POSITION), GCJ_CTX)
    mission = decode_mission("KY-UAV-01", _json(MISSION), GCJ_CTX)

    converted = _gcj(30.0302, 120.4961)
    assert position == Decoded((_position(location=converted),))
    # Guards against the flag being ignored: GCJ-02 is ~500 m off here, well over 1e-3°.
    assert abs(converted.lon - 120.4961) > 1e-3
    first, second = _gcj(30.044, 120.501), _gcj(30.052085, 120.509302)
    assert mission == Decoded((Mission("KY-UAV-01", "patrol-am", 60.0, (
        Waypoint(first.lon, first.lat, 30.0), Waypoint(second.lon, second.lat, 80.0),
    )),))  # fmt: skip


def test_same_instant_in_any_offset_gives_one_dedupe_key() -> None:
    keys = set()
    for ts in ("2026-06-12T10:31:00+08:00", "2026-06-12T02:31:00Z", 1781231460000):
        result = decode_reading("KY-CS-001", _json(READING, ts=ts), CTX)
        assert isinstance(result, Decoded)
        keys.add(result.records[0].dedupe_key)
    assert keys == {("reading", "KY-CS-001", Interval.INSTANT,
                     datetime(2026, 6, 12, 2, 31, tzinfo=UTC))}


@pytest.mark.parametrize("interval", list(Interval))
def test_a_readings_dedupe_key_is_nothing_the_garbage_collector_walks(
    interval: Interval,
) -> None:
    # ingest remembers 200,000 of them: tracked, each full collection walked them all
    result = decode_reading("KY-CS-001", _json(READING, ts="2026-06-12T10:31:00+08:00"), CTX)
    assert isinstance(result, Decoded)
    key = dataclasses.replace(result.records[0], interval=interval).dedupe_key
    gc.collect()  # untracks the tuples holding only untracked objects
    assert not gc.is_tracked(key)
    assert key == ("reading", "KY-CS-001", interval, datetime(2026, 6, 12, 2, 31, tzinfo=UTC))


# --- rejections -----------------------------------------------------------------------


def _rejected(
    id: str, decode: Decoder, payload: bytes, code: str, reason: str, topic_id: str = ""
) -> Any:
    topic_id = topic_id or ("KY-CS-001" if decode is decode_reading else "KY-UAV-01")
    return pytest.param(decode, topic_id, payload, Rejection(code, reason), id=id)


NUMBER_187 = 'field "pm10" must be a number, got '

REJECTIONS: Final = [
    # the document as a whole
    _rejected("truncated-json", decode_reading, b'{"station": "KY-CS-001", "ts": ',
              "bad_json", "payload is not valid JSON "
              "(unexpected end of data: line 1 column 32 (char 31))"),
    _rejected("nan-literal", decode_reading, b'{"station": "KY-CS-001", "pm10": NaN}',
              "bad_json", "payload is not valid JSON (unexpected character, expected a JSON "
              "value: line 1 column 34 (char 33)); NaN and Infinity are not JSON numbers: "
              "leave the field out or send null"),
    _rejected("minus-infinity-literal", decode_drone_telemetry, b'{"alt_m": -Infinity}',
              "bad_json", "payload is not valid JSON (no digit after sign: line 1 column 12 "
              "(char 11)); NaN and Infinity are not JSON numbers: leave the field out or "
              "send null"),
    _rejected("trailing-comma", decode_finding, b'{"kind": "x",}', "bad_json",
              "payload is not valid JSON (trailing comma is not allowed: line 1 column 13 "
              "(char 12))"),
    _rejected("empty-payload", decode_mission, b"", "bad_json", "payload is not valid JSON "
              "(Input is a zero-length, empty document: line 1 column 1 (char 0))"),
    _rejected("non-utf8", decode_reading, b'{"station": "KY-CS-001\xff"}', "not_utf8",
              "payload is not UTF-8 text: byte 0xff at offset 22"),
    _rejected("gbk-encoded", decode_finding, '{"note": "扬尘"}'.encode("gbk"), "not_utf8",
              "payload is not UTF-8 text: byte 0xd1 at offset 10"),
    _rejected("top-level-array", decode_reading, b"[1, 2]", "not_object",
              "payload must be a JSON object, got array of length 2"),
    _rejected("top-level-string", decode_drone_telemetry, b'"KY-UAV-01"', "not_object",
              'payload must be a JSON object, got string "KY-UAV-01"'),
    _rejected("top-level-null", decode_mission, b"null", "not_object",
              "payload must be a JSON object, got null"),
    # reading: identity and time
    _rejected("station-missing", decode_reading, _json(READING, station=_DROP),
              "missing_field", 'field "station" is missing'),
    _rejected("station-null", decode_reading, _json(READING, station=None),
              "missing_field", 'field "station" is null'),
    _rejected("station-number", decode_reading, _json(READING, station=7),
              "wrong_type", 'field "station" must be a string, got number 7'),
    _rejected("station-empty", decode_reading, _json(READING, station=""),
              "bad_value", 'field "station" must not be empty'),
    _rejected("station-topic-mismatch", decode_reading, _json(READING, station="KY-CS-002"),
              "topic_mismatch",
              'station "KY-CS-002" in the payload does not match "KY-CS-001" in the topic'),
    _rejected("ts-missing", decode_reading, _json(READING, ts=_DROP),
              "missing_field", 'field "ts" is missing'),
    _rejected("ts-epoch-seconds", decode_reading, _json(READING, ts=1781231460), "bad_time",
              'field "ts" = 1781231460 is too small for epoch milliseconds (epoch seconds?): '
              "send milliseconds or an ISO 8601 time"),
    _rejected("ts-bad-iso", decode_reading, _json(READING, ts="12/06/2026 10:31"), "bad_time",
              'field "ts" must be an ISO 8601 time such as 2026-06-12T10:31:00+08:00, '
              'got string "12/06/2026 10:31"'),
    _rejected("ts-float-ms", decode_reading, _json(READING, ts=1781231460123.0), "wrong_type",
              'field "ts" must be an ISO 8601 string or epoch milliseconds, '
              "got number 1781231460123.0"),
    _rejected("ts-bool", decode_reading, _json(READING, ts=True), "wrong_type",
              'field "ts" must be an ISO 8601 string or epoch milliseconds, got boolean true'),
    _rejected("ts-past-year-9999", decode_reading,
              _json(READING, ts="9999-12-31T23:59:59-05:00"), "bad_time",
              'field "ts" string "9999-12-31T23:59:59-05:00" is outside the years 1..9999'),
    _rejected("ts-huge-ms", decode_reading, _json(READING, ts=10**18), "bad_time",
              'field "ts" number 1000000000000000000 is outside the years 1..9999'),
    # reading: metrics
    _rejected("pm10-string", decode_reading, _json(READING, pm10="187"),
              "wrong_type", NUMBER_187 + 'string "187"'),
    _rejected("pm10-bool", decode_reading, _json(READING, pm10=True),
              "wrong_type", NUMBER_187 + "boolean true"),
    _rejected("pm10-object", decode_reading, _json(READING, pm10={"value": 187}),
              "wrong_type", NUMBER_187 + "object"),
    _rejected("no-metric", decode_reading, _json(READING, pm10=_DROP), "no_metrics",
              "the reading carries no metric; expected at least one of "
              + ", ".join(METRIC_UNITS)),
    _rejected("flags-not-object", decode_reading, _json(READING, flags="N"), "wrong_type",
              'field "flags" must be an object of metric to flag letter, got string "N"'),
    _rejected("flag-word", decode_reading, _json(READING, flags={"pm10": "ok"}), "bad_value",
              'field "flags.pm10" must be one HJ 212 flag letter such as N, C, M or D, '
              'got string "ok"'),
    _rejected("flag-lowercase", decode_reading, _json(READING, flags={"pm10": "n"}),
              "bad_value", 'field "flags.pm10" must be one HJ 212 flag letter such as N, C, M '
              'or D, got string "n"'),
    # reading: where
    _rejected("lat-without-lon", decode_reading, _json(READING, lat=30.0251), "missing_field",
              'field "lon" is missing: "lat" needs it, both or neither'),
    _rejected("lon-without-lat", decode_reading, _json(READING, lon=120.497), "missing_field",
              'field "lat" is missing: "lon" needs it, both or neither'),
    _rejected("lat-120-swapped", decode_reading, _json(READING, lat=120.497, lon=30.0251),
              "bad_location", "latitude 120.497 is outside -90..90 (lat and lon swapped?)"),
    _rejected("lat-120", decode_reading, _json(READING, lat=120.0, lon=120.497),
              "bad_location", "latitude 120.0 is outside -90..90"),
    _rejected("lon-200", decode_reading, _json(READING, lat=30.0, lon=200),
              "bad_location", "longitude 200.0 is outside -180..180"),
    _rejected("lat-string", decode_reading, _json(READING, lat="30.0251", lon=120.497),
              "wrong_type", 'field "lat" must be a number, got string "30.0251"'),
    _rejected("unknown-station-no-lat-lon", decode_reading, _json(READING, station="KY-CS-404"),
              "unknown_station", 'station "KY-CS-404" is not in config/stations.geojson and '
              "the reading has no lat/lon", topic_id="KY-CS-404"),
    # telemetry
    _rejected("drone-topic-mismatch", decode_drone_telemetry, _json(POSITION, drone="KY-UAV-02"),
              "topic_mismatch",
              'drone "KY-UAV-02" in the payload does not match "KY-UAV-01" in the topic'),
    _rejected("position-without-lat-lon", decode_drone_telemetry,
              _json(POSITION, lat=_DROP, lon=_DROP),
              "missing_field", 'fields "lat" and "lon" are missing'),
    _rejected("waypoint-float", decode_drone_telemetry, _json(POSITION, waypoint=3.0),
              "wrong_type", 'field "waypoint" must be an integer, got number 3.0'),
    _rejected("waypoint-bool", decode_drone_telemetry, _json(POSITION, waypoint=False),
              "wrong_type", 'field "waypoint" must be an integer, got boolean false'),
    _rejected("battery-string", decode_drone_telemetry, _json(POSITION, battery_pct="76%"),
              "wrong_type", 'field "battery_pct" must be a number, got string "76%"'),
    _rejected("alt-bool", decode_drone_telemetry, _json(POSITION, alt_m=True),
              "wrong_type", 'field "alt_m" must be a number, got boolean true'),
    _rejected("mission-number", decode_drone_telemetry, _json(POSITION, mission=12),
              "wrong_type", 'field "mission" must be a string, got number 12'),
    _rejected("on-board-pm10-string", decode_drone_telemetry, _json(POSITION, pm10="210"),
              "wrong_type", NUMBER_187 + 'string "210"'),
    # mission
    _rejected("waypoints-empty", decode_mission, _json(MISSION, waypoints=[]),
              "too_few_waypoints",
              'field "waypoints" has 0 waypoint(s); a route needs at least 2'),
    _rejected("waypoints-one", decode_mission, _json(MISSION, waypoints=[[120.5, 30.0, 80]]),
              "too_few_waypoints",
              'field "waypoints" has 1 waypoint(s); a route needs at least 2'),
    _rejected("waypoints-object", decode_mission, _json(MISSION, waypoints={"0": [1, 2, 3]}),
              "wrong_type", 'field "waypoints" must be an array of [lon, lat, alt_m], got object'),
    _rejected("waypoint-without-alt", decode_mission,
              _json(MISSION, waypoints=[[120.5, 30.0, 80], [120.6, 30.1]]), "wrong_type",
              'field "waypoints[1]" must be [lon, lat, alt_m], got array of length 2'),
    _rejected("waypoint-string-number", decode_mission,
              _json(MISSION, waypoints=[[120.5, 30.0, 80], [120.6, "30.1", 80]]), "wrong_type",
              'field "waypoints[1][1]" must be a number, got string "30.1"'),
    _rejected("waypoint-lat-first", decode_mission,
              _json(MISSION, waypoints=[[30.044, 120.501, 30], [30.05, 120.509, 80]]),
              "bad_location", "waypoint 0 [lon, lat, alt_m]: latitude 120.501 is outside "
              "-90..90 (lat and lon swapped?)"),
    _rejected("corridor-zero", decode_mission, _json(MISSION, corridor_m=0),
              "bad_value", 'field "corridor_m" must be above 0 m, got 0'),
    _rejected("corridor-negative", decode_mission, _json(MISSION, corridor_m=-60.5),
              "bad_value", 'field "corridor_m" must be above 0 m, got -60.5'),
    _rejected("corridor-string", decode_mission, _json(MISSION, corridor_m="60m"),
              "wrong_type", 'field "corridor_m" must be a number, got string "60m"'),
    _rejected("mission-name-missing", decode_mission, _json(MISSION, mission=_DROP),
              "missing_field", 'field "mission" is missing'),
    _rejected("mission-topic-mismatch", decode_mission, _json(MISSION, drone="KY-UAV-02"),
              "topic_mismatch",
              'drone "KY-UAV-02" in the payload does not match "KY-UAV-01" in the topic'),
    # finding
    _rejected("confidence-string", decode_finding, _json(FINDING, confidence="0.91"),
              "wrong_type", 'field "confidence" must be a number, got string "0.91"'),
    _rejected("confidence-missing", decode_finding, _json(FINDING, confidence=_DROP),
              "missing_field", 'field "confidence" is missing'),
    _rejected("kind-empty", decode_finding, _json(FINDING, kind=""),
              "bad_value", 'field "kind" must not be empty'),
    _rejected("kind-list", decode_finding, _json(FINDING, kind=["dust_plume"]),
              "wrong_type", 'field "kind" must be a string, got array of length 1'),
    _rejected("media-string", decode_finding, _json(FINDING, media="https://m/1.jpg"),
              "wrong_type",
              'field "media" must be an array of strings, got string "https://m/1.jpg"'),
    _rejected("media-item-number", decode_finding, _json(FINDING, media=["a.jpg", 2]),
              "wrong_type", 'field "media[1]" must be a string, got number 2'),
    _rejected("note-object", decode_finding, _json(FINDING, note={"text": "x"}),
              "wrong_type", 'field "note" must be a string, got object'),
    _rejected("finding-lat-without-lon", decode_finding, _json(FINDING, lon=_DROP),
              "missing_field", 'field "lon" is missing: "lat" needs it, both or neither'),
    _rejected("long-string-shortened", decode_finding, _json(FINDING, confidence="x" * 50),
              "wrong_type", 'field "confidence" must be a number, got string "'
              + "x" * 40 + '…"'),
]  # fmt: skip


@pytest.mark.parametrize(("decode", "topic_id", "payload", "expected"), REJECTIONS)
def test_malformed_payloads_are_rejected_with_a_reason(
    decode: Decoder, topic_id: str, payload: bytes, expected: Rejection
) -> None:
    assert decode(topic_id, payload, CTX) == expected


# --- nothing escapes ------------------------------------------------------------------

KNOWN_CODES: Final = frozenset({
    "bad_json", "not_utf8", "not_object", "missing_field", "wrong_type", "bad_value",
    "topic_mismatch", "bad_time", "no_metrics", "unknown_station", "bad_location",
    "too_few_waypoints",
})  # fmt: skip

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
_times = st.datetimes(timezones=st.none() | st.builds(timezone, _offsets)).map(
    datetime.isoformat
) | st.integers(min_value=-(2**63), max_value=2**64 - 1)
_coordinates = st.floats(min_value=-200, max_value=200)
_metric_values = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10, 10**6)

# Right keys with values that are sometimes right, so the decoders get past the first field.
_likely: dict[str, st.SearchStrategy[Any]] = {
    "station": st.sampled_from(["KY-CS-001", "KY-CS-404", ""]),
    "drone": st.sampled_from(["KY-UAV-01", "KY-UAV-02"]),
    "ts": _times,
    "lat": _coordinates,
    "lon": _coordinates,
    "flags": st.dictionaries(st.sampled_from([*METRIC_UNITS, "x"]), st.text(max_size=2)),
    "waypoints": st.lists(st.lists(_coordinates, min_size=2, max_size=4), max_size=4),
    "corridor_m": st.floats(-10, 100),
    "mission": st.text(max_size=4),
    "kind": st.text(max_size=4),
    "confidence": st.floats(0, 1),
    "media": st.lists(st.text(max_size=4) | st.integers(-5, 5), max_size=3),
    "note": st.text(max_size=4),
    "waypoint": st.integers(0, 10),
    **{key: _metric_values for key in ("alt_m", "heading", "speed_mps", "battery_pct")},
    **{metric: _metric_values for metric in METRIC_UNITS},
}
# Valid documents with up to three fields replaced, dropped or added, so that the decoders
# get past the first field and every later check is reached.
_edits = st.lists(st.sampled_from(sorted(_likely)), max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries(
        {key: _likely[key] | _json_values | st.just(_DROP) for key in keys}
    )
)
_near_valid = st.builds(
    lambda base, edits, unknown: {
        k: v for k, v in {**unknown, **base, **edits}.items() if v is not _DROP
    },
    st.sampled_from([READING, {**POSITION, "pm10": 210.0}, MISSION, FINDING]),
    _edits,
    st.dictionaries(st.text(alphabet=string.ascii_lowercase, max_size=6), _json_values, max_size=2),
)
_payloads = st.binary(max_size=200) | (_json_values | _near_valid).map(orjson.dumps)

_NOW: Final = datetime(2026, 6, 12, 2, 31, tzinfo=UTC)
_DECODERS: Final[tuple[tuple[Decoder, str], ...]] = (
    (decode_reading, "KY-CS-001"),
    (decode_drone_telemetry, "KY-UAV-01"),
    (decode_mission, "KY-UAV-01"),
    (decode_finding, "KY-UAV-01"),
)


@settings(max_examples=400)
@given(payload=_payloads, ctx=st.sampled_from([CTX, GCJ_CTX]))
def test_any_bytes_give_a_result_never_an_exception(payload: bytes, ctx: DecodeContext) -> None:
    for decode, topic_id in _DECODERS:
        result = decode(topic_id, payload, ctx)
        if isinstance(result, Rejection):
            assert result.code in KNOWN_CODES
            assert result.reason
        else:
            assert isinstance(result, Decoded)
            assert result.records
            # What the pipeline does next must not trip over anything we let through.
            for record in result.records:
                validate(record, _NOW, timedelta(minutes=5))


def test_extras_and_values_are_read_only() -> None:
    result = decode_reading("KY-CS-001", _json(READING, fw="2.1"), CTX)
    assert isinstance(result, Decoded)
    reading = result.records[0]
    assert isinstance(reading, Reading)
    assert isinstance(reading.values, MappingProxyType)
    assert isinstance(reading.extras, MappingProxyType)
