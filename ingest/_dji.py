"""DJI Cloud API OSD (`thing/product/{sn}/osd`) to drone positions.

An OSD message is a partial update: a device sends several messages, each with a subset of
its properties, so the decoder merges each one into the device's last known state. The
decoder stays pure: the caller keeps one `DeviceState` per serial number, passes it in,
and stores the one handed back. A rejected message changes no state.

Aircraft coordinates are WGS-84 and `height` is ellipsoidal (reference:
shared/reference/drone_telemetry.md, section 1). Docks publish OSD on the same topic
pattern; their position is the dock's, never a drone's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal, TypeGuard

import orjson

from ingest._context import DecodeContext
from ingest._gcj02 import to_wgs84
from ingest._result import Decoded, Rejection
from rules.records import DronePosition, Location

DeviceKind = Literal["aircraft", "dock"]

#: Properties only a dock reports; an aircraft's OSD never carries them.
DOCK_ONLY_KEYS: Final = frozenset(
    {"drone_in_dock", "cover_state", "putter_state", "drone_charge_state"}
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# DJI timestamps are epoch milliseconds. Before 2015 (before the Cloud API existed) means
# seconds or an unset clock; 14 digits is the extra digit some DJI examples carry.
_MIN_TS_MS: Final = 1_420_070_400_000  # 2015-01-01T00:00:00Z
_MAX_TS_MS: Final = 10**13  # the first 14-digit value (year 2286)

# DJI nests three or four levels deep. The cap keeps freezing and merging far from Python's
# recursion limit, which a hostile payload could otherwise reach: orjson parses more than
# 1000 levels.
_MAX_DEPTH: Final = 16

_CONFIG_HINT: Final = "[ingest.dji] aircraft in config/lantian.toml"


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What one DJI device has said so far: every property merged, nested ones key by key.

    `data` is read-only all the way down (mappings are proxies, lists are tuples), so a
    state can be kept and shared without copying. `ts` is the newest message time seen."""

    kind: DeviceKind
    ts: datetime
    data: Mapping[str, object]


def decode_dji_osd(
    sn: str, payload: bytes, ctx: DecodeContext, previous: DeviceState | None
) -> tuple[DeviceState | None, Decoded | Rejection]:
    """Decode one OSD message of device `sn`, given the device's last known state.

    Returns the new state (`previous` itself on a rejection) and the result: a DronePosition
    only when the message carries a fresh fix of a configured aircraft, enriched with
    height, heading, speed, battery and track from the merged state."""
    envelope = _envelope(payload)
    if isinstance(envelope, Rejection):
        return previous, envelope
    ts, data = envelope
    try:
        update = _freeze_mapping(data)
    except _TooDeep:
        return previous, Rejection("dji_envelope", f"`data` nests deeper than {_MAX_DEPTH} levels")

    kind = _kind(sn, data, ctx, previous)
    drone = ctx.dji_aircraft.get(sn)
    if kind == "aircraft" and drone is None:
        return previous, Rejection(
            "unknown_drone", f"DJI aircraft {sn!r} is not configured: add it to {_CONFIG_HINT}"
        )
    has_position = "latitude" in data or "longitude" in data
    fix: tuple[float, float] | None = None
    if kind == "aircraft" and has_position:
        checked = _fix(data)
        if isinstance(checked, Rejection):
            return previous, checked
        fix = checked

    merged = update if previous is None else _merge(previous.data, update)
    # A late message (QoS 1 redelivery, reordering) must not overwrite newer properties;
    # its own fix and properties still describe its own time, so its record uses them.
    late = previous is not None and ts < previous.ts
    state = previous if late else DeviceState(kind=kind, ts=ts, data=merged)

    if kind == "dock":
        return state, Decoded(records=(), note="dock OSD: not a drone position")
    if drone is None or not has_position:
        return state, Decoded(records=(), note="no position in this update")
    if fix is None:
        return state, Decoded(records=(), note="no GNSS fix")
    return state, Decoded(records=(_position(drone, ts, fix, merged, ctx),))


