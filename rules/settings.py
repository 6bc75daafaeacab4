"""What is configured: the Ruleset and the settings of every rule in it."""

from rules._ruleset import (
    AQI_METRIC,
    MOBILE,
    Aggregate,
    DailyLimit,
    DroneRules,
    FindingRules,
    NoDataRule,
    Ruleset,
    Selector,
    ThresholdRule,
)
from rules._trigger import Direction, Level, Trigger

__all__ = [
    "AQI_METRIC",
    "MOBILE",
    "Aggregate",
    "DailyLimit",
    "Direction",
    "DroneRules",
    "FindingRules",
    "Level",
    "NoDataRule",
    "Ruleset",
    "Selector",
    "ThresholdRule",
    "Trigger",
]
