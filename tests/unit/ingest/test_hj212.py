"""HJ 212 decoding: the fixtures as they are (tests/fixtures/README.md), the CRC
vectors of shared/reference/hj212_aqi.md §1.6, each dialect allowed and refused, every way
a packet can be wrong, and arbitrary or damaged bytes that must never raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest._context import HJ212_DIALECTS, DecodeContext, SourceSettings
from ingest._hj212 import Packet, decode_hj212, hj212_crc16, modbus_crc16, parse_packet
from ingest._result import Decoded, Rejection
from rules.records import Interval, Location, Measurement, Reading, Station
from tests.support import FIXTURES as REPO_FIXTURES

FIXTURES: Final = REPO_FIXTURES / "hj212"
SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
ALL_DIALECTS: Final = frozenset(HJ212_DIALECTS)


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.hj212").read_bytes()


def _station(id: str, mn: str) -> Station:
    return Station(id=id, name=id, kind="ambient", location=Location(30.04, 120.50), mn=mn)


# One station per MN found in the fixtures, plus the demo site used by the built packets.
STATIONS: Final = {
    s.id: s
    for s in (
        _station("AMBIENT", "JLYP01_AIR01_0001"),
        _station("DUST", "0507A010003242"),
        _station("GASES", "Y80110010000010"),
        _station("STD", "010000A8900016F000169DC0"),
        _station("OLD", "LD130133000015"),
        _station("NOISE-LA", "ZX00001"),
        _station("NOISE-LEQ", "010AQMS01000GD0201804060"),
        _station("WATER", "81733553213013"),
        _station("KY-CS-001", "33060300KY0001"),
    )
}


def context(**sources: SourceSettings) -> DecodeContext:
    return DecodeContext(stations=STATIONS, sources=sources)


def lenient(*dialects: str, **unit_factors: float) -> SourceSettings:
    return SourceSettings(unit_factors=unit_factors, hj212_lenient=frozenset(dialects))


# What each fixture's device needs: none needs a dialect now that lower-case CRC hex is
# accepted as the conforming spelling it is. (Several lost their \r\n when copied from
# logs: that is no dialect on MQTT, where the wire contract makes it optional.)
FIELD_CTX: Final = context()
STRICT_CTX: Final = context()


def frame(
    segment: str | bytes,
    *,
    length: str | None = None,
    crc: str | None = None,
    end: bytes = b"\r\n",
) -> bytes:
    """A packet around `segment`, correct unless told otherwise."""
    data = segment.encode() if isinstance(segment, str) else segment
    length = f"{len(data):04d}" if length is None else length
    crc = f"{hj212_crc16(data):04X}" if crc is None else crc
    return b"##" + length.encode() + data + crc.encode() + end


HEADER: Final = "QN=20260612103100000;ST=39;CN={cn};PW=123456;MN=33060300KY0001;Flag=4;"


def packet(
    cp: str,
    *,
    cn: str = "2011",
    length: str | None = None,
    crc: str | None = None,
    end: bytes = b"\r\n",
) -> bytes:
    return frame(f"{HEADER.format(cn=cn)}CP=&&{cp}&&", length=length, crc=crc, end=end)


def site(cp: str, cn: str = "2011", settings: SourceSettings | None = None) -> Reading:
    """The one Reading the demo site KY-CS-001 sends in `cp`; fails the test otherwise."""
    ctx = context(**{"KY-CS-001": settings}) if settings else STRICT_CTX
    result = decode_hj212(packet(cp, cn=cn), ctx)
    assert isinstance(result, Decoded), result
    (reading,) = result.records
    assert isinstance(reading, Reading)
    return reading


def reject(payload: bytes, ctx: DecodeContext = STRICT_CTX) -> Rejection:
    result = decode_hj212(payload, ctx)
    assert isinstance(result, Rejection), result
    return result


def dialect_reason(what: str, *allow: str, station: str | None = "KY-CS-001") -> str:
    listed = ", ".join(f'"{name}"' for name in allow)
    where = f' in [sources."{station}"]' if station else ""
    return f"{what}; allow with hj212_lenient = [{listed}]{where}"



# --- CRC --------------------------------------------------------------------------------


def reference_crc(data: bytes) -> int:
    """HJ 212-2017 Appendix A, step by step as the standard writes it (reference §1.6)."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ byte
        for _ in range(8):
            lsb = reg & 1
            reg >>= 1
            if lsb:
                reg ^= 0xA001
    return reg


CRC_VECTORS: Final = {
    "check-value": (b"123456789", 0x2F80),
    "empty": (b"", 0xFFFF),
    "one-byte": (b"\x00", reference_crc(b"\x00")),
    "std-appendix-a": (
        b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
        b"CP=&&RtdInterval=30&&",
        0x1C80,
    ),
    "ambient-minute": (fixture("ambient-minute-2051")[6:-4], 0xD641),
    "dust-realtime": (fixture("dust-realtime-2011")[6:-4], 0xBF41),
    "reply-9011": (fixture("reply-9011")[6:-6], 0xCC01),
    # The README packet's CRC is wrong; the right one, per the fixtures README.
    "2005-readme": (fixture("bad-crc-readme")[6:-4], 0x3C00),
}


@pytest.mark.parametrize(("data", "crc"), CRC_VECTORS.values(), ids=CRC_VECTORS.keys())
def test_crc_vectors(data: bytes, crc: int) -> None:
    assert hj212_crc16(data) == crc


def test_crc_is_not_modbus() -> None:
    assert modbus_crc16(b"123456789") == 0x4B37
    assert hj212_crc16(b"123456789") != modbus_crc16(b"123456789")


