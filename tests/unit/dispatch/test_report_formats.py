"""The bureau's reports in its formats: CSV, XLSX and HTML are the JSON's figures, read
back (the workbook with openpyxl, the CSV with the csv module) and compared."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

import openpyxl
import pytest

from dispatch._figures import GroupBy, response_times
from dispatch._figures import to_json as figures_json
from dispatch._gazetteer import Gazetteer, Outline, Spot
from dispatch._report import MonthlyReport, Receipt, to_json, with_receipts
from dispatch._report_csv import COLUMNS, to_csv
from dispatch._report_html import MAX_ROWS, figures_html, monthly_html
from dispatch._report_xlsx import ITEM_COLUMNS, figures_xlsx, monthly_xlsx
from tests.unit.dispatch.test_report import ROWS, SH, report
from tests.unit.dispatch.test_report import row as metric_row

NAMES = Gazetteer(
    zones={"z1": "鉴湖路南侧住宅项目工地", "g1": "网格 022"},
    stations={"KY-CS-001": "cs-01 扬尘监测点"},
    outlines=(Outline("z1", "construction_site",
                      (((120.50, 30.02), (120.51, 30.02), (120.51, 30.03), (120.50, 30.02)),)),
              Outline("g1", "grid", (((120.49, 30.01), (120.52, 30.01), (120.52, 30.04)),))),
    spots=(Spot("KY-CS-001", "construction_site", 120.505, 30.025, "z1"),),
)


def june() -> MonthlyReport:
    receipts = {r.id: Receipt("station:KY-CS-001", "王执法", "已洒水降尘，覆盖裸土")
                for r in ROWS}
    return with_receipts(report("2026-06"), receipts)


def sheet_rows(book: Any, name: str) -> list[tuple[Any, ...]]:
    return list(book[name].iter_rows(values_only=True))


def test_the_workbook_read_back_equals_the_json() -> None:
    r = june()
    data = to_json(r, NAMES)
    book = openpyxl.load_workbook(io.BytesIO(monthly_xlsx(r, NAMES)))
    assert book.sheetnames == ["汇总", "置顶", "销号"]
    summary = {row[0]: row[1] for row in sheet_rows(book, "汇总") if row and row[0]}
    assert summary["销号（本月办结）"] == data["summary"]["closed"] == 4
    assert summary["置顶（结转下月）"] == data["summary"]["carried_over"] == 5
    assert summary["按时办结"] == data["summary"]["closed_within_sla"]
    assert summary["置顶且已超时"] == data["summary"]["carried_over_overdue"]
    assert summary["起（本地时间）"] == datetime(2026, 6, 1)
    assert summary["鉴湖路南侧住宅项目工地"] == "z1"  # the top site, by name
    for sheet, items in (("置顶", data["carried_over"]), ("销号", data["closed"])):
        header, *rows = sheet_rows(book, sheet)
        assert header == tuple(h for h, _, _ in ITEM_COLUMNS)
        assert [row[0] for row in rows] == [i["id"] for i in items]
        col = {key: n for n, (_, key, _) in enumerate(ITEM_COLUMNS)}
        for row, item in zip(rows, items, strict=True):
            assert row[col["zone_name"]] == "鉴湖路南侧住宅项目工地"
            assert row[col["subject_name"]] == "cs-01 扬尘监测点"
            raised = datetime.fromisoformat(item["raised_at"]).replace(tzinfo=None)
            assert row[col["raised_at"]] == raised  # a datetime cell, local time
            for key in ("time_to_close", "age_at_month_end"):
                expected = None if item[key] is None else round(item[key] / 60, 1)
                assert row[col[key]] == expected  # minutes, as numbers
            assert row[col["closed_by"]] == item["closed_by"]
            assert row[col["note"]] == item["note"]
    # carried over: a receipt only for those closed after the month (not the reopened)
    note = "已洒水降尘，覆盖裸土"
    assert {row[0]: row[col["note"]] for row in sheet_rows(book, "置顶")[1:]
            if row[col["note"]]} == {"jun-jul": note, "edge-jul": note}
    assert {row[col["note"]] for row in sheet_rows(book, "销号")[1:]} == {note}


def test_the_csv_parses_back_to_the_json() -> None:
    r = june()
    data = to_json(r, NAMES)
    rows = list(csv.DictReader(io.StringIO(to_csv(r, NAMES))))
    items = [("carried_over", i) for i in data["carried_over"]] + [
        ("closed", i) for i in data["closed"]]
    assert len(rows) == len(items) == 9
    for got, (which, item) in zip(rows, items, strict=True):
        assert list(got) == list(COLUMNS)
        assert got["list"] == which
        assert got["id"] == item["id"]
        assert got["zone_name"] == "鉴湖路南侧住宅项目工地"
        ttc = item["time_to_close"]
        assert got["time_to_close"] == ("" if ttc is None else str(ttc))
        assert got["overdue"] == ("true" if item["overdue"] else "false")
        assert got["escalated"] == ",".join(item["escalated"])


def test_the_page_has_the_names_and_the_figures() -> None:
    r = june()
    page = monthly_html(r, NAMES)
    assert page.startswith("<!DOCTYPE html>")
    assert "2026-06 扬尘告警处置月报" in page
    for name in ("鉴湖路南侧住宅项目工地", "网格 022", "cs-01 扬尘监测点", "王执法",
                 "已洒水降尘，覆盖裸土"):
        assert name in page
    cards = dict(re.findall(r'<div class="card">([^<]+)<b>(\d+)</b>', page))
    assert cards["销号（本月办结）"] == "4" and cards["置顶（结转下月）"] == "5"
    assert "30 分钟" in page and "@page { size: A4" in page
    assert page.count("<svg") == 4  # close times, trend, sites, map
    # carried over before closed; self-contained: nothing fetched
    assert page.index("置顶：结转下月") < page.index("销号：本月办结")
    assert not re.search(r"""(src|href)=|@import|url\(""", page)


def test_hostile_text_is_escaped() -> None:
    r = with_receipts(report("2026-06"), {"jun-fast": Receipt(
        "station:<b>", "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>")})
    page = monthly_html(r, Gazetteer(zones={"z1": "<svg onload=alert(1)>"}))
    assert "<script>" not in page and "<img" not in page and "<svg onload" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_note_that_looks_like_a_formula_stays_text_in_the_workbook() -> None:
    note = '=HYPERLINK("http://evil.example/","点此")'
    r = with_receipts(report("2026-06"), {"jun-fast": Receipt("station:S", "=1+1", note)})
    book = openpyxl.load_workbook(io.BytesIO(monthly_xlsx(r, Gazetteer(zones={"z1": "=z"}))))
    row = next(r for r in book["销号"].iter_rows() if r[0].value == "jun-fast")
    cells = {c.value: c.data_type for c in row if isinstance(c.value, str)}
    assert cells[note] == "s" and cells["=1+1"] == "s" and cells["=z"] == "s"


def test_long_lists_print_bounded_and_say_so() -> None:
    rows = [metric_row(f"a{i:04d}", "2026-06-02 08:00", closed="2026-06-02 08:10")
            for i in range(MAX_ROWS + 7)]
    page = monthly_html(report("2026-06", rows))
    assert "另有 7 条未列出" in page
    assert "a0499" in page and "a0500" not in page


def test_without_names_or_outlines_the_ids_print_and_there_is_no_map() -> None:
    page = monthly_html(report("2026-06"))
    assert "地图示意" not in page and ">z1<" in page


def test_data_gaps_are_said() -> None:
    gaps = [{"started_at": "2026-06-03T10:00:00+08:00", "ended_at": "2026-06-03T11:00:00+08:00",
             "seconds": 3600.0, "reason": "session lost"}]
    assert "数据可能不完整：06-03 10:00 至 06-03 11:00（session lost）" in monthly_html(
        report("2026-06"), gaps=gaps)


@pytest.mark.parametrize("group_by", [GroupBy.ZONE, GroupBy.DAY])
def test_the_figures_workbook_and_page_are_the_jsons(group_by: GroupBy) -> None:
    now = datetime(2026, 7, 1, tzinfo=SH)
    results = response_times(ROWS, group_by=group_by, tz=SH, now=now.timestamp())
    data = figures_json(results)
    since, until = datetime(2026, 6, 1, tzinfo=SH), datetime(2026, 7, 1, tzinfo=SH)
    book = openpyxl.load_workbook(io.BytesIO(figures_xlsx(results, since, until, group_by,
                                                          NAMES)))
    _, header, *rows = sheet_rows(book, "响应时间")
    assert header[:3] == ("分组", "编号", "告警数")
    assert [r[1] for r in rows] == [g["group"] for g in data]
    col = header.index("办结用时P90（分钟）")
    for r, g in zip(rows, data, strict=True):
        assert r[2] == g["count"]
        p90 = g["time_to_close"]["p90"]
        assert r[col] == (None if p90 is None else round(p90 / 60, 1))
        assert r[header.index("按时办结率")] == g["sla_attainment"]
    assert rows[0][0] == "合计"
    page = figures_html(results, since, until, group_by, NAMES)
    assert "30 分钟" in page
    if group_by is GroupBy.ZONE:
        assert rows[1][0] == "鉴湖路南侧住宅项目工地"
        assert "鉴湖路南侧住宅项目工地" in page
