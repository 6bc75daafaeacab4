"""A station's real-time AQI, from its own readings, as a metric rules can use (`aqi`).

HJ 633-2026 §4.2.4: all six pollutants' 1-hour means, PM against the daily breakpoints.
An hourly reading is its own 1-hour mean; finer readings are averaged over the last hour
in a shared window (`rules._windows`), per interval, so a station sending real-time and
minute data is not counted twice. HJ 633-2012 takes PM's sub-index from the 24-hour
moving mean, kept here from hourly readings. The index itself is `rules._aqi`.
"""

from __future__ import annotations

from typing import Final

from rules._aqi import AqiResult, realtime_aqi
from rules._aqi_tables import AqiEdition
from rules._records import VALID_FLAG, Interval, Reading
from rules._sites import Site
from rules._window import Window
from rules._windows import Windows, shared_window

__all__ = ["AqiWindows", "station_aqi"]

#: (subject, interval) -> its pollutants' 1-hour windows, in `_AQI_POLLUTANTS` order: the
#: registry's windows looked up once, not six keys built and hashed on every reading
#: (derived from the registry, never stored)
AqiWindows = dict[tuple[str, Interval], tuple[tuple[str, Window], ...]]

_AQI_POLLUTANTS: Final = ("pm25", "pm10", "so2", "no2", "o3", "co")
_PM: Final = ("pm25", "pm10")
_HOUR: Final = 3600.0
_DAY: Final = 86400.0


def station_aqi(
    windows: Windows, hours: AqiWindows, site: Site, reading: Reading, t: float,
    edition: AqiEdition,
) -> AqiResult | None:
    """The real-time AQI after `reading` (None: the reading carries no AQI pollutant,
    or is a daily one)."""
    values = reading.values
    if reading.interval is Interval.DAY or not any(p in values for p in _AQI_POLLUTANTS):
        return None
    hourly: dict[str, float] = {}
    daily: dict[str, float] = {}
    if reading.interval is Interval.HOUR:
        for p in _AQI_POLLUTANTS:
            m = values.get(p)
            value = m.value if m is not None and m.flag == VALID_FLAG else None
            if value is not None:
                hourly[p] = value
            if p in _PM and edition is AqiEdition.HJ633_2012:
                day = shared_window(windows, site.subject, p, Interval.HOUR, _DAY, True)
                if value is not None:
                    day.push(t, value)
                if (mean := day.mean()) is not None:
                    daily[p] = mean
    else:
        key = (site.subject, reading.interval)
        found = hours.get(key)
        if found is None:
            found = hours[key] = tuple(
                (p, shared_window(windows, site.subject, p, reading.interval, _HOUR, True))
                for p in _AQI_POLLUTANTS
            )
        for p, hour in found:
            m = values.get(p)
            if m is not None and m.flag == VALID_FLAG:
                hour.push(t, m.value)
            if (mean := hour.mean()) is not None:
                hourly[p] = mean
    # the 2026 edition has no 24-hour PM rule and takes no notice of them
    return realtime_aqi(hourly, edition, pm_24h_means=daily)
