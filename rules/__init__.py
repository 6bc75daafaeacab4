"""The pure core: records and rule state in, new state and alert candidates out. No I/O."""

from rules._records import (
    METRIC_UNITS,
    VALID_FLAG,
    DronePosition,
    Finding,
    Interval,
    Location,
    Measurement,
    Mission,
    Reading,
    Record,
    Station,
    Waypoint,
)
from rules._zones import ZONE_KINDS, Zone

__all__ = [
    "METRIC_UNITS",
    "VALID_FLAG",
    "ZONE_KINDS",
    "DronePosition",
    "Finding",
    "Interval",
    "Location",
    "Measurement",
    "Mission",
    "Reading",
    "Record",
    "Station",
    "Waypoint",
    "Zone",
]
