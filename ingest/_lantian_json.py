"""Lantian's own JSON payloads (DESIGN.md, "Wire contract"): readings, drone positions,
missions and findings, from bytes to records or a rejection that names the field.

Shape and types are checked here; whether a value is plausible (ranges, clock skew) is
`_validate`'s job, run on every record after decoding. The one exception is a value that
cannot form a record at all (a latitude of 120, a corridor of 0 m).

Inside this module a bad field raises `BadField`, so that each helper is one line at its
call site; `_decode` is the only place that turns it into a `Rejection`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final

import orjson

from ingest._context import DecodeContext
from ingest._gcj02 import gcj02_to_wgs84
from ingest._json_fields import (
    BadField,
    JsonObject,
    as_extra,
    as_number,
    describe,
    number,
    opt_int,
    opt_number,
    opt_text,
    opt_texts,
    quoted,
    required,
    text,
    wrong_type,
)
from ingest._result import Decoded, DecodeResult
from rules.records import (
    METRIC_UNITS,
    VALID_FLAG,
    DronePosition,
    Finding,
    Location,
    Measurement,
    Mission,
    Reading,
    Record,
    Waypoint,
)

_Object = JsonObject

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch milliseconds below this are before 1973: far likelier epoch seconds (now ~1.8e9).
_MIN_EPOCH_MS: Final = 10**11

#: a set, not the MappingProxyType: `in` on a proxy goes through the mapping protocol
_METRICS: Final = frozenset(METRIC_UNITS)
_NO_EXTRAS: Final[Mapping[str, str]] = MappingProxyType({})
_new_tuple: Final = tuple.__new__
_NO_FLAGS: Final[dict[str, str]] = {}  # shared, never written to

_POSITION_KEYS: Final = frozenset({"ts", "lat", "lon"})
_READING_KEYS: Final = _POSITION_KEYS | {"station", "flags", *METRIC_UNITS}
_TELEMETRY_KEYS: Final = _POSITION_KEYS | {
    "drone", "alt_m", "heading", "speed_mps", "mission", "waypoint", "battery_pct", "flags",
    *METRIC_UNITS,
}  # fmt: skip
_MISSION_KEYS: Final = frozenset({"drone", "mission", "corridor_m", "waypoints"})
_FINDING_KEYS: Final = _POSITION_KEYS | {"drone", "kind", "confidence", "media", "note"}


# --- public decoders ------------------------------------------------------------------


def decode_reading(station_in_topic: str, payload: bytes, ctx: DecodeContext) -> DecodeResult:
    """`lantian/sensors/{station}/reading`: one Reading, fixed or mobile."""
    return _decode(_reading, station_in_topic, payload, ctx)


def decode_drone_telemetry(drone_in_topic: str, payload: bytes, ctx: DecodeContext) -> DecodeResult:
    """`lantian/drones/{drone}/telemetry`: a DronePosition, then a mobile Reading if the
    drone's on-board sensor sent any metric."""
    return _decode(_telemetry, drone_in_topic, payload, ctx)


def decode_mission(drone_in_topic: str, payload: bytes, ctx: DecodeContext) -> DecodeResult:
    """`lantian/drones/{drone}/mission`: the planned route as a Mission."""
    return _decode(_mission, drone_in_topic, payload, ctx)


def decode_finding(drone_in_topic: str, payload: bytes, ctx: DecodeContext) -> DecodeResult:
    """`lantian/drones/{drone}/finding`: what the drone's camera or detector saw."""
    return _decode(_finding, drone_in_topic, payload, ctx)


_Builder = Callable[[str, _Object, DecodeContext], Decoded]


def _decode(build: _Builder, topic_id: str, payload: bytes, ctx: DecodeContext) -> DecodeResult:
    try:
        return build(topic_id, parse_object(payload), ctx)
    except BadField as refused:
        return refused.rejection


# --- one builder per payload ----------------------------------------------------------


