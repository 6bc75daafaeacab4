"""`lantian demo` end to end, at high speed and headless: its embedded Mosquitto, the
service, the simulated devices and officers, the report. The demo runs once for the
module; each test checks one part of its end against the store it leaves behind, read
here with plain sqlite3 and recomputed by hand (not through dispatch's own metrics code).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lantian.demo import main
from lantian.demo._story import DAY_END

pytestmark = pytest.mark.integration

#: The simulated day (14 h) in a few seconds of pacing; the lockstep with the service
#: (each published message taken before the clock moves on) is what the run costs.
SPEED = 20000
STORY_SUBJECT = "station:KY-CS-001"
STORY_RULE = "site-pm10-15min"


@dataclass(frozen=True)
class DemoRun:
    status: int
    out: Path
    store: Path

    def db(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        return con

    def report(self) -> dict[str, Any]:
        return json.loads((self.out / "report.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    base = tmp_path_factory.mktemp("demo")
    status = main(["--headless", "--speed", str(SPEED), "--seed", "7",
                   "--out", str(base / "report"), "--workdir", str(base / "work")])
    yield DemoRun(status, base / "report", base / "work" / "lantian.sqlite")


def test_the_demo_tells_its_story_and_exits_0(demo: DemoRun) -> None:
    assert demo.status == 0  # its own check of the story's end, and no officer call failed
    assert demo.store.exists()


def test_the_story_incident_is_closed_within_30_minutes_with_law_enforcement(
    demo: DemoRun,
) -> None:
    with demo.db() as con:
        rows = con.execute(
            "SELECT * FROM alerts WHERE subject = ? AND rule = ? ORDER BY raised_at",
            (STORY_SUBJECT, STORY_RULE)).fetchall()
        assert len(rows) == 1, [dict(r) for r in rows]
        story = rows[0]
        events = con.execute("SELECT kind, actor, data FROM events WHERE alert_id = ? "
                             "ORDER BY seq", (story["id"],)).fetchall()
    assert (story["queue"], story["state"], story["outcome"]) == ("blue_sky", "closed",
                                                                  "resolved")
    assert story["closed_at"] - story["raised_at"] <= 30 * 60
    assert story["note"]  # the receipt says what was done
    assert "law_enforcement" in json.loads(story["assists"])
    kinds = [e["kind"] for e in events]
    assert ("on_scene", "drone:KY-UAV-01") in [(e["kind"], e["actor"]) for e in events]
    # the drone was sent (verify) before it arrived, and its dust-plume finding at cs-01
    # verified the incident instead of opening another one
    assert kinds.index("verifying") < kinds.index("on_scene") < kinds.index("closed")
    evidence = [json.loads(e["data"]) for e in events if e["kind"] == "evidence"]
    assert [e["finding"] for e in evidence] == ["dust_plume"]


def _nearest_rank(values: list[float], p: int) -> float | None:
    if not values:
        return None
    return sorted(values)[max(math.ceil(p / 100 * len(values)), 1) - 1]


def _by_hand(rows: list[sqlite3.Row], now: float) -> dict[str, Any]:
    live = [r for r in rows if not r["muted"]]
    closed = [r for r in live if r["state"] == "closed" and r["closed_at"] is not None]
    to_close = [r["closed_at"] - r["raised_at"] for r in closed]
    met = sum(1 for r in closed if r["closed_at"] <= r["close_by"])
    due = len(closed) + sum(1 for r in live if r["state"] != "closed" and r["close_by"] < now)
    return {
        "count": len(live),
        "closed": len(closed),
        "median": _nearest_rank(to_close, 50),
        "sla": round(met / due, 4) if due else None,
    }


def test_the_report_figures_are_the_stores(demo: DemoRun) -> None:
    report = demo.report()
    groups = {g["group"]: g for g in report["metrics"]["groups"]}
    with demo.db() as con:
        rows = con.execute("SELECT * FROM alerts").fetchall()
    now = DAY_END.timestamp()  # the report was fetched at the end of the simulated day
    queues = sorted({r["queue"] for r in rows})
    assert queues == ["blue_sky", "law_enforcement"]
    for name, selected in [("(all)", rows)] + [
        (q, [r for r in rows if r["queue"] == q]) for q in queues
    ]:
        g = groups[name]
        reported = {"count": g["count"], "closed": g["closed"],
                    "median": g["time_to_close"]["median"], "sla": g["sla_attainment"]}
        assert reported == _by_hand(selected, now), name
    # not trivial figures: a false alarm, a late closure, both offices busy
    assert groups["(all)"]["false_alarms"] >= 1
    assert groups["blue_sky"]["sla_attainment"] < 1
    assert groups["blue_sky"]["escalated"] >= 1
    assert groups["law_enforcement"]["count"] >= 1


def test_the_html_report_has_the_chart_map_and_figures(demo: DemoRun) -> None:
    page = (demo.out / "index.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 2  # the closure-time chart and the map sketch
    groups = demo.report()["metrics"]["groups"]
    for g in groups:
        name = "all queues" if g["group"] == "(all)" else g["group"]
        assert f"<td>{name}</td><td>{g['count']}</td><td>{g['closed']}</td>" in page


def test_the_services_own_report_pages_are_beside_it(demo: DemoRun) -> None:
    page = (demo.out / "index.html").read_text(encoding="utf-8")
    monthly = (demo.out / "monthly-2026-06.html").read_text(encoding="utf-8")
    assert 'href="monthly-2026-06.html"' in page
    assert "2026-06 扬尘告警处置月报" in monthly
    assert "鉴湖路南侧住宅项目工地" in monthly  # the story's site (cs-01), by config's name
    times = (demo.out / "response-times-2026-06-12.html").read_text(encoding="utf-8")
    total = next(g for g in demo.report()["metrics"]["groups"] if g["group"] == "(all)")
    assert f"<td>合计</td><td class='n'>{total['count']}</td>" in times


def test_lantian_demo_is_a_subcommand_of_the_cli() -> None:
    import subprocess
    import sys

    helped = subprocess.run([sys.executable, "-m", "lantian", "demo", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert (helped.returncode, "--keep-running" in helped.stdout) == (0, True)
    refused = subprocess.run([sys.executable, "-m", "lantian", "demo", "--speed", "0"],
                             capture_output=True, text=True, timeout=60)
    assert (refused.returncode, refused.stderr.strip()) == (
        2, "lantian demo: --speed must be above 0")
