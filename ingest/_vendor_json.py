"""A vendor's own JSON, read without a bridge: a configured mapping from its fields to a
Reading.

Monitors bought off the shelf publish what their vendor chose (`{"deviceId": "YT-8812",
"ts": 1781231460000, "PM10": 0.187}`), not Lantian's contract. A `VendorMapping` says, for
the messages on one MQTT topic filter, which field (or topic level) names the device, how
it maps to a station, which field is the time and in what form, and which field is each
metric in which unit. Config loading validates the mapping (units, formats, stations), so
that here only the message can be wrong; when it is, the rejection names the mapping and
the field, the way Lantian's own decoders do.

Fields are named by paths: `PM10`, or `data.PM10` into a nested object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import ClassVar, Final

from paho.mqtt.client import topic_matches_sub

from ingest._context import DecodeContext
from ingest._json_fields import BadField, JsonObject, as_number, describe, quoted, wrong_type
from ingest._lantian_json import parse_object
from ingest._result import Decoded, DecodeResult
from rules.records import Measurement, Reading

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: A field path: `("data", "PM10")` for `data.PM10`.
Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VendorMetric:
    """Where a metric is in the vendor's message, and the factor to Lantian's unit."""

    path: Path
    factor: float = 1.0


@dataclass(frozen=True, slots=True)
class VendorMapping:
    """How to read one vendor's messages (see the module docstring); built and checked by
    the config loader."""

    #: The time forms a mapping may name besides a strftime pattern (read in local time).
    TIME_FORMATS: ClassVar = ("iso", "epoch_s", "epoch_ms")

    name: str
    topic: str  # an MQTT filter: `yuntian/+/up`
    device: Path | int  # a field path, or the topic level (0-based) naming the device
    time: Path
    time_format: str  # one of TIME_FORMATS, or a strftime pattern in local time
    metrics: Mapping[str, VendorMetric]
    #: device id -> station id; a device missing here is taken as a station id itself
    stations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def matches(self, topic: str) -> bool:
        return topic_matches_sub(self.topic, topic)


def decode_vendor(
    mapping: VendorMapping, topic: str, payload: bytes, ctx: DecodeContext
) -> DecodeResult:
    """One vendor message: a Reading of the mapped metrics, or a rejection naming the
    field that was missing or wrong."""
    try:
        return Decoded((_reading(mapping, topic, parse_object(payload), ctx),))
    except BadField as refused:
        return refused.rejection


def _reading(mapping: VendorMapping, topic: str, obj: JsonObject, ctx: DecodeContext) -> Reading:
    device = _device(mapping, topic, obj)
    station = mapping.stations.get(device, device)
    if station not in ctx.stations:
        via = "" if station == device else f" (device {quoted(device)})"
        raise BadField(
            "unknown_station",
            f"mapping {quoted(mapping.name)}: station {quoted(station)}{via} is not in"
            " config/stations.geojson; map the device in the mapping's `stations`",
        )
    values: dict[str, Measurement] = {}
    for metric, where in mapping.metrics.items():
        value = _find(obj, where.path)
        if value is not None:
            values[metric] = Measurement(as_number(_dotted(where.path), value) * where.factor)
    if not values:
        expected = ", ".join(quoted(_dotted(m.path)) for m in mapping.metrics.values())
        raise BadField(
            "no_metrics",
            f"mapping {quoted(mapping.name)}: none of its metric fields ({expected}) is in"
            " the message",
        )
    ts = _time(mapping, _required(mapping, obj, mapping.time, "the time"), ctx)
    return Reading(station, ts, MappingProxyType(values), source=mapping.name)


def _device(mapping: VendorMapping, topic: str, obj: JsonObject) -> str:
    if isinstance(mapping.device, int):
        levels = topic.split("/")
        device = levels[mapping.device] if mapping.device < len(levels) else ""
        if not device:
            raise BadField(
                "missing_field",
                f"mapping {quoted(mapping.name)}: topic {quoted(topic)} has no level"
                f" {mapping.device} naming the device",
            )
        return device
    value = _required(mapping, obj, mapping.device, "the device")
    if type(value) is int:  # numeric device ids are common; they name the same device
        return str(value)
    if type(value) is not str:
        raise wrong_type(f"{_dotted(mapping.device)} (the device)", "a text or a whole number",
                         value)
    if not value or len(value) > 64:
        raise BadField(
            "bad_value",
            f"mapping {quoted(mapping.name)}: field {quoted(_dotted(mapping.device))} (the"
            f" device) must be 1 to 64 characters, got {describe(value)}",
        )
    return value


def _time(mapping: VendorMapping, value: object, ctx: DecodeContext) -> datetime:
    name, form = _dotted(mapping.time), mapping.time_format
    try:
        if form == "iso" and type(value) is str:
            ts = datetime.fromisoformat(value)
        elif form in ("epoch_s", "epoch_ms") and isinstance(value, int | float) \
                and not isinstance(value, bool):
            ts = _EPOCH + timedelta(seconds=value / (1000 if form == "epoch_ms" else 1))
        elif form not in mapping.TIME_FORMATS and type(value) is str:
            ts = datetime.strptime(value, form)
        else:
            raise ValueError
    except (ValueError, OverflowError):
        raise BadField(
            "bad_time",
            f"mapping {quoted(mapping.name)}: field {quoted(name)} must be a time as"
            f" {_FORM_HELP.get(form, f'{form!r} (strftime)')}, got {describe(value)}",
        ) from None
    if ts.tzinfo is None:  # a vendor writing local time without an offset
        ts = ts.replace(tzinfo=ctx.tz)
    return ts.astimezone(ctx.tz)


_FORM_HELP: Final = {
    "iso": "ISO 8601 text",
    "epoch_s": "epoch seconds",
    "epoch_ms": "epoch milliseconds",
}


def _required(mapping: VendorMapping, obj: JsonObject, path: Path, what: str) -> object:
    value = _find(obj, path)
    if value is None:
        raise BadField(
            "missing_field",
            f"mapping {quoted(mapping.name)}: field {quoted(_dotted(path))} ({what}) is"
            " missing",
        )
    return value


def _find(obj: JsonObject, path: Path) -> object:
    """The value at `path`, or None when any step is absent (or not an object)."""
    value: object = obj
    for step in path:
        if type(value) is not dict:
            return None
        value = value.get(step)
    return value


def _dotted(path: Path) -> str:
    return ".".join(path)
