"""The HJ 212 codes Lantian reads: which CNs are data uploads and of what interval, the
names of the others, and which factor codes are Lantian metrics, by value field.

Noise (LA, Leq) comes as `-Rtd` in real-time data, and in interval data both as the
standard's `-Data` (HJ 212-2017 C.26-C.28) and as the `-Avg` some devices send.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from rules.records import Interval

__all__ = ["CN_NAMES", "INTERVALS", "VALUE_FIELDS"]

INTERVALS: Final[Mapping[str, Interval]] = MappingProxyType(
    {"2011": Interval.INSTANT, "2051": Interval.MINUTE, "2061": Interval.HOUR, "2031": Interval.DAY}
)

#: Short names of the CNs in reference §1.3 (2017) and §1.8 (2025), for rejection reasons.
CN_NAMES: Final[Mapping[str, str]] = MappingProxyType({
    "1000": "set timeout and retries", "1001": "data-logger serial", "1002": "set MN",
    "1011": "site clock", "1012": "set site clock", "1013": "clock calibration request",
    "1014": "secret key", "1061": "real-time interval", "1062": "set real-time interval",
    "1063": "minute interval", "1064": "set minute interval", "1072": "set password",
    "2012": "stop real-time data", "2013": "raw monitoring data",
    "2021": "facility run state", "2022": "stop facility run state",
    "2041": "facility run time", "2052": "single noise measurement",
    "2062": "standard-check data", "2081": "data-logger power-on time",
    "2111": "furnace temperature", "3011": "calibrate", "3012": "sample now",
    "3013": "clean or blow back", "3014": "comparison sampling",
    "3015": "overproof sample keeping", "3016": "sampling period", "3017": "sampling period",
    "3018": "sample time", "3019": "instrument SN", "3020": "site information",
    "3021": "set site parameter", "3022": "sample-keeping task", "3024": "start standard check",
    "9011": "request answer", "9012": "execution result", "9013": "notification answer",
    "9014": "data answer", "9015": "heartbeat",
})  # fmt: skip

#: factor code -> Lantian metric. Device units are taken to be Lantian's (µg/m³, CO mg/m³,
#: kPa...); a station whose device differs has `unit_factors` in config.
_METRICS: Final[Mapping[str, str]] = MappingProxyType({
    "a34001": "tsp", "a34002": "pm10", "a34004": "pm25", "a34005": "pm1",
    "a21026": "so2", "a21004": "no2", "a05024": "o3", "O3": "o3", "a21005": "co",
    "LA": "noise", "Leq": "noise", "a01007": "wind_speed", "a01008": "wind_dir",
    "a01001": "temp", "a01002": "rh", "a01006": "pressure",
})  # fmt: skip


class _Factor(NamedTuple):
    """What to do with a mapped factor's value field, for data of one interval."""

    metric: str
    outranked_by: str | None  # a field that, when present, is the value instead of this one
    min: str | None
    max: str | None
    flag: str


def _value_fields(interval: Interval) -> dict[str, _Factor]:
    """Value field name -> _Factor, spelled out once here rather than for every packet."""
    fields = {}
    for code, metric in _METRICS.items():
        if interval is Interval.INSTANT:
            fields[f"{code}-Rtd"] = _Factor(metric, None, None, None, f"{code}-Flag")
            continue
        low, high, flag = f"{code}-Min", f"{code}-Max", f"{code}-Flag"
        fields[f"{code}-Avg"] = _Factor(metric, None, low, high, flag)
        if interval is Interval.MINUTE:  # minute data sent as -Rtd: a known dialect
            fields[f"{code}-Rtd"] = _Factor(metric, f"{code}-Avg", low, high, flag)
        if metric == "noise":
            # The standard's noise interval data (C.26-C.28) is `Leq-Data`, not -Avg;
            # devices send both spellings, and the first one sent is taken.
            fields[f"{code}-Data"] = _Factor(metric, None, None, None, flag)
    return fields


VALUE_FIELDS: Final = {interval: _value_fields(interval) for interval in Interval}
