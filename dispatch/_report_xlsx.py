"""The bureau's reports as Excel workbooks (XLSX), which the bureau files and forwards.

Built with openpyxl in write-only mode: rows are streamed to the file, so a month of a
city's incidents costs the rows' bytes, not a cell object each kept in memory. Headers
are Chinese (the bureau's vocabulary); times are real datetime cells in the service's
local time (Excel has no time zones: the header says 本地时间), durations are numbers of
minutes (to 0.1), counts are numbers: a workbook someone can sort, filter and sum.

The figures are the JSON's (`dispatch._report.to_json`, `dispatch._figures.to_json`),
converted only in unit (seconds → minutes, rounded to 0.1), so that the workbook read back
equals the API's JSON.

Monthly report: 汇总 (summary, daily trend, top sites), 置顶 (carried over, oldest first),
销号 (closed, by time closed). Response times: one sheet 响应时间, a row a group.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from dispatch._figures import TOTAL, GroupBy, ResponseTimes
from dispatch._figures import to_json as figures_json
from dispatch._gazetteer import NO_NAMES, Gazetteer
from dispatch._report import MonthlyReport, to_json

#: What people read for the lists' codes.
STATES: Final = {"raised": "新告警", "dispatched": "已派发", "acknowledged": "已签收",
                 "verifying": "核查中", "on_scene": "已到场", "closed": "已销号"}
OUTCOMES: Final = {"resolved": "已处置", "false_alarm": "误报", "duplicate": "重复"}

_MINUTES: Final = "0.0"
_WHEN: Final = "yyyy-mm-dd hh:mm:ss"

#: (header, JSON key, how): the columns of the 置顶 and 销号 sheets.
ITEM_COLUMNS: Final = (
    ("编号", "id", "text"), ("站点", "subject_name", "text"), ("区域", "zone_name", "text"),
    ("网格", "grid_name", "text"), ("队列", "queue_name", "text"), ("类型", "kind", "text"),
    ("状态", "state", "state"), ("发现时间（本地时间）", "raised_at", "when"),
    ("限办时间（本地时间）", "close_by", "when"), ("销号时间（本地时间）", "closed_at", "when"),
    ("办结用时（分钟）", "time_to_close", "minutes"),
    ("月末已滞留（分钟）", "age_at_month_end", "minutes"), ("结果", "outcome", "outcome"),
    ("销号人", "closed_by", "text"), ("回执", "note", "text"), ("超时", "overdue", "yesno"),
    ("升级", "escalated", "list"),
)

SUMMARY_ROWS: Final = (
    ("销号（本月办结）", "closed"), ("按时办结", "closed_within_sla"),
    ("置顶（结转下月）", "carried_over"), ("置顶且已超时", "carried_over_overdue"),
    ("升级", "escalated"), ("静默（未计入）", "muted"),
)

FIGURE_COLUMNS: Final = (
    ("告警数", "count"), ("静默", "muted"), ("未办结", "open"), ("未办结已超时", "open_overdue"),
    ("已办结", "closed"), ("误报", "false_alarms"), ("升级", "escalated"),
)
STATS_COLUMNS: Final = (("中位数", "median"), ("P90", "p90"), ("P95", "p95"), ("最长", "max"))


def minutes(seconds: float | None) -> float | None:
    """The JSON's seconds as the workbook's minutes."""
    return None if seconds is None else round(seconds / 60, 1)


def local(iso: str | None) -> datetime | None:
    """An ISO time of the JSON as a naive local datetime (what Excel can hold)."""
    return None if iso is None else datetime.fromisoformat(iso).replace(tzinfo=None)


def _cell(sheet: Any, value: Any, fmt: str | None = None, bold: bool = False) -> Any:
    cell = WriteOnlyCell(sheet, value=value)
    if fmt is not None:
        cell.number_format = fmt
    if bold:
        cell.font = Font(bold=True)
    return cell


def _text(sheet: Any, value: Any) -> Any:
    """A text as text: openpyxl stores a string starting with "=" as a formula, and a
    receipt's note is what an officer typed (=HYPERLINK(...) would run in Excel)."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _value(sheet: Any, item: dict[str, Any], key: str, how: str) -> Any:
    # plain values, no styled cell each: openpyxl gives a datetime its date format by
    # itself, and a styled cell a row costs ten times the time (32 s for June's 74,000)
    value = item[key]
    if how == "when":
        return local(value)
    if how == "minutes":
        return minutes(value)
    if how == "state":
        return STATES.get(value, value)
    if how == "outcome":
        return None if value is None else OUTCOMES.get(value, value)
    if how == "yesno":
        return "是" if value else "否"
    if how == "list":
        return "、".join(value) or None
    return _text(sheet, value)


