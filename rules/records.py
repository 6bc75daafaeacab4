"""What comes in: the records the engine is fed, and the stations that send them."""

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

__all__ = [
    "METRIC_UNITS",
    "VALID_FLAG",
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
]
