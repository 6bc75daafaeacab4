"""The pure core: records and rule state in, new state and alert signals out. No I/O.

    state = RuleState()
    state, signals = evaluate(state, record, ruleset)   # for every record, in order
    state, signals = sweep(state, now, ruleset)         # periodically, with the shell's clock
"""

from rules._aqi import AqiResult, daily_aqi, realtime_aqi
from rules._aqi_tables import AqiEdition
from rules._coverage import coverage
from rules._engine import evaluate, sweep
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
from rules._signals import (
    Action,
    AlertSignal,
    DroneSuggestion,
    Evidence,
    Maintenance,
    Signal,
    ZoneEvent,
)
from rules._snapshot import SnapshotError, dump_state, load_state
from rules._state import RuleState
from rules._trigger import Direction, Level, Trigger
from rules._zone_index import ZoneIndex
from rules._zones import ZONE_KINDS, Zone

__all__ = [
    "AQI_METRIC",
    "METRIC_UNITS",
    "MOBILE",
    "VALID_FLAG",
    "ZONE_KINDS",
    "Action",
    "Aggregate",
    "AlertSignal",
    "AqiEdition",
    "AqiResult",
    "DailyLimit",
    "Direction",
    "DronePosition",
    "DroneRules",
    "DroneSuggestion",
    "Evidence",
    "Finding",
    "FindingRules",
    "Interval",
    "Level",
    "Location",
    "Maintenance",
    "Measurement",
    "Mission",
    "NoDataRule",
    "Reading",
    "Record",
    "RuleState",
    "Ruleset",
    "Selector",
    "Signal",
    "SnapshotError",
    "Station",
    "ThresholdRule",
    "Trigger",
    "Waypoint",
    "Zone",
    "ZoneEvent",
    "ZoneIndex",
    "coverage",
    "daily_aqi",
    "dump_state",
    "evaluate",
    "load_state",
    "realtime_aqi",
    "sweep",
]
