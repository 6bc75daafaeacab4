"""What the engine decides: the signals the shell acts on.

The engine never raises an alert itself. It returns `AlertSignal`s (raise, update, clear a
condition) and `ZoneEvent`s (a drone entered or left a zone); `dispatch` turns them into
incidents, queues and lifecycle events. A condition is identified by (rule, subject): at
most one is open at a time, so repeats update it instead of opening another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from rules._records import DronePosition, Location
from rules._zones import Zone

_NO_DETAIL: Final[Mapping[str, object]] = MappingProxyType({})


class Action(StrEnum):
    RAISE = "raise"
    UPDATE = "update"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class DroneSuggestion:
    """The drone to send: the nearest one with a recent position, and how to get there."""

    drone: str
    distance_m: float
    bearing_deg: float
    direction: str
    eta_s: float
    seen_at: datetime
    location: Location


@dataclass(frozen=True, slots=True)
class Evidence:
    """What made an alert: the window's values with their times, a drone's recent track,
    the media a patrol took."""

    readings: tuple[tuple[datetime, float], ...] = ()
    track: tuple[DronePosition, ...] = ()
    media: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class AlertSignal:
    """Raise, update or clear the condition (rule, subject).

    `zone` is the most specific zone the location lies in (a construction site rather than
    its grid cell); `zones` all of them; `grid` the governance grid cell. On `CLEAR`,
    severity and value are the last ones the condition had.
    """

    action: Action
    rule: str
    kind: str
    subject: str
    at: datetime
    severity: str
    location: Location | None = None
    zone: Zone | None = None
    zones: tuple[Zone, ...] = ()
    grid: str | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    window_s: int | None = None
    evidence: Evidence = field(default_factory=Evidence)
    drone_suggestion: DroneSuggestion | None = None
    detail: Mapping[str, object] = field(default_factory=lambda: _NO_DETAIL)
    #: a patrol's observation: evidence that verifies an incident open at its zone
    finding: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    """A drone entered or left a zone (after the dwell time, outside the buffer band).
    `dispatch` records an entry into an open alert's zone as "on scene"."""

    drone: str
    zone: Zone
    event: Literal["enter", "exit"]
    at: datetime
    location: Location
    alt_m: float | None = None


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A station's data flags say it is under maintenance or calibration (HJ 212 M, C),
    or that this has ended: its alerts are muted while it lasts."""

    station: str
    active: bool
    at: datetime
    flags: tuple[str, ...] = ()


Signal = AlertSignal | ZoneEvent | Maintenance