@given(st.binary(max_size=600))
def test_crc_matches_the_standard_step_by_step(data: bytes) -> None:
    assert hj212_crc16(data) == reference_crc(data)


def test_crc_of_input_longer_than_any_packet_matches_the_standard() -> None:
    data = bytes(range(256)) * 47  # 12 032 bytes: past the masked fast path
    assert hj212_crc16(data) == reference_crc(data)
    assert hj212_crc16(data[:9999]) == reference_crc(data[:9999])


# --- the fixtures, as the fixtures README says ---------------------------------------------


def M(value: float, flag: str = "N") -> Measurement:
    return Measurement(value, flag)


@dataclass(frozen=True)
class Accepted:
    station: str
    ts: datetime
    values: Mapping[str, Measurement]
    interval: Interval
    deviations: tuple[str, ...] = ()
    extras: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    def decoded(self) -> Decoded:
        return Decoded((self.reading(),), self.note)

    def reading(self) -> Reading:
        return Reading(
            self.station,
            self.ts,
            self.values,
            interval=self.interval,
            source="hj212",
            extras=self.extras,
            deviations=self.deviations,
        )


AMBIENT_READING: Final = Accepted(
    "AMBIENT",
    datetime(2022, 5, 13, 16, 26, tzinfo=SHANGHAI),
    {
        "no2": M(4),
        "o3": M(63),
        "so2": M(6),
        "co": M(0.427),
        "pm25": M(14),
        "pm10": M(31),
        "wind_speed": M(1),
        "wind_dir": M(11),
        "temp": M(17),
        "rh": M(85),
        "pressure": M(95),
    },
    Interval.MINUTE,
)

DUST_READING: Final = Accepted(
    "DUST",
    datetime(2025, 1, 31, 20, 28, 9, tzinfo=SHANGHAI),
    {"tsp": M(92)},
    Interval.INSTANT,
    ("unprefixed_flag",),
)

# Lower-case CRC hex conforms (HJ 212-2017 Table 2: a hexadecimal integer, of no case):
# a strict station's packet, with no deviation recorded.
GASES_READING: Final = Accepted(
    "GASES",
    datetime(2019, 10, 12, 13, 37, 10, tzinfo=SHANGHAI),
    {"co": M(0.0), "no2": M(0.0)},
    Interval.INSTANT,
    extras={
        "a21007-Rtd": "0.033",
        "a21007-Flag": "N",
        "a21006-Rtd": "0.036",
        "a21006-Flag": "N",
        "a21001-Rtd": "25.40",
        "a21001-Flag": "N",
        "a21003-Rtd": "101.94",
        "a21003-Flag": "N",
        "a21002-Rtd": "49.20",
        "a21002-Flag": "N",
    },
)

# Noise, one real packet per way Lantian reads it in real-time data (LA-Rtd, Leq-Rtd).
NOISE_LA_READING: Final = Accepted(
    "NOISE-LA",
    datetime(2019, 10, 18, 10, 49, tzinfo=SHANGHAI),
    {
        "pm10": M(30),
        "pm25": M(25),
        "temp": M(13.5),
        "rh": M(43.8),
        "wind_dir": M(30),
        "wind_speed": M(3.5),
        "tsp": M(132),
        "noise": M(66.8),
    },
    Interval.INSTANT,
)

# Its pressure, 30.4 kPa, is implausible: the decoder takes it as sent, and
# decode_message marks it (test_plausibility.py).
NOISE_LEQ_READING: Final = Accepted(
    "NOISE-LEQ",
    datetime(2018, 9, 14, 9, 6, tzinfo=SHANGHAI),
    {
        "tsp": M(67.04),
        "pm25": M(39.6),
        "pm10": M(53),
        "noise": M(60.97),
        "wind_speed": M(0),
        "wind_dir": M(335),
        "pressure": M(30.4),
    },
    Interval.INSTANT,
    extras={"B00008-Rtd": "51.3", "B00008-Flag": "N", "B00009-Rtd": "99.3", "B00009-Flag": "N"},
)

# Water codes only: a reading with no metrics, and a note that says so.
WATER_READING: Final = Accepted(
    "WATER",
    datetime(2021, 3, 20, 1, 34, tzinfo=SHANGHAI),
    {},
    Interval.INSTANT,
    extras={
        "w00000-Rtd": "181.682",
        "w00000-Flag": "N",
        "w21001-SampleTime": "20210320005400",
        "w21001-Rtd": "45.160",
        "w21001-Flag": "N",
        "w21011-SampleTime": "20210320013400",
        "w21011-Rtd": "1.970",
        "w21011-Flag": "N",
        "w21003-SampleTime": "20210320013400",
        "w21003-Rtd": "53.131",
        "w21003-Flag": "N",
        "w01018-SampleTime": "20210320013400",
        "w01018-Rtd": "194.200",
        "w01018-Flag": "N",
        "w01001-SampleTime": "20210320013406",
        "w01001-Rtd": "7.496",
        "w01001-Flag": "N",
    },
    note="no factor maps to a Lantian metric (w00000, w21001, w21011, w21003, w01018, w01001): "
    "kept as extras; to the no-data rule the station sends no data",
)

