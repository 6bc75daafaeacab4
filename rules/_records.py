"""The records the rules engine consumes: what a sensor or a drone said, already decoded.

`ingest` produces them from bytes on the wire; `rules` and `dispatch` only ever see these.
They live in the core (not in `ingest`) so that the core depends on nothing outside itself.

Units are fixed (DESIGN.md, "Wire contract"): particulates and gases µg/m³, CO mg/m³,
noise dB(A), wind m/s and degrees, temperature °C, humidity %, pressure kPa.
Coordinates are WGS-84 degrees; altitudes metres.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple

#: Lantian metric name -> unit. The only metrics a Reading's `values` may carry.
METRIC_UNITS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tsp": "µg/m³",
        "pm10": "µg/m³",
        "pm25": "µg/m³",
        "pm1": "µg/m³",
        "so2": "µg/m³",
        "no2": "µg/m³",
        "o3": "µg/m³",
        "co": "mg/m³",
        "noise": "dB(A)",
        "wind_speed": "m/s",
        "wind_dir": "°",
        "temp": "°C",
        "rh": "%",
        "pressure": "kPa",
    }
)

#: HJ 212 data flag meaning "instrument working normally": the only flag whose values count.
VALID_FLAG: Final = "N"

_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})


class Interval(StrEnum):
    """What span of time a reading's values describe (HJ 212 CN 2011 / 2051 / 2061 / 2031)."""

    INSTANT = "instant"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


_PLAIN_INTERVAL: Final[Mapping[Interval, str]] = {i: i.value for i in Interval}


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"latitude {self.lat!r} is outside -90..90")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"longitude {self.lon!r} is outside -180..180")


class Measurement(NamedTuple):
    """One metric's value with its data flag. Only flag N counts as a valid reading;
    values with other flags (C calibration, M maintenance, D fault, ...) are kept, not used.

    A NamedTuple rather than a frozen dataclass: a reading carries up to a dozen, built
    on the per-message path, and a frozen dataclass costs twice as much to construct."""

    value: float
    flag: str = VALID_FLAG
    min: float | None = None
    max: float | None = None

    @property
    def valid(self) -> bool:
        return self.flag == VALID_FLAG


@dataclass(frozen=True, slots=True)
class Reading:
    """A station's (or a mobile sensor's) values at one time.

    `location` is set for a mobile reading, located where it was taken; a fixed station's
    location comes from its registration. `extras` keeps what the source sent that maps to
    no Lantian metric (unknown HJ 212 factor codes, extra JSON fields), as text.
    `deviations` names each rule of the wire format this message bent and was let through.
    """

    station: str
    ts: datetime
    values: Mapping[str, Measurement]
    interval: Interval = Interval.INSTANT
    location: Location | None = None
    source: str = "json"
    extras: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    deviations: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        return f"station:{self.station}"

    @property
    def dedupe_key(self) -> tuple[object, ...]:
        # aware datetimes hash by instant: the same time sent with another offset is equal.
        # The interval as its plain str: an enum member is an object the garbage collector
        # tracks, and so was every key holding one, the 200,000 that ingest remembers with
        # them, which each full collection then walked while the event loop waited.
        return ("reading", self.station, _PLAIN_INTERVAL[self.interval], self.ts)


@dataclass(frozen=True, slots=True)
class DronePosition:
    drone: str
    ts: datetime
    location: Location
    alt_m: float | None = None
    heading: float | None = None
    speed_mps: float | None = None
    mission: str | None = None
    waypoint: int | None = None
    battery_pct: float | None = None
    source: str = "json"

    @property
    def subject(self) -> str:
        return f"drone:{self.drone}"

    @property
    def dedupe_key(self) -> tuple[object, ...]:
        return ("position", self.drone, self.ts)


@dataclass(frozen=True, slots=True)
class Waypoint:
    lon: float
    lat: float
    alt_m: float


@dataclass(frozen=True, slots=True)
class Mission:
    """A planned patrol: the route a drone should keep within `corridor_m` of."""

    drone: str
    mission: str
    corridor_m: float
    waypoints: tuple[Waypoint, ...]

    @property
    def subject(self) -> str:
        return f"drone:{self.drone}"

    @property
    def dedupe_key(self) -> tuple[object, ...]:
        # The same plan sent twice is one plan; a changed plan under the same name is new.
        return ("mission", self.drone, self.mission, self.corridor_m, self.waypoints)


@dataclass(frozen=True, slots=True)
class Finding:
    """What a patrol saw (dust plume, bare earth, muck truck, ...), with the media proving it."""

    drone: str
    ts: datetime
    kind: str
    confidence: float
    location: Location
    media: tuple[str, ...] = ()
    note: str = ""

    @property
    def subject(self) -> str:
        return f"drone:{self.drone}"

    @property
    def dedupe_key(self) -> tuple[object, ...]:
        return ("finding", self.drone, self.ts, self.kind, self.location)


@dataclass(frozen=True, slots=True)
class Station:
    """A registered monitoring site (config/stations.geojson). `mn` is its HJ 212 device id."""

    id: str
    name: str
    kind: str
    location: Location
    mn: str | None = None
    zone: str | None = None


Record = Reading | DronePosition | Mission | Finding
