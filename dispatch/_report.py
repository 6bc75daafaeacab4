"""The monthly report (月报): what was closed in the month (销号) and what is carried over
into the next (置顶, oldest first). Pure functions over `MetricRow`s.

Definitions, for a month [start, end) from local midnight of its 1st to local midnight of
the next month's 1st in the given timezone:

- **closed**: alerts whose state is `closed` with start ≤ closed_at < end (a reopened
  alert counts where it was last closed), ordered by closed_at.
- **carried over**: alerts raised before end and not closed by end (still open, or closed
  at or after end), ordered by raised_at, oldest first.
- Muted alerts are in neither list; `summary.muted` counts those left out.
- **time_to_close** = closed_at − raised_at when the alert is closed (for a carried-over
  alert closed after the month too); **age_at_month_end** = end − raised_at for a
  carried-over alert.
- **overdue**: a closed item closed after its close deadline (closed_at > close_by), as in
  the SLA attainment of `dispatch._figures`; a carried-over item whose close deadline had
  passed at month end (close_by < end).
- **escalated**: the SLA stages ("ack", "close") escalated at any time; the row does not
  say when, so a carried-over alert escalated after the month shows it too.
- **summary**: closed, closed within SLA (closed items not overdue), carried over, carried
  over and overdue, escalated (items of either list escalated at any stage), muted.
- **receipts** (`with_receipts`): each item's subject and, when it is closed, who closed it
  and the receipt's text, which the metric rows do not carry (the store's `receipts`).
- **trend** (`daily_trend`): each local day of the month, the items of either list raised
  that day and the closed items closed that day.
- **top sites** (`top_sites`): the zones with the most items of either list.

`to_json` names the ids by a `Gazetteer`; the other formats render that JSON
(`dispatch._report_csv`, `_report_xlsx`, `_report_html`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from typing import Any, Final, NamedTuple

from dispatch._figures import MetricRow
from dispatch._gazetteer import NO_NAMES, Gazetteer
from dispatch._gcpause import gc_paused

_MONTH: Final = re.compile(r"([0-9]{4})-([0-9]{2})")


def month_bounds(month: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """Local midnight of the month's 1st and of the next month's 1st, for "YYYY-MM"."""
    match = _MONTH.fullmatch(month)
    year, mon = (int(match[1]), int(match[2])) if match else (0, 0)
    # datetime's own limits are years 1..9999; the next month of 9999-12 is past them
    if not (year >= 1 and 1 <= mon <= 12 and (year, mon) < (9999, 12)):
        raise ValueError(f"month must be YYYY-MM with a month 01-12, e.g. 2026-06; got {month!r}")
    nxt = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return datetime(year, mon, 1, tzinfo=tz), datetime(*nxt, 1, tzinfo=tz)


@dataclass(frozen=True, slots=True)
class ReportItem:
    id: str
    kind: str
    queue: str
    zone: str | None
    grid: str | None
    state: str
    raised_at: datetime
    close_by: datetime
    closed_at: datetime | None
    time_to_close: float | None  # seconds
    age_at_month_end: float | None  # seconds; carried-over items only
    outcome: str | None
    escalated: tuple[str, ...]  # "ack", "close"
    overdue: bool
    # the receipt's lines, which the metric rows do not carry (`with_receipts`)
    subject: str | None = None
    closed_by: str | None = None  # the officer of the receipt
    note: str | None = None  # the receipt's text


class Receipt(NamedTuple):
    """What the report prints of an alert beyond its metric row: where (the subject, e.g.
    "station:KY-CS-001") and the receipt, if it was closed."""

    subject: str
    officer: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Summary:
    closed: int
    closed_within_sla: int
    carried_over: int
    carried_over_overdue: int
    escalated: int
    muted: int


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    month: str
    start: datetime
    end: datetime
    closed: tuple[ReportItem, ...]
    carried_over: tuple[ReportItem, ...]
    summary: Summary


def _closed_at(row: MetricRow) -> float | None:
    # a reopened alert is open whatever an older close left behind
    return row.closed_at if row.state == "closed" else None


@cache
def _stages(escalated: str) -> tuple[str, ...]:
    # a handful of distinct values ("", "ack", "close", "ack,close") over a month's items
    return tuple(sorted(s for s in escalated.split(",") if s))


def _item(row: MetricRow, tz: tzinfo, carried_to: float | None) -> ReportItem:
    """`carried_to` is the month's end for a carried-over item, None for a closed one."""
    closed_at = _closed_at(row)
    if carried_to is not None:
        overdue = row.close_by < carried_to
    else:
        overdue = closed_at is not None and closed_at > row.close_by
    at = datetime.fromtimestamp
    return ReportItem(
        row.id, row.kind, row.queue, row.zone, row.grid, row.state, at(row.raised_at, tz),
        at(row.close_by, tz), None if closed_at is None else at(closed_at, tz),
        None if closed_at is None else closed_at - row.raised_at,
        None if carried_to is None else carried_to - row.raised_at,
        row.outcome, _stages(row.escalated), overdue,
    )