def _items(book: Workbook, title: str, items: Sequence[dict[str, Any]]) -> None:
    sheet = book.create_sheet(title)
    widths = (22, 22, 26, 12, 16, 10, 8, 20, 20, 20, 10, 10, 8, 12, 40, 6, 10)
    for i, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + i)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, h, bold=True) for h, _, _ in ITEM_COLUMNS])
    for item in items:
        sheet.append([_value(sheet, item, key, how) for _, key, how in ITEM_COLUMNS])


def _bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def monthly_xlsx(report: MonthlyReport, names: Gazetteer = NO_NAMES) -> bytes:
    data = to_json(report, names)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("汇总")
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 26
    sheet.append([_cell(sheet, f"{report.month} 月报", bold=True)])
    sheet.append(["起（本地时间）", _cell(sheet, local(data["start"]), _WHEN)])
    sheet.append(["止（本地时间）", _cell(sheet, local(data["end"]), _WHEN)])
    for label, key in SUMMARY_ROWS:
        sheet.append([label, data["summary"][key]])
    sheet.append([])
    sheet.append([_cell(sheet, h, bold=True) for h in ("告警最多的站点", "区域编号", "销号",
                                                       "置顶", "合计")])
    for site in data["top_sites"]:
        sheet.append([_text(sheet, site["zone_name"]), _text(sheet, site["zone"]),
                      site["closed"], site["carried_over"], site["total"]])
    sheet.append([])
    sheet.append([_cell(sheet, h, bold=True) for h in ("日期", "发现", "销号")])
    for day in data["trend"]:
        sheet.append([_cell(sheet, datetime.fromisoformat(day["day"]), "yyyy-mm-dd"),
                      day["raised"], day["closed"]])
    _items(book, "置顶", data["carried_over"])
    _items(book, "销号", data["closed"])
    return _bytes(book)


def group_name(group: str, group_by: GroupBy, names: Gazetteer) -> str:
    """A figures group as people read it: a zone's or grid's or queue's name."""
    if group == TOTAL:
        return "合计"
    if group_by in (GroupBy.ZONE, GroupBy.GRID):
        return names.zone(group) or group
    if group_by is GroupBy.QUEUE:
        return names.queue(group)
    return group


def figures_xlsx(
    results: Sequence[ResponseTimes], since: datetime, until: datetime, group_by: GroupBy,
    names: Gazetteer = NO_NAMES,
) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("响应时间")
    sheet.column_dimensions["A"].width = 26
    sheet.append([_cell(sheet, "响应时间", bold=True), "起（本地时间）",
                  _cell(sheet, since.replace(tzinfo=None), _WHEN), "止（本地时间）",
                  _cell(sheet, until.replace(tzinfo=None), _WHEN)])
    header = ["分组", "编号", *(h for h, _ in FIGURE_COLUMNS),
              *(f"签收用时{h}（分钟）" for h, _ in STATS_COLUMNS),
              *(f"办结用时{h}（分钟）" for h, _ in STATS_COLUMNS),
              "按时办结", "应办结", "按时办结率"]
    sheet.append([_cell(sheet, h, bold=True) for h in header])
    for g in figures_json(results):
        sheet.append([
            _text(sheet, group_name(g["group"], group_by, names)), _text(sheet, g["group"]),
            *(g[key] for _, key in FIGURE_COLUMNS),
            *(_cell(sheet, minutes(g["time_to_ack"][k]), _MINUTES) for _, k in STATS_COLUMNS),
            *(_cell(sheet, minutes(g["time_to_close"][k]), _MINUTES) for _, k in STATS_COLUMNS),
            g["sla_met"], g["sla_due"], _cell(sheet, g["sla_attainment"], "0.0%"),
        ])
    return _bytes(book)