# fixture -> (what a station allowing its dialects gets, what a strict station gets)
FIXTURE_CASES: Final[dict[str, tuple[Accepted | Rejection, Accepted | Rejection]]] = {
    "ambient-minute-2051": (
        AMBIENT_READING,
        AMBIENT_READING,
    ),
    "dust-realtime-2011": (
        DUST_READING,
        DUST_READING,
    ),
    "gases-realtime-2011-lowercase-crc": (GASES_READING, GASES_READING),
    "noise-la-realtime-2011": (NOISE_LA_READING, NOISE_LA_READING),
    "noise-leq-realtime-2011-low-pressure": (NOISE_LEQ_READING, NOISE_LEQ_READING),
    "water-realtime-2011-unmapped": (WATER_READING, WATER_READING),
    "std-appendix-a-1062": (
        Rejection("hj212_not_data", "CN 1062 (set real-time interval) is not a data upload"),
        Rejection("hj212_not_data", "CN 1062 (set real-time interval) is not a data upload"),
    ),
    "reply-9011": (
        Rejection("hj212_not_data", "CN 9011 (request answer) is not a data upload"),
        Rejection("hj212_not_data", "CN 9011 (request answer) is not a data upload"),
    ),
    "bad-crc-readme": (
        Rejection("hj212_crc", "CRC mismatch: packet says 4980, computed 3C00"),
        Rejection("hj212_crc", "CRC mismatch: packet says 4980, computed 3C00"),
    ),
    "wrong-length-2051": (
        Rejection("hj212_length", "declared length 121, actual 119"),
        Rejection("hj212_length", "declared length 121, actual 119"),
    ),
}


def test_every_fixture_has_a_case() -> None:
    assert {p.stem for p in FIXTURES.glob("*.hj212")} == set(FIXTURE_CASES)


@pytest.mark.parametrize("name", FIXTURE_CASES)
def test_fixture_for_a_station_allowing_its_dialects(name: str) -> None:
    expected = FIXTURE_CASES[name][0]
    result = decode_hj212(fixture(name), FIELD_CTX)
    if isinstance(expected, Rejection):
        assert result == expected
        return
    assert result == expected.decoded()
    assert isinstance(result, Decoded)
    (reading,) = result.records
    assert isinstance(reading, Reading)
    assert reading.ts.tzinfo == SHANGHAI  # equal instants in another zone would pass above


@pytest.mark.parametrize("name", FIXTURE_CASES)
def test_fixture_for_a_strict_station(name: str) -> None:
    expected = FIXTURE_CASES[name][1]
    result = decode_hj212(fixture(name), STRICT_CTX)
    if isinstance(expected, Accepted):
        assert result == expected.decoded()
    else:
        assert result == expected


def test_missing_terminator_is_no_dialect_on_mqtt() -> None:
    # DESIGN.md: the hj212 topic carries one packet, "optional \r\n"
    payload = packet(DUST_CP.format(value="180.0"), end=b"")
    result = decode_hj212(payload, STRICT_CTX)
    assert isinstance(result, Decoded)
    assert result.records[0].deviations == ()  # type: ignore[union-attr]


def test_fixed_station_readings_have_no_location() -> None:
    reading = site("DataTime=20260612103100;a34002-Rtd=187.0")
    assert reading.location is None
    assert reading.source == "hj212"


def test_parse_packet_of_the_standard_example() -> None:
    assert parse_packet(fixture("std-appendix-a-1062"), frozenset()) == Packet(
        qn="20160801085857223",
        st="32",
        cn="1062",
        pw="100000",
        mn="010000A8900016F000169DC0",
        flag=5,
        cp="RtdInterval=30",
        fields=(("RtdInterval", "30"),),
    )


# The README packet with its CRC corrected: 2005 style (no QN, no Flag, old codes).
OLD_STYLE: Final = fixture("bad-crc-readme")[:-4] + b"3C00\r\n"


def test_2005_style_packet_frames() -> None:
    assert parse_packet(OLD_STYLE, frozenset()) == Packet(
        qn=None,
        st="32",
        cn="2011",
        pw="123456",
        mn="LD130133000015",
        flag=None,
        cp="DataTime=20160824003817;B01-Rtd=36.91;011-Rtd=231.0,011-Flag=N;060-Rtd=1.803,"
        "060-Flag=N",
        fields=(
            ("DataTime", "20160824003817"),
            ("B01-Rtd", "36.91"),
            ("011-Rtd", "231.0"),
            ("011-Flag", "N"),
            ("060-Rtd", "1.803"),
            ("060-Flag", "N"),
        ),
    )


def test_2005_style_packet_keeps_its_old_codes_as_extras() -> None:
    result = decode_hj212(OLD_STYLE, STRICT_CTX)
    assert result == Decoded(
        (
            Reading(
                "OLD",
                datetime(2016, 8, 24, 0, 38, 17, tzinfo=SHANGHAI),
                {},
                interval=Interval.INSTANT,
                source="hj212",
                extras={
                    "B01-Rtd": "36.91",
                    "011-Rtd": "231.0",
                    "011-Flag": "N",
                    "060-Rtd": "1.803",
                    "060-Flag": "N",
                },
            ),
        ),
        "no factor maps to a Lantian metric (B01, 011, 060): kept as extras; to the no-data "
        "rule the station sends no data",
    )


def test_split_packet_numbers_are_read() -> None:
    result = parse_packet(frame("ST=22;CN=2011;PW=1;MN=x;Flag=7;PNUM=2;PNO=1;CP=&&&&"), frozenset())
    assert isinstance(result, Packet)
    assert (result.flag, result.pnum, result.pno, result.fields) == (7, 2, 1, ())


# --- dialects -----------------------------------------------------------------------------

