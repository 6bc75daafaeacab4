"""The client commands (`alerts`, `report`): the running service's HTTP API for an officer
at a terminal. They hold no business logic: every rule is the API's, and its refusals are
printed as it words them. `lantian.cli` adds them to its parser and runs them."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lantian._api_client import ApiClient

if TYPE_CHECKING:
    from lantian.config import Settings

#: The API's vocabulary for the choices of the options. Spelled out rather than taken from
#: dispatch's enums, whose import is what lantian.cli's lazy imports avoid; a test
#: (test_cli_alerts) keeps them equal to `State`, `Outcome` and `GroupBy`.
STATES = ("raised", "dispatched", "acknowledged", "verifying", "on_scene", "closed")
OUTCOMES = ("resolved", "false_alarm", "duplicate")
GROUP_BY = ("all", "queue", "zone", "grid", "day", "month")


def _service_url(settings: Settings) -> str:
    """Where the service in this config dir listens, as seen from this machine."""
    host = settings.http_host
    # a service bound to every interface is reached on loopback from its own machine
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http_port}"


def _client(args: argparse.Namespace) -> ApiClient:
    # lantian.cli imports this module, so its config loading is imported when it is used
    from lantian.cli import _load

    # the config dir is read only when no --url is given: an officer's laptop may have none
    url = args.url or _service_url(_load(args.config))
    token = args.token if args.token is not None else os.environ.get("LANTIAN_TOKEN")
    return ApiClient(url, token or None)


def _emit(*renderables: Any) -> None:
    """Print rich output on stdout: styled on a terminal; plain, whole rows without
    trailing padding when piped (grep, a file, a diff), which is why it is captured."""
    if sys.stdout.isatty():
        Console(highlight=False).print(*renderables, sep="\n")
        return
    # off a terminal rich would fold rows to 80 columns; COLUMNS still wins when set
    width = None if "COLUMNS" in os.environ else 200
    console = Console(highlight=False, width=width)
    with console.capture() as captured:
        console.print(*renderables, sep="\n")
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def _print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _alert_path(alert_id: str, step: str = "") -> str:
    # an id comes from the command line: quoted, so it can only ever name one alert
    return f"/api/alerts/{quote(alert_id, safe='')}" + (f"/{step}" if step else "")


def _when(iso: str | None, seconds: bool = True) -> str:
    """The API's times are in the service's timezone: shown as that local time."""
    if not iso:
        return "–"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def _num(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{round(float(value), 1):g}"
    return "–" if value is None else str(value)


def _minutes(seconds: Any) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f}"


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "–"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


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


def _cell(value: Any, style: str = "") -> Text:
    # Text, never a str: a str cell is rich markup, and a zone name or an officer's note
    # with "[...]" in it would be eaten or break the table
    return Text("–" if value is None else str(value), style=style)


def _table(title: str | None, columns: Iterable[str], **kwargs: Any) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", show_edge=False,
                  **kwargs)
    for column in columns:
        # the first column is an id an officer copies: never folded across lines
        table.add_column(column, no_wrap=column == "id")
    return table


def cmd_alerts_list(args: argparse.Namespace) -> int:
    api = _client(args)
    data = api.json(api.get("/api/alerts", {
        "queue": args.queue, "state": args.state, "since": args.since, "until": args.until,
        "zone": args.zone, "limit": args.limit,
    }))
    if args.json:
        _print_json(data)
        return 0
    alerts = data.get("alerts", [])
    if not alerts:
        print("no alerts match")
        return 0
    table = _table(None, ("id", "raised", "queue", "state", "severity", "kind", "zone",
                          "value / limit", "drone"))
    for a in alerts:
        table.add_row(
            _cell(a.get("id")), _cell(_when(a.get("raised_at"), seconds=False)),
            _cell(a.get("queue")), _cell(a.get("state"), "dim" if a.get("state") == "closed"
                                         else ""),
            _cell(a.get("severity"), _SEVERITY_STYLE.get(a.get("severity", ""), "")),
            _cell(a.get("kind")), _cell(_zone(a)), _cell(_reading(a)), _cell(_suggestion(a)),
        )
    _emit(table)
    return 0


def cmd_alerts_show(args: argparse.Namespace) -> int:
    api = _client(args)
    a = api.json(api.get(_alert_path(args.id)))
    if args.json:
        _print_json(a)
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
        ("observed", _when(a.get("observed_at"))),
        ("raised", _when(a.get("raised_at"))),
        ("acknowledged", _when(a.get("acknowledged_at"))),
        ("closed", _when(a.get("closed_at"))),
        ("condition cleared", _when(a.get("condition_cleared_at"))),
        ("SLA", f"ack by {_when(sla.get('ack_by'))}, close by {_when(sla.get('close_by'))}"
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
        head.add_row(_cell(name), _cell(value))
    events = _table("events", ("seq", "at", "event", "by", "details"))
    for e in a.get("events", []):
        data = e.get("data")
        events.add_row(
            _cell(e.get("seq")), _cell(_when(e.get("at"))), _cell(e.get("kind")),
            _cell(e.get("actor") or "–"),
            _cell(orjson.dumps(data).decode() if data else ""),
        )
    _emit(Text(f"alert {a.get('id')}", style="bold"), head, "", events)
    return 0


def _step(step: str, body: Callable[[argparse.Namespace], dict[str, Any]]) -> Callable[
    [argparse.Namespace], int
]:
    """A lifecycle command: POST /api/alerts/{id}/{step}, then say what changed."""

    def command(args: argparse.Namespace) -> int:
        api = _client(args)
        result = api.json(api.post(_alert_path(args.id, step), {"actor": args.actor,
                                                                **body(args)}))
        if args.json:
            _print_json(result)
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


def _no_body(args: argparse.Namespace) -> dict[str, Any]:
    return {}


def cmd_report_monthly(args: argparse.Namespace) -> int:
    api = _client(args)
    report = api.json(api.get("/api/reports/monthly", {"month": args.month}))
    if args.json:
        _print_json(report)
        return 0
    s = report.get("summary", {})
    out: list[Any] = [Text(
        f"monthly report {report.get('month')} "
        f"({_when(report.get('start'), False)} to {_when(report.get('end'), False)})",
        style="bold",
    ), Text(
        f"closed {s.get('closed')} ({s.get('closed_within_sla')} within SLA), "
        f"carried over {s.get('carried_over')} ({s.get('carried_over_overdue')} overdue), "
        f"escalated {s.get('escalated')}, muted {s.get('muted')}"
    )]
    closed = _table("closed", ("id", "raised", "closed", "queue", "kind", "zone",
                               "time to close", "outcome", "SLA", "escalated"))
    for i in report.get("closed", []):
        closed.add_row(
            _cell(i.get("id")), _cell(_when(i.get("raised_at"), False)),
            _cell(_when(i.get("closed_at"), False)), _cell(i.get("queue")),
            _cell(i.get("kind")), _cell(i.get("zone")), _cell(_duration(i.get("time_to_close"))),
            _cell(i.get("outcome")),
            _cell("overdue", "red") if i.get("overdue") else _cell("met"),
            _cell(", ".join(i.get("escalated", [])) or "–"),
        )
    carried = _table("carried over", ("id", "raised", "queue", "state", "kind", "zone",
                                      "age at month end", "SLA", "escalated"))
    for i in report.get("carried_over", []):
        carried.add_row(
            _cell(i.get("id")), _cell(_when(i.get("raised_at"), False)), _cell(i.get("queue")),
            _cell(i.get("state")), _cell(i.get("kind")), _cell(i.get("zone")),
            _cell(_duration(i.get("age_at_month_end"))),
            _cell("overdue", "red") if i.get("overdue") else _cell("in time"),
            _cell(", ".join(i.get("escalated", [])) or "–"),
        )
    for table in (closed, carried):
        if table.row_count:
            out += ["", table]
    _emit(*out)
    return 0


def cmd_report_response_times(args: argparse.Namespace) -> int:
    api = _client(args)
    params = {"since": args.since, "until": args.until, "group_by": args.group_by,
              "format": "csv" if args.csv else "json"}
    response = api.get("/api/metrics/response-times", params)
    if args.csv:
        # the API's RFC 4180 text, byte for byte (CRLF line ends included)
        sys.stdout.flush()
        sys.stdout.buffer.write(response.content)
        return 0
    data = api.json(response)
    if args.json:
        _print_json(data)
        return 0
    table = _table(
        f"response times {_when(data.get('since'), False)} to {_when(data.get('until'), False)}"
        f", by {data.get('group_by')} (minutes)",
        ("group", "count", "open", "closed", "ack median", "close median", "close p90",
         "SLA"),
    )
    for g in data.get("groups", []):
        ack, close = g.get("time_to_ack") or {}, g.get("time_to_close") or {}
        attained = g.get("sla_attainment")
        table.add_row(
            _cell(g.get("group")), _cell(g.get("count")), _cell(g.get("open")),
            _cell(g.get("closed")), _cell(_minutes(ack.get("median"))),
            _cell(_minutes(close.get("median"))), _cell(_minutes(close.get("p90"))),
            _cell("–" if attained is None else f"{attained * 100:.1f}%"),
        )
    if not table.row_count:
        print(f"no alerts raised from {args.since} to {args.until}")
        return 0
    _emit(table)
    return 0


def add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`alerts ...` and `report ...`; each takes --url, --token and --json."""
    api = argparse.ArgumentParser(add_help=False)
    api.add_argument("--url", help="the service (default: http:// and [service] http of "
                                   "the config dir)")
    api.add_argument("--token", help="API bearer token (default: $LANTIAN_TOKEN, which "
                                     "keeps it out of the shell history)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the API's JSON")
    conn = argparse.ArgumentParser(add_help=False, parents=[api, as_json])

    alerts = sub.add_parser("alerts", help="list, show and act on alerts of the running service")
    a = alerts.add_subparsers(dest="alerts_command", required=True, metavar="COMMAND")
    ls = a.add_parser("list", parents=[conn], help="alerts, newest first")
    ls.add_argument("--queue", help="only this queue (an officer sees their own)")
    ls.add_argument("--state", choices=STATES)
    ls.add_argument("--since", help="raised at or after (ISO 8601 date or time, local)")
    ls.add_argument("--until", help="raised before (ISO 8601 date or time, local)")
    ls.add_argument("--zone", help="only alerts in this zone")
    ls.add_argument("--limit", type=int, help="at most this many (API default 100)")
    ls.set_defaults(func=cmd_alerts_list)
    show = a.add_parser("show", parents=[conn], help="one alert with its event log")
    show.add_argument("id", help="the alert's id")
    show.set_defaults(func=cmd_alerts_show)

    def step(
        name: str, summary: str,
        body: Callable[[argparse.Namespace], dict[str, Any]] = _no_body,
    ) -> argparse.ArgumentParser:
        p = a.add_parser(name, parents=[conn], help=summary)
        p.add_argument("id", help="the alert's id")
        p.add_argument("--actor", help="who does it (default: the token's name)")
        p.set_defaults(func=_step(name, body))
        return p

    step("ack", "acknowledge")
    step("verify", "send a drone to check", lambda n: {"drone": n.drone}).add_argument(
        "--drone", help="which drone (default: the suggested one)")
    step("on-scene", "record arrival on scene", lambda n: {"drone": n.drone}).add_argument(
        "--drone", help="the drone that arrived, if one did")
    step("transfer", "move to another queue", lambda n: {"queue": n.queue}).add_argument(
        "--queue", required=True)
    step("assist", "ask another queue to help", lambda n: {"queue": n.queue}).add_argument(
        "--queue", required=True)
    close = step("close", "close with a receipt (回执)",
                 lambda n: {"outcome": n.outcome, "note": n.note})
    close.add_argument("--outcome", required=True, choices=OUTCOMES)
    close.add_argument("--note", required=True, help="what was found and done")
    step("reopen", "reopen a closed alert", lambda n: {"reason": n.reason}).add_argument(
        "--reason", help="why")

    report = sub.add_parser("report", help="the bureau's figures from the running service")
    r = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    monthly = r.add_parser("monthly", parents=[conn], help="closed and carried-over alerts")
    monthly.add_argument("--month", required=True, help="YYYY-MM")
    monthly.set_defaults(func=cmd_report_monthly)
    times = r.add_parser("response-times", parents=[api],
                         help="time to acknowledge and close, SLA attainment")
    times.add_argument("--since", required=True, help="raised at or after (ISO 8601, local)")
    times.add_argument("--until", required=True, help="raised before (ISO 8601, local)")
    times.add_argument("--group-by", choices=GROUP_BY, default="queue")
    shape = times.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the API's JSON")
    shape.add_argument("--csv", action="store_true", help="print the API's CSV")
    times.set_defaults(func=cmd_report_response_times)
