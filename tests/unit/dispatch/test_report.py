"""The monthly report (月报): closed in the month (销号) and carried over (置顶, oldest
first), with month boundaries at local midnight in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dispatch._figures import MetricRow
from dispatch._gazetteer import Gazetteer
from dispatch._report import (
    MonthlyReport,
    Receipt,
    SiteCount,
    Summary,
    daily_trend,
    month_bounds,
    monthly_report,
    to_json,
    top_sites,
    with_receipts,
)

SH = ZoneInfo("Asia/Shanghai")


def t(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def row(
    id: str, raised: str, *, closed: str | None = None, state: str | None = None,
    close_in: float = 1800, escalated: str = "", muted: bool = False,
    outcome: str | None = None,
) -> MetricRow:
    """An alert raised at a Shanghai local time ("2026-06-03 10:00"), its close deadline
    `close_in` seconds later."""
    raised_at = t(f"{raised}+08:00")
    closed_at = None if closed is None else t(f"{closed}+08:00")
    state = state or ("closed" if closed is not None else "acknowledged")
    return MetricRow(
        id=id, kind="dust", queue="blue_sky", zone="z1", grid="g1", state=state,
        raised_at=raised_at, acknowledged_at=raised_at + 60, closed_at=closed_at,
        ack_by=raised_at + 300, close_by=raised_at + close_in,
        outcome=outcome or ("resolved" if state == "closed" else None), escalated=escalated,
        muted=muted,
    )


ROWS = [
    # raised in May, closed in June: June's closed list, May's carried over
    row("may-jun", "2026-05-20 10:00", closed="2026-06-03 09:00", escalated="ack,close"),
    row("jun-fast", "2026-06-02 08:00", closed="2026-06-02 08:20"),
    row("jun-late", "2026-06-04 08:00", closed="2026-06-04 09:00", escalated="close"),
    row("jun-open", "2026-06-05 08:00", escalated="ack"),  # open, long past its deadline
    # open at month end, deadline 00:20 on July 1: not yet overdue at the month's end
    row("jun-eve", "2026-06-30 23:50"),
    row("jun-jul", "2026-06-10 12:00", closed="2026-07-02 10:00"),
    # last second of June (local) vs first of July (local), which is still June 30 in UTC
    row("edge-jun", "2026-06-30 23:40", closed="2026-06-30 23:59:59"),
    row("edge-jul", "2026-06-30 23:10", closed="2026-07-01 00:00:00"),
    # closed in June, then reopened and not closed again: open, carried over
    row("reopened", "2026-06-06 08:00", closed="2026-06-06 08:10", state="acknowledged"),
    row("muted", "2026-06-07 08:00", closed="2026-06-07 09:00", muted=True),
    row("muted-open", "2026-06-07 08:00", muted=True),
    row("jul", "2026-07-03 08:00"),
    row("apr", "2026-04-28 08:00", closed="2026-04-28 08:10"),
]


def report(month: str, rows: list[MetricRow] = ROWS) -> MonthlyReport:
    # the store would pass subsets; the report applies the definitions itself
    return monthly_report(month, rows, rows, SH)


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        pytest.param("2026-06", "2026-06-01T00:00+08:00", "2026-07-01T00:00+08:00", id="june"),
        pytest.param("2026-12", "2026-12-01T00:00+08:00", "2027-01-01T00:00+08:00",
                     id="december into next year"),
        pytest.param("2028-02", "2028-02-01T00:00+08:00", "2028-03-01T00:00+08:00",
                     id="leap february"),
    ],
)
def test_month_bounds(month: str, start: str, end: str) -> None:
    bounds = month_bounds(month, SH)
    assert tuple(b.timestamp() for b in bounds) == (t(start), t(end))
    assert all(b.utcoffset() is not None for b in bounds)


def test_month_starts_at_local_midnight_not_utc() -> None:
    start, _ = month_bounds("2026-06", SH)
    assert start.timestamp() == t("2026-05-31T16:00+00:00")


@pytest.mark.parametrize(
    "month",
    ["2026-13", "2026-00", "2026-6", "26-06", "2026/06", "2026-06-01", "", " 2026-06",
     "2026-06\n", "0000-01", "9999-12", "２０２６-０６", "June"],
    ids=["month 13", "month 0", "one digit", "two-digit year", "slash", "a date", "empty",
         "leading space", "trailing newline", "year 0", "past datetime", "full-width digits",
         "a name"],
)
def test_bad_month(month: str) -> None:
    with pytest.raises(ValueError, match=r"YYYY-MM .*got"):
        month_bounds(month, SH)
    with pytest.raises(ValueError, match="YYYY-MM"):
        monthly_report(month, [], [], SH)


def test_june_closed_and_carried_over() -> None:
    r = report("2026-06")
    # ordered by closed_at
    assert [i.id for i in r.closed] == ["jun-fast", "may-jun", "jun-late", "edge-jun"]
    # ordered by raised_at, oldest first
    assert [i.id for i in r.carried_over] == [
        "jun-open", "reopened", "jun-jul", "edge-jul", "jun-eve"]
    assert r.summary == Summary(
        closed=4, closed_within_sla=2,  # jun-fast and edge-jun closed within 30 minutes
        carried_over=5, carried_over_overdue=4,  # all but jun-eve, due July 1 00:20
        escalated=3,  # may-jun, jun-late, jun-open
        muted=2,
    )


def test_an_alert_raised_in_may_and_closed_in_june() -> None:
    may, june = report("2026-05"), report("2026-06")
    assert [i.id for i in may.carried_over] == ["may-jun"]
    assert may.closed == ()
    item = next(i for i in june.closed if i.id == "may-jun")
    carried = may.carried_over[0]
    # raised 05-20 10:00, closed 06-03 09:00: 13 days 23 hours
    assert item.time_to_close == carried.time_to_close == 13 * 86400 + 23 * 3600
    # at May's end (06-01 00:00) it was 11 days 14 hours old
    assert carried.age_at_month_end == 11 * 86400 + 14 * 3600
    assert item.age_at_month_end is None
    assert item.overdue and carried.overdue


def test_month_boundary_items() -> None:
    june, july = report("2026-06"), report("2026-07")
    edge = next(i for i in june.carried_over if i.id == "edge-jul")
    assert edge.closed_at == datetime.fromisoformat("2026-07-01T00:00+08:00")
    assert edge.age_at_month_end == 50 * 60
    assert edge.overdue  # raised 23:10, due 23:40: past due at midnight
    assert [i.id for i in july.closed] == ["edge-jul", "jun-jul"]
    assert [i.id for i in july.carried_over] == ["jun-open", "reopened", "jun-eve", "jul"]


def test_item_fields() -> None:
    june = report("2026-06")
    item = june.closed[0]
    assert item.id == "jun-fast"
    assert (item.kind, item.queue, item.zone, item.grid, item.state, item.outcome) == (
        "dust", "blue_sky", "z1", "g1", "closed", "resolved")
    assert item.raised_at == datetime.fromisoformat("2026-06-02T08:00+08:00")
    assert item.raised_at.tzinfo is SH
    assert (item.time_to_close, item.overdue, item.escalated) == (1200, False, ())
    reopened = next(i for i in june.carried_over if i.id == "reopened")
    assert (reopened.closed_at, reopened.time_to_close, reopened.overdue) == (None, None, True)


@pytest.mark.parametrize(
    ("escalated", "stages"),
    [
        pytest.param("", (), id="never"),
        pytest.param("ack", ("ack",), id="ack"),
        pytest.param("close", ("close",), id="close"),
        pytest.param("close,ack", ("ack", "close"), id="both, in stage order"),
    ],
)
def test_escalation_flags(escalated: str, stages: tuple[str, ...]) -> None:
    r = report("2026-06", [row("a", "2026-06-02 08:00", escalated=escalated)])
    assert r.carried_over[0].escalated == stages
    assert r.summary.escalated == (1 if stages else 0)


def test_ties_are_ordered_by_id() -> None:
    rows = [row(i, "2026-06-02 08:00", closed="2026-06-02 08:10") for i in "cab"]
    rows += [row(i, "2026-06-03 08:00") for i in "zxy"]
    r = report("2026-06", rows)
    assert [i.id for i in r.closed] == ["a", "b", "c"]
    assert [i.id for i in r.carried_over] == ["x", "y", "z"]


def test_the_stores_own_selection() -> None:
    start, end = (b.timestamp() for b in month_bounds("2026-06", SH))
    closed = [r for r in ROWS if r.state == "closed" and start <= (r.closed_at or 0) < end]
    still_open = [r for r in ROWS if r.raised_at < end
                  and (r.state != "closed" or (r.closed_at or 0) >= end)]
    assert monthly_report("2026-06", closed, still_open, SH) == report("2026-06")


NAMES = Gazetteer(zones={"z1": "鉴湖路南侧住宅项目工地", "g1": "网格 001"},
                  stations={"KY-CS-001": "cs-01 扬尘监测点"}, queues={"blue_sky": "蓝天办"})


def test_json() -> None:
    rows = [row("a", "2026-06-02 08:00", closed="2026-06-02 08:20:00.06", escalated="ack"),
            row("b", "2026-06-30 23:50")]
    receipts = {"a": Receipt("station:KY-CS-001", "王警官", "已洒水降尘"),
                "b": Receipt("drone:KY-UAV-01", None, None)}
    out = to_json(with_receipts(report("2026-06", rows), receipts), NAMES)
    trend = out.pop("trend")
    assert out == {
        "month": "2026-06", "start": "2026-06-01T00:00:00+08:00",
        "end": "2026-07-01T00:00:00+08:00",
        "summary": {"closed": 1, "closed_within_sla": 1, "carried_over": 1,
                    "carried_over_overdue": 0, "escalated": 1, "muted": 0},
        "carried_over": [{
            "id": "b", "kind": "dust", "queue": "blue_sky", "queue_name": "蓝天办",
            "zone": "z1", "zone_name": "鉴湖路南侧住宅项目工地", "grid": "g1",
            "grid_name": "网格 001", "subject": "drone:KY-UAV-01",
            "subject_name": "drone:KY-UAV-01",
            "state": "acknowledged", "raised_at": "2026-06-30T23:50:00+08:00",
            "close_by": "2026-07-01T00:20:00+08:00", "closed_at": None,
            "time_to_close": None, "age_at_month_end": 600.0, "outcome": None,
            "escalated": [], "overdue": False, "closed_by": None, "note": None,
        }],
        "closed": [{
            "id": "a", "kind": "dust", "queue": "blue_sky", "queue_name": "蓝天办",
            "zone": "z1", "zone_name": "鉴湖路南侧住宅项目工地", "grid": "g1",
            "grid_name": "网格 001", "subject": "station:KY-CS-001",
            "subject_name": "cs-01 扬尘监测点",
            "state": "closed", "raised_at": "2026-06-02T08:00:00+08:00",
            "close_by": "2026-06-02T08:30:00+08:00",
            "closed_at": "2026-06-02T08:20:00.060000+08:00", "time_to_close": 1200.1,
            "age_at_month_end": None, "outcome": "resolved", "escalated": ["ack"],
            "overdue": False, "closed_by": "王警官", "note": "已洒水降尘",
        }],
        "top_sites": [{"zone": "z1", "zone_name": "鉴湖路南侧住宅项目工地", "closed": 1,
                       "carried_over": 1, "total": 2}],
    }
    assert len(trend) == 30
    assert trend[1] == {"day": "2026-06-02", "raised": 1, "closed": 1}
    assert trend[29] == {"day": "2026-06-30", "raised": 1, "closed": 0}
    assert sum(d["raised"] for d in trend) == 2


def test_unknown_ids_print_as_themselves() -> None:
    out = to_json(report("2026-06", [row("a", "2026-06-02 08:00")]))
    item = out["carried_over"][0]
    assert (item["zone_name"], item["grid_name"], item["queue_name"]) == ("z1", "g1",
                                                                          "blue_sky")
    assert (item["subject"], item["closed_by"], item["note"]) == (None, None, None)


def test_a_reopened_alert_shows_no_old_receipt() -> None:
    r = with_receipts(report("2026-06"), {"reopened": Receipt("station:X", "李", "旧回执")})
    item = next(i for i in r.carried_over if i.id == "reopened")
    assert (item.subject, item.closed_by, item.note) == ("station:X", None, None)


def test_trend_and_sites_count_by_hand() -> None:
    r = report("2026-06")
    trend = {d.day.isoformat(): (d.raised, d.closed) for d in daily_trend(r)}
    # raised in June, of either list: jun-fast 2, jun-late 4, jun-open 5, reopened 6,
    # jun-jul 10, jun-eve/edge-jun/edge-jul 30 (muted ones are in neither list)
    assert {d: n for d, (n, _) in trend.items() if n} == {
        "2026-06-02": 1, "2026-06-04": 1, "2026-06-05": 1, "2026-06-06": 1,
        "2026-06-10": 1, "2026-06-30": 3}
    # closed in June: may-jun 3, jun-fast 2, jun-late 4, edge-jun 30
    assert {d: n for d, (_, n) in trend.items() if n} == {
        "2026-06-02": 1, "2026-06-03": 1, "2026-06-04": 1, "2026-06-30": 1}
    assert top_sites(r) == [SiteCount("z1", 4, 5)]
    assert top_sites(r, 0) == []


@pytest.mark.parametrize(
    ("close_in", "overdue"),
    [
        pytest.param(1799, True, id="deadline a second before month end"),
        pytest.param(1800, False, id="deadline at month end"),  # not yet past, as in the SLA
        pytest.param(1801, False, id="deadline after month end"),
    ],
)
def test_overdue_at_month_end(close_in: float, overdue: bool) -> None:
    r = report("2026-06", [row("a", "2026-06-30 23:30", close_in=close_in)])
    assert r.carried_over[0].overdue is overdue
    assert r.summary.carried_over_overdue == int(overdue)
