"""No data means no metric: a station that sends only unmapped codes (issue 15, point 3)
is silent to the no-data rule, though its readings arrive."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from rules import RuleState, evaluate, sweep
from rules.records import Reading
from rules.settings import NoDataRule
from rules.signals import Action, AlertSignal
from tests.unit.rules.test_engine import PM10_15MIN, T0, alerts, reading, ruleset

RS = ruleset(PM10_15MIN, no_data=NoDataRule(after_s=900))


def empty(minute: float) -> Reading:
    """What the decoder makes of a packet whose factors all map to no Lantian metric."""
    return reading("KY-CS-001", minute)


def raised(signals: Iterable[object]) -> list[str]:
    return [s.subject for s in signals if isinstance(s, AlertSignal) and s.action is Action.RAISE]


def test_readings_without_metrics_do_not_reset_the_no_data_clock() -> None:
    state = RuleState()
    state, _ = sweep(state, T0, RS)
    for minute in range(0, 16):
        state, signals = evaluate(state, empty(minute), RS)
        assert signals == []
    state, silent = sweep(state, T0 + timedelta(minutes=16), RS)
    assert "station:KY-CS-001" in raised(silent)


def test_a_reading_with_a_metric_does_reset_it() -> None:
    state = RuleState()
    state, _ = sweep(state, T0, RS)
    state, _ = evaluate(state, reading("KY-CS-001", 10, temp=20.0), RS)
    state, silent = sweep(state, T0 + timedelta(minutes=16), RS)
    assert "station:KY-CS-001" not in raised(silent)
    assert "station:KY-CS-002" in raised(silent)  # the control: others did go silent


def test_readings_without_metrics_do_not_end_a_no_data_alert() -> None:
    state = RuleState()
    state, _ = sweep(state, T0, RS)
    state, silent = sweep(state, T0 + timedelta(minutes=16), RS)
    assert "station:KY-CS-001" in raised(silent)
    state, signals = evaluate(state, empty(17), RS)
    assert alerts(signals) == []
    state, signals = evaluate(state, reading("KY-CS-001", 18, pm10=50), RS)
    assert alerts(signals) == [(Action.CLEAR, "no-data", "warning")]
