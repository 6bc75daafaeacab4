"""The shell around the rules engine: records in, signals to dispatch, sweeps on the
clock, and the engine's state kept across restarts.

The state is snapshotted to the store periodically and at shutdown, so a restart does not
forget a 15-minute window or an open no-fly condition; QoS 1 redeliveries after the
restart are absorbed by ingest's deduplication. A snapshot is a pickle of plain data
tagged with a format version: one the code cannot read is logged and dropped (windows
refill within their span), never allowed to stop start-up.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter

from dispatch import AlertStore
from rules import AlertSignal, Record, Ruleset, RuleState, Signal, coverage, evaluate, sweep

log = logging.getLogger("lantian.rules")

#: Bump when RuleState's shape changes: older snapshots are then dropped, not misread.
SNAPSHOT_FORMAT = 2
SNAPSHOT_NAME = "rules"


class SignalSink(Protocol):
    def receive(self, signals: list[Signal]) -> None: ...


class RulesPipeline:
    def __init__(
        self,
        ruleset: Ruleset,
        sink: SignalSink,
        clock: Callable[[], datetime],
        registry: CollectorRegistry,
        state: RuleState | None = None,
    ) -> None:
        self.ruleset = ruleset
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
        try:
            self.state, signals = evaluate(self.state, record, self.ruleset)
        except Exception:
            # a bug in one rule must not stop the service or lose the other records
            log.exception("rules engine failed on %r", record)
            self._errors.labels(type(record).__name__).inc()
            return
        self._deliver(signals)

    def sweep(self) -> None:
        self.state, signals = sweep(self.state, self.clock(), self.ruleset)
        self._deliver(signals)

    def _deliver(self, signals: list[Signal]) -> None:
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

    # -- surviving restarts --------------------------------------------------------------

    def save(self, store: AlertStore) -> bool:
        """Snapshot the state; False (and logged) if that failed: a lost snapshot costs
        refilled windows after a restart, it must not stop the service or its shutdown."""
        try:
            data = pickle.dumps((SNAPSHOT_FORMAT, self.state), protocol=pickle.HIGHEST_PROTOCOL)
            store.save_snapshot(SNAPSHOT_NAME, data, self.clock())
        except Exception:
            log.exception("could not snapshot the rules state")
            return False
        return True

    def restore(self, store: AlertStore) -> bool:
        data = store.load_snapshot(SNAPSHOT_NAME)
        if data is None:
            return False
        try:
            version, state = pickle.loads(data)  # our own store's bytes, written above
        except Exception as exc:
            log.warning("dropping an unreadable rules snapshot: %s", exc)
            return False
        if version != SNAPSHOT_FORMAT or not isinstance(state, RuleState):
            log.warning("dropping a rules snapshot of format %r (this is %r)", version,
                        SNAPSHOT_FORMAT)
            return False
        self.state = state
        return True
