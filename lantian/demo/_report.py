"""The day's response-time report: fetched from the service's API as the environment bureau
would fetch it, shown as a table, and written as a self-contained HTML page beside the
service's own report pages (the bureau's monthly report and the day's response times,
`format=html`), which the page links to: the product's report, as the bureau gets it.

The figures are the API's (`/api/metrics/response-times`, bureau token), never recomputed
here, so the page shows what the bureau would get. The incident list comes from the alert
API (admin token) and feeds the chart and the map. Charts are matplotlib figures rendered
to SVG and inlined: the page needs no network and no other file. (The object API,
`matplotlib.figure.Figure`, draws without pyplot's global backend; text is stored as paths,
so the SVG looks the same without the fonts.)
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from rich.table import Table

from lantian.demo import _story as story

QUEUE_COLOURS = {"blue_sky": "#1f77b4", "law_enforcement": "#d62728"}
ZONE_STYLE = {  # face, edge
    "construction_site": ("#ff7f0e55", "#c25e00"),
    "land_use": ("#2ca02c33", "#1e7a1e"),
    "community": ("#9edae555", "#4a9aa5"),
    "no_fly": ("#d6272822", "#d62728"),
    "road": ("#7f7f7f33", "#555555"),
}
STATION_MARKERS = {"construction_site": "^", "ambient": "s", "road": "D"}


@dataclass(frozen=True, slots=True)
class DayReport:
    day: date
    metrics: Mapping[str, Any]  # the API's response-times JSON, grouped by queue
    alerts: Sequence[Mapping[str, Any]]  # alert JSON with "events", oldest first
    #: the service's own report pages (`format=html`) by file name, as it sent them
    pages: Mapping[str, bytes] = field(default_factory=dict)

    def group(self, name: str) -> Mapping[str, Any] | None:
        return next((g for g in self.metrics["groups"] if g["group"] == name), None)


async def fetch_report(http: httpx.AsyncClient, bureau_token: str, admin_token: str,
                       day: date) -> DayReport:
    since, until = day.isoformat(), (day + timedelta(days=1)).isoformat()
    bureau = {"Authorization": f"Bearer {bureau_token}"}
    admin = {"Authorization": f"Bearer {admin_token}"}
    r = await http.get("/api/metrics/response-times", headers=bureau,
                       params={"since": since, "until": until, "group_by": "queue"})
    r.raise_for_status()
    metrics = r.json()
    r = await http.get("/api/alerts", headers=admin,
                       params={"since": since, "until": until, "limit": 1000})
    r.raise_for_status()
    alerts = []
    for a in reversed(r.json()["alerts"]):  # the API lists newest first
        detail = await http.get(f"/api/alerts/{a['id']}", headers=admin)
        detail.raise_for_status()
        alerts.append(detail.json())
    pages = {}
    for name, path, params in (
        (f"monthly-{day:%Y-%m}.html", "/api/reports/monthly", {"month": f"{day:%Y-%m}"}),
        (f"response-times-{day}.html", "/api/metrics/response-times",
         {"since": since, "until": until, "group_by": "queue"}),
    ):
        r = await http.get(path, headers=bureau, params=params | {"format": "html"})
        r.raise_for_status()
        pages[name] = r.content
    return DayReport(day, metrics, alerts, pages)


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s"


def fmt_pct(fraction: float | None) -> str:
    return "–" if fraction is None else f"{fraction:.0%}"


def metrics_table(report: DayReport) -> Table:
    t = Table(title=f"Response times, {report.day} (from /api/metrics/response-times)",
              header_style="bold")
    for col in ("queue", "alerts", "closed", "open", "false", "escal.",
                "ack p50", "close p50", "close p90", "SLA 30'"):
        t.add_column(col, justify="left" if col == "queue" else "right")
    for g in report.metrics["groups"]:
        t.add_row(
            "all" if g["group"] == "(all)" else g["group"], str(g["count"]),
            str(g["closed"]), str(g["open"]), str(g["false_alarms"]), str(g["escalated"]),
            fmt_s(g["time_to_ack"]["median"]), fmt_s(g["time_to_close"]["median"]),
            fmt_s(g["time_to_close"]["p90"]), fmt_pct(g["sla_attainment"]),
            style="bold" if g["group"] == "(all)" else "",
        )
    return t


# -- per-incident facts, from the alert JSON ---------------------------------------------


def _t(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def seconds_between(a: str | None, b: str | None) -> float | None:
    ta, tb = _t(a), _t(b)
    return None if ta is None or tb is None else (tb - ta).total_seconds()


#: Zones too wide to name where an alert is: say the station instead.
_WIDE_ZONES = frozenset({"patrol_area", "grid"})


def site(alert: Mapping[str, Any]) -> str:
    """Where an alert is, in a few characters: its zone (cs-01) and station, if any."""
    zone = alert.get("zone") or {}
    subject = str(alert.get("subject", ""))
    station = subject.removeprefix("station:") if subject.startswith("station:") else None
    zid = zone.get("id") if zone.get("kind") not in _WIDE_ZONES else None
    if station and zid:
        return f"{zid} {station}"
    return station or zid or subject


def label(n: int, alert: Mapping[str, Any]) -> str:
    raised = _t(alert["raised_at"])
    hhmm = raised.astimezone(story.TZ).strftime("%H:%M") if raised else "--:--"
    return f"#{n} {hhmm} {site(alert).split()[0]} {alert['kind']}"


def on_scene_by(alert: Mapping[str, Any]) -> str | None:
    return next((e["actor"] for e in alert.get("events", []) if e["kind"] == "on_scene"), None)


# -- figures -----------------------------------------------------------------------------


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "lantian-demo"}):  # stable ids: same page
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML prologue and DOCTYPE


def closure_chart(report: DayReport, close_s: float = 1800.0) -> str:
    """Each incident's time to close (and to acknowledge) against the 30-minute line."""
    alerts = list(report.alerts)
    fig = Figure(figsize=(8.5, 0.5 * len(alerts) + 1.6))
    ax = fig.add_subplot()
    end = datetime.combine(report.day, story.DAY_END.timetz())
    longest = 0.0
    for i, a in enumerate(alerts):
        y = len(alerts) - 1 - i
        closed = seconds_between(a["raised_at"], a.get("closed_at"))
        still_open = closed is None
        minutes = (closed if closed is not None
                   else (end - datetime.fromisoformat(a["raised_at"])).total_seconds()) / 60
        longest = max(longest, minutes)
        colour = QUEUE_COLOURS.get(a["queue"], "#7f7f7f")
        outcome = (a.get("receipt") or {}).get("outcome")
        ax.barh(y, minutes, color=colour, alpha=0.35 if still_open else 0.85,
                hatch="//" if outcome == "false_alarm" else None, edgecolor=colour)
        ack = seconds_between(a["raised_at"], a.get("acknowledged_at"))
        if ack is not None:
            ax.plot([ack / 60], [y], marker="|", markersize=14, color="black")
        text = "open" if still_open else f"{minutes:.0f} min" + (
            " (false alarm)" if outcome == "false_alarm" else "")
        ax.text(minutes + 0.6, y, text, va="center", fontsize=8)
    ax.set_yticks(range(len(alerts)),
                  [label(i + 1, a) for i, a in enumerate(alerts)][::-1], fontsize=8)
    ax.axvline(close_s / 60, color="#d62728", linestyle="--", linewidth=1.2)
    ax.text(close_s / 60, len(alerts) - 0.4, " 30-minute target", color="#d62728", fontsize=8)
    ax.set_xlabel("minutes from raised to closed (| = acknowledged)")
    ax.set_xlim(0, max(close_s / 60 * 1.2, longest * 1.2))
    ax.legend(handles=[Patch(color=c, label=q) for q, c in QUEUE_COLOURS.items()],
              loc="lower right", fontsize=8, frameon=False)
    ax.set_title(f"Time to close, {report.day}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def _rings(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry["type"] == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def map_sketch(report: DayReport, zones: Mapping[str, Any], stations: Mapping[str, Any]) -> str:
    """Zones, stations, the dock, the patrol route and the day's alerts; no tiles."""
    fig = Figure(figsize=(8.5, 6.2))
    ax = fig.add_subplot()
    for f in zones["features"]:
        kind = f["properties"].get("kind")
        for ring in _rings(f["geometry"]):
            xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            if kind == "grid":
                ax.plot(xs, ys, color="#dddddd", linewidth=0.4, zorder=0)
            elif kind == "patrol_area":
                ax.plot(xs, ys, color="#888888", linewidth=1, linestyle=":", zorder=1)
            else:
                face, edge = ZONE_STYLE.get(kind, ("#cccccc33", "#999999"))
                ax.fill(xs, ys, facecolor=face, edgecolor=edge, linewidth=0.8, zorder=2)
                if kind in ("construction_site", "land_use", "no_fly"):
                    # left of the zone: alerts' flags go above it, station names right
                    ax.text(min(xs) - 0.0004, sum(ys) / len(ys), f["properties"]["id"],
                            fontsize=7, ha="right", va="center", color=edge, zorder=5)
    route = story.PATROL_ROUTE
    ax.plot([p[0] for p in route], [p[1] for p in route], color="#555555", linewidth=0.8,
            linestyle="--", zorder=3, label="patrol route")
    for f in stations["features"]:
        lon, lat = f["geometry"]["coordinates"][:2]
        kind = f["properties"].get("kind")
        ax.scatter([lon], [lat], marker=STATION_MARKERS.get(kind, "o"), s=28, color="black",
                   zorder=6)
        ax.text(lon + 0.0006, lat - 0.0002, f["properties"]["id"], fontsize=6.5, va="top",
                zorder=6)
    ax.scatter([story.DOCK[0]], [story.DOCK[1]], marker="*", s=160, color="#9467bd",
               zorder=7, label="office & drone dock")
    for n, a in enumerate(report.alerts, start=1):
        where = a.get("location") or {}
        if "lon" not in where:
            continue
        colour = QUEUE_COLOURS.get(a["queue"], "#7f7f7f")
        # the number in a flag above and left of the place, so the station stays visible
        x, y = where["lon"], where["lat"]
        fx, fy = x - 0.0012, y + 0.0014
        ax.plot([x, fx], [y, fy], color=colour, linewidth=1, zorder=8)
        ax.scatter([x], [y], s=14, color=colour, zorder=8)
        ax.scatter([fx], [fy], s=230, facecolor="white", edgecolor=colour, linewidth=2,
                   zorder=8)
        ax.text(fx, fy, str(n), ha="center", va="center", fontsize=8, fontweight="bold",
                color=colour, zorder=9)
    ax.set_aspect(1 / 0.866)  # a degree of longitude is cos(30°) of one of latitude here
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.ticklabel_format(useOffset=False)
    ax.tick_params(labelsize=7)
    ax.legend(loc="lower left", fontsize=7, frameon=True)
    ax.set_title("Keyan: zones, stations and the day's alerts (numbered as in the list)",
                 fontsize=10)
    return _svg(fig)


# -- the page ----------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child, td.l { text-align: left; }
tr.all td { font-weight: bold; }
.note { color: #666; font-size: 0.85em; }
.ok { color: #2a7d2a; } .late { color: #c0392b; font-weight: bold; }
figure { margin: 1.5em 0; } svg { max-width: 100%; height: auto; }
"""


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _links(report: DayReport) -> str:
    if not report.pages:
        return ""
    items = "".join(f'<li><a href="{_esc(name)}">{_esc(name)}</a></li>' for name in report.pages)
    return ("<h2>The service's own reports</h2><p>As the bureau gets them "
            "(<code>format=html</code>; also <code>csv</code> and <code>xlsx</code>):</p>"
            f"<ul>{items}</ul>")


def render_html(report: DayReport, zones: Mapping[str, Any], stations: Mapping[str, Any],
                summary: str) -> str:
    rows = []
    for g in report.metrics["groups"]:
        name = "all queues" if g["group"] == "(all)" else g["group"]
        rows.append(
            f'<tr class="{"all" if g["group"] == "(all)" else ""}"><td>{_esc(name)}</td>'
            f'<td>{g["count"]}</td><td>{g["closed"]}</td><td>{g["open"]}</td>'
            f'<td>{g["false_alarms"]}</td><td>{g["escalated"]}</td>'
            f'<td>{fmt_s(g["time_to_ack"]["median"])}</td>'
            f'<td>{fmt_s(g["time_to_close"]["median"])}</td>'
            f'<td>{fmt_s(g["time_to_close"]["p90"])}</td>'
            f'<td>{fmt_pct(g["sla_attainment"])}</td></tr>'
        )
    incidents = []
    for n, a in enumerate(report.alerts, start=1):
        close = seconds_between(a["raised_at"], a.get("closed_at"))
        receipt = a.get("receipt") or {}
        late = close is None or close > 1800
        incidents.append(
            f'<tr><td>#{n}</td><td class="l">{_esc(label(n, a).split(" ", 1)[1])}</td>'
            f'<td class="l">{_esc(a["queue"])}{"".join(" + " + _esc(q) for q in a["assists"])}'
            f'</td><td>{fmt_s(seconds_between(a["raised_at"], a.get("acknowledged_at")))}</td>'
            f'<td class="{"late" if late else "ok"}">{fmt_s(close)}</td>'
            f'<td class="l">{_esc(on_scene_by(a) or "–")}</td>'
            f'<td class="l">{_esc(receipt.get("outcome"))}</td>'
            f'<td class="l">{_esc(receipt.get("note"))} ({_esc(receipt.get("officer"))})</td></tr>'
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Lantian demo — response times {report.day}</title><style>{_CSS}</style></head>
<body>
<h1>Lantian demo: a blue-sky day in Keyan, {report.day}</h1>
<p>{_esc(summary)}</p>
<h2>Response times by queue</h2>
<table><thead><tr><th>queue</th><th>alerts</th><th>closed</th><th>open</th>
<th>false alarms</th><th>escalated</th><th>ack median</th><th>close median</th>
<th>close p90</th><th>SLA ≤ 30 min</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table>
<p class="note">From <code>GET /api/metrics/response-times?since={report.metrics["since"][:10]}
&amp;until={report.metrics["until"][:10]}&amp;group_by=queue</code> (bureau token). Percentiles
are nearest-rank; SLA attainment = closed within the close deadline ÷ (closed + open past
it).</p>
<figure>{closure_chart(report)}</figure>
<h2>Incidents</h2>
<table><thead><tr><th>#</th><th>raised</th><th>queue</th><th>to ack</th><th>to close</th>
<th>on scene</th><th>outcome</th><th>receipt</th></tr></thead><tbody>
{"".join(incidents)}
</tbody></table>
<figure>{map_sketch(report, zones, stations)}</figure>
<p class="note">Generated by <code>lantian demo</code> from the service's own API; the
message flow was real MQTT, the time simulated.</p>
{_links(report)}
</body></html>
"""


def write_report(report: DayReport, out_dir: Path, config_dir: Path, summary: str) -> Path:
    """index.html and report.json (the same figures, for machines) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    zones = json.loads((config_dir / "zones.geojson").read_text(encoding="utf-8"))
    stations = json.loads((config_dir / "stations.geojson").read_text(encoding="utf-8"))
    page = out_dir / "index.html"
    page.write_text(render_html(report, zones, stations, summary), encoding="utf-8")
    for name, body in report.pages.items():
        (out_dir / name).write_bytes(body)
    (out_dir / "report.json").write_text(json.dumps(
        {"day": report.day.isoformat(), "summary": summary, "metrics": report.metrics,
         "alerts": list(report.alerts)}, ensure_ascii=False, indent=1), encoding="utf-8")
    return page


# -- the story's end, checked ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    summary: str
    problems: tuple[str, ...]


def story_verdict(report: DayReport, landed: Mapping[str, Mapping[str, Any]]) -> Verdict:
    """Did the day tell the story? The cs-01 incident: in blue_sky with the drone
    suggested to the south about 1.8 km away (as it landed: `landed` has each alert's
    queue message by id), the drone on scene, law enforcement assisting, closed as
    resolved within 30 minutes of being raised."""
    plan = story.STORY
    found = [a for a in report.alerts
             if a["rule"] == plan.rule and a["subject"] == plan.subject]
    if not found:
        return Verdict(False, "The story's incident (cs-01 PM10) was never raised.",
                       ("no alert for station:KY-CS-001",))
    a = found[0]
    problems = []
    s = (landed.get(a["id"]) or a).get("drone_suggestion") or {}
    if a["queue"] != plan.queue:
        problems.append(f"landed in {a['queue']}, not {plan.queue}")
    if s.get("direction") != "S" or not 1600 <= float(s.get("distance_m") or 0) <= 2000:
        problems.append(f"drone suggestion was {s or 'none'}, not S 1.8 km")
    drone_on_scene = next((e for e in a.get("events", []) if e["kind"] == "on_scene"
                           and e["actor"] == f"drone:{story.DRONE}"), None)
    if drone_on_scene is None:
        problems.append("the drone was not recorded on scene")
    if "law_enforcement" not in a.get("assists", []):
        problems.append("law enforcement did not assist")
    close = seconds_between(a["raised_at"], a.get("closed_at"))
    outcome = (a.get("receipt") or {}).get("outcome")
    if close is None or outcome != "resolved":
        problems.append(f"not closed as resolved (state {a['state']}, outcome {outcome})")
    elif close > story.story_deadline().total_seconds():
        problems.append(f"closed after {fmt_s(close)}, over 30 minutes")
    raised = datetime.fromisoformat(a["raised_at"]).astimezone(story.TZ)
    scene = (datetime.fromisoformat(drone_on_scene["at"]).astimezone(story.TZ)
             if drone_on_scene else None)
    total = report.group("(all)") or {}
    summary = (
        f"The story: construction site cs-01 (KY-CS-001), south of the street office, went "
        f"over the PM10 limit; the alert was raised at {raised:%H:%M:%S} in {a['queue']} "
        f"with the drone suggestion {s.get('direction', '?')}, "
        f"{float(s.get('distance_m') or 0) / 1000:.1f} km; "
        + (f"{story.DRONE} was on scene at {scene:%H:%M:%S}; " if scene else "")
        + ("law enforcement assisted; " if "law_enforcement" in a.get("assists", []) else "")
        + (f"closed {outcome} with a receipt after {fmt_s(close)}. " if close is not None
           else "it is still open. ")
        + f"The day: {total.get('count', 0)} alerts, {total.get('closed', 0)} closed, "
        f"{total.get('false_alarms', 0)} false alarm(s), {total.get('escalated', 0)} "
        f"escalated, SLA attainment {fmt_pct(total.get('sla_attainment'))}."
    )
    return Verdict(not problems, summary, tuple(problems))
