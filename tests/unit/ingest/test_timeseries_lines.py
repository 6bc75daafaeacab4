"""The line protocol of a reading, written for speed in `ingest._timeseries`, is held to
the general rule it replaced: tags escaped, valid values as fields (integers with `i`),
a mobile reading's position as fields, flagged values apart in `reading_flagged`."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ingest._timeseries import _fields, _ms, _tags, to_lines
from rules.records import Interval, Location, Measurement, Reading

TS = datetime(2026, 6, 12, 8, 30, 15, 123000, tzinfo=UTC)


def _general(r: Reading) -> list[str]:
    """The rule as it was written before: generators over every value, twice."""
    ms = _ms(r.ts)
    tags = _tags((("station", r.station), ("interval", r.interval.value), ("source", r.source)))
    lines = []
    valid = _fields((m, v.value) for m, v in r.values.items() if v.valid)
    if r.location is not None:
        valid += f",lat={r.location.lat!r},lon={r.location.lon!r}"
    if valid:
        lines.append(f"reading{tags} {valid.lstrip(',')} {ms}")
    for metric, v in r.values.items():
        if not v.valid:
            t = _tags((("station", r.station), ("metric", metric), ("flag", v.flag)))
            lines.append(f"reading_flagged{t} value={v.value!r} {ms}")
    return lines


def test_a_reading_with_every_kind_of_value() -> None:
    r = Reading("KY CS,001=x", TS, {"pm10": Measurement(187.5), "count": Measurement(3),
                                   "tsp": Measurement(12.0, "C")},
                interval=Interval.MINUTE, location=Location(30.03, 120.5), source="hj212")
    assert to_lines(r) == [
        r"reading,station=KY\ CS\,001\=x,interval=minute,source=hj212 pm10=187.5,count=3i,"
        "lat=30.03,lon=120.5 1781253015123",
        r"reading_flagged,station=KY\ CS\,001\=x,metric=tsp,flag=C value=12.0 1781253015123",
    ]


def test_only_flagged_values_give_no_reading_line() -> None:
    r = Reading("S1", TS, {"pm10": Measurement(5.0, "M")})
    assert to_lines(r) == ["reading_flagged,station=S1,metric=pm10,flag=M value=5.0 "
                           "1781253015123"]


values = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                   st.integers(-10**6, 10**6))


@given(
    station=st.text(st.characters(codec="utf-8", exclude_characters="\n"), min_size=1,
                    max_size=12),
    measurements=st.dictionaries(
        st.sampled_from(["pm10", "pm25", "tsp", "noise", "temp"]),
        st.tuples(values, st.sampled_from(["N", "N", "C", "D"])), max_size=5),
    located=st.booleans(),
)
def test_the_fast_rendering_is_the_general_rule(
    station: str, measurements: dict[str, tuple[float, str]], located: bool,
) -> None:
    r = Reading(station, TS, {m: Measurement(v, f) for m, (v, f) in measurements.items()},
                location=Location(30.0, 120.0) if located else None)
    assert to_lines(r) == _general(r)
