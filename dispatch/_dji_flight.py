"""Sending a DJI dock's drone to an alert, as DJI Cloud API messages: pure, no I/O.

The officer's "send a drone" becomes one service request on `thing/product/{dock}/services`:
`takeoff_to_point` when the aircraft sits in the dock (or the dock has not said), else
`fly_to_point`. Both targets are WGS-84 with an ellipsoidal height, which is what Lantian
stores (the alert's location) plus the dock's configured height. The dock answers on
`services_reply` (`data.result`, 0 = accepted, else the device's error code) and reports
the flight on `events` (`takeoff_to_point_progress`, `fly_to_point_progress`); an event
with `need_reply: 1` is answered on `events_reply`.

Checked against DJI's Cloud API demo (cloud-sdk, `control`, `device` and `wayline`
packages, read as Java classes; the JSON names are their snake_case): the request fields
and bounds (`max_speed` an integer 1..15, `security_takeoff_height` 20..1500,
`commander_flight_height` 2..3000, `flight_id`/`fly_to_id` without `.` `_` `/` and the
like, which a UUID satisfies; `commander_flight_mode` is required), the enum values sent
(`rth_mode` 1 preset height, `rc_lost_action` 2 return home, `commander_mode_lost_action`
1 do the RC-lost action, `commander_flight_mode` 1 fly at the set height), the progress
events' fields (`result`, `status`, `flight_id` for take-off / `fly_to_id` for fly-to,
`remaining_distance` m, `remaining_time` s) and the take-off statuses (`task_ready`,
`wayline_progress`, `wayline_ok`, `wayline_failed`, `wayline_cancel`, `task_finish`).
NOT checked: whether the progress fields sit in `data` or `data.output` (both are read),
the meaning of the device's error codes (the code is recorded as it comes), and whether a
take-off's `wayline_ok` means "at the target" (recorded as `arrived`, as for fly-to;
`task_finish` also counts as arrived) rather than "airborne"; nothing here was tried on
a real dock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

Method = Literal["takeoff_to_point", "fly_to_point"]

#: The progress statuses that end a flight request, and what the incident's event says.
TERMINAL: Final[Mapping[str, str]] = {
    "wayline_ok": "arrived", "task_finish": "arrived",
    "wayline_failed": "failed", "wayline_cancel": "cancelled",
}
PROGRESS_METHODS: Final = frozenset({"takeoff_to_point_progress", "fly_to_point_progress"})
#: Bounds of the DJI commands (target height is ellipsoidal, metres; speed m/s).
HEIGHT_RANGE: Final = (2.0, 1500.0)
MAX_SPEED: Final = 15.0


@dataclass(frozen=True, slots=True)
class DockFlight:
    """One dock whose drone Lantian may send: configured, and off unless `enabled`."""

    dock: str  # the dock's serial number (the gateway of the topics)
    drone: str  # the Lantian drone id of its aircraft
    enabled: bool = False
    height_m: float = 100.0  # target height above the WGS-84 ellipsoid
    max_speed: int = 10  # m/s; DJI takes an integer 1..15
    security_takeoff_height: float = 30.0  # relative to the dock, 20..1500
    rth_altitude: float = 100.0  # relative to the dock
    commander_flight_height: float = 80.0  # relative to the dock
    progress_every_s: float = 30.0  # at most one progress event per flight this often


@dataclass(frozen=True, slots=True)
class Request:
    """A service request, ready to publish."""

    topic: str
    payload: bytes
    method: Method
    bid: str
    tid: str


def service_request(dock: DockFlight, lat: float, lon: float, *, in_dock: bool | None,
                    bid: str, tid: str, now_ms: int) -> Request:
    """The request sending `dock`'s drone to (lat, lon) at its configured height. The bid
    doubles as the flight's id (`flight_id`, `fly_to_id`), so progress finds its alert."""
    method: Method = "fly_to_point" if in_dock is False else "takeoff_to_point"
    data: dict[str, Any]
    if method == "takeoff_to_point":
        data = {
            "target_latitude": lat, "target_longitude": lon, "target_height": dock.height_m,
            "security_takeoff_height": dock.security_takeoff_height,
            "rth_altitude": dock.rth_altitude, "rth_mode": 1, "rc_lost_action": 2,
            "commander_mode_lost_action": 1, "commander_flight_mode": 1,
            "commander_flight_height": dock.commander_flight_height,
            "max_speed": dock.max_speed, "flight_id": bid,
        }
    else:
        data = {"fly_to_id": bid, "max_speed": dock.max_speed,
                "points": [{"latitude": lat, "longitude": lon, "height": dock.height_m}]}
    body = {"tid": tid, "bid": bid, "timestamp": now_ms, "method": method, "data": data}
    return Request(f"thing/product/{dock.dock}/services", orjson.dumps(body), method, bid, tid)


