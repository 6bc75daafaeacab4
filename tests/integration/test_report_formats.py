"""The bureau's deliverables from the running service: a known month of alerts in the
store, the monthly report asked for in every format over HTTP (and through the CLI), its
figures counted here by hand; the HTML page rendered by a real headless Chromium, with
the Chinese names of config, and a screenshot kept with the test run's artefacts.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from playwright.sync_api import sync_playwright

from dispatch._alert import Alert
from dispatch._lifecycle import Event, Incident, Outcome, State
from dispatch._sqlite import SqliteStore
from lantian.config import load_settings
from tests.conftest import RunningService, shipped_rules, write_config
from tests.integration.conftest import ADMIN_TOKEN, BLUE_SKY, BUREAU, Deployment, FakeClock
from tests.integration.test_cli_alerts import lantian
from tests.integration.test_docs_offline import ARGS, CHROMIUM
from tests.support import REPO, Broker, free_port

pytestmark = pytest.mark.integration

SH = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONTHLY = "/api/reports/monthly"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def alert(aid: str, station: str, zone: str, grid: str, raised: str, *,
          closed: str | None = None, officer: str | None = None, note: str = "",
          outcome: Outcome = Outcome.RESOLVED, muted: bool = False) -> tuple[Alert, Event]:
    t = at(raised)
    incident = Incident(
        id=aid, queue="blue_sky", raised_at=t, muted=muted, severity="major",
        acknowledged_at=t + timedelta(minutes=3),
        state=State.CLOSED if closed else State.ACKNOWLEDGED,
        closed_at=at(closed) if closed else None, outcome=outcome if closed else None,
        note=note, officer=officer, seq=1,
    )
    a = Alert(incident=incident, rule="pm10_site", subject=f"station:{station}", kind="dust",
              zone=zone, grid=grid, ack_by=t + timedelta(minutes=5),
              close_by=t + timedelta(minutes=30), description={"zone": {"id": zone}})
    return a, Event(aid, 1, "raised", t, "engine", {"severity": "major"})


#: June 2026, by hand. Closed in June: A (20 min), B (65 min, late), C (false alarm, next
#: morning, late), E (raised in May, late): 4, 1 within SLA. Carried over: D (open,
#: overdue). Muted: F. Not June's: G (July).
MONTH = [
    alert("A", "KY-CS-001", "cs-01", "KY-G-022", "2026-06-03 09:00",
          closed="2026-06-03 09:20", officer="王执法", note="已洒水降尘"),
    alert("B", "KY-CS-001", "cs-01", "KY-G-022", "2026-06-10 14:00",
          closed="2026-06-10 15:05", officer="李值班", note="覆盖裸土，停工整改"),
    alert("C", "KY-CS-002", "cs-02", "KY-G-082", "2026-06-10 16:00",
          closed="2026-06-11 08:00", officer="张核查", note="设备校准造成",
          outcome=Outcome.FALSE_ALARM),
    alert("D", "KY-CS-003", "cs-03", "KY-G-086", "2026-06-28 10:00"),
    alert("E", "KY-CS-001", "cs-01", "KY-G-022", "2026-05-30 10:00",
          closed="2026-06-01 09:00", officer="王执法", note="雾炮已开启"),
    alert("F", "KY-CS-004", "cs-04", "KY-G-119", "2026-06-15 10:00",
          closed="2026-06-15 10:10", officer="王执法", note="维护期间", muted=True),
    alert("G", "KY-CS-004", "cs-04", "KY-G-119", "2026-07-02 10:00"),
]


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("reports")
    store = SqliteStore(tmp / "lantian.sqlite", tz=SH)
    for a, raised in MONTH:
        store.create(a, [raised])
    store.close()
    config = write_config(tmp / "config", broker_url=broker.url, http_port=free_port(),
                          store=tmp / "lantian.sqlite", extra=shipped_rules())
    clock = FakeClock(at("2026-07-05 09:00"))
    svc = RunningService(load_settings(config, {"LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN}),
                         clock).start()
    yield Deployment(config, clock, broker, svc)
    svc.stop()


def get(office: Deployment, fmt: str, headers: dict[str, str] = BUREAU,
        path: str = MONTHLY, **params: str) -> httpx.Response:
    query = {"month": "2026-06"} if path == MONTHLY else {}
    return httpx.get(f"{office.url}{path}", headers=headers,
                     params=query | params | {"format": fmt}, timeout=30)


def test_the_json_is_the_count_by_hand(office: Deployment) -> None:
    r = get(office, "json")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["summary"] == {"closed": 4, "closed_within_sla": 1, "carried_over": 1,
                               "carried_over_overdue": 1, "escalated": 0, "muted": 1}
    assert [i["id"] for i in data["carried_over"]] == ["D"]
    assert [i["id"] for i in data["closed"]] == ["E", "A", "B", "C"]  # by time closed
    a = data["closed"][1]
    assert (a["zone_name"], a["grid_name"], a["subject_name"]) == (
        "鉴湖路南侧住宅项目工地", "网格 022", "cs-01 扬尘监测点")
    assert (a["closed_by"], a["note"], a["time_to_close"]) == ("王执法", "已洒水降尘", 1200.0)
    assert data["closed"][2]["time_to_close"] == 65 * 60
    assert data["top_sites"][0] == {"zone": "cs-01", "zone_name": "鉴湖路南侧住宅项目工地",
                                    "closed": 3, "carried_over": 0, "total": 3}
    trend = {d["day"]: (d["raised"], d["closed"]) for d in data["trend"]
             if d["raised"] or d["closed"]}
    assert trend == {"2026-06-01": (0, 1), "2026-06-03": (1, 1), "2026-06-10": (2, 1),
                     "2026-06-11": (0, 1), "2026-06-28": (1, 0)}


def test_the_xlsx_is_the_json(office: Deployment) -> None:
    data = get(office, "json").json()
    r = get(office, "xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"] == (
        "attachment; filename=lantian-monthly-2026-06.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row[0]}
    assert (summary["销号（本月办结）"], summary["按时办结"], summary["置顶（结转下月）"],
            summary["静默（未计入）"]) == (4, 1, 1, 1)
    closed = list(book["销号"].iter_rows(values_only=True))
    assert closed[0][:3] == ("编号", "站点", "区域")
    assert [row[0] for row in closed[1:]] == [i["id"] for i in data["closed"]]
    b = closed[3]
    assert b[:3] == ("B", "cs-01 扬尘监测点", "鉴湖路南侧住宅项目工地")
    assert datetime(2026, 6, 10, 15, 5) in b and 65.0 in b and "覆盖裸土，停工整改" in b
    assert [row[0] for row in book["置顶"].iter_rows(values_only=True)][1:] == ["D"]


def test_the_csv_parses_back(office: Deployment) -> None:
    r = get(office, "csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")  # Excel's cue for UTF-8
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["list"], x["id"]) for x in rows] == [
        ("carried_over", "D"), ("closed", "E"), ("closed", "A"), ("closed", "B"),
        ("closed", "C")]
    assert rows[4]["note"] == "设备校准造成" and rows[4]["outcome"] == "false_alarm"


def test_the_html_is_inline_with_the_names(office: Deployment) -> None:
    r = get(office, "html")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-disposition"] == "inline; filename=lantian-monthly-2026-06.html"
    for text in ("鉴湖路南侧住宅项目工地", "柯岩大道东段厂房改造工地", "西侧安置房项目工地",
                 "王执法", "覆盖裸土，停工整改", "30 分钟"):
        assert text in r.text


@pytest.mark.parametrize("fmt", ["pdf", "JSON", "", "x" * 200])
def test_an_unknown_format_is_refused_naming_the_known(office: Deployment, fmt: str) -> None:
    for path in (MONTHLY, "/api/metrics/response-times"):
        r = get(office, fmt, path=path, since="2026-06-01", until="2026-07-01")
        assert r.status_code == 422, r.text
        assert all(f"'{f}'" in r.text for f in ("json", "csv", "xlsx", "html")), r.text


def test_the_reports_are_the_bureaus(office: Deployment) -> None:
    for fmt in ("json", "csv", "xlsx", "html"):
        assert get(office, fmt, BLUE_SKY).status_code == 403
        assert get(office, fmt, {}).status_code == 401


def test_the_response_times_in_every_format(office: Deployment) -> None:
    span = {"since": "2026-06-01", "until": "2026-07-01", "group_by": "zone"}
    path = "/api/metrics/response-times"
    data = get(office, "json", path=path, **span).json()
    book = openpyxl.load_workbook(io.BytesIO(get(office, "xlsx", path=path, **span).content))
    rows = list(book["响应时间"].iter_rows(values_only=True))[2:]
    assert [(r[1], r[2]) for r in rows] == [(g["group"], g["count"]) for g in data["groups"]]
    assert rows[1][0] == "鉴湖路南侧住宅项目工地"  # cs-01, by name
    page = get(office, "html", path=path, **span)
    assert "鉴湖路南侧住宅项目工地" in page.text and "30 分钟" in page.text
    too_long = get(office, "xlsx", path=path, since="2024-01-01", until="2026-01-02")
    assert too_long.status_code == 422
    assert "at most 366 days" in too_long.text
    # JSON and CSV still cover any period
    assert get(office, "csv", path=path, since="2024-01-01", until="2026-01-02").is_success


def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a test run keeps what people look at afterwards: $LANTIAN_TEST_ARTEFACTS, or
    the run's pytest base temp dir."""
    where = os.environ.get("LANTIAN_TEST_ARTEFACTS")
    directory = Path(where) if where else tmp_path_factory.getbasetemp() / "artefacts"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_the_page_renders_in_chromium_with_the_chinese_names(
    office: Deployment, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    if not fonts.stdout.strip():  # the page would render, its screenshot show boxes
        pytest.fail("no Chinese font for Chromium: scripts/test installs fonts-wqy-microhei")
    page_html = get(office, "html").text
    shot = artefacts(tmp_path_factory) / "monthly-report-2026-06.png"
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.on("request", lambda r: requested.append(r.url))
            page.set_content(page_html, wait_until="load")
            title = page.locator("h1").inner_text()
            cards = page.locator(".card").all_inner_texts()
            charts = page.locator("figure svg").count()
            svg_names = page.locator("figure svg text").all_text_contents()
            closed_rows = page.locator("table").nth(2).locator("tbody tr").all_inner_texts()
            pdf = page.pdf(format="A4")
            page.screenshot(path=str(shot), full_page=True)
            if readme := os.environ.get("LANTIAN_REPORT_SCREENSHOT"):  # docs/screenshots/
                page.set_viewport_size({"width": 1000, "height": 1400})
                page.screenshot(path=readme, full_page=False)
        finally:
            browser.close()
    print(f"screenshot: {shot}")
    assert title == "2026-06 扬尘告警处置月报"
    assert [re.sub(r"\s+", " ", c).strip() for c in cards][:3] == [
        "销号（本月办结） 4", "按时办结 1", "置顶（结转下月） 1"]
    assert charts == 4  # close times against 30 minutes, trend, sites, map
    assert "鉴湖路南侧住宅项目工地" in svg_names and "30 分钟" in svg_names
    assert len(closed_rows) == 4 and "覆盖裸土，停工整改" in closed_rows[2]
    assert requested == []  # a set page fetches nothing: no external asset
    assert pdf.startswith(b"%PDF") and shot.stat().st_size > 20_000


def test_the_cli_writes_what_the_api_gave(office: Deployment, tmp_path: Path) -> None:
    api = get(office, "xlsx").content
    out = tmp_path / "june.xlsx"
    run = lantian("--config", str(office.config), "report", "monthly", "--month", "2026-06",
                  "--format", "xlsx", "--out", str(out), token=BUREAU_TOKEN)
    assert run.returncode == 0, run.stderr
    assert openpyxl.load_workbook(out)["置顶"]["A2"].value == "D"
    # the workbook is built anew each time, its zip timestamps with it: compare contents
    assert _sheets(out.read_bytes()) == _sheets(api)

    refused = lantian("--config", str(office.config), "report", "monthly", "--month",
                      "2026-06", "--format", "xlsx", token=BUREAU_TOKEN)
    assert refused.returncode == 2
    assert "--out FILE" in refused.stderr and "Traceback" not in refused.stderr

    as_csv = lantian("--config", str(office.config), "report", "monthly", "--month",
                     "2026-06", "--format", "csv", token=BUREAU_TOKEN)
    assert as_csv.returncode == 0, as_csv.stderr
    api_csv = get(office, "csv").content.decode("utf-8-sig")
    # the helper reads stdout as text, which turns the CSV's CRLF into LF
    assert as_csv.stdout.lstrip("\ufeff") == api_csv.replace("\r\n", "\n")

    page = tmp_path / "times.html"
    times = lantian("--config", str(office.config), "report", "response-times", "--since",
                    "2026-06-01", "--until", "2026-07-01", "--format", "html", "--out",
                    str(page), token=BUREAU_TOKEN)
    assert times.returncode == 0, times.stderr
    assert "响应时间" in page.read_text(encoding="utf-8")


BUREAU_TOKEN = BUREAU["Authorization"].removeprefix("Bearer ")


def _sheets(xlsx: bytes) -> list[list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    return [list(ws.iter_rows(values_only=True)) for ws in book]


def test_the_repo_has_no_stray_artefacts() -> None:
    # screenshots go to the run's artefacts, not into the repository (but the README's)
    assert not (REPO / "monthly-report-2026-06.png").exists()
