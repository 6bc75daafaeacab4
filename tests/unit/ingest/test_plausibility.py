"""Plausibility per value (issue 15, point 2): an implausible value that is not a
particulate is kept, marked, and never counted, while the reading's other values go on;
implausible particulates still refuse the whole reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import pytest

from ingest import Decoded, InboundTopics, decode_message
from ingest._result import Rejection
from ingest._timeseries import to_lines
from ingest._validate import IMPLAUSIBLE_FLAG
from rules.records import Measurement, Reading
from tests.unit.ingest.test_hj212 import context, fixture, lenient, packet

NOW: Final = datetime(2026, 6, 12, 3, 0, tzinfo=UTC)
TOPIC: Final = "lantian/sensors/KY-CS-001/hj212"
CP: Final = "DataTime=20260612103100;a34002-Rtd=80,a34002-Flag=N;a34004-Rtd=40,a34004-Flag=N;"
ODD: Final = "kept, marked implausible and never counted: "


def decode(payload: bytes, **settings: object) -> Decoded | Rejection:
    ctx = context(**{"KY-CS-001": lenient(**settings)}) if settings else context()  # type: ignore[arg-type]
    return decode_message(TOPIC, payload, ctx=ctx, topics=InboundTopics(), now=NOW).result


def M(value: float, flag: str = "N") -> Measurement:
    return Measurement(value, flag)


def X(value: float) -> Measurement:
    return Measurement(value, IMPLAUSIBLE_FLAG)


@dataclass(frozen=True)
class Case:
    cp: str  # after the PM10 80 and PM2.5 40 every case carries
    values: dict[str, Measurement]
    note: str = ""
    units: dict[str, float] = field(default_factory=dict)


CASES: Final = {
    "dust-monitor-pressure-zero": Case(
        "a01006-Rtd=0.0,a01006-Flag=N",
        {"pressure": X(0.0)},
        ODD + "pressure 0 kPa: the sensor is probably not measuring",
    ),
    "pressure-in-hpa": Case(
        "a01006-Rtd=1004.0",
        {"pressure": X(1004.0)},
        ODD + "pressure 1004 kPa: looks like hPa, not kPa",
    ),
    "pressure-in-hpa-configured": Case(
        "a01006-Rtd=1004.0", {"pressure": M(100.4)}, units={"pressure": 0.1}
    ),
    "pressure-in-pa": Case(
        "a01006-Rtd=101325",
        {"pressure": X(101325.0)},
        ODD + "pressure 101325 kPa: looks like Pa, not kPa",
    ),
    "negative-wind-speed": Case(
        "a01007-Rtd=-2.5", {"wind_speed": X(-2.5)},
        ODD + "wind_speed -2.5 m/s: negative, which no wind_speed can be",
    ),
    "humidity-over-100": Case(
        "a01002-Rtd=180", {"rh": X(180.0)},
        ODD + "rh 180 %: outside what any working sensor reads (0..100 %)",
    ),
    "two-odd-values-each-named": Case(
        "a01001-Rtd=-99.9;a01006-Rtd=0;a01002-Rtd=55",
        {"temp": X(-99.9), "pressure": X(0.0), "rh": M(55.0)},
        ODD + "temp -99.9 °C: outside what any working sensor reads (-60..70 °C); "
        "pressure 0 kPa: the sensor is probably not measuring",
    ),
    "an-odd-gas-is-marked-too": Case(
        "a21005-Rtd=500", {"co": X(500.0)},
        ODD + "co 500 mg/m³: outside what any working sensor reads (0..150 mg/m³)",
    ),
    "odd-noise": Case(
        "LA-Rtd=250", {"noise": X(250.0)},
        ODD + "noise 250 dB(A): outside what any working sensor reads (0..160 dB(A))",
    ),
    "a-flagged-value-is-kept-as-sent": Case(
        "a01006-Rtd=0.0,a01006-Flag=D", {"pressure": M(0.0, "D")}
    ),
    "plausible-edges": Case(
        "a01006-Rtd=40;a01002-Rtd=100;a01001-Rtd=-60", {
            "pressure": M(40.0), "rh": M(100.0), "temp": M(-60.0)
        }
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_each_value_is_judged_on_its_own(name: str) -> None:
    case = CASES[name]
    result = decode(packet(CP + case.cp), **case.units)
    assert isinstance(result, Decoded), result
    [reading] = result.records
    assert isinstance(reading, Reading)
    assert dict(reading.values) == {"pm10": M(80.0), "pm25": M(40.0), **case.values}
    assert result.note == case.note


@pytest.mark.parametrize(
    ("cp", "reason"),
    [
        ("DataTime=20260612103100;a34002-Rtd=99999;a01006-Rtd=101.3",
         "pm10 = 99999 µg/m³ is outside the plausible range 0..10000: a wrong unit in config, "
         "or a faulty instrument"),
        ("DataTime=20260612103100;a01006-Rtd=0;a34001-Rtd=-5",  # the odd pressure comes first
         "tsp = -5 µg/m³ is outside the plausible range 0..20000: a wrong unit in config, "
         "or a faulty instrument"),
        ("DataTime=20260612103100;a34005-Rtd=12000",
         "pm1 = 12000 µg/m³ is outside the plausible range 0..10000: a wrong unit in config, "
         "or a faulty instrument"),
    ],
    ids=["pm10", "tsp-after-an-odd-pressure", "pm1"],
)
def test_implausible_particulates_still_refuse_the_reading(cp: str, reason: str) -> None:
    assert decode(packet(cp)) == Rejection("implausible", reason)


def test_the_real_noise_packet_with_a_low_pressure_goes_on_without_it() -> None:
    result = decode_message(
        "lantian/sensors/NOISE-LEQ/hj212", fixture("noise-leq-realtime-2011-low-pressure"),
        ctx=context(), topics=InboundTopics(), now=NOW,
    ).result
    assert isinstance(result, Decoded)
    [reading] = result.records
    assert isinstance(reading, Reading)
    assert reading.values["pressure"] == X(30.4)
    assert reading.values["noise"] == M(60.97)
    assert [m for m, v in reading.values.items() if not v.valid] == ["pressure"]
    assert result.note == (
        ODD + "pressure 30.4 kPa: outside what any working sensor reads (40..120 kPa)"
    )


def test_a_marked_value_is_written_with_its_mark_apart_from_the_valid_ones() -> None:
    result = decode(packet(CP + "a01006-Rtd=0.0,a01006-Flag=N"))
    assert isinstance(result, Decoded)
    [reading] = result.records
    lines = to_lines(reading)
    assert lines[0].startswith("reading,station=KY-CS-001,interval=instant,source=hj212 ")
    assert "pressure" not in lines[0]
    assert lines[1:] == [
        "reading_flagged,station=KY-CS-001,metric=pressure,flag=implausible value=0.0 "
        "1781231460000"
    ]


def test_a_json_reading_is_judged_the_same_way() -> None:
    payload = b'{"station": "KY-CS-001", "ts": "2026-06-12T10:31:00+08:00", "pm10": 80, ' \
              b'"pressure": 0}'
    result = decode_message("lantian/sensors/KY-CS-001/reading", payload, ctx=context(),
                            topics=InboundTopics(), now=NOW).result
    assert isinstance(result, Decoded)
    [reading] = result.records
    assert isinstance(reading, Reading)
    assert dict(reading.values) == {"pm10": M(80.0), "pressure": X(0.0)}
    assert result.note == ODD + "pressure 0 kPa: the sensor is probably not measuring"


def test_the_rules_never_count_a_marked_value() -> None:
    from dataclasses import replace

    from rules import RuleState, evaluate
    from rules.settings import Direction, Level, ThresholdRule, Trigger
    from rules.signals import Action
    from tests.unit.rules.test_engine import alerts, ruleset

    rule = ThresholdRule(
        id="low-pressure", kind="weather", metric="pressure",
        trigger=Trigger(Direction.BELOW, (Level("warning", 90, 95),)),
    )
    rs = ruleset(rule)
    result = decode(packet(CP + "a01006-Rtd=0.0"))
    assert isinstance(result, Decoded)
    [reading] = result.records
    assert isinstance(reading, Reading)
    _, signals = evaluate(RuleState(), reading, rs)
    assert alerts(signals) == []
    # the control: the same value, unmarked, is counted
    unmarked = replace(reading, values={**reading.values, "pressure": M(0.0)})
    _, signals = evaluate(RuleState(), unmarked, rs)
    assert alerts(signals) == [(Action.RAISE, "low-pressure", "warning")]


def test_the_decoders_own_note_is_kept_before_what_is_odd() -> None:
    payload = b'{"drone": "KY-UAV-01", "ts": "2026-06-12T10:31:00+08:00", "lat": 30.03, ' \
              b'"lon": 120.5, "pm10": 80, "pressure": 0, "colour": "red"}'
    result = decode_message("lantian/drones/KY-UAV-01/telemetry", payload, ctx=context(),
                            topics=InboundTopics(), now=NOW).result
    assert isinstance(result, Decoded), result
    [reading] = [r for r in result.records if isinstance(r, Reading)]
    assert reading.values["pressure"] == X(0.0)
    assert result.note == (
        'ignored unknown fields: "colour"; '
        + ODD + "pressure 0 kPa: the sensor is probably not measuring"
    )
