"""Response-time metrics: the definitions the bureau audits, on histories whose figures are
worked out by hand in the comments."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from dispatch._figures import (
    HEADER,
    GroupBy,
    MetricRow,
    ResponseTimes,
    Stats,
    _utc_offsets,
    nearest_rank,
    response_times,
    stats,
    to_csv,
    to_json,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 10, 9, 0, tzinfo=SH).timestamp()
NOW = T0 + 3600  # an hour after the first alerts of these histories


def row(
    id: str = "a", *, raised: float = 0, ack: float | None = None, closed: float | None = None,
    state: str | None = None, close_in: float = 1800, queue: str = "blue_sky",
    zone: str | None = "z1", grid: str | None = "g1", outcome: str | None = None,
    escalated: str = "", muted: bool = False,
) -> MetricRow:
    """An alert raised `raised` s after T0; ack/closed are seconds after T0 too; its close
    deadline is `close_in` s after it was raised (the 30-minute default)."""
    if state is None:
        state = "closed" if closed is not None else "acknowledged" if ack is not None else "raised"
    if outcome is None and state == "closed":
        outcome = "resolved"
    return MetricRow(
        id=id, kind="dust", queue=queue, zone=zone, grid=grid, state=state,
        raised_at=T0 + raised, acknowledged_at=None if ack is None else T0 + ack,
        closed_at=None if closed is None else T0 + closed, ack_by=T0 + raised + 300,
        close_by=T0 + raised + close_in, outcome=outcome, escalated=escalated, muted=muted,
    )


def total(rows: Iterable[MetricRow], now: float = NOW) -> ResponseTimes:
    (result,) = response_times(rows, group_by=GroupBy.ALL, tz=SH, now=now)
    assert result.group == "(all)"
    return result


@pytest.mark.parametrize(
    ("p", "n", "index"),
    [
        pytest.param(50, 1, 0, id="n=1 median is the value"),
        pytest.param(95, 1, 0, id="n=1 p95 is the value"),
        pytest.param(50, 2, 0, id="n=2 median is the lower"),  # ceil(1.0) = rank 1
        pytest.param(50, 3, 1, id="n=3 median is the middle"),  # ceil(1.5) = rank 2
        pytest.param(50, 4, 1, id="n=4 median is the lower middle"),  # ceil(2.0) = rank 2
        pytest.param(90, 10, 8, id="n=10 p90 is the 9th"),  # ceil(9.0) = rank 9
        pytest.param(95, 10, 9, id="n=10 p95 is the 10th"),  # ceil(9.5) = rank 10
        pytest.param(90, 11, 9, id="n=11 p90 is the 10th"),  # ceil(9.9) = rank 10
        pytest.param(95, 20, 18, id="n=20 p95 is the 19th"),  # ceil(19.0) = rank 19
        pytest.param(90, 100, 89, id="n=100 p90 is the 90th"),
    ],
)
def test_nearest_rank(p: int, n: int, index: int) -> None:
    assert nearest_rank(p, n) == index


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([], Stats(0, None, None, None, None), id="none"),
        pytest.param([420.0], Stats(1, 420.0, 420.0, 420.0, 420.0), id="n=1"),
        # sorted 60..600 by 60: median rank 5 = 300, p90 rank 9 = 540, p95 rank 10 = 600
        pytest.param([600, 60, 540, 120, 480, 180, 420, 240, 360, 300],
                     Stats(10, 300.0, 540.0, 600.0, 600.0), id="n=10 unsorted"),
        # ties: ranks 3 (median), 5 (p90, ceil 4.5), 5 (p95, ceil 4.75) of [10,10,10,10,20]
        pytest.param([10, 20, 10, 10, 10], Stats(5, 10.0, 20.0, 20.0, 20.0), id="ties low"),
        # nine 5s and one 100: p90 = rank 9 = 5, p95 = rank 10 = 100
        pytest.param([5] * 9 + [100], Stats(10, 5.0, 5.0, 100.0, 100.0), id="ties p90 vs p95"),
        pytest.param([7, 7, 7], Stats(3, 7.0, 7.0, 7.0, 7.0), id="all equal"),
    ],
)
def test_stats(values: list[float], expected: Stats) -> None:
    assert stats(np.array(values, dtype=np.float64)) == expected


# One alert each; now = T0 + 3600 and the close deadline is raised + 1800.
# figures: (open, closed, sla_met, sla_due)
@pytest.mark.parametrize(
    ("alert", "figures"),
    [
        pytest.param(row(ack=60, closed=900), (0, 1, 1, 1), id="closed in time"),
        pytest.param(row(ack=60, closed=1800), (0, 1, 1, 1), id="closed at the deadline"),
        pytest.param(row(ack=60, closed=1801), (0, 1, 0, 1), id="closed late"),
        pytest.param(row(ack=60), (1, 0, 0, 1), id="open past deadline"),
        pytest.param(row(raised=2400, ack=2500), (1, 0, 0, 0), id="open within deadline"),
        # deadline == now: not yet past it
        pytest.param(row(close_in=3600), (1, 0, 0, 0), id="open, deadline is now"),
        pytest.param(row(), (1, 0, 0, 1), id="never acknowledged, past deadline"),
        # a reopen clears closed_at; a row that kept a stale one is still open
        pytest.param(row(ack=60, state="acknowledged"), (1, 0, 0, 1), id="reopened"),
        pytest.param(row(ack=60, closed=600, state="acknowledged"), (1, 0, 0, 1),
                     id="reopened, stale closed_at"),
        pytest.param(row(ack=60, closed=2400, muted=True), (0, 0, 0, 0), id="muted"),
    ],
)
def test_sla_of_one_alert(alert: MetricRow, figures: tuple[int, int, int, int]) -> None:
    r = total([alert])
    assert (r.open, r.closed, r.sla_met, r.sla_due) == figures
    assert r.count == r.open + r.closed == (0 if alert.muted else 1)
    assert r.sla_attainment == (figures[2] / figures[3] if figures[3] else None)


def test_a_mixed_history() -> None:
    rows = [
        row("a1", ack=120, closed=600),  # met; ack 120, close 600
        row("a2", ack=300, closed=2400, escalated="close"),  # late; ack 300, close 2400
        row("a3"),  # never acknowledged, open past deadline
        row("a4", raised=3000),  # open, within deadline
        row("a5", ack=60, state="acknowledged", escalated="ack,close"),  # reopened, past deadline
        row("a6", ack=10, closed=20, muted=True),  # muted: counted apart only
        row("a7", ack=30, closed=1200, outcome="false_alarm"),  # met; ack 30, close 1200
    ]
    r = total(rows)
    assert (r.count, r.muted, r.open, r.closed) == (6, 1, 3, 3)
    assert (r.false_alarms, r.escalated) == (1, 2)
    # acks sorted [30, 60, 120, 300], n=4: median rank 2 = 60, p90 rank ceil(3.6)=4 = 300
    assert r.time_to_ack == Stats(4, 60.0, 300.0, 300.0, 300.0)
    # closes sorted [600, 1200, 2400], n=3: median rank 2 = 1200, p90 rank 3 = 2400
    assert r.time_to_close == Stats(3, 1200.0, 2400.0, 2400.0, 2400.0)
    # met a1, a7; due a1, a2, a7 (closed) + a3, a5 (open past) = 5
    assert (r.sla_met, r.sla_due, r.open_overdue) == (2, 5, 2)
    assert r.sla_attainment == pytest.approx(0.4)


def test_ten_closes_p90_is_the_ninth_value() -> None:
    # closes at 1..10 minutes: p90 is the 9th (540 s), p95 the 10th, median the 5th
    rows = [row(f"a{i}", ack=10, closed=60 * i) for i in range(10, 0, -1)]
    assert total(rows).time_to_close == Stats(10, 300.0, 540.0, 600.0, 600.0)


def test_nothing_raised_gives_a_total_of_zeros() -> None:
    for group_by in GroupBy:
        assert response_times([], group_by=group_by, tz=SH, now=NOW) == [
            ResponseTimes("(all)", 0, 0, 0, 0, 0, 0, Stats(0, None, None, None, None),
                          Stats(0, None, None, None, None), 0, 0)
        ]
    assert total([]).sla_attainment is None


def test_rows_may_be_any_iterable() -> None:
    rows = [row("a", ack=60, closed=600), row("b", ack=120)]
    assert total(iter(rows)) == total(rows) == total(tuple(rows))


@pytest.mark.parametrize(
    ("group_by", "keys"),
    [
        pytest.param(GroupBy.QUEUE, ["blue_sky", "law_enforcement"], id="queue"),
        pytest.param(GroupBy.ZONE, ["(none)", "z1", "z2"], id="zone, None as (none)"),
        pytest.param(GroupBy.GRID, ["(none)", "g1"], id="grid, None as (none)"),
    ],
)
def test_groups_are_sorted_after_the_total(group_by: GroupBy, keys: list[str]) -> None:
    rows = [
        row("a", queue="law_enforcement", zone="z2", ack=60, closed=600),
        row("b", zone=None, grid=None, ack=120, closed=2400),
        row("c", ack=30),
        row("d", zone="z2", muted=True),
    ]
    results = response_times(rows, group_by=group_by, tz=SH, now=NOW)
    assert [r.group for r in results] == ["(all)", *keys]
    for field in ("count", "muted", "open", "closed", "sla_met", "sla_due"):
        assert getattr(results[0], field) == sum(getattr(r, field) for r in results[1:])


def test_group_figures_by_queue() -> None:
    rows = [
        row("a", queue="law_enforcement", ack=60, closed=600),
        row("b", ack=120, closed=2400),  # late
        row("c", ack=30, closed=900),
        row("d", ack=300),  # open past deadline
    ]
    total_, blue, law = response_times(rows, group_by=GroupBy.QUEUE, tz=SH, now=NOW)
    # blue_sky acks [30, 120, 300]: median 120; closes [900, 2400]: median 900 (rank 1)
    assert blue.time_to_ack == Stats(3, 120.0, 300.0, 300.0, 300.0)
    assert blue.time_to_close == Stats(2, 900.0, 2400.0, 2400.0, 2400.0)
    assert (blue.sla_met, blue.sla_due, law.sla_met, law.sla_due) == (1, 3, 1, 1)
    # all acks [30, 60, 120, 300]: median 60 (rank 2)
    assert total_.time_to_ack.median == 60.0


def at(iso: str) -> float:
    """Seconds after T0 of a local time in Shanghai."""
    return datetime.fromisoformat(iso).timestamp() - T0


# 2026-06-30T23:30+08:00 is 15:30 UTC the same day; 2026-07-01T07:30+08:00 is 23:30 UTC on
# June 30: local dates, not UTC ones, decide the day and month.
BOUNDARY = [
    row("may", raised=at("2026-05-31T23:59:59+08:00")),
    row("jun-first", raised=at("2026-06-01T00:00:00+08:00")),
    row("jun-last", raised=at("2026-06-30T23:30:00+08:00")),
    row("jul-utc-june", raised=at("2026-07-01T07:30:00+08:00")),
    row("jul-1", raised=at("2026-07-01T00:00:00+08:00"), muted=True),
]


@pytest.mark.parametrize(
    ("group_by", "groups"),
    [
        pytest.param(GroupBy.MONTH, {"2026-05": 1, "2026-06": 2, "2026-07": 2}, id="month"),
        pytest.param(GroupBy.DAY, {"2026-05-31": 1, "2026-06-01": 1, "2026-06-30": 1,
                                   "2026-07-01": 2}, id="day"),
    ],
)
def test_dates_in_the_local_timezone(group_by: GroupBy, groups: dict[str, int]) -> None:
    results = response_times(BOUNDARY, group_by=group_by, tz=SH, now=NOW)
    assert {r.group: r.count + r.muted for r in results[1:]} == groups
    assert [r.group for r in results[1:]] == sorted(groups)


def test_dates_in_utc_differ() -> None:
    results = response_times(BOUNDARY, group_by=GroupBy.MONTH, tz=ZoneInfo("UTC"), now=NOW)
    # in UTC the 00:00+08:00 and 07:30+08:00 alerts of July 1 fall on June 30
    assert {r.group: r.count + r.muted for r in results[1:]} == {"2026-05": 2, "2026-06": 3}


@pytest.mark.parametrize(
    ("group_by", "groups"),
    [
        pytest.param(GroupBy.DAY, ["2016-02-29", "2026-06-30", "2026-07-01"], id="day"),
        pytest.param(GroupBy.MONTH, ["2016-02", "2026-06", "2026-07"], id="month"),
    ],
)
def test_dates_years_apart(group_by: GroupBy, groups: list[str]) -> None:
    # few alerts over many days: the grouping takes its sparse path
    rows = [row("leap", raised=at("2016-02-29T00:30:00+08:00")), *BOUNDARY[2:4]]
    results = response_times(rows, group_by=group_by, tz=SH, now=NOW)
    assert [(r.group, r.count) for r in results[1:]] == [(g, 1) for g in groups]


def test_offset_changing_within_an_hour() -> None:
    # Lord Howe Island moves from +10:30 to +11:00 at 2026-10-03T15:30Z, mid-hour
    tz = ZoneInfo("Australia/Lord_Howe")
    switch = datetime.fromisoformat("2026-10-03T15:30:00+00:00").timestamp()
    t = np.array([switch - 1800, switch - 1, switch, switch + 1], dtype=np.float64)
    assert _utc_offsets(t, tz).tolist() == [37800.0, 37800.0, 39600.0, 39600.0]


def reference(rows: list[MetricRow], key: str, now: float) -> dict[str, tuple[object, ...]]:
    """The definitions written out naively, one alert at a time."""
    def rank(values: list[float], p: int) -> float:
        return sorted(values)[math.ceil(p * len(values) / 100) - 1]

    def figures(values: list[float]) -> tuple[object, ...]:
        if not values:
            return (0, None, None, None, None)
        return (len(values), rank(values, 50), rank(values, 90), rank(values, 95), max(values))

    groups: dict[str, list[MetricRow]] = {}
    for r in rows:
        if key in ("day", "month"):
            name = datetime.fromtimestamp(r.raised_at, SH).date().isoformat()[
                : 10 if key == "day" else 7]
        else:
            name = getattr(r, key) or "(none)"
        groups.setdefault(name, []).append(r)
    out: dict[str, tuple[object, ...]] = {}
    for name, members in groups.items():
        live = [r for r in members if not r.muted]
        closed = [r for r in live if r.state == "closed"]
        acks = [r.acknowledged_at - r.raised_at for r in live if r.acknowledged_at is not None]
        closes = [r.closed_at - r.raised_at for r in closed if r.closed_at is not None]
        met = sum(r.closed_at is not None and r.closed_at <= r.close_by for r in closed)
        due = len(closed) + sum(r.state != "closed" and r.close_by < now for r in live)
        out[name] = (len(live), len(members) - len(live), len(closed), figures(acks),
                     figures(closes), met, due)
    return out


@pytest.mark.parametrize("group_by", ["queue", "zone", "grid", "day", "month"])
def test_agrees_with_a_naive_reference(group_by: str) -> None:
    rnd = random.Random(7)
    rows = []
    for i in range(3000):
        raised = rnd.uniform(-40 * 86400, 40 * 86400)
        ack = raised + rnd.randrange(0, 900, 30) if rnd.random() < 0.8 else None
        closed = raised + rnd.randrange(60, 5400, 60) if ack and rnd.random() < 0.8 else None
        rows.append(row(
            f"a{i}", raised=raised, ack=ack, closed=closed,
            state="acknowledged" if closed and rnd.random() < 0.05 else None,
            queue=rnd.choice(["blue_sky", "law_enforcement", "water"]),
            zone=rnd.choice([None, "z1", "z2", "z3"]), grid=rnd.choice([None, "g1", "g2"]),
            muted=rnd.random() < 0.05,
        ))
    now = T0 + 20 * 86400
    results = response_times(rows, group_by=GroupBy(group_by), tz=SH, now=now)
    got = {
        r.group: (r.count, r.muted, r.closed, tuple(vars_(r.time_to_ack)),
                  tuple(vars_(r.time_to_close)), r.sla_met, r.sla_due)
        for r in results[1:]
    }
    assert got == reference(rows, group_by, now)
    assert list(got) == sorted(got)


def vars_(s: Stats) -> tuple[object, ...]:
    return (s.count, s.median, s.p90, s.p95, s.max)


SMALL = [
    row("a", ack=60.04, closed=600.06),
    row("b", queue="law_enforcement", ack=125, closed=2400, outcome="false_alarm",
        escalated="close"),
    row("c", queue="law_enforcement", ack=30),
    row("d", muted=True),
]


def test_csv_text() -> None:
    text = to_csv(response_times(SMALL, group_by=GroupBy.QUEUE, tz=SH, now=NOW))
    assert text == (
        "group,count,muted,open,open_overdue,closed,false_alarms,escalated,"
        "ack_count,ack_median,ack_p90,ack_p95,ack_max,"
        "close_count,close_median,close_p90,close_p95,close_max,"
        "sla_met,sla_due,sla_attainment\r\n"
        # acks [30, 60.04, 125]: median 60.04 → 60.0; closes [600.06, 2400]: median 600.1
        "(all),3,1,1,1,2,1,1,3,60.0,125.0,125.0,125.0,2,600.1,2400.0,2400.0,2400.0,1,3,0.3333\r\n"
        "blue_sky,1,1,0,0,1,0,0,1,60.0,60.0,60.0,60.0,1,600.1,600.1,600.1,600.1,1,1,1.0000\r\n"
        # b closed late, c open past its deadline: 0 of 2
        "law_enforcement,2,0,1,1,1,1,1,2,30.0,125.0,125.0,125.0,1,2400.0,2400.0,2400.0,2400.0,"
        "0,2,0.0000\r\n"
    )
    assert len(text.splitlines()[0].split(",")) == len(HEADER)


def test_csv_leaves_none_empty() -> None:
    text = to_csv(response_times([row("a", raised=3000)], group_by=GroupBy.ALL, tz=SH, now=NOW))
    # open within deadline: no times, nothing due, attainment None
    assert text.splitlines()[1] == "(all),1,0,1,0,0,0,0,0,,,,,0,,,,,0,0,"


def test_json() -> None:
    (all_,) = to_json(response_times(SMALL, group_by=GroupBy.ALL, tz=SH, now=NOW))
    assert all_ == {
        "group": "(all)", "count": 3, "muted": 1, "open": 1, "open_overdue": 1, "closed": 2,
        "false_alarms": 1, "escalated": 1,
        "time_to_ack": {"count": 3, "median": 60.0, "p90": 125.0, "p95": 125.0, "max": 125.0},
        "time_to_close": {"count": 2, "median": 600.1, "p90": 2400.0, "p95": 2400.0,
                          "max": 2400.0},
        "sla_met": 1, "sla_due": 3, "sla_attainment": 0.3333,
    }