@dataclass(frozen=True, slots=True)
class Reply:
    """A dock's answer to a service request."""

    bid: str
    tid: str
    method: str
    code: int  # 0 = accepted

    @property
    def accepted(self) -> bool:
        return self.code == 0


@dataclass(frozen=True, slots=True)
class Progress:
    """One progress event of a flight."""

    flight: str  # flight_id / fly_to_id (our bid), else the envelope's bid
    method: str
    status: str
    code: int
    remaining_distance: float | None
    remaining_time: float | None
    need_reply: bool
    bid: str
    tid: str

    @property
    def outcome(self) -> str:
        """What the incident's flight event says: arrived, failed, cancelled or progress."""
        return TERMINAL.get(self.status, "progress")


class Unreadable(ValueError):
    """A message from a dock that is not what the Cloud API documents."""


def _envelope(payload: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Unreadable(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise Unreadable("not a Cloud API envelope (an object with a data object)")
    return body


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > 128:
        raise Unreadable(f"{key} is not a string of at most 128 characters")
    return value


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unreadable(f"{key} is not an integer")
    return value


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_reply(payload: bytes) -> Reply:
    """A `services_reply`; raises Unreadable."""
    body = _envelope(payload)
    return Reply(_text(body, "bid"), _text(body, "tid"), _text(body, "method"),
                 _int(body["data"].get("result"), "data.result"))


def read_event(payload: bytes) -> Progress | None:
    """An `events` message: the progress of a flight, or None for another event (a dock
    sends many kinds); raises Unreadable."""
    body = _envelope(payload)
    method = _text(body, "method")
    data = body["data"]
    need_reply = body.get("need_reply") == 1
    if method not in PROGRESS_METHODS:
        if need_reply:  # still answered: the dock waits for it
            return Progress("", method, "", 0, None, None, True, _text(body, "bid"),
                            _text(body, "tid"))
        return None
    # some firmware nests the fields in `output`, as the wayline progress does
    fields = data.get("output") if isinstance(data.get("output"), dict) else data
    flight = fields.get("flight_id") or fields.get("fly_to_id") or body.get("bid") or ""
    status = fields.get("status", "")
    if not isinstance(flight, str) or not isinstance(status, str) or len(status) > 64:
        raise Unreadable("flight id or status is not a string")
    code = data.get("result", fields.get("result", 0))
    return Progress(flight[:128], method, status, _int(code, "data.result"),
                    _number(fields.get("remaining_distance")),
                    _number(fields.get("remaining_time")), need_reply,
                    _text(body, "bid"), _text(body, "tid"))


def events_reply(dock: str, progress: Progress, now_ms: int) -> tuple[str, bytes]:
    """The answer to an event with `need_reply: 1`: same tid and bid, result 0."""
    body = {"tid": progress.tid, "bid": progress.bid, "timestamp": now_ms,
            "method": progress.method, "data": {"result": 0}}
    return f"thing/product/{dock}/events_reply", orjson.dumps(body)


def drone_in_dock(payload: bytes) -> bool | None:
    """What a dock's OSD says of its aircraft: in the dock, out, or nothing (the dock
    splits its properties over several messages)."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None  # ingest dead-letters it; here it only says nothing
    data = body.get("data") if isinstance(body, dict) else None
    value = data.get("drone_in_dock") if isinstance(data, dict) else None
    return None if value not in (0, 1) or isinstance(value, bool) else value == 1
