"""Routes (first match wins, local time of day), deadlines and silences."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch._alert import Alert
from dispatch._lifecycle import Incident, Stage, State
from dispatch._routing import Route, Router
from dispatch._silences import Silence, muting
from dispatch._sla import Deadlines, deadlines_for, overdue

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 10, 31, tzinfo=SH)

ROUTER = Router(
    (
        Route("blue_sky", kinds=frozenset({"dust_exceedance"}),
              zone_kinds=frozenset({"construction_site"})),
        Route("law_enforcement", kinds=frozenset({"road_dust"})),
        Route("night_duty", severities=frozenset({"critical"}), start=time(22), end=time(6)),
        Route("law_enforcement", zone_kinds=frozenset({"land_use"})),
    ),
    default="blue_sky",
)


@pytest.mark.parametrize(
    ("kind", "zone_kinds", "severity", "hour", "queue"),
    [
        ("dust_exceedance", ["construction_site", "grid"], "major", 10, "blue_sky"),
        ("road_dust", [], "major", 10, "law_enforcement"),
        ("dust_exceedance", ["land_use"], "major", 10, "law_enforcement"),  # not a site
        ("no_fly_breach", ["no_fly"], "critical", 23, "night_duty"),
        ("no_fly_breach", ["no_fly"], "critical", 5, "night_duty"),  # wraps midnight
        ("no_fly_breach", ["no_fly"], "critical", 6, "blue_sky"),  # end is exclusive
        ("no_fly_breach", ["no_fly"], "critical", 22, "night_duty"),  # start inclusive
        ("illegal_land_use", ["land_use"], "major", 3, "law_enforcement"),
        ("no_data", [], "warning", 10, "blue_sky"),  # the default takes the rest
    ],
    ids=["site dust", "road", "dust off site", "night", "night wraps", "night ends",
         "night starts", "land use", "default"],
)
def test_first_matching_route_wins(
    kind: str, zone_kinds: list[str], severity: str, hour: int, queue: str
) -> None:
    at = T0.replace(hour=hour, minute=0)
    assert ROUTER.queue_for(kind, zone_kinds, severity, at) == queue


def alert(state: State = State.DISPATCHED, **kw: object) -> Alert:
    ack_by, close_by = deadlines_for("blue_sky", {"blue_sky": Deadlines()}, T0)
    incident = Incident(id="a1", queue="blue_sky", raised_at=T0, state=state, **kw)  # type: ignore[arg-type]
    return Alert(incident, "r", "station:KY-CS-001", "dust_exceedance", "cs-01", "KY-G-022",
                 ack_by, close_by, {})


@pytest.mark.parametrize(
    ("a", "minutes", "stages"),
    [
        (alert(), 5, []),  # exactly at the deadline is not past it
        (alert(), 5.01, [Stage.ACK]),
        (alert(), 31, [Stage.ACK, Stage.CLOSE]),
        (alert(acknowledged_at=T0), 31, [Stage.CLOSE]),
        (alert(escalated=frozenset({Stage.ACK})), 31, [Stage.CLOSE]),
        (alert(State.CLOSED), 31, []),
        (alert(muted=True), 31, []),
    ],
    ids=["at deadline", "ack overdue", "both", "acknowledged", "ack done", "closed", "muted"],
)
def test_overdue(a: Alert, minutes: float, stages: list[Stage]) -> None:
    now = T0 + timedelta(minutes=minutes)
    assert [e.stage for _, e in overdue([a], now)] == stages


def test_deadlines_per_queue_with_defaults() -> None:
    policies = {"law_enforcement": Deadlines(timedelta(minutes=10), timedelta(hours=2))}
    assert deadlines_for("law_enforcement", policies, T0) == (
        T0 + timedelta(minutes=10), T0 + timedelta(hours=2))
    assert deadlines_for("blue_sky", policies, T0) == (
        T0 + timedelta(minutes=5), T0 + timedelta(minutes=30))


SILENCES = [
    Silence("s1", T0, T0 + timedelta(hours=1), "o", "calibration",
            stations=frozenset({"KY-CS-001"})),
    Silence("s2", T0, T0 + timedelta(hours=1), "o", "site closed", zones=frozenset({"cs-02"}),
            rules=frozenset({"site-pm10-15min"})),
]


@pytest.mark.parametrize(
    ("rule", "subject", "zones", "minutes", "silence"),
    [
        ("any", "station:KY-CS-001", [], 0, "s1"),
        ("any", "station:KY-CS-001", [], 60, None),  # the end is exclusive
        ("any", "station:KY-CS-001", [], -1, None),
        ("site-pm10-15min", "station:KY-CS-002", ["cs-02", "KY-G-082"], 10, "s2"),
        ("site-tsp-1h", "station:KY-CS-002", ["cs-02"], 10, None),  # every matcher must match
        ("site-pm10-15min", "station:KY-CS-003", ["cs-03"], 10, None),
    ],
    ids=["station", "after end", "before start", "zone and rule", "other rule", "other zone"],
)
def test_silences_match_every_matcher_inside_their_window(
    rule: str, subject: str, zones: list[str], minutes: int, silence: str | None
) -> None:
    found = muting(SILENCES, rule, subject, zones, T0 + timedelta(minutes=minutes))
    assert (found.id if found else None) == silence