def _reading(station: str, obj: _Object, ctx: DecodeContext) -> Decoded:
    # the payload's station equal to the topic's, which is never empty, is a valid one
    if obj.get("station") != station:
        _same_as_topic("station", text(obj, "station"), station)
    ts = _time(obj, ctx)
    # One pass over the payload (on the path of every message): metrics to measurements,
    # what we do not know to extras, kept as text and named (a tolerant reader, visibly).
    flags = _flags(obj)
    values: dict[str, Measurement] = {}
    extras: dict[str, str] | None = None
    for key, value in obj.items():
        if key in _METRICS:
            if value is not None:  # `_measurement`, inline: up to a dozen a reading
                number = value if type(value) is float else as_number(key, value)
                flag = flags.get(key, VALID_FLAG) if flags else VALID_FLAG
                values[key] = _new_tuple(Measurement, (number, flag, None, None))
        elif key not in _READING_KEYS:
            if extras is None:
                extras = {}
            extras[key] = as_extra(value)
    if not values:
        raise BadField(
            "no_metrics",
            f"the reading carries no metric; expected at least one of {', '.join(METRIC_UNITS)}",
        )
    location = _opt_location(obj, ctx, station)
    if location is None and station not in ctx.stations:
        raise BadField(
            "unknown_station",
            f'station "{station}" is not in config/stations.geojson and the reading has no lat/lon',
        )
    deviations = _stray_flags(flags, values) if flags else []
    if extras:
        deviations.extend(f'unknown field "{key}"' for key in extras)
    reading = Reading(
        station,
        ts,
        MappingProxyType(values),
        location=location,
        source="json",
        extras=_NO_EXTRAS if extras is None else MappingProxyType(extras),
        deviations=tuple(deviations),
    )
    return Decoded((reading,))


def _telemetry(drone: str, obj: _Object, ctx: DecodeContext) -> Decoded:
    _same_as_topic("drone", text(obj, "drone"), drone)
    ts = _time(obj, ctx)
    location = _location(obj, ctx, drone)
    position = DronePosition(
        drone,
        ts,
        location,
        alt_m=opt_number(obj, "alt_m"),
        heading=opt_number(obj, "heading"),
        speed_mps=opt_number(obj, "speed_mps"),
        mission=opt_text(obj, "mission"),
        waypoint=opt_int(obj, "waypoint"),
        battery_pct=opt_number(obj, "battery_pct"),
        source="json",
    )
    records: tuple[Record, ...] = (position,)
    values, deviations = _measurements(obj)
    if values:
        on_board = Reading(
            drone,
            ts,
            MappingProxyType(values),
            location=location,
            source="json",
            deviations=tuple(deviations),
        )
        records = (position, on_board)
    return Decoded(records, _unknown_note(obj, _TELEMETRY_KEYS))


def _mission(drone: str, obj: _Object, ctx: DecodeContext) -> Decoded:
    _same_as_topic("drone", text(obj, "drone"), drone)
    name = text(obj, "mission")
    corridor_m = number(obj, "corridor_m")
    if not corridor_m > 0:
        raise BadField("bad_value", f'field "corridor_m" must be above 0 m, got {corridor_m:g}')
    mission = Mission(drone, name, corridor_m, _waypoints(obj, ctx.source(drone).gcj02))
    return Decoded((mission,), _unknown_note(obj, _MISSION_KEYS))


def _finding(drone: str, obj: _Object, ctx: DecodeContext) -> Decoded:
    _same_as_topic("drone", text(obj, "drone"), drone)
    # confidence 0..1 is a range: `_validate` checks it, as it does every range.
    finding = Finding(
        drone,
        _time(obj, ctx),
        text(obj, "kind"),
        number(obj, "confidence"),
        _location(obj, ctx, drone),
        media=opt_texts(obj, "media"),
        note=opt_text(obj, "note") or "",
    )
    return Decoded((finding,), _unknown_note(obj, _FINDING_KEYS))


# --- the parts payloads share ----------------------------------------------------------


def parse_object(payload: bytes) -> _Object:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        # Only on this path is it worth a second look: orjson blames bad UTF-8 on
        # "surrogates" and a NaN on an "unexpected character", neither of which helps.
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise BadField(
                "not_utf8",
                f"payload is not UTF-8 text: byte 0x{payload[bad.start]:02x} at offset {bad.start}",
            ) from None
        hint = ""
        if exc.doc[exc.pos :].lstrip("-").startswith(("NaN", "Infinity")):
            hint = "; NaN and Infinity are not JSON numbers: leave the field out or send null"
        raise BadField("bad_json", f"payload is not valid JSON ({exc}){hint}") from None
    if type(doc) is not dict:
        raise BadField("not_object", f"payload must be a JSON object, got {describe(doc)}")
    return doc


def _same_as_topic(name: str, in_payload: str, in_topic: str) -> None:
    if in_payload != in_topic:
        raise BadField(
            "topic_mismatch",
            f'{name} {quoted(in_payload)} in the payload does not match "{in_topic}" in the topic',
        )


