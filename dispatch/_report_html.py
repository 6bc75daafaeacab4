"""The bureau's reports as one self-contained HTML page each, to read in a browser and
print to PDF (A4): inline CSS, inline SVG charts (`dispatch._svg`, `dispatch._report_map`),
no script, nothing from another host. Chinese text throughout; config's names beside
the ids.

Monthly report: the summary; each day's time to close (median and P90 of the alerts
closed that day) against the 30-minute line; the month's trend by day (raised, closed);
the sites with the most incidents; the map sketch; then the lists, carried over (置顶)
first, with who closed and the receipt's text. The lists print at most `MAX_ROWS` each:
the page stays a document, and the XLSX has every row.

Response times: the figures of each group against the 30-minute line, and the table.

The figures are the JSON's (`dispatch._report.to_json`, `dispatch._figures.to_json`),
formatted, never recomputed: what the page says, the API's JSON says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from dispatch._figures import ResponseTimes
from dispatch._figures import to_json as figures_json
from dispatch._gazetteer import NO_NAMES, Gazetteer
from dispatch._report import MonthlyReport, to_json
from dispatch._report_map import map_sketch
from dispatch._report_xlsx import OUTCOMES, STATES, SUMMARY_ROWS, group_name
from dispatch._svg import BLUE, GREEN, GREY, ORANGE, RED, Chart, esc, nice_top

#: The rows each list prints; the rest are counted and left to the XLSX.
MAX_ROWS: Final = 500
#: The close deadline the charts draw: the bureau's 30 minutes.
TARGET_S: Final = 1800.0

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif;
  margin: 1.5em auto; max-width: 60em; color: #222; font-size: 14px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; width: 100%; font-size: 0.9em; }
th, td { padding: 0.25em 0.5em; border-bottom: 1px solid #ddd; text-align: left;
  vertical-align: top; }
th { background: #f3f3f3; } td.n { text-align: right; white-space: nowrap; }
thead { display: table-header-group; } tr { break-inside: avoid; }
.cards { display: flex; flex-wrap: wrap; gap: 0.6em; }
.card { border: 1px solid #ddd; border-radius: 4px; padding: 0.4em 0.8em; min-width: 7em; }
.card b { display: block; font-size: 1.5em; }
.late { color: #c0392b; font-weight: bold; } .note { color: #666; font-size: 0.85em; }
figure { margin: 1em 0; break-inside: avoid; } svg { max-width: 100%; height: auto; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } }
"""


def minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f}"


def duration(seconds: float | None) -> str:
    """A time to close or an age, in the unit people say it in."""
    if seconds is None:
        return "–"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} 分钟"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.1f} 天"


def when(iso: str | None) -> str:
    return "–" if iso is None else datetime.fromisoformat(iso).strftime("%m-%d %H:%M")


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n{body}\n</body></html>\n")


# -- charts of the monthly report ----------------------------------------------------------


