"""The monthly report as CSV: one row per item, the carried-over items (置顶) first, then
the closed ones (销号), under the JSON's keys (`dispatch._report.to_json`) and a first
column `list` saying which. Figures are the JSON's (seconds to 0.1); a list is joined
with ",", None is an empty cell. RFC 4180 (CRLF line ends); the HTTP layer adds a UTF-8
BOM so that Excel reads the Chinese names.

The summary, trend and top sites are the JSON's and the XLSX's: a CSV is one table.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final

from dispatch._gazetteer import NO_NAMES, Gazetteer
from dispatch._report import MonthlyReport, to_json

COLUMNS: Final = (
    "list", "id", "kind", "queue", "queue_name", "zone", "zone_name", "grid", "grid_name",
    "subject", "subject_name", "state", "raised_at", "close_by", "closed_at",
    "time_to_close", "age_at_month_end", "outcome", "escalated", "overdue", "closed_by",
    "note",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def to_csv(report: MonthlyReport, names: Gazetteer = NO_NAMES) -> str:
    data = to_json(report, names)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for which in ("carried_over", "closed"):
        for item in data[which]:
            writer.writerow([which, *(_cell(item[c]) for c in COLUMNS[1:])])
    return out.getvalue()