def _time(obj: _Object, ctx: DecodeContext) -> datetime:
    """`ts`, in the configured timezone whatever offset the device wrote, so that dedupe
    keys (built from isoformat) agree for the same instant."""
    value = required(obj, "ts")
    try:
        if type(value) is str:
            try:
                ts = datetime.fromisoformat(value)
            except ValueError:
                raise BadField(
                    "bad_time",
                    f'field "ts" must be an ISO 8601 time such as 2026-06-12T10:31:00+08:00, '
                    f"got {describe(value)}",
                ) from None
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=ctx.tz)
        elif type(value) is int:
            if value < _MIN_EPOCH_MS:
                raise BadField(
                    "bad_time",
                    f'field "ts" = {value} is too small for epoch milliseconds (epoch seconds?): '
                    "send milliseconds or an ISO 8601 time",
                )
            ts = _EPOCH + timedelta(milliseconds=value)
        else:
            raise wrong_type("ts", "an ISO 8601 string or epoch milliseconds", value)
        return ts.astimezone(ctx.tz)
    except OverflowError:
        raise BadField(
            "bad_time", f'field "ts" {describe(value)} is outside the years 1..9999'
        ) from None


def _measurements(obj: _Object) -> tuple[dict[str, Measurement], list[str]]:
    """The metrics present, with their flags (N unless `flags` says otherwise), and the
    deviations found on the way."""
    flags = _flags(obj)
    values = {
        key: _measurement(key, value, flags)
        for key, value in obj.items()
        if key in _METRICS and value is not None
    }
    return values, _stray_flags(flags, values)


def _measurement(key: str, value: object, flags: dict[str, str]) -> Measurement:
    number = value if type(value) is float else as_number(key, value)
    # tuple.__new__ is what the NamedTuple's own __new__ does, without its Python frame:
    # up to a dozen a reading
    return _new_tuple(Measurement, (number, flags.get(key, VALID_FLAG) if flags else VALID_FLAG,
                                    None, None))


def _stray_flags(flags: dict[str, str], values: dict[str, Measurement]) -> list[str]:
    return [f'flag for "{key}" ignored: no such metric in the payload'
            for key in flags if key not in values]


def _flags(obj: _Object) -> dict[str, str]:
    raw = obj.get("flags")
    if raw is None:
        return _NO_FLAGS
    if type(raw) is not dict:
        raise wrong_type("flags", "an object of metric to flag letter", raw)
    flags: dict[str, str] = {}
    for key, flag in raw.items():
        if not (type(flag) is str and len(flag) == 1 and "A" <= flag <= "Z"):
            raise BadField(
                "bad_value",
                f'field "flags.{key}" must be one HJ 212 flag letter such as N, C, M or D, '
                f"got {describe(flag)}",
            )
        flags[key] = flag
    return flags


def _opt_location(obj: _Object, ctx: DecodeContext, source_id: str) -> Location | None:
    """`lat`/`lon`, both or neither, as WGS-84."""
    lat, lon = obj.get("lat"), obj.get("lon")
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        missing, present = ("lat", "lon") if lat is None else ("lon", "lat")
        raise BadField(
            "missing_field", f'field "{missing}" is missing: "{present}" needs it, both or neither'
        )
    return _wgs84(as_number("lat", lat), as_number("lon", lon), ctx.source(source_id).gcj02)


def _location(obj: _Object, ctx: DecodeContext, source_id: str) -> Location:
    location = _opt_location(obj, ctx, source_id)
    if location is None:
        raise BadField("missing_field", 'fields "lat" and "lon" are missing')
    return location


def _wgs84(lat: float, lon: float, gcj02: bool, where: str = "") -> Location:
    try:
        location = Location(lat, lon)
        return Location(*gcj02_to_wgs84(lat, lon)) if gcj02 else location
    except ValueError as exc:
        swapped = abs(lat) > 90 and abs(lon) <= 90
        hint = " (lat and lon swapped?)" if swapped else ""
        raise BadField("bad_location", f"{where}{exc}{hint}") from None


def _waypoints(obj: _Object, gcj02: bool) -> tuple[Waypoint, ...]:
    raw = required(obj, "waypoints")
    if type(raw) is not list:
        raise wrong_type("waypoints", "an array of [lon, lat, alt_m]", raw)
    if len(raw) < 2:
        raise BadField(
            "too_few_waypoints",
            f'field "waypoints" has {len(raw)} waypoint(s); a route needs at least 2',
        )
    route = []
    for i, point in enumerate(raw):
        if type(point) is not list or len(point) != 3:
            raise wrong_type(f"waypoints[{i}]", "[lon, lat, alt_m]", point)
        lon, lat, alt_m = (as_number(f"waypoints[{i}][{j}]", v) for j, v in enumerate(point))
        location = _wgs84(lat, lon, gcj02, where=f"waypoint {i} [lon, lat, alt_m]: ")
        route.append(Waypoint(location.lon, location.lat, alt_m))
    return tuple(route)


def _unknown_note(obj: _Object, known: frozenset[str]) -> str:
    unknown = [f'"{key}"' for key in obj if key not in known]
    return f"ignored unknown fields: {', '.join(unknown)}" if unknown else ""
