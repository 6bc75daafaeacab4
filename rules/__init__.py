"""The pure core: records and rule state in, new state and alert signals out. No I/O.

    state = RuleState()
    state, signals = evaluate(state, record, ruleset, now)  # every record, in order
    state, signals = sweep(state, now, ruleset)         # periodically, with the shell's clock
    data = dump_state(state)                            # a versioned JSON snapshot
    state = load_state(data, ruleset)                   # SnapshotError if it is not one

The vocabulary around the engine is in public modules, one concept each:

    rules.records    what comes in: Reading, DronePosition, Mission, Finding, Station, ...
    rules.signals    what goes out: AlertSignal, ZoneEvent, Maintenance, DroneSuggestion
    rules.settings   what is configured: the Ruleset and every rule's settings
    rules.geo        geography: Zone, ZoneIndex, distances and bearings
    rules.aqi        the AQI index of HJ 633

Where each concept lives (one module each; its docstring says what the concept is):

    entry and state
      _engine        evaluate and sweep: each record handed to the module of its kind
      _state         RuleState, everything remembered between records
      _snapshot      the state as versioned JSON, and back (what derives is rebuilt)
    what comes in, what goes out, what is configured
      _records       Reading, DronePosition, Mission, Finding, Station
      _signals       AlertSignal, ZoneEvent, Maintenance, DroneSuggestion
      _ruleset       Ruleset and every rule's settings (thresholds, no data, findings, drones)
    readings
      _readings      a reading's path: maintenance, no data, background, thresholds, AQI
      _sites         where a reading belongs: subject, location, zones, area class
      _maintenance   HJ 212 M/C flags start and end maintenance
      _nodata        a station silent past its limit
      _thresholds    threshold rules: window statistics, aligned blocks, daily counts
      _trigger       limits held for a time, cleared with hysteresis (the condition machine)
      _windows       the window registry: one shared Window per series and span
      _window        one time window of samples, with mean and extremes
      _background    hourly means of reference stations, for background rules
      _station_aqi   a station's real-time AQI from its windows, as the metric `aqi`
      _aqi           the AQI index (IAQI, AQI, primary pollutant, publishability)
      _aqi_tables    HJ 633-2012 / 2026 breakpoints and levels, as data
    drones
      _drones        the order a position is judged in
      _drone_state   what is remembered per drone
      _presence      the enter/exit machine behind every drone condition
      _nofly         no-fly breaches
      _corridor      off corridor, and the mission plan its route comes from
      _zone_events   zone entries and exits ("on scene")
      _coverage      patrol coverage per local day
      _scene         a position under judgement, and the alerts about it
      _suggest       the drone to send to a new alert
      _findings      what a patrol saw, as an alert about the place
    geography
      _zones         Zone, and which kind of zone is most specific
      _zone_index    ZoneIndex: which zones a point is in
      _cellcover     the cell cover behind the index's fast path
      _geodesy       metres, not degrees: distances, bearings, projection, routes
"""

from rules._coverage import coverage
from rules._engine import evaluate, sweep
from rules._snapshot import SnapshotError, dump_state, load_state
from rules._state import RuleState

__all__ = [
    "RuleState",
    "SnapshotError",
    "coverage",
    "dump_state",
    "evaluate",
    "load_state",
    "sweep",
]