def _envelope(payload: bytes) -> tuple[datetime, dict[str, object]] | Rejection:
    """The message time and its `data` object."""
    try:
        envelope = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Rejection("bad_json", f"not JSON: {exc}")
    if not isinstance(envelope, dict):
        return Rejection("dji_envelope", f"expected a JSON object, got {type(envelope).__name__}")
    data = envelope.get("data")
    if not isinstance(data, dict):
        return Rejection("dji_envelope", "no `data` object in the OSD message")
    ms = envelope.get("timestamp")
    if ms is None:
        return Rejection("dji_envelope", "no timestamp (epoch milliseconds) in the OSD message")
    if not isinstance(ms, int) or isinstance(ms, bool):
        return Rejection(
            "dji_envelope", f"timestamp {ms!r} is not an integer number of epoch milliseconds"
        )
    if ms < _MIN_TS_MS:
        return Rejection(
            "dji_envelope",
            f"timestamp {ms} is before 2015 as epoch milliseconds: "
            "seconds instead of milliseconds, or a device clock that was never set",
        )
    if ms >= _MAX_TS_MS:
        return Rejection(
            "dji_envelope",
            f"timestamp {ms} has {len(str(ms))} digits, not the 13 of epoch milliseconds "
            "(some DJI examples carry an extra digit)",
        )
    return _EPOCH + timedelta(milliseconds=ms), data


class _TooDeep(Exception):
    pass


def _freeze_mapping(data: dict[str, object], depth: int = 0) -> Mapping[str, object]:
    return MappingProxyType({key: _freeze(value, depth + 1) for key, value in data.items()})


def _freeze(value: object, depth: int) -> object:
    if depth > _MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, dict):
        return _freeze_mapping(value, depth)
    if isinstance(value, list):
        return tuple(_freeze(item, depth + 1) for item in value)
    return value


def _merge(old: Mapping[str, object], new: Mapping[str, object]) -> Mapping[str, object]:
    """`new` over `old`; where both hold a mapping under one key, those merge key by key
    (a message with only `battery.capacity_percent` keeps `battery.landing_power`)."""
    merged = dict(old)
    for key, value in new.items():
        before = merged.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            merged[key] = _merge(before, value)
        else:
            merged[key] = value
    return MappingProxyType(merged)


def _kind(
    sn: str, data: Mapping[str, object], ctx: DecodeContext, previous: DeviceState | None
) -> DeviceKind:
    # A dock splits its properties over several messages and only some carry a dock-only
    # key, so a device that has once shown itself to be a dock stays one.
    if sn in ctx.dji_docks or not DOCK_ONLY_KEYS.isdisjoint(data):
        return "dock"
    if previous is not None and previous.kind == "dock":
        return "dock"
    return "aircraft"


def _is_number(value: object) -> TypeGuard[int | float]:
    # JSON true and false arrive as bool, which Python counts as an int.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(data: Mapping[str, object], key: str) -> float | None:
    value = data.get(key)
    return float(value) if _is_number(value) else None


def _fix(data: Mapping[str, object]) -> tuple[float, float] | Rejection | None:
    """This message's own (lat, lon); None when the aircraft has no GNSS fix."""
    lat, lon = data.get("latitude"), data.get("longitude")
    if not (_is_number(lat) and _is_number(lon)):
        return Rejection(
            "dji_position", f"latitude {lat!r} and longitude {lon!r} must both be numbers"
        )
    # orjson refuses NaN and Infinity today; this keeps Location's ValueError from escaping
    # if the parser ever lets them through.
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return Rejection("dji_position", f"position {lat!r}, {lon!r} is not finite")
    # DJI reports a powered aircraft without a fix as 0, 0 (its official example does).
    if lat == 0 and lon == 0:
        return None
    if not -90 <= lat <= 90:
        hint = ": latitude and longitude swapped?" if -90 <= lon <= 90 else ""
        return Rejection("dji_position", f"latitude {lat!r} is outside -90..90{hint}")
    if not -180 <= lon <= 180:
        return Rejection("dji_position", f"longitude {lon!r} is outside -180..180")
    return float(lat), float(lon)


def _position(
    drone: str,
    ts: datetime,
    fix: tuple[float, float],
    state: Mapping[str, object],
    ctx: DecodeContext,
) -> DronePosition:
    # Enrichment fields of the wrong type are left out rather than failing the position:
    # the fix is what the rules need, and the validator checks the ranges of the rest.
    head = _number(state, "attitude_head")
    battery = state.get("battery")
    track = state.get("track_id")
    return DronePosition(
        drone=drone,
        ts=ts,
        location=to_wgs84(Location(*fix), ctx.source(drone).gcj02),
        alt_m=_number(state, "height"),
        # DJI gives -180..180 (negative is the west half); Lantian headings are 0..360.
        heading=None if head is None else head % 360,
        speed_mps=_number(state, "horizontal_speed"),
        mission=track if isinstance(track, str) and track else None,
        battery_pct=_number(battery, "capacity_percent") if isinstance(battery, Mapping) else None,
        source="dji",
    )
