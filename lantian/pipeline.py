"""The shell around the rules engine: records in, signals to dispatch, sweeps on the
clock. How its state survives a restart: `lantian.recovery`, which snapshots `state` and
rebuilds it with `replay` and `replay_sweep` (the engine again, its signals dropped:
their effects were committed with the input)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter

from rules import RuleState, coverage, evaluate, sweep
from rules.records import Record
from rules.settings import Ruleset
from rules.signals import AlertSignal, Signal

log = logging.getLogger("lantian.rules")


class SignalSink(Protocol):
    def receive(self, signals: list[Signal]) -> None: ...


class Scope(Protocol):
    """What this instance's rules see and speak for (`lantian.partition.Partition`): the
    records it feeds to the engine, the signals it hands to dispatch."""

    def feeds(self, record: Record) -> bool: ...

    def delivers(self, signal: Signal) -> bool: ...


class RulesPipeline:
    def __init__(
        self,
        ruleset: Ruleset,
        sink: SignalSink,
        clock: Callable[[], datetime],
        registry: CollectorRegistry,
        state: RuleState | None = None,
        scope: Scope | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.scope = scope
        self.sink = sink
        self.clock = clock
        self.state = state or RuleState()
        self._signals = Counter(
            "lantian_rule_signals", "Signals the rules engine emitted", ["action", "kind"],
            registry=registry,
        )
        self._errors = Counter(
            "lantian_rule_errors",
            "Records the rules engine, or signals dispatch, failed on (see the log)",
            ["record"], registry=registry,
        )

    def on_record(self, record: Record) -> None:
        if self.scope is not None and not self.scope.feeds(record):
            return  # another partition's station: its owner keeps the window
        try:
            self.state, signals = evaluate(self.state, record, self.ruleset, self.clock())
        except Exception:
            # a bug in one rule must not stop the service or lose the other records
            log.exception("rules engine failed on %r", record)
            self._errors.labels(type(record).__name__).inc()
            return
        self._deliver(signals)

    def sweep(self, at: datetime | None = None) -> None:
        self.state, signals = sweep(self.state, at or self.clock(), self.ruleset)
        self._deliver(signals)

    def replay(self, record: Record) -> None:
        """`on_record` without delivering the signals."""
        if self.scope is not None and not self.scope.feeds(record):
            return
        try:
            self.state, _ = evaluate(self.state, record, self.ruleset)
        except Exception:
            log.exception("rules engine failed on %r (replayed)", record)

    def replay_sweep(self, at: datetime) -> None:
        self.state, _ = sweep(self.state, at, self.ruleset)

    def last_seen(self, station: str) -> datetime | None:
        """The time of the station's newest record (kept for the no-data rule, so it
        survives a restart with the rest of the state); None if never heard from."""
        t = self.state.no_data.last_seen.get(station)
        return None if t is None else datetime.fromtimestamp(t, UTC)

    def _deliver(self, signals: list[Signal]) -> None:
        if self.scope is not None:
            signals = owned(signals, self.scope)
        if not signals:
            return
        for s in signals:
            action = s.action.value if isinstance(s, AlertSignal) else type(s).__name__
            kind = s.kind if isinstance(s, AlertSignal) else ""
            self._signals.labels(action, kind).inc()
        try:
            self.sink.receive(signals)
        except Exception:
            # the store or the broker failing on one alert must not stop the records
            # behind it; the log has the signals, and the error is counted
            log.exception("dispatch failed on %r", signals)
            self._errors.labels("dispatch").inc()

    def coverage(self, day: date) -> dict[str, Any]:
        """The daily patrol coverage: which patrol_area / community / land_use zones each
        drone was inside on the local `day`, and which zone no drone reached."""
        visited = coverage(self.state.drones, day)
        kinds = self.ruleset.drones.coverage_kinds
        zones = [z for z in self.ruleset.index.zones if z.kind in kinds]
        rows = [
            {"id": z.id, "name": z.name, "kind": z.kind, "grid": z.grid,
             "visited_by": sorted(d for d, ids in visited.items() if z.id in ids)}
            for z in sorted(zones, key=lambda z: (z.kind, z.id))
        ]
        return {
            "day": day.isoformat(),
            "drones": {d: sorted(ids) for d, ids in visited.items()},
            "zones": rows,
            "covered": sum(1 for r in rows if r["visited_by"]),
            "total": len(rows),
        }


def owned(signals: list[Signal], scope: Scope) -> list[Signal]:
    """The signals this instance speaks for: those about what another partition owns
    come from the state it keeps only to read (a reference station, another's drone),
    and that partition's instance delivers them."""
    return [s for s in signals if scope.delivers(s)]
