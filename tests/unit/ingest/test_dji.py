"""DJI Cloud API OSD decoding, against the published fixtures in tests/fixtures/dji/."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest._context import DecodeContext, SourceSettings
from ingest._dji import DeviceState, decode_dji_osd
from ingest._gcj02 import wgs84_to_gcj02
from ingest._result import Decoded, Rejection
from rules.records import DronePosition
from tests.support import FIXTURES as REPO_FIXTURES

FIXTURES = REPO_FIXTURES / "dji"

AIRCRAFT_SN = "1581F5BKD225D00BP891"  # the aircraft paired with the fixture dock
DOCK_SN = "7CTDM3D00BVY4B"
DRONE = "KY-UAV-01"

CTX = DecodeContext(
    dji_aircraft=MappingProxyType({AIRCRAFT_SN: DRONE}), dji_docks=frozenset({DOCK_SN})
)
IN_FLIGHT_MS = 1781231585000  # the in-flight fixture's timestamp


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_obj(name: str) -> dict[str, Any]:
    obj = orjson.loads(fixture(name))
    assert isinstance(obj, dict)
    return obj


def osd(data: object, timestamp: object = IN_FLIGHT_MS) -> bytes:
    return orjson.dumps({"tid": "t", "bid": "b", "timestamp": timestamp, "data": data})


def in_flight_with(**changes: object) -> bytes:
    obj = fixture_obj("aircraft-osd-in-flight.json")
    obj["data"].update(changes)
    return orjson.dumps(obj)


def decode(
    payload: bytes,
    previous: DeviceState | None = None,
    sn: str = AIRCRAFT_SN,
    ctx: DecodeContext = CTX,
) -> tuple[DeviceState | None, Decoded | Rejection]:
    return decode_dji_osd(sn, payload, ctx, previous)


def only_position(result: Decoded | Rejection) -> DronePosition:
    assert isinstance(result, Decoded), result
    assert len(result.records) == 1, result
    record = result.records[0]
    assert isinstance(record, DronePosition)
    return record


def rejection(result: Decoded | Rejection) -> Rejection:
    assert isinstance(result, Rejection), result
    return result


# --- the fixtures as published --------------------------------------------------------


def test_fixture_directory_is_where_the_tests_expect_it() -> None:
    assert FIXTURES.is_dir(), FIXTURES
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == [
        "aircraft-osd-in-flight.json",
        "aircraft-osd-no-fix.json",
        "dock-osd.json",
    ]


def test_in_flight_fixture_gives_the_drone_position() -> None:
    state, result = decode(fixture("aircraft-osd-in-flight.json"))
    position = only_position(result)
    assert position.drone == DRONE
    assert position.ts == datetime(2026, 6, 12, 2, 33, 5, tzinfo=UTC)  # 10:33:05 +08:00
    assert (position.location.lat, position.location.lon) == (30.033127, 120.501928)
    assert position.alt_m == 80.6
    assert position.speed_mps == 9.5
    assert position.heading == pytest.approx(181.6)  # DJI's -178.4
    assert position.battery_pct == 76
    assert position.mission == "patrol-am"
    assert position.waypoint is None
    assert position.source == "dji"
    assert state is not None
    assert state.kind == "aircraft"
    assert state.ts == position.ts


def test_timestamp_keeps_its_milliseconds() -> None:
    _, result = decode(osd({"latitude": 30.0, "longitude": 120.5}, timestamp=IN_FLIGHT_MS + 916))
    assert only_position(result).ts == datetime(2026, 6, 12, 2, 33, 5, 916_000, tzinfo=UTC)


def test_no_fix_fixture_gives_no_position_but_keeps_state() -> None:
    state, result = decode(fixture("aircraft-osd-no-fix.json"))
    assert result == Decoded(records=(), note="no GNSS fix")
    assert state is not None
    assert state.kind == "aircraft"
    assert state.data["firmware_version"] == "05.01.0214"


@pytest.mark.parametrize(
    "sn", [DOCK_SN, "UNCONFIGURED-DOCK"], ids=["configured-dock", "dock-recognised-by-keys"]
)
def test_dock_fixture_is_not_a_drone(sn: str) -> None:
    state, result = decode(fixture("dock-osd.json"), sn=sn)
    assert result == Decoded(records=(), note="dock OSD: not a drone position")
    assert state is not None
    assert state.kind == "dock"
    # the dock's own position is kept in its state
    assert (state.data["latitude"], state.data["longitude"]) == (22.907809968, 113.703482143)


def test_a_dock_stays_a_dock_when_a_later_message_has_no_dock_only_key() -> None:
    state, _ = decode(fixture("dock-osd.json"), sn="UNCONFIGURED-DOCK")
    later = osd({"latitude": 22.9, "longitude": 113.7, "height": 34.2}, timestamp=1667220918697)
    state, result = decode(later, previous=state, sn="UNCONFIGURED-DOCK")
    assert result == Decoded(records=(), note="dock OSD: not a drone position")
    assert state is not None
    assert state.kind == "dock"
    assert state.data["latitude"] == 22.9


def test_an_unknown_aircraft_names_its_serial_number_and_the_config_key() -> None:
    state, result = decode(fixture("aircraft-osd-in-flight.json"), sn="1581F5BKD999")
    reason = rejection(result)
    assert reason.code == "unknown_drone"
    assert "1581F5BKD999" in reason.reason
    assert "[ingest.dji] aircraft" in reason.reason
    assert "config/lantian.toml" in reason.reason
    assert state is None


# --- partial updates -------------------------------------------------------------------


def test_a_position_only_update_keeps_the_rest_from_the_previous_message() -> None:
    state, _ = decode(fixture("aircraft-osd-in-flight.json"))
    fix = osd({"latitude": 30.0335, "longitude": 120.5021}, timestamp=IN_FLIGHT_MS + 2000)
    state, result = decode(fix, previous=state)
    position = only_position(result)
    assert (position.location.lat, position.location.lon) == (30.0335, 120.5021)
    assert position.ts == datetime(2026, 6, 12, 2, 33, 7, tzinfo=UTC)
    assert position.battery_pct == 76
    assert position.alt_m == 80.6
    assert position.mission == "patrol-am"


def test_a_battery_only_update_gives_no_position_and_merges_key_by_key() -> None:
    first, _ = decode(fixture("aircraft-osd-in-flight.json"))
    battery = osd({"battery": {"capacity_percent": 74}}, timestamp=IN_FLIGHT_MS + 2000)
    state, result = decode(battery, previous=first)
    assert result == Decoded(records=(), note="no position in this update")
    assert state is not None
    assert state.data["battery"] == {
        "capacity_percent": 74,
        "landing_power": 10,  # kept: nested objects merge key by key
        "remain_flight_time": 1260,
        "return_home_power": 18,
    }
    fix = osd({"latitude": 30.034, "longitude": 120.502}, timestamp=IN_FLIGHT_MS + 4000)
    _, result = decode(fix, previous=state)
    assert only_position(result).battery_pct == 74


def test_a_no_fix_message_after_a_fix_gives_no_stale_position() -> None:
    state, _ = decode(fixture("aircraft-osd-in-flight.json"))
    lost = osd({"latitude": 0, "longitude": 0}, timestamp=IN_FLIGHT_MS + 2000)
    state, result = decode(lost, previous=state)
    assert result == Decoded(records=(), note="no GNSS fix")
    assert state is not None
    assert (state.data["latitude"], state.data["longitude"]) == (0, 0)


def test_a_late_message_does_not_overwrite_newer_state() -> None:
    newer = osd({"battery": {"capacity_percent": 70}}, timestamp=IN_FLIGHT_MS + 60_000)
    state, _ = decode(fixture("aircraft-osd-in-flight.json"))
    state, _ = decode(newer, previous=state)
    late_state, result = decode(in_flight_with(), previous=state)
    assert late_state is state
    # ...but the late fix is still true for its own time, with its own properties
    position = only_position(result)
    assert position.ts == datetime(2026, 6, 12, 2, 33, 5, tzinfo=UTC)
    assert position.battery_pct == 76


def test_state_is_read_only_all_the_way_down() -> None:
    state, _ = decode(fixture("dock-osd.json"), sn=DOCK_SN)
    assert state is not None
    nested = state.data["position_state"]
    assert isinstance(nested, Mapping)
    with pytest.raises(TypeError):
        nested["gps_number"] = 0  # type: ignore[index]


# --- positions ---------------------------------------------------------------------------

BAD_POSITIONS: dict[str, tuple[dict[str, object], str]] = {
    "swapped": ({"latitude": 120.501928, "longitude": 30.033127}, "swapped"),
    "latitude-out-of-range": ({"latitude": -91.0, "longitude": 300.0}, "outside -90..90"),
    "longitude-out-of-range": ({"latitude": 30.0, "longitude": 181.0}, "outside -180..180"),
    "latitude-text": ({"latitude": "30.033127", "longitude": 120.5}, "must both be numbers"),
    "latitude-bool": ({"latitude": True, "longitude": 120.5}, "must both be numbers"),
    "latitude-null": ({"latitude": None, "longitude": 120.5}, "must both be numbers"),
    "longitude-only": ({"longitude": 120.5}, "must both be numbers"),
}


@pytest.mark.parametrize(("data", "expected"), BAD_POSITIONS.values(), ids=BAD_POSITIONS.keys())
def test_bad_positions_are_rejected(data: dict[str, object], expected: str) -> None:
    previous, _ = decode(fixture("aircraft-osd-no-fix.json"))
    state, result = decode(osd(data), previous=previous)
    reason = rejection(result)
    assert reason.code == "dji_position"
    assert expected in reason.reason
    assert state is previous  # a rejected message changes nothing


def test_nan_coordinates_are_refused_as_bad_json() -> None:
    # Python's json module writes NaN; JSON has no such value and orjson refuses it.
    payload = in_flight_with().replace(b'"latitude":30.033127', b'"latitude":NaN')
    assert b"NaN" in payload
    _, result = decode(payload)
    assert rejection(result).code == "bad_json"


def test_gcj02_source_is_converted_to_wgs84() -> None:
    ctx = DecodeContext(
        dji_aircraft=CTX.dji_aircraft,
        sources=MappingProxyType({DRONE: SourceSettings(gcj02=True)}),
    )
    gcj_lat, gcj_lon = wgs84_to_gcj02(30.033127, 120.501928)
    _, result = decode(in_flight_with(latitude=gcj_lat, longitude=gcj_lon), ctx=ctx)
    position = only_position(result)
    assert position.location.lat == pytest.approx(30.033127, abs=1e-8)
    assert position.location.lon == pytest.approx(120.501928, abs=1e-8)


@pytest.mark.parametrize(
    ("attitude_head", "heading"),
    [(-178.4, 181.6), (0.0, 0.0), (-0.0, 0.0), (90.0, 90.0), (-90.0, 270.0), (180.0, 180.0)],
    ids=["south-by-west", "north", "minus-zero", "east", "west", "south"],
)
def test_heading_is_0_to_360(attitude_head: float, heading: float) -> None:
    _, result = decode(in_flight_with(attitude_head=attitude_head))
    assert only_position(result).heading == pytest.approx(heading)


def test_enrichment_of_the_wrong_type_is_left_out() -> None:
    _, result = decode(
        in_flight_with(height="80.6", battery=[76], horizontal_speed=None, track_id="")
    )
    position = only_position(result)
    assert (position.alt_m, position.battery_pct, position.speed_mps) == (None, None, None)
    assert position.mission is None


# --- the envelope ------------------------------------------------------------------------

BAD_ENVELOPES: dict[str, tuple[bytes, str, str]] = {
    "not-json": (b"{latitude: 30}", "bad_json", "not JSON"),
    "invalid-utf8": (b'{"data": "\xff"}', "bad_json", "not JSON"),
    "empty": (b"", "bad_json", "not JSON"),
    "array": (b"[1, 2]", "dji_envelope", "expected a JSON object, got list"),
    "no-data": (b'{"timestamp": 1781231585000}', "dji_envelope", "no `data` object"),
    "data-not-object": (osd([1]), "dji_envelope", "no `data` object"),
    "no-timestamp": (b'{"data": {}}', "dji_envelope", "no timestamp"),
    "timestamp-text": (osd({}, "1781231585000"), "dji_envelope", "not an integer"),
    "timestamp-float": (osd({}, 1781231585000.0), "dji_envelope", "not an integer"),
    "timestamp-bool": (osd({}, True), "dji_envelope", "not an integer"),
    "timestamp-14-digits": (osd({}, 16540709686556), "dji_envelope", "14 digits"),
    "timestamp-seconds": (osd({}, 1781231585), "dji_envelope", "seconds instead of milli"),
    "timestamp-2014": (osd({}, 1_400_000_000_000), "dji_envelope", "before 2015"),
    "too-deep": (
        osd({"a": orjson.loads(b"[" * 40 + b"]" * 40)}),
        "dji_envelope",
        "nests deeper than",
    ),
}


@pytest.mark.parametrize(
    ("payload", "code", "expected"), BAD_ENVELOPES.values(), ids=BAD_ENVELOPES.keys()
)
def test_bad_envelopes_are_rejected(payload: bytes, code: str, expected: str) -> None:
    previous, _ = decode(fixture("aircraft-osd-in-flight.json"))
    state, result = decode(payload, previous=previous)
    reason = rejection(result)
    assert reason.code == code
    assert expected in reason.reason
    assert state is previous


@pytest.mark.parametrize(
    "nested",
    [b"[" * 990 + b"]" * 990, b'{"a":' * 990 + b"0" + b"}" * 990],
    ids=["lists", "objects"],
)
def test_nesting_near_the_recursion_limit_is_rejected_not_raised(nested: bytes) -> None:
    # orjson parses this; freezing it without a depth cap would hit RecursionError.
    deep = b'{"timestamp": 1781231585000, "data": {"a": ' + nested + b"}}"
    _, result = decode(deep)
    assert rejection(result).code == "dji_envelope"


# --- anything at all ---------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)
# Messages shaped like OSD, with each field sometimes of the wrong type, so that merging and
# the position path run, not only the envelope rejections (the test above covers those).
number = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**63 - 1)
coordinate = (
    st.floats(min_value=-90, max_value=90)
    | st.floats(min_value=-200, max_value=200)
    | st.just(0)
    | json_values
)
enrichment = {
    "height": number | json_values,
    "attitude_head": number | json_values,
    "horizontal_speed": number | json_values,
    "battery": st.fixed_dictionaries({}, optional={"capacity_percent": number}) | json_values,
    "track_id": st.text(max_size=8) | json_values,
    "position_state": json_values,
}
osd_data = st.fixed_dictionaries(
    {"latitude": coordinate, "longitude": coordinate}, optional=enrichment
) | st.fixed_dictionaries({}, optional={"latitude": coordinate, **enrichment})
osd_like = st.fixed_dictionaries(
    {
        "timestamp": st.integers(min_value=1_420_070_400_000, max_value=10**13 - 1),
        "data": osd_data | json_values,
    }
).map(orjson.dumps)
# the aircraft twice: it is the one with the most paths
serials = st.sampled_from([AIRCRAFT_SN, AIRCRAFT_SN, DOCK_SN, "SOMEONE-ELSE"])


def check_outcome(
    state: DeviceState | None, result: Decoded | Rejection, previous: DeviceState | None
) -> None:
    assert state is None or isinstance(state, DeviceState)
    assert isinstance(result, Decoded | Rejection)
    if isinstance(result, Rejection):
        assert state is previous  # a rejected message changes nothing
    else:
        assert state is not None
        for record in result.records:
            assert isinstance(record, DronePosition)
            assert record.drone == DRONE


@given(sn=serials, payload=st.binary(max_size=256) | json_values.map(orjson.dumps))
def test_any_bytes_give_a_result_never_an_exception(sn: str, payload: bytes) -> None:
    state, result = decode_dji_osd(sn, payload, CTX, None)
    check_outcome(state, result, None)


@given(sn=serials, messages=st.lists(osd_like, min_size=1, max_size=4))
def test_any_sequence_of_osd_shaped_messages_gives_results_never_an_exception(
    sn: str, messages: list[bytes]
) -> None:
    state = None
    for payload in messages:
        next_state, result = decode_dji_osd(sn, payload, CTX, state)
        check_outcome(next_state, result, state)
        state = next_state
