"""The engine's two entry points: `evaluate` a record, `sweep` with the shell's clock.

Pure in the sense that matters here: no I/O, no clock reads, no globals; the same records
in the same order give the same signals. The rule state is one plain object the shell
owns and passes back in. It is updated in place and returned (rather than copied) because
windows are numpy arrays fed tens of thousands of times a second; the shell must treat
the returned state as the only live one.

`evaluate` hands each record to the module of its kind and adds drone suggestions to
what comes back: readings to `rules._readings`, drone positions to `rules._drones`,
missions to `rules._corridor`, findings to `rules._findings`.
"""

from __future__ import annotations

from datetime import datetime

from rules._corridor import on_mission
from rules._drones import on_position
from rules._findings import on_finding
from rules._nodata import sweep as sweep_no_data
from rules._readings import on_reading
from rules._records import DronePosition, Finding, Mission, Reading, Record
from rules._ruleset import Ruleset
from rules._signals import Signal
from rules._sites import station_site
from rules._state import RuleState
from rules._suggest import with_suggestions


def evaluate(
    state: RuleState, record: Record, rs: Ruleset, now: datetime | None = None
) -> tuple[RuleState, list[Signal]]:
    """Feed one record; the state (updated) and the signals it caused. `now`, the shell's
    clock when the record is processed, lets a late record's new alert be suggested the
    drones as they are now (see `rules._suggest`); without it, as at the record's time."""
    signals: list[Signal]
    if isinstance(record, Reading):
        signals = on_reading(state, record, rs)
    elif isinstance(record, DronePosition):
        signals = on_position(state.drones, record, rs.index, rs.drones, rs.tz)
    elif isinstance(record, Mission):
        signals = on_mission(state.drones, record, rs.index, rs.drones)
    elif isinstance(record, Finding):
        signals = list(on_finding(state.findings, record, rs))
    else:  # pragma: no cover - Record is a closed union
        raise TypeError(f"not a record: {record!r}")
    if not signals:
        return state, signals  # most records: nothing to suggest a drone for
    return state, with_suggestions(state.drones, signals, rs.drones, now)


def sweep(state: RuleState, now: datetime, rs: Ruleset) -> tuple[RuleState, list[Signal]]:
    """What the passing of time alone causes: stations gone silent."""
    sites = state.sites
    for station_id in rs.stations:
        station_site(station_id, rs, sites)
    signals: list[Signal] = list(sweep_no_data(state.no_data, now.timestamp(), rs, sites))
    return state, with_suggestions(state.drones, signals, rs.drones, now)
