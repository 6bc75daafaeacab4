"""The span charted around an alert, the station it is about and the rule window of its
evidence: the pure parts of `GET /api/alerts/{id}/readings` (the route itself runs against
the real service and a real influxd in tests/integration/test_alert_readings.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dispatch._api_readings import Span, Throttle, rule_window, span_around, station_of

RAISED = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_half_an_hour_either_side_of_the_raise_while_it_lasts() -> None:
    assert span_around(RAISED, None, RAISED + 90 * MIN) == Span(RAISED - 30 * MIN,
                                                                RAISED + 30 * MIN)


def test_an_alert_still_young_is_charted_up_to_now() -> None:
    assert span_around(RAISED, None, RAISED + 5 * MIN).until == RAISED + 5 * MIN


def test_a_closed_alert_is_charted_up_to_its_closing() -> None:
    assert span_around(RAISED, RAISED + 12 * MIN, RAISED + 5 * 60 * MIN).until == \
        RAISED + 12 * MIN


def test_minutes_widen_the_span_and_a_clock_behind_the_raise_still_charts_before_it() -> None:
    assert span_around(RAISED, None, RAISED + 600 * MIN, minutes=120) == Span(
        RAISED - 120 * MIN, RAISED + 120 * MIN)
    assert span_around(RAISED, None, RAISED - 3 * MIN) == Span(RAISED - 30 * MIN, RAISED)


class _Alert:
    def __init__(self, subject: str) -> None:
        self.subject = subject


def test_only_a_stations_alert_names_a_station() -> None:
    assert station_of(_Alert("station:KY-CS-001")) == "KY-CS-001"  # type: ignore[arg-type]
    assert station_of(_Alert("drone:KY-UAV-01")) is None  # type: ignore[arg-type]
    assert station_of(_Alert("station:")) is None  # type: ignore[arg-type]


def test_the_rule_window_is_the_evidence_readings_or_none() -> None:
    described: dict[str, Any] = {"evidence": {"readings": [["2026-06-12T10:00:00+08:00", 160]]}}
    assert rule_window(described) == [["2026-06-12T10:00:00+08:00", 160]]
    assert rule_window({"evidence": {"track": []}}) == []
    assert rule_window({}) == []


def test_a_failing_source_is_warned_about_once_a_minute_at_most() -> None:
    now = [RAISED]
    warn = Throttle(lambda: now[0], 60)
    said = []
    for seconds in (0, 10, 59, 60, 61, 125):
        now[0] = RAISED + timedelta(seconds=seconds)
        said.append(warn())
    assert said == [True, False, False, True, False, True]
