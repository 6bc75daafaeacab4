"""`lantian alerts ...`: list, show and act on the running service's alerts."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
from rich.table import Table
from rich.text import Text

from lantian.client._api import connect
from lantian.client._render import cell, emit, new_table, print_json, when


def _alert_path(alert_id: str, step: str = "") -> str:
    # an id comes from the command line: quoted, so it can only ever name one alert
    return f"/api/alerts/{quote(alert_id, safe='')}" + (f"/{step}" if step else "")


def _num(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{round(float(value), 1):g}"
    return "–" if value is None else str(value)


def _suggestion(alert: dict[str, Any], with_drone: bool = False) -> str:
    s = alert.get("drone_suggestion")
    if not isinstance(s, dict):
        return "–"
    where = f"{s.get('direction', '?')} {s.get('distance_m', 0) / 1000:.1f} km"
    if not with_drone:
        return where
    eta = s.get("eta_s")
    return f"{s.get('drone')}, {where}" + (f", ETA {eta / 60:.0f} min" if eta is not None else "")


def _zone(alert: dict[str, Any], full: bool = False) -> str:
    zone = alert.get("zone")
    if not isinstance(zone, dict):
        return alert.get("grid") or "–"
    if not full:
        return str(zone.get("id"))
    out = f"{zone.get('id')} {zone.get('name') or ''} ({zone.get('kind')})".replace("  ", " ")
    return out + (f", grid {zone['grid']}" if zone.get("grid") else "")


def _reading(alert: dict[str, Any]) -> str:
    if alert.get("value") is None and alert.get("threshold") is None:
        return "–"
    value, limit = _num(alert.get("value")), _num(alert.get("threshold"))
    return f"{alert.get('metric') or ''} {value} / {limit}".strip()


_SEVERITY_STYLE = {"critical": "bold red", "major": "red", "warning": "yellow"}


def cmd_alerts_list(args: argparse.Namespace) -> int:
    api = connect(args)
    data = api.json(api.get("/api/alerts", {
        "queue": args.queue, "state": args.state, "since": args.since, "until": args.until,
        "zone": args.zone, "limit": args.limit,
    }))
    if args.json:
        print_json(data)
        return 0
    alerts = data.get("alerts", [])
    if not alerts:
        print("no alerts match")
        return 0
    table = new_table(None, ("id", "raised", "queue", "state", "severity", "kind", "zone",
                          "value / limit", "drone"))
    for a in alerts:
        table.add_row(
            cell(a.get("id")), cell(when(a.get("raised_at"), seconds=False)),
            cell(a.get("queue")), cell(a.get("state"), "dim" if a.get("state") == "closed"
                                         else ""),
            cell(a.get("severity"), _SEVERITY_STYLE.get(a.get("severity", ""), "")),
            cell(a.get("kind")), cell(_zone(a)), cell(_reading(a)), cell(_suggestion(a)),
        )
    emit(table)
    return 0


def cmd_alerts_show(args: argparse.Namespace) -> int:
    api = connect(args)
    a = api.json(api.get(_alert_path(args.id)))
    if args.json:
        print_json(a)
        return 0
    receipt = a.get("receipt")
    sla = a.get("sla") or {}
    window = a.get("window_s")
    fields: list[tuple[str, Any]] = [
        ("state", f"{a.get('state')}" + (" (muted)" if a.get("muted") else "")),
        ("severity", a.get("severity")),
        ("kind", f"{a.get('kind')} (rule {a.get('rule')})"),
        ("subject", a.get("subject")),
        ("queue", f"{a.get('queue')}" + (f", assisted by {', '.join(a['assists'])}"
                                    if a.get("assists") else "")),
        ("zone", _zone(a, full=True)),
        ("value / limit", _reading(a) + (f" over {_num(window)} s" if window else "")),
        ("observed", when(a.get("observed_at"))),
        ("raised", when(a.get("raised_at"))),
        ("acknowledged", when(a.get("acknowledged_at"))),
        ("closed", when(a.get("closed_at"))),
        ("condition cleared", when(a.get("condition_cleared_at"))),
        ("SLA", f"ack by {when(sla.get('ack_by'))}, close by {when(sla.get('close_by'))}"
         + (f"; escalated: {', '.join(a['escalated'])}" if a.get("escalated") else "")),
        ("drone", a.get("drone") or "–"),
        ("suggested drone", _suggestion(a, with_drone=True)),
    ]
    if isinstance(receipt, dict):
        fields.append(("receipt", f"{receipt.get('outcome')} by {receipt.get('officer')}: "
                                  f"{receipt.get('note')}"))
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for name, value in fields:
        head.add_row(cell(name), cell(value))
    events = new_table("events", ("seq", "at", "event", "by", "details"))
    for e in a.get("events", []):
        data = e.get("data")
        events.add_row(
            cell(e.get("seq")), cell(when(e.get("at"))), cell(e.get("kind")),
            cell(e.get("actor") or "–"),
            cell(orjson.dumps(data).decode() if data else ""),
        )
    emit(Text(f"alert {a.get('id')}", style="bold"), head, "", events)
    return 0


def lifecycle_command(step: str, body: Callable[[argparse.Namespace], dict[str, Any]]) -> Callable[
    [argparse.Namespace], int
]:
    """A lifecycle command: POST /api/alerts/{id}/{step}, then say what changed."""

    def command(args: argparse.Namespace) -> int:
        api = connect(args)
        result = api.json(api.post(_alert_path(args.id, step), {"actor": args.actor,
                                                                **body(args)}))
        if args.json:
            print_json(result)
            return 0
        alert, events = result.get("alert", {}), result.get("events", [])
        state, queue = alert.get("state"), alert.get("queue")
        if events:
            done = ", ".join(str(e.get("kind")) for e in events)
            print(f"alert {alert.get('id')}: {done} (state {state}, queue {queue})")
        else:
            # the API treats a repeat as harmless and records nothing: say so
            print(f"alert {alert.get('id')}: nothing to do (state {state}, queue {queue})")
        return 0

    return command


def no_body(args: argparse.Namespace) -> dict[str, Any]:
    return {}