def monthly_report(
    month: str, closed_rows: Iterable[MetricRow], open_rows: Iterable[MetricRow], tz: tzinfo
) -> MonthlyReport:
    """The report of `month` ("YYYY-MM") from the store's `closed_rows(start, end)` and
    `open_rows(end)`. Rows outside the definitions are dropped, so the store may return
    more, and an alert passed in both lists lands in exactly one."""
    with gc_paused():
        return _monthly_report(month, closed_rows, open_rows, tz)


def _monthly_report(
    month: str, closed_rows: Iterable[MetricRow], open_rows: Iterable[MetricRow], tz: tzinfo
) -> MonthlyReport:
    start_dt, end_dt = month_bounds(month, tz)
    start, end = start_dt.timestamp(), end_dt.timestamp()
    muted: set[str] = set()
    closed: dict[str, tuple[float, MetricRow]] = {}
    carried: dict[str, tuple[float, MetricRow]] = {}
    for row in closed_rows:
        at = _closed_at(row)
        if at is not None and start <= at < end:
            _keep(row, at, closed, muted)
    for row in open_rows:
        at = _closed_at(row)
        if row.raised_at < end and (at is None or at >= end):
            _keep(row, row.raised_at, carried, muted)
    # ties broken by id, so the same data always prints the same report
    closed_items = tuple(_item(r, tz, None) for _, r in sorted(
        closed.values(), key=lambda e: (e[0], e[1].id)))
    carried_items = tuple(_item(r, tz, end) for _, r in sorted(
        carried.values(), key=lambda e: (e[0], e[1].id)))
    return MonthlyReport(
        month=month, start=start_dt, end=end_dt, closed=closed_items,
        carried_over=carried_items,
        summary=Summary(
            closed=len(closed_items),
            closed_within_sla=sum(not i.overdue for i in closed_items),
            carried_over=len(carried_items),
            carried_over_overdue=sum(i.overdue for i in carried_items),
            escalated=sum(bool(i.escalated) for i in closed_items + carried_items),
            muted=len(muted),
        ),
    )


def with_receipts(report: MonthlyReport, receipts: Mapping[str, Receipt]) -> MonthlyReport:
    """The report with each item's subject and receipt filled in from `receipts` (by
    alert id; an item missing there keeps None)."""

    def fill(item: ReportItem) -> ReportItem:
        found = receipts.get(item.id)
        if found is None:
            return item
        # a reopened alert keeps its old receipt's columns: only a closed one has a receipt
        closed = item.closed_at is not None
        # the constructor, not dataclasses.replace: a quarter of the time over a month
        return ReportItem(
            item.id, item.kind, item.queue, item.zone, item.grid, item.state, item.raised_at,
            item.close_by, item.closed_at, item.time_to_close, item.age_at_month_end,
            item.outcome, item.escalated, item.overdue, found.subject,
            found.officer if closed else None, found.note if closed else None,
        )

    return replace(report, closed=tuple(map(fill, report.closed)),
                   carried_over=tuple(map(fill, report.carried_over)))


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    raised: int  # items of either list raised that local day
    closed: int  # items closed that local day


