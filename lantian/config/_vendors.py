"""`[[ingest.vendors]]`: vendors' own JSON read through a mapping, checked at start-up.

    [[ingest.vendors]]
    name = "yuntian"                 # named in dead letters and as the readings' source
    topic = "yuntian/+/up"           # an MQTT filter; subscribed to
    device = "deviceId"              # the field naming the device (or device_topic_level)
    stations = { "YT-8812" = "KY-CS-001" }   # device -> station; absent: the same id
    time = "ts"
    time_format = "epoch_ms"         # iso | epoch_s | epoch_ms | a strftime pattern
    [ingest.vendors.metrics]
    pm10 = { field = "PM10", unit = "mg/m3" }
    pm25 = { field = "data.PM2_5" }  # no unit: Lantian's own (µg/m³)

Everything a message cannot change is checked here, naming the key: the filter's syntax,
one way to find the device, the time form, each metric and unit, each mapped station.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated

from pydantic import Field

from ingest import unit_factor
from ingest.vendors import VendorMapping, VendorMetric
from lantian.config._errors import ConfigError
from lantian.config._schema import Section
from rules.records import METRIC_UNITS, Station

Text = Annotated[str, Field(min_length=1, max_length=200)]


class VendorMetricSection(Section):
    field: Text
    unit: str | None = None


class VendorSection(Section):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    topic: Text
    device: Text | None = None
    device_topic_level: Annotated[int, Field(ge=0, le=31)] | None = None
    stations: dict[str, str] = {}
    time: Text = "ts"
    time_format: Text = "iso"
    metrics: Annotated[dict[str, VendorMetricSection], Field(min_length=1)]


def build_vendors(
    sections: list[VendorSection], where: str, stations: Mapping[str, Station], enabled: bool
) -> tuple[VendorMapping, ...]:
    if sections and not enabled:  # configured, yet never subscribed to: say so now
        raise ConfigError(where, "ingest.decoders",
                          'vendor mappings are configured but the "vendor" decoder is off')
    mappings, names = [], set()
    for i, v in enumerate(sections):
        key = f"ingest.vendors[{i}] ({v.name})"
        if v.name in names:
            raise ConfigError(where, key, "the same name is given twice")
        names.add(v.name)
        problem = _filter_problem(v.topic)
        if problem:
            raise ConfigError(where, f"{key}.topic", problem)
        if (v.device is None) == (v.device_topic_level is None):
            raise ConfigError(where, key, "give exactly one of device and device_topic_level")
        if v.time_format not in VendorMapping.TIME_FORMATS and "%" not in v.time_format:
            forms = ", ".join(VendorMapping.TIME_FORMATS)
            raise ConfigError(where, f"{key}.time_format",
                              f"expected one of {forms} or a strftime pattern such as"
                              f" %Y-%m-%d %H:%M:%S, got {v.time_format!r}")
        for device, station in v.stations.items():
            if station not in stations:
                raise ConfigError(where, f"{key}.stations.{device}",
                                  f"no station {station!r} in the stations file")
        level = v.device_topic_level
        mappings.append(VendorMapping(
            name=v.name, topic=v.topic,
            device=_path(v.device) if v.device is not None else level if level is not None else 0,
            time=_path(v.time), time_format=v.time_format,
            metrics=MappingProxyType(_metrics(v, where, key)),
            stations=MappingProxyType(dict(v.stations)),
        ))
    return tuple(mappings)


def _metrics(v: VendorSection, where: str, key: str) -> dict[str, VendorMetric]:
    out = {}
    for metric, m in v.metrics.items():
        if metric not in METRIC_UNITS:
            raise ConfigError(where, f"{key}.metrics.{metric}",
                              f"unknown metric; known: {', '.join(sorted(METRIC_UNITS))}")
        try:
            factor = unit_factor(metric, m.unit) if m.unit is not None else 1.0
        except ValueError as exc:
            raise ConfigError(where, f"{key}.metrics.{metric}.unit", str(exc)) from exc
        out[metric] = VendorMetric(_path(m.field), factor)
    return out


def _path(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def _filter_problem(topic: str) -> str | None:
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return f"{topic!r}: '#' may only be a whole last level"
        if "+" in level and level != "+":
            return f"{topic!r}: '+' may only be a whole level"
    if topic.startswith("$"):
        return f"{topic!r}: topics starting with $ are the broker's"
    return None
