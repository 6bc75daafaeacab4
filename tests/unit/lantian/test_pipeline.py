"""The rules shell: signals reach the sink, failures are contained."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from lantian.config import load_settings
from lantian.pipeline import RulesPipeline
from rules.records import DronePosition, Location, Measurement, Reading
from rules.signals import AlertSignal, Signal
from tests.support import REPO

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 7, 0, tzinfo=SH)
RULES = load_settings(REPO / "config").rules


def fumes(minutes: int) -> list[Reading]:
    return [Reading("KY-CS-001", T0 + timedelta(minutes=m), {"pm10": Measurement(180.0)})
            for m in range(minutes)]


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.got: list[Signal] = []

    def receive(self, signals: list[Signal]) -> None:
        if self.fail:
            raise RuntimeError("the store is gone")
        self.got += signals


def pipeline(sink: Sink, registry: CollectorRegistry) -> RulesPipeline:
    return RulesPipeline(RULES, sink, lambda: T0, registry)


def test_signals_reach_the_sink() -> None:
    sink = Sink()
    p = pipeline(sink, CollectorRegistry())
    for r in fumes(3):
        p.on_record(r)
    assert [s.rule for s in sink.got if isinstance(s, AlertSignal)] == ["site-pm10-15min"]


def test_a_failing_sink_is_counted_and_the_next_records_still_flow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    sink = Sink(fail=True)
    p = pipeline(sink, registry)
    for r in fumes(3):
        p.on_record(r)  # the third raises inside the sink: contained
    assert registry.get_sample_value("lantian_rule_errors_total", {"record": "dispatch"}) == 1
    assert "dispatch failed" in caplog.text
    sink.fail = False
    p.on_record(Reading("KY-CS-001", T0 + timedelta(minutes=3), {"pm10": Measurement(300.0)}))
    assert [s.severity for s in sink.got if isinstance(s, AlertSignal)] == ["critical"]


def test_late_readings_are_suggested_the_drone_flying_now() -> None:
    """The shell hands the rules its clock: an hour-old upload gets today's drone."""
    now = T0 + timedelta(hours=1)
    sink = Sink()
    p = RulesPipeline(RULES, sink, lambda: now, CollectorRegistry())
    p.on_record(DronePosition("KY-UAV-01", now - timedelta(seconds=30),
                              Location(30.044, 120.501), 30.0))
    for r in fumes(3):
        p.on_record(r)
    (raised,) = [s for s in sink.got if isinstance(s, AlertSignal)]
    assert raised.drone_suggestion is not None
    assert raised.drone_suggestion.drone == "KY-UAV-01"