def daily_trend(report: MonthlyReport) -> list[DayCount]:
    """Each local day of the month: how many of the report's alerts were raised and how
    many closed on it (muted ones are in neither, as in the lists)."""
    first = report.start.date()
    days = (report.end.date() - first).days
    raised, closed = [0] * days, [0] * days
    for item in (*report.closed, *report.carried_over):
        i = (item.raised_at.date() - first).days
        if 0 <= i < days:  # a carried-over item raised in an earlier month is not
            raised[i] += 1
    for item in report.closed:
        assert item.closed_at is not None
        closed[(item.closed_at.date() - first).days] += 1
    return [DayCount(first + timedelta(days=i), raised[i], closed[i]) for i in range(days)]


@dataclass(frozen=True, slots=True)
class SiteCount:
    zone: str
    closed: int
    carried_over: int

    @property
    def total(self) -> int:
        return self.closed + self.carried_over


def top_sites(report: MonthlyReport, n: int = 10) -> list[SiteCount]:
    """The `n` zones with the most items of the report (closed + carried over), most
    first, ties by zone id; items without a zone are not a site."""
    closed: Counter[str] = Counter(i.zone for i in report.closed if i.zone is not None)
    carried: Counter[str] = Counter(i.zone for i in report.carried_over if i.zone is not None)
    sites = [SiteCount(z, closed[z], carried[z]) for z in closed.keys() | carried.keys()]
    sites.sort(key=lambda s: (-s.total, s.zone))
    return sites[:n]


def _keep(
    row: MetricRow, order: float, into: dict[str, tuple[float, MetricRow]], muted: set[str]
) -> None:
    if row.muted:
        muted.add(row.id)
    else:
        into[row.id] = (order, row)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _item_json(item: ReportItem, names: Gazetteer) -> dict[str, Any]:
    return {
        "id": item.id, "kind": item.kind, "queue": item.queue,
        "queue_name": names.queue(item.queue), "zone": item.zone,
        "zone_name": names.zone(item.zone), "grid": item.grid,
        "grid_name": names.zone(item.grid), "subject": item.subject,
        "subject_name": None if item.subject is None else names.subject(item.subject),
        "state": item.state, "raised_at": item.raised_at.isoformat(),
        "close_by": item.close_by.isoformat(),
        "closed_at": None if item.closed_at is None else item.closed_at.isoformat(),
        "time_to_close": _seconds(item.time_to_close),
        "age_at_month_end": _seconds(item.age_at_month_end), "outcome": item.outcome,
        "escalated": list(item.escalated), "overdue": item.overdue,
        "closed_by": item.closed_by, "note": item.note,
    }


def to_json(report: MonthlyReport, names: Gazetteer = NO_NAMES) -> dict[str, Any]:
    """The report as the API's JSON: ids with their names from `names`, the carried-over
    items before the closed ones (what the bureau chases first), the daily trend and the
    top sites."""
    s = report.summary
    return {
        "month": report.month, "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "summary": {
            "closed": s.closed, "closed_within_sla": s.closed_within_sla,
            "carried_over": s.carried_over, "carried_over_overdue": s.carried_over_overdue,
            "escalated": s.escalated, "muted": s.muted,
        },
        "carried_over": [_item_json(i, names) for i in report.carried_over],
        "closed": [_item_json(i, names) for i in report.closed],
        "trend": [{"day": d.day.isoformat(), "raised": d.raised, "closed": d.closed}
                  for d in daily_trend(report)],
        "top_sites": [{"zone": t.zone, "zone_name": names.zone(t.zone), "closed": t.closed,
                       "carried_over": t.carried_over, "total": t.total}
                      for t in top_sites(report)],
    }