DUST_CP: Final = "DataTime=20260612103100;a34002-Rtd={value},a34002-Flag=N"
TS: Final = datetime(2026, 6, 12, 10, 31, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Dialect:
    payload: bytes
    what: str  # the reason's first part, as a strict station reads it
    value: float = 180.0
    ts: datetime = TS


# CRCs: 180.0 -> B8C1 (MODBUS D15B), 197.0 -> 0500 (test_dialect_packets_are_built_as_described).
DIALECTS: Final = {
    "crc_unpadded": Dialect(
        packet(DUST_CP.format(value="197.0"), crc="500"),
        'CRC "500" has 3 hex digits, not 4',
        value=197.0,
    ),
    "crc_modbus_swapped": Dialect(
        packet(DUST_CP.format(value="180.0"), crc="5BD1"),
        'CRC "5BD1" is CRC-16/MODBUS with its bytes swapped, not the HJ 212 CRC B8C1',
    ),
    "length_unpadded": Dialect(
        packet(DUST_CP.format(value="180.0"), length="131"),
        'data length "131" is not 4 digits',
    ),
    "datatime_ms": Dialect(
        packet("DataTime=20260612103100123;a34002-Rtd=180.0,a34002-Flag=N"),
        'DataTime "20260612103100123" has milliseconds',
        ts=TS.replace(microsecond=123000),
    ),
}


def test_every_dialect_has_a_case() -> None:
    assert set(DIALECTS) == set(HJ212_DIALECTS)


def test_dialect_packets_are_built_as_described() -> None:
    assert hj212_crc16(packet(DUST_CP.format(value="180.0"))[6:-6]) == 0xB8C1
    assert modbus_crc16(packet(DUST_CP.format(value="180.0"))[6:-6]) == 0xD15B
    assert hj212_crc16(packet(DUST_CP.format(value="197.0"))[6:-6]) == 0x0500
    assert DIALECTS["length_unpadded"].payload.startswith(b"##131QN=")


@pytest.mark.parametrize("name", DIALECTS)
def test_dialect_allowed_is_decoded_and_recorded(name: str) -> None:
    case = DIALECTS[name]
    ctx = context(**{"KY-CS-001": lenient(name)})
    assert decode_hj212(case.payload, ctx) == Decoded(
        (
            Reading(
                "KY-CS-001",
                case.ts,
                {"pm10": M(case.value)},
                source="hj212",
                deviations=(name,),
            ),
        )
    )


@pytest.mark.parametrize("name", DIALECTS)
def test_dialect_refused_names_the_rule_and_the_fix(name: str) -> None:
    case = DIALECTS[name]
    assert reject(case.payload) == Rejection("hj212_dialect", dialect_reason(case.what, name))


@pytest.mark.parametrize("name", DIALECTS)
def test_dialect_allowed_only_for_its_own_station(name: str) -> None:
    # Allowing every other dialect does not allow this one.
    others = context(**{"KY-CS-001": lenient(*(ALL_DIALECTS - {name}))})
    rejection = reject(DIALECTS[name].payload, others)
    assert rejection.code == "hj212_dialect"
    assert rejection.reason.startswith(DIALECTS[name].what + "; allow with")
    assert f'"{name}"' in rejection.reason


def test_several_dialects_are_named_at_once_with_the_list_to_paste() -> None:
    payload = packet(DUST_CP.format(value="197.0"), crc="500", end=b"")
    assert reject(payload, context(**{"KY-CS-001": lenient("length_unpadded")})) == Rejection(
        "hj212_dialect",
        dialect_reason('CRC "500" has 3 hex digits, not 4', "crc_unpadded", "length_unpadded"),
    )


def test_parse_packet_records_every_dialect_in_packet_order() -> None:
    payload = packet(DUST_CP.format(value="197.0"), length="131", crc="500", end=b"")
    result = parse_packet(payload, ALL_DIALECTS)
    assert isinstance(result, Packet)
    assert result.deviations == ("length_unpadded", "crc_unpadded")


# --- CRC hex case: no dialect -------------------------------------------------------------

# Values whose packets' CRCs have hex letters (checked below).
LOWER_CASE_VALUES: Final = ("180.0", "181.5", "187.0", "64.5", "30.1", "12.0")


@pytest.mark.parametrize("value", LOWER_CASE_VALUES)
def test_lower_case_crc_hex_is_accepted_from_a_strict_station(value: str) -> None:
    upper = packet(DUST_CP.format(value=value))
    lower = upper[:-6] + upper[-6:-2].lower() + b"\r\n"
    assert decode_hj212(lower, STRICT_CTX) == decode_hj212(upper, STRICT_CTX)
    result = decode_hj212(lower, STRICT_CTX)
    assert isinstance(result, Decoded)
    assert result.records[0] == Reading(  # no deviation, nothing to allow
        "KY-CS-001", TS, {"pm10": M(float(value))}, source="hj212"
    )


def test_lower_case_crc_hex_appears_in_the_cases_above() -> None:
    letters: set[str] = set()
    for value in LOWER_CASE_VALUES:
        letters |= set(f"{hj212_crc16(packet(DUST_CP.format(value=value))[6:-6]):04x}")
    assert letters & set("abcdef")


def test_parse_packet_takes_lower_case_crc_hex_with_no_leniency() -> None:
    result = parse_packet(packet(DUST_CP.format(value="180.0"), crc="b8c1"), frozenset())
    assert isinstance(result, Packet)
    assert result.deviations == ()


def test_a_wrong_crc_in_lower_case_is_still_a_crc_mismatch() -> None:
    assert reject(packet(DUST_CP.format(value="180.0"), crc="b8c2")) == Rejection(
        "hj212_crc", "CRC mismatch: packet says b8c2, computed B8C1"
    )


@pytest.mark.parametrize(
    ("lenient_set", "expected"),
    [
        (
            frozenset(),
            Rejection(
                "hj212_dialect",
                dialect_reason('CRC "500" has 3 hex digits, not 4', "crc_unpadded", station=None),
            ),
        ),
        (frozenset({"crc_unpadded"}), None),
    ],
    ids=["strict", "unpadded-allowed"],
)
def test_parse_packet_enforces_the_lenient_set_it_is_given(
    lenient_set: frozenset[str], expected: Rejection | None
) -> None:
    result = parse_packet(DIALECTS["crc_unpadded"].payload, lenient_set)
    if expected is not None:
        assert result == expected
        return
    assert isinstance(result, Packet)
    assert result.deviations == ("crc_unpadded",)
    assert result.fields == (
        ("DataTime", "20260612103100"),
        ("a34002-Rtd", "197.0"),
        ("a34002-Flag", "N"),
    )


# --- what a data packet says --------------------------------------------------------------


@dataclass(frozen=True)
class Says:
    cp: str
    cn: str = "2011"
    values: Mapping[str, Measurement] = field(default_factory=dict)
    extras: Mapping[str, str] = field(default_factory=dict)
    deviations: tuple[str, ...] = ()
    settings: SourceSettings | None = None


SAYS: Final = {
    "realtime": Says(
        "DataTime=20260612103100;a34001-Rtd=320.0,a34001-Flag=N;a34002-Rtd=187.0,"
        "a34002-Flag=N;a34004-Rtd=64,a34004-Flag=N;a34005-Rtd=30;LA-Rtd=62.5;a01007-Rtd=2.3;"
        "a01008-Rtd=175;a01001-Rtd=-3.5;a01002-Rtd=71;a01006-Rtd=101.62;a21026-Rtd=8;"
        "a21004-Rtd=31;O3-Rtd=90;a21005-Rtd=0.6",
        values={
            "tsp": M(320),
            "pm10": M(187),
            "pm25": M(64),
            "pm1": M(30),
            "noise": M(62.5),
            "wind_speed": M(2.3),
            "wind_dir": M(175),
            "temp": M(-3.5),
            "rh": M(71),
            "pressure": M(101.62),
            "so2": M(8),
            "no2": M(31),
            "o3": M(90),
            "co": M(0.6),
        },
    ),
    "hour-min-avg-max": Says(
        "DataTime=20260612103100;a34002-Min=120,a34002-Avg=187.5,a34002-Max=240,a34002-Flag=N",
        cn="2061",
        values={"pm10": Measurement(187.5, "N", 120, 240)},
    ),
    "day-avg": Says(
        "DataTime=20260612103100;a34004-Avg=35,a34004-Flag=N", cn="2031", values={"pm25": M(35)}
    ),
    # Noise interval data as the standard writes it (C.26-C.28: -Data, with percentiles);
    # no real packet found, so built here.
    "noise-minute-leq-data": Says(
        "DataTime=20260612103100;L10-Data=62.1;L50-Data=58.3;L90-Data=55.0;LMx-Data=70.2;"
        "LMn-Data=51.8;Leq-Data=59.9",
        cn="2051",
        values={"noise": M(59.9)},
        extras={
            "L10-Data": "62.1",
            "L50-Data": "58.3",
            "L90-Data": "55.0",
            "LMx-Data": "70.2",
            "LMn-Data": "51.8",
        },
    ),
    "noise-hour-la-data-flagged": Says(
        "DataTime=20260612103100;LA-Data=61.5,LA-Flag=M", cn="2061", values={"noise": M(61.5, "M")}
    ),
    # ... and as some devices write it: -Min/-Avg/-Max, like any factor.
    "noise-hour-la-avg": Says(
        "DataTime=20260612103100;LA-Min=42.5,LA-Avg=46.3,LA-Max=51.6,LA-Flag=N",
        cn="2061",
        values={"noise": Measurement(46.3, "N", 42.5, 51.6)},
    ),
    "noise-both-spellings-first-wins": Says(
        "DataTime=20260612103100;Leq-Data=59.9;LA-Avg=46.3",
        cn="2061",
        values={"noise": M(59.9)},
        extras={"LA-Avg": "46.3"},
    ),
    "noise-data-is-no-real-time-field": Says(
        "DataTime=20260612103100;LA-Rtd=62.5;Leq-Data=59.9",
        values={"noise": M(62.5)},
        extras={"Leq-Data": "59.9"},
    ),
    "minute-rtd-is-a-known-dialect": Says(
        "DataTime=20260612103100;a34002-Rtd=187,a34002-Flag=N",
        cn="2051",
        values={"pm10": M(187)},
        deviations=("minute_rtd",),
    ),
    "minute-avg-outranks-rtd": Says(
        "DataTime=20260612103100;a34002-Rtd=190,a34002-Avg=187,a34002-Flag=N",
        cn="2051",
        values={"pm10": M(187)},
        extras={"a34002-Rtd": "190"},
    ),
    "hour-rtd-is-not-a-value": Says(
        "DataTime=20260612103100;a34002-Rtd=190;a34004-Avg=60",
        cn="2061",
        values={"pm25": M(60)},
        extras={"a34002-Rtd": "190"},
    ),
    "realtime-min-max-kept-as-text": Says(
        "DataTime=20260612103100;a34002-Rtd=187,a34002-Min=1,a34002-Max=2",
        values={"pm10": M(187)},
        extras={"a34002-Min": "1", "a34002-Max": "2"},
    ),
    "flags-kept": Says(
        "DataTime=20260612103100;a34001-Rtd=1,a34001-Flag=C;a34002-Rtd=2,a34002-Flag=M;"
        "a34004-Rtd=3,a34004-Flag=D;a34005-Rtd=4,a34005-Flag=F;a21026-Rtd=5,a21026-Flag=S;"
        "a21004-Rtd=6,a21004-Flag=T;a21005-Rtd=7,a21005-Flag=B",
        values={
            "tsp": M(1, "C"),
            "pm10": M(2, "M"),
            "pm25": M(3, "D"),
            "pm1": M(4, "F"),
            "so2": M(5, "S"),
            "no2": M(6, "T"),
            "co": M(7, "B"),
        },
    ),
    "first-code-of-a-metric-wins": Says(
        "DataTime=20260612103100;O3-Rtd=90;a05024-Rtd=88;Leq-Rtd=60;LA-Rtd=61",
        values={"o3": M(90), "noise": M(60)},
        extras={"a05024-Rtd": "88", "LA-Rtd": "61"},
    ),
    "other-suffixes-kept-as-text": Says(
        "DataTime=20260612103100;a34002-Avg=187,a34002-Cou=9,a34002-EFlag=x1,"
        "a34002-SampleTime=20260612103000;a21007-Avg=0.03,a21007-Flag=N;RtdInterval=30",
        cn="2051",
        values={"pm10": M(187)},
        extras={
            "a34002-Cou": "9",
            "a34002-EFlag": "x1",
            "a34002-SampleTime": "20260612103000",
            "a21007-Avg": "0.03",
            "a21007-Flag": "N",
            "RtdInterval": "30",
        },
    ),
    "unit-factors": Says(
        "DataTime=20260612103100;a34002-Min=0.125,a34002-Avg=0.25,a34002-Max=0.5;a01006-Avg=1012",
        cn="2061",
        values={"pm10": Measurement(250, "N", 125, 500), "pressure": M(101.2)},
        settings=lenient(pm10=1000.0, pressure=0.1),
    ),
    "unprefixed-flag-after-its-item": Says(
        "DataTime=20260612103100;a34001-Rtd=92;Flag=D;a34002-Rtd=50;Flag=N",
        values={"tsp": M(92, "D"), "pm10": M(50)},
        deviations=("unprefixed_flag",),
    ),
    "unprefixed-flag-with-nothing-to-flag": Says(
        "DataTime=20260612103100;Flag=D;a34002-Rtd=50,a34002-Flag=N;Flag=C",
        values={"pm10": M(50)},
        extras={"Flag": "C"},
    ),
    "only-unmapped-codes": Says(
        "DataTime=20260612103100;a21002-Rtd=49.2", extras={"a21002-Rtd": "49.2"}
    ),
    "utf8-info-counted-in-bytes": Says(
        "DataTime=20260612103100;a34002-Rtd=187;i11001-Info=//雾炮已开启//",
        values={"pm10": M(187)},
        extras={"i11001-Info": "//雾炮已开启//"},
    ),
    "value-with-an-equals-sign-and-empty-items": Says(
        "DataTime=20260612103100;;a34002-Rtd=187;i12001-Info=a=b;",
        values={"pm10": M(187)},
        extras={"i12001-Info": "a=b"},
    ),
    "signs-and-bare-points": Says(
        "DataTime=20260612103100;a01001-Rtd=+.5;a34002-Rtd=187.",
        values={"temp": M(0.5), "pm10": M(187)},
    ),
}

_INTERVAL_OF: Final = {
    "2011": Interval.INSTANT,
    "2051": Interval.MINUTE,
    "2061": Interval.HOUR,
    "2031": Interval.DAY,
}


@pytest.mark.parametrize("name", SAYS)
def test_data_packet_becomes_a_reading(name: str) -> None:
    case = SAYS[name]
    reading = site(case.cp, case.cn, case.settings)
    assert reading == Reading(
        "KY-CS-001",
        TS,
        case.values,
        interval=_INTERVAL_OF[case.cn],
        source="hj212",
        extras=case.extras,
        deviations=case.deviations,
    )
    # equal mappings in any order would pass above; the packet's order is kept
    assert list(reading.values) == list(case.values)
    assert list(reading.extras) == list(case.extras)


def test_a_reading_with_no_metrics_names_its_codes_up_to_six() -> None:
    codes = ["w00000", "w01001", "w01018", "w21003", "w21011", "w21001", "w01009", "w01010"]
    cp = "DataTime=20260612103100;" + ";".join(f"{c}-Rtd=1.5,{c}-Flag=N" for c in codes)
    result = decode_hj212(packet(cp), STRICT_CTX)
    assert isinstance(result, Decoded)
    assert result.records[0].values == {}  # type: ignore[union-attr]
    assert result.note == (
        "no factor maps to a Lantian metric (w00000, w01001, w01018, w21003, w21011, w21001 "
        "and 2 more): kept as extras; to the no-data rule the station sends no data"
    )


def test_a_reading_with_a_metric_has_no_note() -> None:
    result = decode_hj212(packet("DataTime=20260612103100;w00000-Rtd=1;a34002-Rtd=80"), STRICT_CTX)
    assert isinstance(result, Decoded)
    assert result.note == ""


def test_utf8_length_counts_bytes_not_characters() -> None:
    cp = "DataTime=20260612103100;i11001-Info=//雾炮已开启//"
    segment = f"{HEADER.format(cn='2011')}CP=&&{cp}&&"
    chars, octets = len(segment), len(segment.encode())
    assert reject(frame(segment, length=f"{chars:04d}")) == Rejection(
        "hj212_length", f"declared length {chars}, actual {octets}"
    )


# --- rejections ---------------------------------------------------------------------------

STD: Final = fixture("std-appendix-a-1062")
LONGEST: Final = frame("ST=22;CN=2011;MN=33060300KY0001;CP=&&a=" + "1" * 9958 + "&&")

# fmt: off
REJECTIONS: Final = {
    # framing
    "empty": (b"", "hj212_framing", "empty payload"),
    "no-hashes": (b"hello world", "hj212_framing", 'does not start with "##": "hello wo"'),
    "no-length": (b"##QN=1", "hj212_framing", 'no data length after "##"'),
    "length-over-9999": (b"##12345QN=1", "hj212_length", 'data length "12345" is over 4 digits'),
    "no-field-name": (
        b"##0101 QN=1",
        "hj212_framing",
        'the data segment must start with a field name such as QN= or ST=, not " QN=1"',
    ),
    "too-big": (LONGEST[:-2] + b"0\r\n", "hj212_length",
                "packet is 10012 bytes; an HJ 212 packet is at most 10011"),
    "no-crc": (STD[:-6] + b"\r\n", "hj212_framing",
               'no CRC at the end: the packet ends "val=30&&"'),
    "cut-short": (STD[:40], "hj212_length",
                  "declared length 101, but only 34 bytes follow: cut short"),
    "declared-short": (frame("ST=22;CN=2011;MN=x;CP=&&&&", length="0020"), "hj212_length",
                       "declared length 20, actual 26"),
    "binary-segment": (frame(b"ST=22;CN=2011;MN=x;CP=&&a=\xff\xfe&&"), "hj212_framing",
                       "the data segment is not UTF-8 text"),
    "crc-wrong": (STD[:-6] + b"1C81\r\n", "hj212_crc",
                  "CRC mismatch: packet says 1C81, computed 1C80"),
    # header
    "no-cp": (frame("ST=22;CN=2011;MN=x;"), "hj212_fields", "no CP=&&…&& data area"),
    "cp-not-closed": (frame("ST=22;CN=2011;MN=x;CP=&&a=1"), "hj212_fields",
                      "the data segment does not end with the && closing CP"),
    "cp-glued": (frame("ST=22;CN=2011;MN=xCP=&&&&"), "hj212_fields", 'no ";" before CP=&&'),
    "header-not-pairs": (frame("ST=22;CN;MN=x;CP=&&&&"), "hj212_fields",
                         'header item "CN" is not name=value'),
    "header-unknown": (frame("ST=22;CN=2011;MN=x;XX=1;CP=&&&&"), "hj212_fields",
                       'unknown header field "XX"'),
    "header-repeated": (frame("ST=22;ST=22;CN=2011;MN=x;CP=&&&&"), "hj212_fields",
                        "header field ST appears twice"),
    "no-mn": (frame("ST=22;CN=2011;CP=&&&&"), "hj212_fields", "no MN in the header"),
    "empty-mn": (frame("ST=22;CN=2011;MN=;CP=&&&&"), "hj212_fields", "no MN in the header"),
    "no-st": (frame("CN=2011;MN=x;CP=&&&&"), "hj212_fields", "no ST in the header"),
    "cn-not-digits": (frame("ST=22;CN=20x1;MN=x;CP=&&&&"), "hj212_fields",
                      'CN "20x1" is not 4 digits'),
    "flag-too-big": (frame("ST=22;CN=2011;MN=x;Flag=256;CP=&&&&"), "hj212_fields",
                     'Flag "256" is not an integer 0..255'),
    "pnum-not-a-number": (frame("ST=22;CN=2011;MN=x;PNUM=two;CP=&&&&"), "hj212_fields",
                          'PNUM "two" is not an integer 0..9999'),
    "cp-not-pairs": (packet("a=1,b;c=2"), "hj212_fields",
                     'CP item "b" is not name=value'),
    # who sent it
    "unknown-mn": (frame("ST=22;CN=2011;MN=NOBODY;CP=&&&&"), "unknown_station",
                   'MN "NOBODY" is not a registered station: give a station this "mn" in '
                   "config/stations.geojson"),
    "unknown-mn-with-bad-crc": (frame("ST=22;CN=2011;MN=NOBODY;CP=&&&&", crc="0000"),
                                "hj212_crc", "CRC mismatch: packet says 0000, computed 8701"),
    # what it says
    "heartbeat-2025": (packet("", cn="9015"), "hj212_not_data",
                       "CN 9015 (heartbeat) is not a data upload"),
    "data-answer": (packet("", cn="9014"), "hj212_not_data",
                    "CN 9014 (data answer) is not a data upload"),
    "unknown-cn": (packet("", cn="4242"), "hj212_not_data", "CN 4242 is not a data upload"),
    "no-datatime": (packet("a34002-Rtd=1"), "hj212_fields", "no DataTime in CP"),
    "datatime-shape": (packet("DataTime=2026-06-12;a34002-Rtd=1"), "hj212_fields",
                       'DataTime "2026-06-12" is not YYYYMMDDhhmmss'),
    "datatime-invalid": (packet("DataTime=20261332103100;a34002-Rtd=1"), "hj212_fields",
                         'DataTime "20261332103100" is not a valid time'),
    "no-factor-values": (packet("DataTime=20260612103100"), "hj212_fields", "no factor values"),
    "repeated-field": (packet("DataTime=20260612103100;a34002-Rtd=1;a34002-Rtd=2"),
                       "hj212_fields", "a34002-Rtd appears twice in CP"),
    "repeated-datatime": (packet("DataTime=20260612103100;DataTime=20260612103100;a34002-Rtd=1"),
                          "hj212_fields", "DataTime appears twice in CP"),
    "not-a-number": (packet("DataTime=20260612103100;a34002-Rtd=abc"), "hj212_fields",
                     'a34002-Rtd value "abc" is not a decimal number'),
    "nan": (packet("DataTime=20260612103100;a34002-Rtd=NaN"), "hj212_fields",
            'a34002-Rtd value "NaN" is not a decimal number'),
    "inf": (packet("DataTime=20260612103100;a34002-Rtd=-inf"), "hj212_fields",
            'a34002-Rtd value "-inf" is not a decimal number'),
    "exponent": (packet("DataTime=20260612103100;a34002-Rtd=1e5"), "hj212_fields",
                 'a34002-Rtd value "1e5" is not a decimal number'),
    "overflow": (packet("DataTime=20260612103100;a34002-Rtd=" + "9" * 400), "hj212_fields",
                 'a34002-Rtd value "' + "9" * 31 + '…" is not a decimal number'),
    "empty-value": (packet("DataTime=20260612103100;a34002-Rtd="), "hj212_fields",
                    'a34002-Rtd value "" is not a decimal number'),
    "bad-min": (packet("DataTime=20260612103100;a34002-Avg=1,a34002-Min=low", cn="2061"),
                "hj212_fields", 'a34002-Min value "low" is not a decimal number'),
    "bad-max": (packet("DataTime=20260612103100;a34002-Avg=1,a34002-Max=", cn="2031"),
                "hj212_fields", 'a34002-Max value "" is not a decimal number'),
}
# fmt: on


@pytest.mark.parametrize(("payload", "code", "reason"), REJECTIONS.values(), ids=REJECTIONS)
def test_rejection(payload: bytes, code: str, reason: str) -> None:
    assert decode_hj212(payload, STRICT_CTX) == Rejection(code, reason)


def test_the_longest_packet_is_not_too_big() -> None:
    assert len(LONGEST) == 10011
    # framed, checked and read to the end: only then is the missing DataTime noticed
    assert reject(LONGEST) == Rejection("hj212_fields", "no DataTime in CP")


def test_unknown_mn_on_a_packet_with_a_dialect_is_still_an_unknown_station() -> None:
    # The station's leniency cannot be known before the station is: say who is missing.
    payload = frame("ST=22;CN=2011;MN=NOBODY;CP=&&&&", end=b"")
    assert reject(payload) == Rejection(
        "unknown_station",
        'MN "NOBODY" is not a registered station: give a station this "mn" in '
        "config/stations.geojson",
    )


# --- arbitrary and damaged bytes --------------------------------------------------------------

VALID: Final = {
    "site-realtime": packet(SAYS["realtime"].cp),
    "site-hourly": packet(SAYS["hour-min-avg-max"].cp, cn="2061"),
}


ANYTHING_GOES_CTX: Final = context(**{"KY-CS-001": lenient(*ALL_DIALECTS)})


def _never_raises(payload: bytes) -> None:
    for ctx in (STRICT_CTX, FIELD_CTX, ANYTHING_GOES_CTX):
        assert isinstance(decode_hj212(payload, ctx), Decoded | Rejection)
    for allowed in (frozenset(), ALL_DIALECTS):
        assert isinstance(parse_packet(payload, allowed), Packet | Rejection)


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    _never_raises(payload)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_after_a_plausible_start_never_raise(tail: bytes) -> None:
    _never_raises(b"##0101QN=" + tail)
    _never_raises(VALID["site-realtime"][:60] + tail)


packets = st.sampled_from([*VALID.values(), *(fixture(n) for n in FIXTURE_CASES)])


@given(packets, st.data())
def test_any_single_byte_changed_is_refused_by_a_strict_station(
    payload: bytes, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(payload) - 1), label="at")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != payload[at]), label="byte")
    damaged = payload[:at] + bytes([byte]) + payload[at + 1 :]
    _never_raises(damaged)
    assert isinstance(decode_hj212(damaged, STRICT_CTX), Rejection)


