"""The bureau's routes: response-time figures, the monthly report, data gaps, coverage.

The figures and the monthly report come in the bureau's formats (`format=`): the JSON,
CSV (one table), XLSX (the workbook it files) and HTML (the page it prints). A format
not in the list is a 422 naming those that are, never a silent JSON. Files are sent as
attachments named after what they hold (`lantian-monthly-2026-06.xlsx`), the HTML page
inline. XLSX and HTML read at most `MAX_DAYS` of figures, and a monthly workbook lists
at most `MAX_XLSX_ITEMS` alerts (openpyxl writes ~2,000 rows a second): a page or a
workbook is a document someone reads, and JSON and CSV are there for more; the HTML
page lists a bounded number of rows itself (`dispatch._report_html.MAX_ROWS`).

Reading the figures and the report runs apart from the event loop (`ReadLane`), and so
does rendering, a pure function of the report, on a worker thread: a workbook of ten
thousand rows takes seconds, and the event loop carries the MQTT traffic meanwhile.
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse, Response

from dispatch._api_answer import answer
from dispatch._api_models import answers, formats
from dispatch._api_params import RequiredTime, check_year, parse_period
from dispatch._api_report_models import Coverage, DataGapList, MonthlyReport, ResponseTimes
from dispatch._dispatcher import Clock
from dispatch._figures import GroupBy
from dispatch._figures import to_csv as metrics_csv
from dispatch._figures import to_json as metrics_json
from dispatch._gazetteer import Gazetteer
from dispatch._guard import Bureau
from dispatch._read_lane import ReadLane
from dispatch._report import month_bounds
from dispatch._report import to_json as report_json
from dispatch._report_csv import to_csv as report_csv
from dispatch._report_html import figures_html, monthly_html
from dispatch._report_xlsx import figures_xlsx, monthly_xlsx
from dispatch._turns import Turns

#: The data gaps overlapping [since, until), as JSON-ready dicts.
DataGaps = Callable[[datetime, datetime], list[dict[str, Any]]]

#: The daily patrol coverage report of a local day.
CoverageReport = Callable[[date], dict[str, Any]]

Format = Literal["json", "csv", "xlsx", "html"]
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The longest period the XLSX and HTML figures cover.
MAX_DAYS: Final = 366
#: The most alerts a monthly workbook lists (about five seconds of openpyxl).
MAX_XLSX_ITEMS: Final = 10_000


def document(body: str | bytes, format: str, name: str) -> Response:
    """A rendered report as a file: its media type, and attached under `name` (inline
    for a page a browser shows)."""
    media = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX,
             "html": "text/html; charset=utf-8"}[format]
    if isinstance(body, str):
        # the BOM: Excel opens a CSV as UTF-8 only with one, and the names are Chinese
        body = ("\ufeff" if format == "csv" else "") + body
    how = "inline" if format == "html" else "attachment"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f"{how}; filename={name}.{format}"})


def report_routes(
    router: APIRouter, read: ReadLane, tz: tzinfo, clock: Clock,
    coverage: CoverageReport | None, data_gaps: DataGaps | None, names: Gazetteer,
    turns: Turns | None = None,
) -> None:
    """The bureau's reads run on `read`'s lane; the data gaps (ingest's, on the store's
    writer connection) in the writer's turn."""
    in_turn = turns or Turns.inline()

    async def gaps_in(start: datetime, end: datetime) -> list[dict[str, Any]] | None:
        return None if data_gaps is None else await in_turn(data_gaps, start, end)

    @router.get(
        "/metrics/response-times", response_model=None,
        responses=answers(ResponseTimes, 403, 422) | formats(ResponseTimes),
    )
    async def metrics(
        token: Bureau,
        since: RequiredTime,
        until: RequiredTime,
        group_by: GroupBy = GroupBy.QUEUE,
        format: Format = "json",
    ) -> Response:
        """Response times of the alerts raised in [since, until), by the definitions in
        the README ("Response-time metrics"); `format=xlsx|html` for at most 366 days."""
        start, end = parse_period(since, until, tz)
        if format in ("xlsx", "html") and end - start > timedelta(days=MAX_DAYS):
            raise HTTPException(422, f"format={format} covers at most {MAX_DAYS} days; "
                                "use json or csv for a longer period")
        now = clock()
        results = await read(lambda q: q.response_times(start, end, group_by, now=now))
        name = f"lantian-response-times-{start:%Y-%m-%d}-{end:%Y-%m-%d}"
        if format == "csv":
            # as before: RFC 4180 without a BOM (ids only, no names)
            return PlainTextResponse(metrics_csv(results), media_type="text/csv", headers={
                "Content-Disposition": f"attachment; filename={name}.csv"})
        if format == "xlsx":
            return document(await asyncio.to_thread(
                figures_xlsx, results, start, end, group_by, names), format, name)
        if format == "html":
            return document(await asyncio.to_thread(
                figures_html, results, start, end, group_by, names), format, name)
        return answer({"since": start.isoformat(), "until": end.isoformat(),
                       "group_by": group_by.value, "groups": metrics_json(results)})

    @router.get("/reports/monthly", response_model=None,
                responses=answers(MonthlyReport, 403, 422) | formats(MonthlyReport))
    async def monthly(
        token: Bureau, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")],
        format: Format = "json",
    ) -> Response:
        """The monthly report (月报): carried over (置顶) and closed (销号) with config's
        names and the receipts, the trend by day and the sites with the most alerts."""
        try:
            start, end = month_bounds(month, tz)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        check_year(start.year, "month")
        report = await read(lambda q: q.monthly_report(month, start, end))
        name = f"lantian-monthly-{month}"
        if format == "csv":
            return document(await asyncio.to_thread(report_csv, report, names), format, name)
        if format == "xlsx":
            items = report.summary.closed + report.summary.carried_over
            if items > MAX_XLSX_ITEMS:
                raise HTTPException(422, f"{month} has {items} alerts; format=xlsx lists at "
                                    f"most {MAX_XLSX_ITEMS}: use format=csv or json")
            return document(await asyncio.to_thread(monthly_xlsx, report, names), format, name)
        gaps = await gaps_in(start, end)
        if format == "html":
            return document(await asyncio.to_thread(monthly_html, report, names, gaps or ()),
                            format, name)
        out = report_json(report, names)
        if gaps is not None:  # the hours whose figures may be incomplete
            out["data_gaps"] = gaps
        return answer(out)

    @router.get("/reports/data-gaps", response_model=None,
                responses=answers(DataGapList, 403, 422))
    async def gaps(
        token: Bureau,
        since: RequiredTime,
        until: RequiredTime,
    ) -> Response:
        """Spans in which messages may have been lost at the broker (it lost the
        service's session), overlapping [since, until)."""
        start, end = parse_period(since, until, tz)
        return answer({"data_gaps": await gaps_in(start, end) or []})

    @router.get("/reports/coverage", response_model=None,
                responses=answers(Coverage, 403, 404, 422))
    async def patrol_coverage(
        token: Bureau, day: Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    ) -> Response:
        """Which patrol areas, communities and land-use plots each drone visited on a
        local day (kept for `rules.drones.coverage_days` days)."""
        if coverage is None:
            raise HTTPException(404, "patrol coverage is not available in this deployment")
        try:
            when = date.fromisoformat(day)
        except ValueError as exc:
            raise HTTPException(422, f"day: not a date: {day!r}") from exc
        check_year(when.year, "day")
        return answer(coverage(when))
