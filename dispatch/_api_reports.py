"""The bureau's routes: response-time figures, the monthly report, data gaps, coverage."""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse, Response

from dispatch._api_models import Coverage, DataGapList, MonthlyReport, ResponseTimes, answers
from dispatch._api_params import RequiredTime, check_year, parse_period
from dispatch._dispatcher import Clock
from dispatch._figures import GroupBy
from dispatch._figures import to_csv as metrics_csv
from dispatch._figures import to_json as metrics_json
from dispatch._guard import Bureau
from dispatch._queries import Queries
from dispatch._report import month_bounds
from dispatch._report import to_json as report_json

#: The data gaps overlapping [since, until), as JSON-ready dicts.
DataGaps = Callable[[datetime, datetime], list[dict[str, Any]]]

#: The daily patrol coverage report of a local day.
CoverageReport = Callable[[date], dict[str, Any]]


def report_routes(
    router: APIRouter, read: Queries, tz: tzinfo, clock: Clock,
    coverage: CoverageReport | None, data_gaps: DataGaps | None,
) -> None:
    @router.get(
        "/metrics/response-times", response_model=None,
        responses=answers(ResponseTimes, 403, 422) | {200: {
            "model": ResponseTimes, "description": "the figures (`format=csv`: as CSV)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }},
    )
    async def metrics(
        token: Bureau,
        since: RequiredTime,
        until: RequiredTime,
        group_by: GroupBy = GroupBy.QUEUE,
        format: Literal["json", "csv"] = "json",
    ) -> Response | dict[str, Any]:
        """Response times of the alerts raised in [since, until), by the definitions in
        the README ("Response-time metrics")."""
        start, end = parse_period(since, until, tz)
        results = read.response_times(start, end, group_by, now=clock())
        if format == "csv":
            return PlainTextResponse(metrics_csv(results), media_type="text/csv")
        return {"since": start.isoformat(), "until": end.isoformat(),
                "group_by": group_by.value, "groups": metrics_json(results)}

    @router.get("/reports/monthly", response_model=None,
                responses=answers(MonthlyReport, 403, 422))
    async def monthly(
        token: Bureau, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
    ) -> dict[str, Any]:
        try:
            start, end = month_bounds(month, tz)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        check_year(start.year, "month")
        out = report_json(read.monthly_report(month, start, end))
        if data_gaps is not None:  # the hours whose figures may be incomplete
            out["data_gaps"] = data_gaps(start, end)
        return out

    @router.get("/reports/data-gaps", response_model=None,
                responses=answers(DataGapList, 403, 422))
    async def gaps(
        token: Bureau,
        since: RequiredTime,
        until: RequiredTime,
    ) -> dict[str, Any]:
        """Spans in which messages may have been lost at the broker (it lost the
        service's session), overlapping [since, until)."""
        start, end = parse_period(since, until, tz)
        return {"data_gaps": [] if data_gaps is None else data_gaps(start, end)}

    @router.get("/reports/coverage", response_model=None,
                responses=answers(Coverage, 403, 404, 422))
    async def patrol_coverage(
        token: Bureau, day: Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    ) -> dict[str, Any]:
        """Which patrol areas, communities and land-use plots each drone visited on a
        local day (kept for `rules.drones.coverage_days` days)."""
        if coverage is None:
            raise HTTPException(404, "patrol coverage is not available in this deployment")
        try:
            when = date.fromisoformat(day)
        except ValueError as exc:
            raise HTTPException(422, f"day: not a date: {day!r}") from exc
        check_year(when.year, "day")
        return coverage(when)
