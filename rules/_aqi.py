"""Air Quality Index (AQI) per HJ 633-2012 and HJ 633-2026: pure functions over mean concentrations.

Source of truth: /work/shared/reference/hj212_aqi.md, section 4 (4.1 formula, 4.2 and 4.3 the
reports). The breakpoint and level tables, and how the editions differ, are data in
`rules._aqi_tables`. Pollutant names are the Lantian metric names
(`rules._records.METRIC_UNITS`): so2, no2, co, o3, pm10, pm25; µg/m³ except CO in mg/m³.

What both editions share: IAQI = linear interpolation between adjacent breakpoints, rounded UP
to an integer; AQI = the largest IAQI; the primary pollutant is the one with the largest IAQI
when AQI > 50 (ties all listed); six levels with the same colours; every breakpoint but two.

Choices the reference leaves open, made here:

- Above the top breakpoint of a full column (e.g. PM2.5 > 500) the table simply ends; the IAQI
  is reported as the maximum, 500, consistent with 2026's "AQI range 1-500".
- Rounding up is done on the interpolated value rounded to 9 decimals, so float noise such as
  60.00000000000001 (from a concentration of 0.8 * 3) gives 60, not 61. Anything within 1e-9 of
  an integer IAQI counts as that integer; no instrument resolves the concentration difference.
- Concentrations are indexed as given. 2026 rounds published daily concentrations per GB/T 8170;
  the reference states that for what is reported, not as a step of the index, so rounding them
  (and passing the rounded means) is the caller's choice.
- O3 may have two sub-indices (2012: 1-h and 8-h). `AqiResult.iaqi["o3"]` is the larger, the one
  that counts toward the AQI, and `AqiResult.basis["o3"]` says which (the 1-h one on a tie).
- The stable order for primary pollutants, `iaqi` and `missing` is `POLLUTANTS`: so2, no2, co,
  o3, pm10, pm25, the column order of GB 3095's basic items and of the 2026 table.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from rules._aqi_tables import (
    IAQI_ROWS,
    POLLUTANTS,
    TABLES,
    AqiEdition,
    Averaging,
    Table,
    level_for,
)
from rules._records import METRIC_UNITS

__all__ = ["AqiResult", "daily_aqi", "iaqi", "realtime_aqi"]

# 9 decimals: far below any meaningful IAQI difference, far above float noise at IAQI <= 500.
_NOISE_DECIMALS: Final = 9

_H, _D, _8H = Averaging.HOUR, Averaging.DAY, Averaging.O3_8H

_EMPTY_INDEX: Final[Mapping[str, int]] = MappingProxyType({})
_EMPTY_BASIS: Final[Mapping[str, Averaging]] = MappingProxyType({})
_PM: Final = frozenset({"pm10", "pm25"})


@dataclass(frozen=True, slots=True)
class AqiResult:
    """One AQI report (real-time or daily) under one edition.

    `iaqi` and `basis` (which averaging each sub-index came from) hold the pollutants that got a
    sub-index, in `POLLUTANTS` order; `missing` lists the others. `primary` is empty when
    AQI <= 50. `level`, `category`, `category_zh` and `colour` follow `aqi` (None/"" without one).

    `publishable` models 2026 §5.3.1: with a pollutant missing, the AQI is computed from the rest
    but published only if > 100; otherwise the report shows the concentrations and sub-indices
    and "NA" for the AQI and everything derived from it (level, category, colour, primary).
    Those fields still hold the computed values for internal use; `reported_aqi` is what to
    show. Under 2012 any computed AQI is publishable.
    """

    aqi: int | None
    iaqi: Mapping[str, int]
    primary: tuple[str, ...]
    level: int | None
    category: str
    category_zh: str
    colour: str
    edition: AqiEdition
    publishable: bool
    missing: tuple[str, ...]
    basis: Mapping[str, Averaging]

    @property
    def reported_aqi(self) -> str:
        """The AQI as a report shows it: the number, or "NA" when it may not be published."""
        return str(self.aqi) if self.publishable and self.aqi is not None else "NA"


def iaqi(
    pollutant: str, concentration: float, averaging: Averaging, edition: AqiEdition
) -> int | None:
    """The individual index of one concentration, rounded up.

    None only under 2012 past the end of the SO2 1-h or O3 8-h column (> 800): that value has
    no IAQI and the report uses the 24-h SO2 / 1-h O3 value instead. Past the end of a full
    column the IAQI is 500. Under 2026, PM 1-h means are accepted with `Averaging.HOUR` and
    indexed against the daily breakpoints (§4.2.4); under 2012 that combination raises, as 2012
    gives 1-h PM no sub-index. ValueError also for a negative or non-finite concentration and for
    any other (pollutant, averaging) the edition's table does not have.
    """
    return _index(_table(pollutant, averaging, edition), _checked(pollutant, concentration))


def realtime_aqi(
    hourly_means: Mapping[str, float],
    edition: AqiEdition,
    *,
    pm_24h_means: Mapping[str, float] | None = None,
    o3_8h_mean: float | None = None,
    so2_24h_mean: float | None = None,
) -> AqiResult:
    """The real-time (hourly) AQI report.

    2026: the 1-h means in `hourly_means` of all six pollutants, PM against the daily
    breakpoints, O3 1-h only; the keyword arguments are not used.
    2012: 1-h SO2, NO2, CO and O3 from `hourly_means` plus `o3_8h_mean` (the O3 8-h moving mean)
    if given; PM sub-indices from `pm_24h_means` (24-h moving means, keys pm10/pm25), the 1-h PM
    means having none. SO2 1-h > 800 is replaced by `so2_24h_mean`'s IAQI if given, else SO2 is
    missing.

    A pollutant absent from the inputs is missing. Keys of `hourly_means` may be any Lantian
    metric (the others are ignored); a name that is not one raises ValueError.
    """
    _check_edition(edition)
    _check_names(hourly_means, "hourly_means")
    sub: dict[str, tuple[int, Averaging]] = {}
    if edition == AqiEdition.HJ633_2026:
        for p in POLLUTANTS:
            if p in hourly_means:
                _put(sub, p, iaqi(p, hourly_means[p], _H, edition), _H)
        return _result(sub, edition)
    if pm_24h_means is not None:
        extra = sorted(k for k in pm_24h_means if k not in _PM)
        if extra:
            raise ValueError(
                f"pm_24h_means takes pm10 and pm25 only, not {extra}"
                " (an SO2 24-h mean goes in so2_24h_mean)"
            )
    for p in ("so2", "no2", "co"):
        if p in hourly_means:
            _put(sub, p, iaqi(p, hourly_means[p], _H, edition), _H)
    if so2_24h_mean is not None:
        so2_day = iaqi("so2", so2_24h_mean, _D, edition)
        if "so2" in hourly_means and "so2" not in sub:
            _put(sub, "so2", so2_day, _D)
    _put_o3(sub, hourly_means.get("o3"), o3_8h_mean, edition)
    if pm_24h_means is not None:
        for p in ("pm10", "pm25"):
            if p in pm_24h_means:
                _put(sub, p, iaqi(p, pm_24h_means[p], _D, edition), _D)
    return _result(sub, edition)


def daily_aqi(
    daily_means: Mapping[str, float],
    edition: AqiEdition,
    *,
    o3_max_1h: float | None = None,
    o3_max_8h: float | None = None,
) -> AqiResult:
    """The daily AQI report: 24-h means of SO2, NO2, CO, PM10 and PM2.5 in `daily_means`, O3 from
    its daily maxima.

    2012: O3 from `o3_max_1h` (1-h column) and `o3_max_8h` (8-h column), the larger counting;
    an 8-h max above 800 has no IAQI, so the 1-h one stands alone.
    2026: O3 from `o3_max_8h` only (> 800 → 300); `o3_max_1h` is not used.

    A daily O3 mean in `daily_means` raises ValueError: O3 is indexed by its maxima, not its mean.
    Other keys are handled as in `realtime_aqi`.
    """
    _check_edition(edition)
    _check_names(daily_means, "daily_means")
    if "o3" in daily_means:
        raise ValueError("daily_means must not carry o3: pass o3_max_8h (and o3_max_1h for 2012)")
    sub: dict[str, tuple[int, Averaging]] = {}
    for p in ("so2", "no2", "co", "pm10", "pm25"):
        if p in daily_means:
            _put(sub, p, iaqi(p, daily_means[p], _D, edition), _D)
    one_hour = o3_max_1h if edition == AqiEdition.HJ633_2012 else None
    _put_o3(sub, one_hour, o3_max_8h, edition)
    return _result(sub, edition)


def _check_edition(edition: AqiEdition) -> None:
    if edition not in TABLES:
        raise ValueError(f"unknown AQI edition {edition!r} (one of {', '.join(AqiEdition)})")


def _table(pollutant: str, averaging: Averaging, edition: AqiEdition) -> Table:
    _check_edition(edition)
    table = TABLES[edition].get((pollutant, averaging))
    if table is not None:
        return table
    if pollutant not in POLLUTANTS:
        raise ValueError(f"{pollutant!r} is not an AQI pollutant (one of {', '.join(POLLUTANTS)})")
    why = ""
    if pollutant in _PM and averaging == _H:
        why = ": its real-time report indexes PM by the 24-h moving mean"
    elif pollutant == "o3":
        why = ": O3 is indexed by its 1-h value or 8-h moving mean"
    raise ValueError(f"{edition} has no {averaging} IAQI breakpoints for {pollutant}{why}")


def _checked(pollutant: str, concentration: float) -> float:
    if not math.isfinite(concentration) or concentration < 0:
        raise ValueError(f"{pollutant} concentration {concentration!r} is not finite and >= 0")
    return concentration


def _index(table: Table, c: float) -> int | None:
    bps = table.breakpoints
    # bisect_left puts a value equal to a breakpoint at the top of the segment below it: the
    # result is the same either way, and c == 0 lands on index 0.
    i = bisect_left(bps, c)
    if i == 0:
        return 0
    if i == len(bps):
        return table.beyond
    lo, hi = bps[i - 1], bps[i]
    i_lo, i_hi = IAQI_ROWS[i - 1], IAQI_ROWS[i]
    # multiply before dividing: the table values are exact in binary, so error stays minimal
    return _round_up(i_lo + (i_hi - i_lo) * (c - lo) / (hi - lo))


def _round_up(exact: float) -> int:
    """`exact` rounded to 9 decimals, then up (the module's note on float noise).

    round() is most of an IAQI's cost (a station's AQI is worked out on every reading), and
    it can only matter within 1e-9 of an integer: rounding to 9 decimals moves a value by
    at most 5e-10 (plus an ulp, ~1e-13 at 500), so a value further than 1e-9 from both
    integers around it stays strictly between them and rounds up to the same one."""
    up = math.ceil(exact)
    if up - exact > 1e-9 and exact - (up - 1) > 1e-9:
        return up
    return math.ceil(round(exact, _NOISE_DECIMALS))


def _put(
    sub: dict[str, tuple[int, Averaging]], pollutant: str, value: int | None, basis: Averaging
) -> None:
    if value is not None:
        sub[pollutant] = (value, basis)


def _put_o3(
    sub: dict[str, tuple[int, Averaging]],
    one_hour: float | None,
    eight_hour: float | None,
    edition: AqiEdition,
) -> None:
    # Index both before comparing so that a bad value raises even when the other would win.
    hour = None if one_hour is None else iaqi("o3", one_hour, _H, edition)
    eight = None if eight_hour is None else iaqi("o3", eight_hour, _8H, edition)
    if eight is not None and (hour is None or eight > hour):
        sub["o3"] = (eight, _8H)
    elif hour is not None:
        sub["o3"] = (hour, _H)


def _check_names(means: Mapping[str, float], argument: str) -> None:
    for name in means:
        if name not in METRIC_UNITS:
            raise ValueError(
                f"{argument}: {name!r} is not a Lantian metric (AQI pollutants: "
                f"{', '.join(POLLUTANTS)})"
            )


def _result(sub: Mapping[str, tuple[int, Averaging]], edition: AqiEdition) -> AqiResult:
    return _report(tuple(sub.items()), edition)


# A station's real-time AQI is worked out on each of its readings, and its sub-indices
# (whole numbers) rarely move between two: the same report, immutable, is built once.
# Building it cost more than the indices themselves (some 4 of 7.5 us).
@lru_cache(maxsize=1024)
def _report(
    items: tuple[tuple[str, tuple[int, Averaging]], ...], edition: AqiEdition
) -> AqiResult:
    sub = dict(items)
    missing = tuple(p for p in POLLUTANTS if p not in sub)
    if not sub:
        return AqiResult(
            aqi=None,
            iaqi=_EMPTY_INDEX,
            primary=(),
            level=None,
            category="",
            category_zh="",
            colour="",
            edition=edition,
            publishable=False,
            missing=missing,
            basis=_EMPTY_BASIS,
        )
    index = {p: sub[p][0] for p in POLLUTANTS if p in sub}
    top = max(index.values())
    # 2026 §4: the AQI range is 1-500, so an all-zero hour still reports 1 (level 1 is "1~50").
    aqi = max(top, 1) if edition == AqiEdition.HJ633_2026 else top
    primary = tuple(p for p, v in index.items() if v == top) if aqi > 50 else ()
    level = level_for(aqi)
    publishable = edition == AqiEdition.HJ633_2012 or not missing or aqi > 100
    return AqiResult(
        aqi=aqi,
        iaqi=MappingProxyType(index),
        primary=primary,
        level=level.level,
        category=level.category,
        category_zh=level.category_zh,
        colour=level.colour,
        edition=edition,
        publishable=publishable,
        missing=missing,
        basis=MappingProxyType({p: sub[p][1] for p in index}),
    )
