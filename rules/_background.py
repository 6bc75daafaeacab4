"""Background: the hourly mean of reference stations, which a background rule subtracts
from a site's value ("the site's own contribution over the city's air").

The reference stations' valid values are summed per clock hour of record time; a rule
compares against the mean of the stations' means for the hour so far, or for the hour
before while none has reported in this one yet. Three hours are kept per series, and
only the series a rule reads (`Ruleset.background_metrics`): a reference station's
other metrics (temperature, wind, ...) would cost as much again and never be read.
"""

from __future__ import annotations

import math
from typing import Final

from rules._records import VALID_FLAG, Interval, Reading
from rules._ruleset import Ruleset, ThresholdRule

__all__ = ["Hourly", "background", "feed_background"]

_HOUR: Final = 3600.0

#: (station, metric) -> hour start (epoch seconds) -> [sum, count]
Hourly = dict[tuple[str, str], dict[float, list[float]]]


def feed_background(hourly: Hourly, reading: Reading, t: float, rs: Ruleset) -> None:
    """Keep hourly sums of the reference stations' valid values for background rules."""
    metrics = rs.background_metrics.get(reading.station)
    if metrics is None or reading.interval is Interval.DAY:
        return
    hour = t - t % _HOUR
    values = reading.values
    for metric in metrics:
        m = values.get(metric)
        if m is None or m.flag != VALID_FLAG:
            continue
        key = (reading.station, metric)
        hours = hourly.get(key)
        if hours is None:
            hours = hourly[key] = {}
        acc = hours.get(hour)
        if acc is None:
            acc = hours[hour] = [0.0, 0.0]
            for old in [h for h in hours if h < hour - 2 * _HOUR]:
                del hours[old]
        acc[0] += m.value
        acc[1] += 1


def background(hourly: Hourly, rule: ThresholdRule, t: float) -> float | None:
    """The mean of the reference stations' means for the hour containing `t` (so far),
    or for the hour before when none has reported in this one yet."""
    assert rule.background is not None
    hour = t - t % _HOUR
    for h in (hour, hour - _HOUR):
        means = []
        for station in rule.background:
            acc = hourly.get((station, rule.metric), {}).get(h)
            if acc is not None and acc[1]:
                means.append(acc[0] / acc[1])
        if means:
            return math.fsum(means) / len(means)
    return None
