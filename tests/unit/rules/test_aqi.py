"""AQI per HJ 633-2012 and HJ 633-2026 (shared/reference/hj212_aqi.md §4).

The breakpoint tables below are typed again from the reference, row by row as it prints them,
independently of rules/_aqi.py, so a transcription slip in either shows up. Every other
expected value is worked by hand from those tables; the arithmetic is in the comment.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules._aqi import AqiResult, _round_up, daily_aqi, iaqi, realtime_aqi
from rules._aqi_tables import POLLUTANTS, AqiEdition, Averaging, level_for

E12: Final = AqiEdition.HJ633_2012
E26: Final = AqiEdition.HJ633_2026
H: Final = Averaging.HOUR
D: Final = Averaging.DAY
H8: Final = Averaging.O3_8H
_: Final = None  # a cell the table leaves empty (the column ends early)

# §4.2, HJ 633-2012 Table 1, in the reference's column order.
COLUMNS_2012: Final = (
    ("so2", D), ("so2", H), ("no2", D), ("no2", H), ("pm10", D),
    ("co", D), ("co", H), ("o3", H), ("o3", H8), ("pm25", D),
)  # fmt: skip
TABLE_2012: Final = (
    (0,   (0,    0,    0,   0,    0,   0,  0,   0,    0,   0)),
    (50,  (50,   150,  40,  100,  50,  2,  5,   160,  100, 35)),
    (100, (150,  500,  80,  200,  150, 4,  10,  200,  160, 75)),
    (150, (475,  650,  180, 700,  250, 14, 35,  300,  215, 115)),
    (200, (800,  800,  280, 1200, 350, 24, 60,  400,  265, 150)),
    (300, (1600, _,    565, 2340, 420, 36, 90,  800,  800, 250)),
    (400, (2100, _,    750, 3090, 500, 48, 120, 1000, _,   350)),
    (500, (2620, _,    940, 3840, 600, 60, 150, 1200, _,   500)),
)  # fmt: skip

# §4.3, HJ 633-2026 Table 3, in the reference's column order (a different one).
COLUMNS_2026: Final = (
    ("so2", D), ("so2", H), ("no2", D), ("no2", H), ("co", D),
    ("co", H), ("o3", H8), ("o3", H), ("pm10", D), ("pm25", D),
)  # fmt: skip
TABLE_2026: Final = (
    (0,   (0,    0,    0,   0,    0,  0,   0,   0,    0,   0)),
    (50,  (50,   150,  40,  100,  2,  5,   100, 160,  50,  35)),
    (100, (150,  500,  80,  200,  4,  10,  160, 200,  120, 60)),
    (150, (475,  650,  180, 700,  14, 35,  215, 300,  250, 115)),
    (200, (800,  800,  280, 1200, 24, 60,  265, 400,  350, 150)),
    (300, (1600, _,    565, 2340, 36, 90,  800, 800,  420, 250)),
    (400, (2100, _,    750, 3090, 48, 120, _,   1000, 500, 350)),
    (500, (2620, _,    940, 3840, 60, 150, _,   1200, 600, 500)),
)  # fmt: skip

TABLES: Final = {E12: (COLUMNS_2012, TABLE_2012), E26: (COLUMNS_2026, TABLE_2026)}


def _short(edition: AqiEdition) -> str:
    return "2012" if edition == E12 else "2026"


def _cells() -> list[tuple[AqiEdition, str, Averaging, int, float, bool]]:
    """(edition, pollutant, averaging, row IAQI, breakpoint, is last in its column)."""
    out: list[tuple[AqiEdition, str, Averaging, int, float, bool]] = []
    for edition, (columns, rows) in TABLES.items():
        for col, (pollutant, averaging) in enumerate(columns):
            cells = [(index, bp) for index, row in rows if (bp := row[col]) is not None]
            for n, (index, bp) in enumerate(cells):
                out.append((edition, pollutant, averaging, index, bp, n == len(cells) - 1))
    return out


CELLS: Final = _cells()


def _cell_id(edition: AqiEdition, pollutant: str, averaging: Averaging, bp: float) -> str:
    return f"{_short(edition)}-{pollutant}-{averaging}-{bp:g}"


# --- every breakpoint, and either side of it ---------------------------------------------------


@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "expected", "bp"),
    [
        pytest.param(e, p, a, index, bp, id=_cell_id(e, p, a, bp))
        for e, p, a, index, bp, _last in CELLS
    ],
)
def test_exactly_at_a_breakpoint_gives_its_row(
    edition: AqiEdition, pollutant: str, averaging: Averaging, expected: int, bp: float
) -> None:
    assert iaqi(pollutant, bp, averaging, edition) == expected


def _segments() -> list[tuple[AqiEdition, str, Averaging, int, int, float, float]]:
    """(edition, pollutant, averaging, IAQI low, IAQI high, breakpoint low, breakpoint high)."""
    out = []
    for (e, p, a, i_lo, bp_lo, last), (*_, i_hi, bp_hi, _l) in itertools.pairwise(CELLS):
        if not last:
            out.append((e, p, a, i_lo, i_hi, bp_lo, bp_hi))
    return out


# Halfway along a segment the index is halfway between its rows, an integer for every row pair
# (25, 75, 125, 175, 250, 350, 450): e.g. NO2 1-h (3090+3840)/2 = 3465 → (400+500)/2 = 450.
# This is what pins the last breakpoint of each column: at and past it the result is 500 anyway.
@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "i_lo", "i_hi", "bp_lo", "bp_hi"),
    [pytest.param(*seg, id=f"{_cell_id(*seg[:3], seg[5])}..{seg[6]:g}") for seg in _segments()],
)
def test_halfway_between_breakpoints(
    edition: AqiEdition,
    pollutant: str,
    averaging: Averaging,
    i_lo: int,
    i_hi: int,
    bp_lo: float,
    bp_hi: float,
) -> None:
    assert iaqi(pollutant, (bp_lo + bp_hi) / 2, averaging, edition) == (i_lo + i_hi) // 2


# 0.01 above a breakpoint adds at most 25 * 0.01 = 0.25 IAQI (the steepest segment is CO 24-h
# 0..2 mg/m³ for 0..50) and at least 100/750 * 0.01 (NO2 1-h 2340..3090): a fraction, so the
# rounded-up index is the row + 1. 0.01 below is the row minus a fraction, rounded up to the row.
@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "row", "bp"),
    [
        pytest.param(e, p, a, index, bp, id=_cell_id(e, p, a, bp))
        for e, p, a, index, bp, last in CELLS
        if not last
    ],
)
def test_just_above_a_breakpoint_rounds_up_to_the_next_integer(
    edition: AqiEdition, pollutant: str, averaging: Averaging, row: int, bp: float
) -> None:
    assert iaqi(pollutant, bp + 0.01, averaging, edition) == row + 1


@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "row", "bp"),
    [
        pytest.param(e, p, a, index, bp, id=_cell_id(e, p, a, bp))
        for e, p, a, index, bp, _last in CELLS
        if bp > 0
    ],
)
def test_just_below_a_breakpoint_rounds_up_to_its_row(
    edition: AqiEdition, pollutant: str, averaging: Averaging, row: int, bp: float
) -> None:
    assert iaqi(pollutant, bp - 0.01, averaging, edition) == row


# --- worked examples -----------------------------------------------------------------------------

BOTH: Final = (E12, E26)

WORKED: list[tuple[str, str, float, Averaging, AqiEdition, int]] = [
    # PM2.5: the 2026 change of the IAQI-100 breakpoint from 75 to 60
    ("pm25-50-2012", "pm25", 50, D, E12, 69),  # (100-50)/(75-35)*(50-35)+50 = 68.75 → 69
    ("pm25-50-2026", "pm25", 50, D, E26, 80),  # (100-50)/(60-35)*(50-35)+50 = 80 → 80
    ("pm25-60-2012", "pm25", 60, D, E12, 82),  # (100-50)/(75-35)*(60-35)+50 = 81.25 → 82
    ("pm25-60-2026", "pm25", 60, D, E26, 100),  # breakpoint 60 → 100
    ("pm25-75-2012", "pm25", 75, D, E12, 100),  # breakpoint 75 → 100
    ("pm25-75-2026", "pm25", 75, D, E26, 114),  # (150-100)/(115-60)*(75-60)+100 = 113.64 → 114
    # 2026 §4.2.4: a PM 1-h mean is indexed against the daily breakpoints
    ("pm25-1h-75-2026", "pm25", 75, H, E26, 114),  # as above: 113.64 → 114
    ("pm10-1h-150-2026", "pm10", 150, H, E26, 112),  # (150-100)/(250-120)*(150-120)+100 = 111.54
    # PM10: the 2026 change of the IAQI-100 breakpoint from 150 to 120
    ("pm10-100-2012", "pm10", 100, D, E12, 75),  # (100-50)/(150-50)*(100-50)+50 = 75
    ("pm10-100-2026", "pm10", 100, D, E26, 86),  # (100-50)/(120-50)*(100-50)+50 = 85.71 → 86
    ("pm10-120-2012", "pm10", 120, D, E12, 85),  # (100-50)/(150-50)*(120-50)+50 = 85
    ("pm10-120-2026", "pm10", 120, D, E26, 100),  # breakpoint 120 → 100
    ("pm10-150-2012", "pm10", 150, D, E12, 100),  # breakpoint 150 → 100
    ("pm10-150-2026", "pm10", 150, D, E26, 112),  # (150-100)/(250-120)*(150-120)+100 = 111.54
    # rounding is UP, never to nearest
    ("pm25-35.1-2012", "pm25", 35.1, D, E12, 51),  # (100-50)/(75-35)*0.1+50 = 50.125 → 51
    ("pm25-0.1-2012", "pm25", 0.1, D, E12, 1),  # 50/35*0.1 = 0.14 → 1
    ("pm25-zero-2026", "pm25", 0, H, E26, 0),  # IAQI 0 at concentration 0
    ("co-24h-3.3-2012", "co", 3.3, D, E12, 83),  # (100-50)/(4-2)*(3.3-2)+50 = 82.5 → 83
]
for _e in BOTH:  # columns the two editions share
    _s = _short(_e)
    WORKED += [
        (f"so2-1h-20-{_s}", "so2", 20, H, _e, 7),  # 50/150*20 = 6.67 → 7
        (f"so2-1h-300-{_s}", "so2", 300, H, _e, 72),  # (100-50)/(500-150)*(300-150)+50 = 71.43
        (f"so2-24h-60-{_s}", "so2", 60, D, _e, 55),  # (100-50)/(150-50)*(60-50)+50 = 55
        (f"so2-24h-1000-{_s}", "so2", 1000, D, _e, 225),  # (300-200)/(1600-800)*200+200 = 225
        (f"no2-1h-50-{_s}", "no2", 50, H, _e, 25),  # 50/100*50 = 25
        (f"no2-1h-150-{_s}", "no2", 150, H, _e, 75),  # (100-50)/(200-100)*(150-100)+50 = 75
        (f"no2-1h-201-{_s}", "no2", 201, H, _e, 101),  # (150-100)/(700-200)*1+100 = 100.1 → 101
        (f"no2-24h-100-{_s}", "no2", 100, D, _e, 110),  # (150-100)/(180-80)*(100-80)+100 = 110
        (f"co-1h-1-{_s}", "co", 1.0, H, _e, 10),  # 50/5*1 = 10
        (f"co-1h-7-{_s}", "co", 7, H, _e, 70),  # (100-50)/(10-5)*(7-5)+50 = 70
        (f"o3-1h-100-{_s}", "o3", 100, H, _e, 32),  # 50/160*100 = 31.25 → 32
        (f"o3-1h-180-{_s}", "o3", 180, H, _e, 75),  # (100-50)/(200-160)*(180-160)+50 = 75
        (f"o3-1h-900-{_s}", "o3", 900, H, _e, 350),  # (400-300)/(1000-800)*(900-800)+300 = 350
        (f"o3-8h-130-{_s}", "o3", 130, H8, _e, 75),  # (100-50)/(160-100)*(130-100)+50 = 75
        (f"o3-8h-170-{_s}", "o3", 170, H8, _e, 110),  # (150-100)/(215-160)*10+100 = 109.09 → 110
    ]


@pytest.mark.parametrize(
    ("pollutant", "concentration", "averaging", "edition", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in WORKED],
)
def test_worked_examples(
    pollutant: str, concentration: float, averaging: Averaging, edition: AqiEdition, expected: int
) -> None:
    assert iaqi(pollutant, concentration, averaging, edition) == expected


# --- above the table -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pollutant", "concentration", "averaging", "edition", "expected"),
    [
        # 2012 note (2): SO2 1-h > 800 has no IAQI (the 24-h mean's is reported instead)
        pytest.param("so2", 800.01, H, E12, None, id="2012-so2-1h-800.01-none"),
        pytest.param("so2", 5000, H, E12, None, id="2012-so2-1h-5000-none"),
        # 2026 note b: SO2 1-h > 800 → 200
        pytest.param("so2", 800.01, H, E26, 200, id="2026-so2-1h-800.01-200"),
        pytest.param("so2", 5000, H, E26, 200, id="2026-so2-1h-5000-200"),
        # 2012 note (3): O3 8-h > 800 has no IAQI (the 1-h value's is reported instead)
        pytest.param("o3", 801, H8, E12, None, id="2012-o3-8h-801-none"),
        # 2026 note c: O3 8-h > 800 → 300
        pytest.param("o3", 801, H8, E26, 300, id="2026-o3-8h-801-300"),
        pytest.param("o3", 3000, H8, E26, 300, id="2026-o3-8h-3000-300"),
        # a full column ends at IAQI 500; past it the index is reported as the maximum
        pytest.param("pm25", 501, D, E12, 500, id="2012-pm25-501-500"),
        pytest.param("pm25", 501, H, E26, 500, id="2026-pm25-1h-501-500"),
        pytest.param("pm10", 1000, D, E26, 500, id="2026-pm10-1000-500"),
        pytest.param("no2", 5000, H, E12, 500, id="2012-no2-1h-5000-500"),
        pytest.param("co", 150.5, H, E26, 500, id="2026-co-1h-150.5-500"),
        pytest.param("o3", 1201, H, E12, 500, id="2012-o3-1h-1201-500"),
        pytest.param("so2", 9999, D, E26, 500, id="2026-so2-24h-9999-500"),
    ],
)
def test_above_the_table(
    pollutant: str,
    concentration: float,
    averaging: Averaging,
    edition: AqiEdition,
    expected: int | None,
) -> None:
    assert iaqi(pollutant, concentration, averaging, edition) == expected


# --- float noise ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pollutant", "concentration", "averaging", "edition", "expected", "naive"),
    [
        # 0.8*3 = 2.4000000000000004; CO 24-h: (100-50)/(4-2)*(2.4-2)+50 = 60 exactly
        pytest.param("co", 0.8 * 3, D, E12, 60, 50 + 50 * (0.8 * 3 - 2) / 2, id="co-24h-2.4"),
        # 0.1*3*500 = 150.00000000000003; NO2 1-h: (100-50)/(200-100)*(150-100)+50 = 75 exactly
        pytest.param(
            "no2", 0.1 * 3 * 500, H, E26, 75, 50 + 50 * (0.1 * 3 * 500 - 100) / 100, id="no2-1h-150"
        ),
        # 1e-12 above the 2026 PM2.5 breakpoint 35: 50 + 50/25*1e-12, i.e. 50
        pytest.param("pm25", 35 + 1e-12, H, E26, 50, 50 + 50 * 1e-12 / 25, id="pm25-35+1e-12"),
    ],
)
def test_float_noise_does_not_round_up_an_integer_index(
    pollutant: str,
    concentration: float,
    averaging: Averaging,
    edition: AqiEdition,
    expected: int,
    naive: float,
) -> None:
    assert math.ceil(naive) == expected + 1  # the input really is noisy: a bare ceil is off by one
    assert iaqi(pollutant, concentration, averaging, edition) == expected


def test_float_noise_below_an_integer_index_still_gives_it() -> None:
    # sum([0.1]*10)*75 = 74.99999999999999, a hair under the 2012 PM2.5 breakpoint 75 → 100
    concentration = sum([0.1] * 10) * 75
    assert concentration < 75
    assert iaqi("pm25", concentration, D, E12) == 100


# --- levels --------------------------------------------------------------------------------------

EXCELLENT: Final = (1, "Excellent", "优", "#00E400")
GOOD: Final = (2, "Good", "良", "#FFFF00")
LIGHT: Final = (3, "Lightly polluted", "轻度污染", "#FF7E00")
MODERATE: Final = (4, "Moderately polluted", "中度污染", "#FF0000")
HEAVY: Final = (5, "Heavily polluted", "重度污染", "#99004C")
SEVERE: Final = (6, "Severely polluted", "严重污染", "#7E0023")


@pytest.mark.parametrize(
    ("aqi", "expected"),
    [
        pytest.param(0, EXCELLENT, id="0"),
        pytest.param(1, EXCELLENT, id="1"),
        pytest.param(50, EXCELLENT, id="50"),
        pytest.param(51, GOOD, id="51"),
        pytest.param(100, GOOD, id="100"),
        pytest.param(101, LIGHT, id="101"),
        pytest.param(150, LIGHT, id="150"),
        pytest.param(151, MODERATE, id="151"),
        pytest.param(200, MODERATE, id="200"),
        pytest.param(201, HEAVY, id="201"),
        pytest.param(300, HEAVY, id="300"),
        pytest.param(301, SEVERE, id="301"),
        pytest.param(500, SEVERE, id="500"),
    ],
)
def test_level_for(aqi: int, expected: tuple[int, str, str, str]) -> None:
    got = level_for(aqi)
    assert tuple(got) == expected
    assert (got.level, got.category, got.category_zh, got.colour) == expected


@pytest.mark.parametrize("aqi", [-1, 501], ids=["-1", "501"])
def test_level_for_refuses_out_of_range(aqi: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        level_for(aqi)


# --- real-time report ----------------------------------------------------------------------------

# 2026 IAQIs of these 1-h means: so2 50/150*20 = 6.67 → 7; no2 50/100*50 = 25; co 50/5*1 = 10;
# o3 50/160*100 = 31.25 → 32; pm10 50/50*40 = 40.
LOW_OTHERS: Final = {"so2": 20.0, "no2": 50.0, "co": 1.0, "o3": 100.0, "pm10": 40.0}


def _fields(r: AqiResult) -> tuple[int | None, tuple[str, ...], int | None, str, str, str]:
    return (r.aqi, r.primary, r.level, r.category, r.category_zh, r.colour)


@pytest.mark.parametrize(
    ("pm25", "expected"),
    [
        pytest.param(35, (50, (), *EXCELLENT), id="50-no-primary"),  # breakpoint 35 → 50
        # (100-50)/(60-35)*0.1+50 = 50.2 → 51
        pytest.param(35.1, (51, ("pm25",), *GOOD), id="51"),
        pytest.param(60, (100, ("pm25",), *GOOD), id="100"),  # 2026 breakpoint 60 → 100
        # (150-100)/(115-60)*0.1+100 = 100.09 → 101
        pytest.param(60.1, (101, ("pm25",), *LIGHT), id="101"),
        pytest.param(115, (150, ("pm25",), *LIGHT), id="150"),
        # (200-150)/(150-115)*0.1+150 = 150.14 → 151
        pytest.param(115.1, (151, ("pm25",), *MODERATE), id="151"),
        pytest.param(150, (200, ("pm25",), *MODERATE), id="200"),
        # (300-200)/(250-150)*0.1+200 = 200.1 → 201
        pytest.param(150.1, (201, ("pm25",), *HEAVY), id="201"),
        pytest.param(250, (300, ("pm25",), *HEAVY), id="300"),
        # (400-300)/(350-250)*0.1+300 = 300.1 → 301
        pytest.param(250.1, (301, ("pm25",), *SEVERE), id="301"),
        pytest.param(500, (500, ("pm25",), *SEVERE), id="500"),
        pytest.param(650, (500, ("pm25",), *SEVERE), id="beyond-table-500"),
    ],
)
def test_realtime_2026_level_boundaries(pm25: float, expected: tuple[object, ...]) -> None:
    r = realtime_aqi({**LOW_OTHERS, "pm25": pm25}, E26)
    assert _fields(r) == expected
    assert r.publishable
    assert r.reported_aqi == str(expected[0])


@pytest.mark.parametrize(
    ("pm25_24h", "expected"),
    [
        # 2012 PM2.5: breakpoint 75 → 100; 75.1: (150-100)/(115-75)*0.1+100 = 100.125 → 101
        pytest.param(75, (100, ("pm25",), *GOOD), id="100"),
        pytest.param(75.1, (101, ("pm25",), *LIGHT), id="101"),
        # 35 → 50; 35.1: (100-50)/(75-35)*0.1+50 = 50.125 → 51
        pytest.param(35, (50, (), *EXCELLENT), id="50-no-primary"),
        pytest.param(35.1, (51, ("pm25",), *GOOD), id="51"),
    ],
)
def test_realtime_2012_level_boundaries(pm25_24h: float, expected: tuple[object, ...]) -> None:
    # 2012 IAQIs of LOW_OTHERS: so2 7, no2 25, co 10, o3 32 (1-h, same columns as 2026);
    # PM from the 24-h moving means: pm10 40 → 50/50*40 = 40.
    r = realtime_aqi(LOW_OTHERS, E12, pm_24h_means={"pm10": 40, "pm25": pm25_24h})
    assert _fields(r) == expected


def test_realtime_2026_uses_1h_means_of_all_six() -> None:
    hourly = {"so2": 20, "no2": 50, "co": 1.0, "o3": 100, "pm10": 100, "pm25": 75}
    r = realtime_aqi(hourly, E26, pm_24h_means={"pm25": 1}, o3_8h_mean=170, so2_24h_mean=1000)
    # so2 7, no2 25, co 10, o3 32 (1-h only: the 8-h mean 170 → 110 is not used),
    # pm10 (100-50)/(120-50)*(100-50)+50 = 85.71 → 86, pm25 (150-100)/(115-60)*15+100 → 114
    assert dict(r.iaqi) == {"so2": 7, "no2": 25, "co": 10, "o3": 32, "pm10": 86, "pm25": 114}
    assert list(r.iaqi) == list(POLLUTANTS)
    assert _fields(r) == (114, ("pm25",), *LIGHT)
    assert dict(r.basis) == dict.fromkeys(POLLUTANTS, H)
    assert r.edition is E26
    assert r.missing == ()
    assert r.publishable


def test_realtime_2012_takes_pm_from_24h_means_and_o3_from_the_larger_of_1h_and_8h() -> None:
    hourly = {"so2": 20, "no2": 50, "co": 1.0, "o3": 100, "pm10": 100, "pm25": 75}
    r = realtime_aqi(hourly, E12, pm_24h_means={"pm10": 100, "pm25": 60}, o3_8h_mean=130)
    # so2 7, no2 25, co 10; o3 1-h 32 vs 8-h (100-50)/(160-100)*30+50 = 75 → 75 (8-h);
    # pm10 24-h (100-50)/(150-50)*50+50 = 75; pm25 24-h (100-50)/(75-35)*25+50 = 81.25 → 82.
    # The 1-h PM means (100, 75) get no sub-index in 2012.
    assert dict(r.iaqi) == {"so2": 7, "no2": 25, "co": 10, "o3": 75, "pm10": 75, "pm25": 82}
    assert _fields(r) == (82, ("pm25",), *GOOD)
    assert r.basis == {"so2": H, "no2": H, "co": H, "o3": H8, "pm10": D, "pm25": D}
    assert r.publishable


def test_realtime_2012_ignores_1h_pm() -> None:
    r = realtime_aqi({"pm25": 400, "pm10": 500}, E12)
    assert r.aqi is None
    assert r.iaqi == {}
    assert r.missing == POLLUTANTS


@pytest.mark.parametrize(
    ("o3_1h", "o3_8h", "expected", "basis"),
    [
        pytest.param(100, 170, 110, H8, id="8h-larger"),  # 1-h 32 < 8-h 109.09 → 110
        pytest.param(180, 130, 75, H, id="tie-keeps-1h"),  # 1-h 75 = 8-h 75
        pytest.param(900, 130, 350, H, id="1h-larger"),  # 1-h 350 > 8-h 75
        pytest.param(180, 900, 75, H, id="8h-over-800-uses-1h"),  # note (3): 8-h has no IAQI
        pytest.param(None, 130, 75, H8, id="8h-alone"),
    ],
)
def test_realtime_2012_o3(
    o3_1h: float | None, o3_8h: float, expected: int, basis: Averaging
) -> None:
    hourly = {} if o3_1h is None else {"o3": o3_1h}
    r = realtime_aqi(hourly, E12, o3_8h_mean=o3_8h)
    assert r.iaqi["o3"] == expected
    assert r.basis["o3"] == basis


def test_realtime_2012_o3_8h_over_800_without_1h_leaves_o3_missing() -> None:
    r = realtime_aqi({"no2": 50}, E12, o3_8h_mean=900)
    assert "o3" not in r.iaqi
    assert "o3" in r.missing
    assert r.aqi == 25


@pytest.mark.parametrize(
    ("so2_1h", "so2_24h", "expected", "basis"),
    [
        # note (2): 1-h 900 > 800 → the 24-h mean's IAQI: (300-200)/(1600-800)*200+200 = 225
        pytest.param(900, 1000, 225, D, id="over-800-falls-back-to-24h"),
        # 1-h 300 → 71.43 → 72; the 24-h mean is not used when the 1-h value has an IAQI
        pytest.param(300, 1000, 72, H, id="1h-used-when-within-table"),
        pytest.param(800, 1000, 200, H, id="exactly-800-is-in-table"),
    ],
)
def test_realtime_2012_so2(so2_1h: float, so2_24h: float, expected: int, basis: Averaging) -> None:
    r = realtime_aqi({"so2": so2_1h}, E12, so2_24h_mean=so2_24h)
    assert r.iaqi["so2"] == expected
    assert r.basis["so2"] == basis


def test_realtime_2012_so2_over_800_without_24h_leaves_so2_missing() -> None:
    r = realtime_aqi({"so2": 900, "no2": 150}, E12)
    assert "so2" not in r.iaqi
    assert "so2" in r.missing
    assert r.aqi == 75  # NO2 1-h 150 → 75
    assert r.publishable  # 2012 has no completeness rule


def test_realtime_2026_so2_over_800_is_200_whatever_the_24h_mean() -> None:
    r = realtime_aqi({"so2": 900}, E26, so2_24h_mean=1000)
    assert r.iaqi == {"so2": 200}
    assert r.basis == {"so2": H}
    assert _fields(r) == (200, ("so2",), *MODERATE)


@pytest.mark.parametrize(
    "hourly",
    [
        pytest.param(
            {"so2": 20, "no2": 200, "co": 1.0, "o3": 100, "pm10": 120, "pm25": 60},
            id="schema-order",
        ),
        pytest.param(
            {"pm25": 60, "pm10": 120, "o3": 100, "co": 1.0, "no2": 200, "so2": 20},
            id="reversed",
        ),
    ],
)
def test_primary_ties_are_all_listed_in_pollutant_order(hourly: Mapping[str, float]) -> None:
    # 2026: no2 1-h 200 → 100, pm10 120 → 100, pm25 60 → 100; so2 7, co 10, o3 32
    r = realtime_aqi(hourly, E26)
    assert r.aqi == 100
    assert r.primary == ("no2", "pm10", "pm25")
    assert list(r.iaqi) == list(POLLUTANTS)


def test_no_primary_at_or_below_50_even_with_a_tie() -> None:
    # 2026: pm25 35 → 50, pm10 50 → 50: tied at the top, but AQI 50 has no primary pollutant
    r = realtime_aqi({**LOW_OTHERS, "pm10": 50, "pm25": 35}, E26)
    assert r.aqi == 50
    assert r.primary == ()


def test_2026_aqi_range_starts_at_1() -> None:
    zero = dict.fromkeys(POLLUTANTS, 0.0)
    r = realtime_aqi(zero, E26)
    assert r.iaqi == dict.fromkeys(POLLUTANTS, 0)
    assert _fields(r) == (1, (), *EXCELLENT)


def test_2012_aqi_can_be_0() -> None:
    zero = {"so2": 0, "no2": 0, "co": 0, "o3": 0}
    r = realtime_aqi(zero, E12, pm_24h_means={"pm10": 0, "pm25": 0})
    assert _fields(r) == (0, (), *EXCELLENT)


@pytest.mark.parametrize("edition", BOTH, ids=_short)
def test_no_pollutant_at_all(edition: AqiEdition) -> None:
    r = realtime_aqi({"temp": 21.5, "noise": 60}, edition)
    assert (r.aqi, r.level, r.category, r.category_zh, r.colour) == (None, None, "", "", "")
    assert r.primary == ()
    assert r.iaqi == {}
    assert r.missing == POLLUTANTS
    assert not r.publishable
    assert r.reported_aqi == "NA"


# --- 2026 §5.3.1: publish the AQI with a pollutant missing only when > 100 -----------------------


@pytest.mark.parametrize(
    ("hourly", "edition", "aqi", "publishable"),
    [
        # pm25 missing; pm10 120 → 100: not > 100, shown as NA
        pytest.param({**LOW_OTHERS, "pm10": 120}, E26, 100, False, id="2026-missing-100-NA"),
        # pm10 120.1: (150-100)/(250-120)*0.1+100 = 100.04 → 101 > 100: published
        pytest.param({**LOW_OTHERS, "pm10": 120.1}, E26, 101, True, id="2026-missing-101"),
        # everything missing but pm25 60 → 100
        pytest.param({"pm25": 60}, E26, 100, False, id="2026-only-pm25-100-NA"),
        # all six present: published whatever the value (max is o3 32)
        pytest.param({**LOW_OTHERS, "pm25": 10}, E26, 40, True, id="2026-complete-40"),
        # 2012 has no such rule: pm missing (no 24-h means), AQI 32 from o3 1-h
        pytest.param(LOW_OTHERS, E12, 32, True, id="2012-missing-32"),
    ],
)
def test_publish_rule(
    hourly: Mapping[str, float], edition: AqiEdition, aqi: int, publishable: bool
) -> None:
    r = realtime_aqi(hourly, edition)
    assert r.aqi == aqi
    assert r.publishable is publishable
    assert r.reported_aqi == (str(aqi) if publishable else "NA")


def test_missing_lists_absent_pollutants_in_order() -> None:
    r = realtime_aqi({"pm25": 60, "no2": 10}, E26)
    assert r.missing == ("so2", "co", "o3", "pm10")


# --- daily report --------------------------------------------------------------------------------

DAILY: Final = {"so2": 60.0, "no2": 100.0, "co": 3.3, "pm10": 120.0, "pm25": 50.0}


def test_daily_2012() -> None:
    r = daily_aqi(DAILY, E12, o3_max_1h=180, o3_max_8h=170)
    # so2 (100-50)/(150-50)*10+50 = 55; no2 (150-100)/(180-80)*20+100 = 110;
    # co (100-50)/(4-2)*1.3+50 = 82.5 → 83; pm10 (100-50)/(150-50)*70+50 = 85;
    # pm25 (100-50)/(75-35)*15+50 = 68.75 → 69; o3 max(1-h 75, 8-h 109.09 → 110) = 110
    assert dict(r.iaqi) == {"so2": 55, "no2": 110, "co": 83, "o3": 110, "pm10": 85, "pm25": 69}
    assert _fields(r) == (110, ("no2", "o3"), *LIGHT)
    assert r.basis == {"so2": D, "no2": D, "co": D, "o3": H8, "pm10": D, "pm25": D}


def test_daily_2026() -> None:
    r = daily_aqi(DAILY, E26, o3_max_1h=180, o3_max_8h=170)
    # as 2012 except pm10 120 → 100 and pm25 (100-50)/(60-35)*15+50 = 80; o3 from 8-h only
    assert dict(r.iaqi) == {"so2": 55, "no2": 110, "co": 83, "o3": 110, "pm10": 100, "pm25": 80}
    assert _fields(r) == (110, ("no2", "o3"), *LIGHT)


def test_daily_o3_max_1h_counts_in_2012_only() -> None:
    # o3 max 1-h 900 → (400-300)/(1000-800)*100+300 = 350; max 8-h 130 → 75
    r12 = daily_aqi({}, E12, o3_max_1h=900, o3_max_8h=130)
    r26 = daily_aqi({}, E26, o3_max_1h=900, o3_max_8h=130)
    assert (r12.aqi, r12.basis["o3"]) == (350, H)
    assert (r26.aqi, r26.basis["o3"]) == (75, H8)


@pytest.mark.parametrize(
    ("edition", "expected"),
    [
        # 2012 note (3): 8-h 900 has no IAQI; the 1-h 180 → (100-50)/(200-160)*20+50 = 75 is used
        pytest.param(E12, (75, ("o3",), *GOOD), id="2012-uses-1h"),
        # 2026 note c: 8-h > 800 → 300 (the 1-h maximum is not used in 2026)
        pytest.param(E26, (300, ("o3",), *HEAVY), id="2026-300"),
    ],
)
def test_daily_o3_8h_over_800(edition: AqiEdition, expected: tuple[object, ...]) -> None:
    r = daily_aqi({}, edition, o3_max_1h=180, o3_max_8h=900)
    assert _fields(r) == expected


def test_daily_2012_o3_8h_over_800_without_1h_leaves_o3_missing() -> None:
    r = daily_aqi({"no2": 100}, E12, o3_max_8h=900)
    assert "o3" in r.missing
    assert r.aqi == 110


def test_daily_2026_missing_pollutant() -> None:
    # no O3 maximum given, so o3 is missing; IAQIs as in test_daily_2026
    r = daily_aqi(DAILY, E26)
    assert r.missing == ("o3",)
    assert r.aqi == 110  # no2 100 → 110
    assert r.publishable  # 110 > 100
    # no2 50/40*20 = 25; the top is then pm10 120 → 100, not > 100 with o3 missing: NA
    low = daily_aqi({**DAILY, "no2": 20}, E26)
    assert low.aqi == 100
    assert not low.publishable


# --- results are values --------------------------------------------------------------------------


def test_result_is_immutable() -> None:
    r = realtime_aqi({"pm25": 60}, E26)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.aqi = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.iaqi["pm25"] = 1  # type: ignore[index]


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "concentration",
    [-0.1, -1e-9, math.nan, math.inf, -math.inf],
    ids=["-0.1", "-1e-9", "nan", "inf", "-inf"],
)
def test_iaqi_refuses_bad_concentrations(concentration: float) -> None:
    with pytest.raises(ValueError, match="pm25 concentration"):
        iaqi("pm25", concentration, D, E26)


@pytest.mark.parametrize(
    ("pollutant", "averaging", "edition", "message"),
    [
        pytest.param("pm25", H, E12, "HJ633-2012 has no 1h .* pm25", id="2012-pm25-1h"),
        pytest.param("pm10", H, E12, "HJ633-2012 has no 1h .* pm10", id="2012-pm10-1h"),
        pytest.param("pm25", H8, E26, "HJ633-2026 has no 8h .* pm25", id="2026-pm25-8h"),
        pytest.param("o3", D, E12, "HJ633-2012 has no 24h .* o3", id="2012-o3-24h"),
        pytest.param("o3", D, E26, "HJ633-2026 has no 24h .* o3", id="2026-o3-24h"),
        pytest.param("so2", H8, E26, "HJ633-2026 has no 8h .* so2", id="2026-so2-8h"),
        pytest.param("co", H8, E12, "HJ633-2012 has no 8h .* co", id="2012-co-8h"),
        pytest.param("tsp", D, E26, "'tsp' is not an AQI pollutant", id="tsp"),
        pytest.param("PM2.5", D, E26, "'PM2.5' is not an AQI pollutant", id="PM2.5"),
        pytest.param("pm25", D, "HJ633-2099", "unknown AQI edition", id="unknown-edition"),
    ],
)
def test_iaqi_refuses_combinations_the_edition_lacks(
    pollutant: str, averaging: Averaging, edition: AqiEdition, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        iaqi(pollutant, 10, averaging, edition)


def test_string_values_of_the_enums_work() -> None:
    # StrEnum members equal their values: configuration may carry plain strings
    assert iaqi("pm25", 75, "1h", "HJ633-2026") == 114  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda: realtime_aqi({"pm2.5": 10}, E26), "'pm2.5' is not a Lantian metric",
                     id="realtime-unknown-metric"),
        pytest.param(lambda: realtime_aqi({"pm25": -1}, E26), "pm25 concentration",
                     id="realtime-negative"),
        pytest.param(lambda: realtime_aqi({}, E12, o3_8h_mean=math.nan), "o3 concentration",
                     id="realtime-nan-o3-8h"),
        pytest.param(lambda: realtime_aqi({"so2": 10}, E12, so2_24h_mean=-5), "so2 concentration",
                     id="realtime-negative-so2-24h"),
        pytest.param(lambda: realtime_aqi({}, E12, pm_24h_means={"pm25": math.inf}),
                     "pm25 concentration", id="realtime-inf-pm-24h"),
        pytest.param(lambda: realtime_aqi({}, E12, pm_24h_means={"so2": 10}), "pm10 and pm25 only",
                     id="realtime-so2-in-pm-24h"),
        pytest.param(lambda: realtime_aqi({}, "HJ633-2099"), "unknown AQI edition",  # type: ignore[arg-type]
                     id="realtime-unknown-edition"),
        pytest.param(lambda: daily_aqi({"o3": 100}, E26), "must not carry o3",
                     id="daily-o3-mean"),
        pytest.param(lambda: daily_aqi({"PM10": 100}, E26), "'PM10' is not a Lantian metric",
                     id="daily-unknown-metric"),
        pytest.param(lambda: daily_aqi({}, E26, o3_max_8h=-1), "o3 concentration",
                     id="daily-negative-o3-8h"),
        pytest.param(lambda: daily_aqi({}, E12, o3_max_1h=math.nan, o3_max_8h=100),
                     "o3 concentration", id="daily-nan-o3-1h"),
    ],
)  # fmt: skip
def test_report_functions_refuse_bad_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_other_lantian_metrics_are_ignored() -> None:
    r = realtime_aqi({"pm25": 60, "tsp": 900, "pm1": 50, "wind_speed": 3}, E26)
    assert r.iaqi == {"pm25": 100}


def test_the_same_sub_indices_give_the_same_report_built_once() -> None:
    # PM10 55.3 and 55.4 µg/m³ both index to 54: a station's hour moving by a little
    first, again = realtime_aqi({"pm10": 55.3}, E26), realtime_aqi({"pm10": 55.4}, E26)
    assert again is first
    assert (first.aqi, dict(first.iaqi), first.missing[:1]) == (54, {"pm10": 54}, ("so2",))
    moved = realtime_aqi({"pm10": 60.0}, E26)
    assert moved.aqi == 58 and moved is not first
    assert realtime_aqi({"pm10": 55.3}, AqiEdition.HJ633_2012,
                        pm_24h_means={"pm10": 55.3}) is not first  # the edition counts
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.aqi = 1  # type: ignore[misc]  # shared, so it must not change


# -- rounding up without round() where it cannot matter -----------------------------------


@given(st.one_of(
    st.floats(0, 600),
    # at and around the integers, where rounding to 9 decimals can land on one or cross it
    st.builds(lambda n, k: n + k * 1e-10, st.integers(0, 500), st.integers(-30, 30)),
    st.builds(lambda n, d: n + d, st.integers(0, 500),
              st.sampled_from([5e-10, -5e-10, 1e-9, -1e-9, 1.0000001e-9, -1.0000001e-9,
                               4.9e-10, 5.1e-10, 1e-13, -1e-13])),
))
def test_round_up_is_rounding_to_9_decimals_then_up(exact: float) -> None:
    assert _round_up(exact) == math.ceil(round(exact, 9))


def test_float_noise_still_rounds_down_to_the_integer() -> None:
    assert _round_up(0.8 * 3 * 25) == 60  # 60.00000000000001
    assert (_round_up(60.0000000004), _round_up(60.0000000006), _round_up(59.9999999996)) == (
        60, 61, 60)