@given(packets, st.data())
def test_any_truncation_is_refused_by_a_strict_station(payload: bytes, data: st.DataObject) -> None:
    # cutting the optional \r\n alone leaves a whole packet: cut into the packet itself
    body = payload.removesuffix(b"\r\n")
    cut = body[: data.draw(st.integers(0, len(body) - 1), label="length")]
    _never_raises(cut)
    assert isinstance(decode_hj212(cut, STRICT_CTX), Rejection)


@given(packets, st.data())
def test_inserted_or_deleted_bytes_never_raise(payload: bytes, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(payload)), label="at")
    inserted = data.draw(st.binary(min_size=1, max_size=4), label="inserted")
    _never_raises(payload[:at] + inserted + payload[at:])
    _never_raises(payload[:at] + payload[at + 4 :])


# CP text from the characters that matter to splitting: the fields must be the plain
# reading of the rule (items by ";", pairs by ",", name before the first "=").
cp_texts = st.text(alphabet="ab1-=;,.", max_size=40)


def reference_fields(cp: str) -> tuple[tuple[str, str], ...] | None:
    pairs = [pair for item in cp.split(";") for pair in item.split(",") if pair]
    if any("=" not in pair or pair.startswith("=") for pair in pairs):
        return None
    return tuple((pair.partition("=")[0], pair.partition("=")[2]) for pair in pairs)


@given(cp_texts)
def test_cp_fields_follow_the_item_and_pair_rules(cp: str) -> None:
    result = parse_packet(frame(f"ST=22;CN=2011;MN=x;CP=&&{cp}&&"), frozenset())
    expected = reference_fields(cp)
    if expected is None:
        assert isinstance(result, Rejection)
        assert result.code == "hj212_fields"
    else:
        assert isinstance(result, Packet), result
        assert result.fields == expected
