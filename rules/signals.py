"""What goes out: the signals the engine answers records and sweeps with."""

from rules._signals import (
    Action,
    AlertSignal,
    DroneSuggestion,
    Evidence,
    Maintenance,
    Signal,
    ZoneEvent,
)

__all__ = [
    "Action",
    "AlertSignal",
    "DroneSuggestion",
    "Evidence",
    "Maintenance",
    "Signal",
    "ZoneEvent",
]
