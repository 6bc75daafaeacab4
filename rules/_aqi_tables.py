"""The AQI tables of HJ 633-2012 and HJ 633-2026, as data: breakpoints per pollutant and
averaging period, what lies beyond a column's end, and the six levels with their colours.

Source of truth: /work/shared/reference/hj212_aqi.md, section 4 (4.2 the 2012 table, 4.3
the 2026 table, 4.4 levels and colours). Pollutant names are the Lantian metric names
(`rules._records.METRIC_UNITS`); µg/m³ except CO in mg/m³. The index computed from them
is `rules._aqi`.

What HJ 633-2026 (in force since 2026-03-01) changes from HJ 633-2012 (section 4.3):

- PM breakpoints at IAQI 100: PM2.5 75 → 60 µg/m³, PM10 150 → 120 µg/m³ (daily columns).
- Beyond the end of a short column: SO2 1-h above 800 has no IAQI in 2012 (the 24-h mean's IAQI
  is reported instead) but IAQI 200 in 2026; O3 8-h above 800 has no IAQI in 2012 (the 1-h
  value's is reported) but IAQI 300 in 2026.
- Real-time report: 2012 indexes the 1-h SO2, NO2, CO, O3 and the O3 8-h moving mean, and takes
  the PM sub-indices from the 24-h moving means; 2026 indexes the 1-h means of all six, PM
  against the daily breakpoints (§4.2.4), O3 by its 1-h value only.
- Daily report: 2012 indexes O3 by both its daily max 1-h and daily max 8-h; 2026 by the daily
  max 8-h only.
- 2026's AQI range is 1-500, and when a pollutant is missing the AQI is published only if it is
  above 100, otherwise shown as "NA" (§5.3.1). The reference records no such rule for 2012.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple

__all__ = [
    "AQI_MAX",
    "IAQI_ROWS",
    "POLLUTANTS",
    "TABLES",
    "AqiEdition",
    "AqiLevel",
    "Averaging",
    "Table",
    "level_for",
]


class AqiEdition(StrEnum):
    HJ633_2012 = "HJ633-2012"
    HJ633_2026 = "HJ633-2026"


class Averaging(StrEnum):
    """The averaging period a concentration covers, which picks the breakpoint column."""

    HOUR = "1h"
    DAY = "24h"
    O3_8H = "8h"


#: The six AQI pollutants, in the order used for primary pollutants and result mappings.
POLLUTANTS: Final[tuple[str, ...]] = ("so2", "no2", "co", "o3", "pm10", "pm25")

#: IAQI at each row of the breakpoint tables (section 4.2/4.3, first column).
IAQI_ROWS: Final[tuple[int, ...]] = (0, 50, 100, 150, 200, 300, 400, 500)

#: The maximum index: what a concentration past the end of a full column is reported as.
AQI_MAX: Final = 500

_H, _D, _8H = Averaging.HOUR, Averaging.DAY, Averaging.O3_8H
_Key = tuple[str, Averaging]
_Column = tuple[float, ...]

# Concentration at IAQI 0, 50, 100, ... for each (pollutant, averaging); a column shorter than
# IAQI_ROWS ends early (SO2 1-h and O3 8-h stop at 800, where the editions' notes take over).
_SAME_IN_BOTH: Final[Mapping[_Key, _Column]] = {
    ("so2", _D): (0, 50, 150, 475, 800, 1600, 2100, 2620),
    ("so2", _H): (0, 150, 500, 650, 800),
    ("no2", _D): (0, 40, 80, 180, 280, 565, 750, 940),
    ("no2", _H): (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    ("co", _D): (0, 2, 4, 14, 24, 36, 48, 60),
    ("co", _H): (0, 5, 10, 35, 60, 90, 120, 150),
    ("o3", _H): (0, 160, 200, 300, 400, 800, 1000, 1200),
    ("o3", _8H): (0, 100, 160, 215, 265, 800),
}
_PM_2012: Final[Mapping[_Key, _Column]] = {
    ("pm10", _D): (0, 50, 150, 250, 350, 420, 500, 600),
    ("pm25", _D): (0, 35, 75, 115, 150, 250, 350, 500),
}
_PM_2026: Final[Mapping[_Key, _Column]] = {
    ("pm10", _D): (0, 50, 120, 250, 350, 420, 500, 600),
    ("pm25", _D): (0, 35, 60, 115, 150, 250, 350, 500),
}

# What a concentration past the last breakpoint gets, where it is not simply AQI_MAX.
# None = no IAQI from this value (2012 notes 2 and 3: the report uses another averaging).
_BEYOND: Final[Mapping[AqiEdition, Mapping[_Key, int | None]]] = {
    AqiEdition.HJ633_2012: {("so2", _H): None, ("o3", _8H): None},
    AqiEdition.HJ633_2026: {("so2", _H): 200, ("o3", _8H): 300},
}


class Table(NamedTuple):
    breakpoints: _Column
    beyond: int | None


def _build(edition: AqiEdition, columns: Mapping[_Key, _Column]) -> Mapping[_Key, Table]:
    beyond = _BEYOND[edition]
    return MappingProxyType(
        {
            key: Table(tuple(map(float, col)), beyond.get(key, AQI_MAX))
            for key, col in columns.items()
        }
    )


TABLES: Final[Mapping[AqiEdition, Mapping[_Key, Table]]] = MappingProxyType(
    {
        AqiEdition.HJ633_2012: _build(AqiEdition.HJ633_2012, {**_SAME_IN_BOTH, **_PM_2012}),
        AqiEdition.HJ633_2026: _build(
            AqiEdition.HJ633_2026,
            {
                **_SAME_IN_BOTH,
                **_PM_2026,
                # §4.2.4: the real-time report evaluates PM 1-h means against the daily
                # breakpoints, so 2026 has (pm, 1h) columns; 2012 gives 1-h PM no sub-index.
                ("pm10", _H): _PM_2026[("pm10", _D)],
                ("pm25", _H): _PM_2026[("pm25", _D)],
            },
        ),
    }
)


class AqiLevel(NamedTuple):
    """One row of the level table (section 4.4). English names are usual renderings."""

    level: int
    category: str
    category_zh: str
    colour: str


_LEVEL_TOPS: Final[tuple[int, ...]] = (50, 100, 150, 200, 300, AQI_MAX)
_LEVELS: Final[tuple[AqiLevel, ...]] = (
    AqiLevel(1, "Excellent", "优", "#00E400"),
    AqiLevel(2, "Good", "良", "#FFFF00"),
    AqiLevel(3, "Lightly polluted", "轻度污染", "#FF7E00"),
    AqiLevel(4, "Moderately polluted", "中度污染", "#FF0000"),
    AqiLevel(5, "Heavily polluted", "重度污染", "#99004C"),
    AqiLevel(6, "Severely polluted", "严重污染", "#7E0023"),
)


def level_for(aqi: int) -> AqiLevel:
    """Level, categories and colour of an AQI in 0..500 (level 1 starts at 1 in 2026, at 0 in
    2012; 0 is accepted here since 2012 can produce it)."""
    if not 0 <= aqi <= AQI_MAX:
        raise ValueError(f"AQI {aqi!r} is outside 0..{AQI_MAX}")
    return _LEVELS[bisect_left(_LEVEL_TOPS, aqi)]