def close_chart(items: Sequence[dict[str, Any]], days: Sequence[str]) -> str:
    """Each day's median and P90 time to close (minutes) of the alerts closed that day,
    against the 30-minute line; a day's bar is its P90, the dot its median."""
    by_day: dict[str, list[float]] = {d: [] for d in days}
    for item in items:
        if item["time_to_close"] is not None:
            by_day.setdefault(item["closed_at"][:10], []).append(item["time_to_close"] / 60)
    figures: list[tuple[float, float] | None] = []
    for d in days:
        values = sorted(by_day[d])
        n = len(values)
        # nearest rank, as dispatch._figures: each figure is a real incident's
        figures.append((values[max(-(-50 * n // 100), 1) - 1],
                        values[max(-(-90 * n // 100), 1) - 1]) if n else None)
    highest = max((f[1] for f in figures if f), default=0.0)
    # the axis stops at 4× the target: one day closed after a weekend must not flatten
    # the 30-minute line; a bar over the top is cut and says its value
    cap = TARGET_S / 60 * 4
    chart = Chart(760, 270, cap if highest > cap else nice_top(max(highest, TARGET_S / 40)),
                  top=34)
    chart.y_axis(ticks=4 if chart.y_top == cap else 5)  # at the cap: 30, 60, 90, 120
    step = chart.plot_w / max(len(days), 1)
    for i, (d, f) in enumerate(zip(days, figures, strict=True)):
        x = chart.x(0) + i * step
        if i % 2 == 0 or len(days) <= 16:
            chart.text(x + step / 2, chart.top + chart.plot_h + 14, d[8:10], size=9)
        if f is None:
            continue
        median, p90 = f
        colour = RED if p90 > TARGET_S / 60 else BLUE
        chart.rect(x + step * 0.2, chart.y(p90), step * 0.6,
                   chart.y(0) - chart.y(p90), colour + "99",
                   f"{d}: P90 {p90:.1f} 分钟, 中位数 {median:.1f} 分钟")
        if p90 > chart.y_top:
            chart.text(x + step / 2, chart.top - 3, f"{p90:.0f}", size=8, colour=RED)
        chart.add(f'<circle cx="{x + step / 2:.1f}" cy="{chart.y(median):.1f}" r="3"'
                  ' fill="#222"/>')
    y30 = chart.y(TARGET_S / 60)
    chart.line(chart.x(0), y30, chart.x(1), y30, RED, 1.5, "6 4")
    chart.text(chart.x(1) - 4, y30 - 5, "30 分钟", anchor="end", size=11, colour=RED)
    chart.text(chart.x(0.5), chart.height - 6,
               "日期（销号日）· 柱：P90 办结用时（分钟）· 点：中位数", size=11)
    chart.legend([("P90 ≤ 30 分钟", BLUE), ("P90 > 30 分钟", RED)])
    return chart.svg("每日办结用时与 30 分钟线")


def trend_chart(trend: Sequence[dict[str, Any]]) -> str:
    highest = max((max(d["raised"], d["closed"]) for d in trend), default=0)
    chart = Chart(760, 230, nice_top(max(highest, 5)))  # 5: whole numbers on the axis
    chart.y_axis()
    step = chart.plot_w / max(len(trend), 1)
    for i, d in enumerate(trend):
        x = chart.x(0) + i * step
        w = step * 0.38
        chart.rect(x + step * 0.1, chart.y(d["raised"]), w, chart.y(0) - chart.y(d["raised"]),
                   BLUE, f"{d['day']}: 发现 {d['raised']}")
        chart.rect(x + step * 0.1 + w, chart.y(d["closed"]), w,
                   chart.y(0) - chart.y(d["closed"]), GREEN, f"{d['day']}: 销号 {d['closed']}")
        if i % 2 == 0 or len(trend) <= 16:
            chart.text(x + step / 2, chart.top + chart.plot_h + 14, d["day"][8:10], size=9)
    chart.text(chart.x(0.5), chart.height - 6, "日期 · 每日发现与销号的告警数", size=11)
    chart.legend([("发现", BLUE), ("销号", GREEN)])
    return chart.svg("本月每日趋势")


def sites_chart(sites: Sequence[dict[str, Any]]) -> str:
    if not sites:
        return ""
    row = 26
    chart = Chart(760, 40 + row * len(sites), nice_top(max(s["total"] for s in sites)),
                  left=230, top=28, bottom=12)
    for i, s in enumerate(sites):
        y = chart.top + i * row
        w_closed = chart.plot_w * s["closed"] / chart.y_top
        w_carried = chart.plot_w * s["carried_over"] / chart.y_top
        chart.text(chart.left - 8, y + 15, s["zone_name"], anchor="end", size=11)
        chart.rect(chart.left, y + 4, w_closed, row - 8, GREEN, f"销号 {s['closed']}")
        chart.rect(chart.left + w_closed, y + 4, w_carried, row - 8, ORANGE,
                   f"置顶 {s['carried_over']}")
        chart.text(chart.left + w_closed + w_carried + 6, y + 15, s["total"], anchor="start",
                   size=11, bold=True)
    chart.legend([("销号", GREEN), ("置顶", ORANGE)])
    return chart.svg("告警最多的站点")


# -- the monthly page ----------------------------------------------------------------------


def _rows(items: Sequence[dict[str, Any]], carried: bool) -> str:
    out = []
    for item in items[:MAX_ROWS]:
        late = ' class="n late"' if item["overdue"] else ' class="n"'
        where = esc(item["subject_name"] or item["zone_name"] or "–")
        if item["zone_name"] and item["subject_name"]:
            where += f"<br><small>{esc(item['zone_name'])}</small>"
        tail = (f"<td{late}>{duration(item['age_at_month_end'])}</td>"
                f"<td>{esc(STATES.get(item['state'], item['state']))}</td>" if carried else
                f"<td>{when(item['closed_at'])}</td><td{late}>"
                f"{duration(item['time_to_close'])}</td>"
                f"<td>{esc(OUTCOMES.get(item['outcome'] or '', item['outcome'] or '–'))}</td>"
                f"<td>{esc(item['closed_by'] or '–')}</td><td>{esc(item['note'] or '–')}</td>")
        out.append(f"<tr><td>{esc(item['id'])}</td><td>{where}</td>"
                   f"<td>{esc(item['grid_name'] or '–')}</td><td>{esc(item['queue_name'])}</td>"
                   f"<td>{when(item['raised_at'])}</td>{tail}</tr>")
    more = len(items) - MAX_ROWS
    if more > 0:
        out.append(f'<tr><td colspan="10" class="note">另有 {more} 条未列出，完整清单见'
                   " XLSX（format=xlsx）。</td></tr>")
    return "\n".join(out)


def _gaps(gaps: Sequence[Mapping[str, Any]]) -> str:
    if not gaps:
        return ""
    spans = "；".join(f"{when(g['started_at'])} 至 {when(g['ended_at'])}（{esc(g['reason'])}）"
                     for g in gaps[:20])
    more = f" 等 {len(gaps)} 段" if len(gaps) > 20 else ""
    return f'<p class="late">数据可能不完整：{spans}{more}。</p>'


def monthly_html(
    report: MonthlyReport, names: Gazetteer = NO_NAMES,
    gaps: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The page of `report`; `gaps` are the month's data gaps (the API's JSON), where its
    figures may be incomplete."""
    data = to_json(report, names)
    s = data["summary"]
    cards = "".join(f'<div class="card">{esc(label)}<b>{s[key]}</b></div>'
                    for label, key in SUMMARY_ROWS)
    days = [d["day"] for d in data["trend"]]
    sites = "".join(
        f'<tr><td>{esc(t["zone_name"])}</td><td>{esc(t["zone"])}</td><td class="n">'
        f'{t["closed"]}</td><td class="n">{t["carried_over"]}</td><td class="n">'
        f'<b>{t["total"]}</b></td></tr>' for t in data["top_sites"])
    counts: dict[str, int] = {}
    for item in (*data["carried_over"], *data["closed"]):
        if item["zone"] is not None:
            counts[item["zone"]] = counts.get(item["zone"], 0) + 1
    sketch = map_sketch(names, counts)
    head = ("<tr><th>编号</th><th>站点 / 区域</th><th>网格</th><th>队列</th><th>发现</th>")
    body = f"""<p>{esc(report.start.strftime("%Y-%m-%d"))} 至 {esc(report.end.strftime(
        "%Y-%m-%d"))}（不含）· 本地时间 {esc(report.start.strftime("UTC%z"))}</p>
<div class="cards">{cards}</div>
{_gaps(gaps)}
<h2>办结用时与 30 分钟线</h2>
<figure>{close_chart(data["closed"], days)}</figure>
<h2>每日趋势</h2>
<figure>{trend_chart(data["trend"])}</figure>
<h2>告警最多的站点</h2>
<figure>{sites_chart(data["top_sites"])}</figure>
<table><thead><tr><th>站点</th><th>编号</th><th>销号</th><th>置顶</th><th>合计</th></tr>
</thead><tbody>{sites}</tbody></table>
{f'<h2>地图示意</h2><figure>{sketch}</figure>' if sketch else ""}
<h2>置顶：结转下月（{s["carried_over"]}，最早在前）</h2>
<table><thead>{head}<th>月末已滞留</th><th>状态</th></tr></thead><tbody>
{_rows(data["carried_over"], True)}
</tbody></table>
<h2>销号：本月办结（{s["closed"]}）</h2>
<table><thead>{head}<th>销号</th><th>办结用时</th><th>结果</th><th>销号人</th><th>回执</th>
</tr></thead><tbody>
{_rows(data["closed"], False)}
</tbody></table>
<p class="note">由蓝天（Lantian）服务生成：GET /api/reports/monthly?month={esc(report.month)}
&amp;format=html。办结用时 = 销号时间 − 发现时间；超时 = 超过限办时间；百分位为最近秩。</p>"""
    return _page(f"{report.month} 扬尘告警处置月报", body)


# -- the response-time page ----------------------------------------------------------------


def figures_chart(groups: Sequence[dict[str, Any]], labels: Sequence[str]) -> str:
    """Each group's median and P90 time to close against the 30-minute line."""
    row = 26
    highest = max((g["time_to_close"]["p90"] or 0 for g in groups), default=0) / 60
    chart = Chart(760, 52 + row * len(groups), nice_top(max(highest, TARGET_S / 60 * 1.5)),
                  left=200, top=28, bottom=24)
    for i, (g, label) in enumerate(zip(groups, labels, strict=True)):
        y = chart.top + i * row
        chart.text(chart.left - 8, y + 15, label, anchor="end", size=11)
        p90, median = g["time_to_close"]["p90"], g["time_to_close"]["median"]
        if p90 is None:
            chart.text(chart.left + 6, y + 15, "无办结", anchor="start", size=10, colour=GREY)
            continue
        w = chart.plot_w * min(p90 / 60, chart.y_top) / chart.y_top
        chart.rect(chart.left, y + 5, w, row - 10, (RED if p90 > TARGET_S else BLUE) + "99",
                   f"P90 {p90 / 60:.1f} 分钟")
        mx = chart.left + chart.plot_w * min(median / 60, chart.y_top) / chart.y_top
        chart.add(f'<circle cx="{mx:.1f}" cy="{y + row / 2:.1f}" r="3.5" fill="#222"/>')
    x30 = chart.left + chart.plot_w * (TARGET_S / 60) / chart.y_top
    chart.line(x30, chart.top, x30, chart.top + row * len(groups), RED, 1.5, "6 4")
    chart.text(x30 + 4, chart.top - 4, "30 分钟", anchor="start", size=11, colour=RED)
    chart.text(chart.left + chart.plot_w / 2, chart.height - 6,
               "柱：P90 办结用时 · 点：中位数（分钟）", size=11)
    return chart.svg("各组办结用时与 30 分钟线")


def figures_html(
    results: Sequence[ResponseTimes], since: datetime, until: datetime, group_by: Any,
    names: Gazetteer = NO_NAMES,
) -> str:
    groups = figures_json(results)
    labels = [group_name(g["group"], group_by, names) for g in groups]
    rows = "".join(
        f"<tr><td>{esc(label)}</td><td class='n'>{g['count']}</td><td class='n'>"
        f"{g['closed']}</td><td class='n'>{g['open']}</td><td class='n'>{g['open_overdue']}"
        f"</td><td class='n'>{g['false_alarms']}</td><td class='n'>{g['escalated']}</td>"
        f"<td class='n'>{minutes(g['time_to_ack']['median'])}</td><td class='n'>"
        f"{minutes(g['time_to_close']['median'])}</td><td class='n'>"
        f"{minutes(g['time_to_close']['p90'])}</td><td class='n'>"
        + ("–" if g["sla_attainment"] is None else f"{g['sla_attainment']:.1%}")
        + "</td></tr>"
        for g, label in zip(groups, labels, strict=True))
    period = f"{since:%Y-%m-%d %H:%M} 至 {until:%Y-%m-%d %H:%M}"
    body = f"""<p>{esc(period)}（不含）· 按 {esc(group_by)} 分组</p>
<figure>{figures_chart(groups, labels)}</figure>
<table><thead><tr><th>分组</th><th>告警数</th><th>已办结</th><th>未办结</th>
<th>未办结已超时</th><th>误报</th><th>升级</th><th>签收中位数（分钟）</th>
<th>办结中位数（分钟）</th><th>办结 P90（分钟）</th><th>按时办结率</th></tr></thead>
<tbody>{rows}</tbody></table>
<p class="note">由蓝天（Lantian）服务生成：GET /api/metrics/response-times。按时办结率 =
限办时间内销号数 ÷（销号数 + 已过限办时间的未办结数）；百分位为最近秩。</p>"""
    return _page(f"响应时间 {period}", body)
