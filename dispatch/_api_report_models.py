"""The shapes of the bureau's answers, for `/openapi.json`: response-time figures, the
monthly report, data gaps and patrol coverage (the rest: `dispatch._api_models`, whose
docstring says how these models document without building)."""

from __future__ import annotations

from pydantic import Field

from dispatch._api_models import _Closed
from dispatch._figures import GroupBy
from dispatch._lifecycle import Outcome, State


class Seconds(_Closed):
    count: int
    median: float | None
    p90: float | None
    p95: float | None
    max: float | None


class ResponseTimeGroup(_Closed):
    group: str
    count: int
    muted: int
    open: int
    open_overdue: int
    closed: int
    false_alarms: int
    escalated: int
    time_to_ack: Seconds
    time_to_close: Seconds
    sla_met: int
    sla_due: int
    sla_attainment: float | None


class ResponseTimes(_Closed):
    """Response-time figures of the alerts raised in [since, until)."""

    since: str
    until: str
    group_by: GroupBy
    groups: list[ResponseTimeGroup] = Field(description='"total" first, then each group')


class DataGap(_Closed):
    started_at: str
    ended_at: str
    seconds: float
    reason: str


class DataGapList(_Closed):
    """Spans in which messages may have been lost at the broker."""

    data_gaps: list[DataGap]


class ReportItem(_Closed):
    id: str
    kind: str
    queue: str
    queue_name: str = Field(description="config's name of the queue, else its id")
    zone: str | None
    zone_name: str | None = Field(description="config's name of the zone, else its id")
    grid: str | None
    grid_name: str | None = Field(description="config's name of the grid, else its id")
    subject: str | None = Field(description='what the alert is about: "station:KY-CS-001"')
    subject_name: str | None = Field(description="the station's name, for a station")
    state: State
    raised_at: str
    close_by: str
    closed_at: str | None
    time_to_close: float | None
    age_at_month_end: float | None
    outcome: Outcome | None
    escalated: list[str]
    overdue: bool
    closed_by: str | None = Field(description="the officer of the receipt (回执)")
    note: str | None = Field(description="the receipt's text")


class DayCount(_Closed):
    day: str
    raised: int
    closed: int


class SiteCount(_Closed):
    zone: str
    zone_name: str
    closed: int
    carried_over: int
    total: int


class ReportSummary(_Closed):
    closed: int
    closed_within_sla: int
    carried_over: int
    carried_over_overdue: int
    escalated: int
    muted: int


class MonthlyReport(_Closed):
    """The monthly report (月报): closed in the month (销号), carried over (置顶)."""

    month: str
    start: str
    end: str
    summary: ReportSummary
    carried_over: list[ReportItem] = Field(description="置顶: oldest first")
    closed: list[ReportItem] = Field(description="销号: by time closed")
    trend: list[DayCount] = Field(description="each local day: raised and closed")
    top_sites: list[SiteCount] = Field(description="the zones with the most items")
    data_gaps: list[DataGap] | None = Field(
        default=None, description="where the month's figures may be incomplete"
    )


class CoveredZone(_Closed):
    id: str
    name: str | None
    kind: str
    grid: str | None
    visited_by: list[str]


class Coverage(_Closed):
    """A local day's patrol coverage."""

    day: str
    drones: dict[str, list[str]]
    zones: list[CoveredZone]
    covered: int
    total: int
