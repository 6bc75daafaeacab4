"""The client's command line: `alerts ...` and `report ...`, their options, and the API
vocabulary their choices offer. `lantian.cli` adds them to its parser and runs them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from lantian.client._alerts import (
    cmd_alerts_list,
    cmd_alerts_show,
    lifecycle_command,
    no_body,
)
from lantian.client._reports import FORMATS, cmd_report_monthly, cmd_report_response_times

#: The API's vocabulary for the choices of the options. Spelled out rather than taken from
#: dispatch's enums, whose import is what lantian.cli's lazy imports avoid; a test
#: (test_cli_alerts) keeps them equal to `State`, `Outcome` and `GroupBy`.
STATES = ("raised", "dispatched", "acknowledged", "verifying", "on_scene", "closed")
OUTCOMES = ("resolved", "false_alarm", "duplicate")
GROUP_BY = ("all", "queue", "zone", "grid", "day", "month")


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
        body: Callable[[argparse.Namespace], dict[str, Any]] = no_body,
    ) -> argparse.ArgumentParser:
        p = a.add_parser(name, parents=[conn], help=summary)
        p.add_argument("id", help="the alert's id")
        p.add_argument("--actor", help="who does it (default: the token's name)")
        p.set_defaults(func=lifecycle_command(name, body))
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
    document = argparse.ArgumentParser(add_help=False)
    document.add_argument("--format", choices=FORMATS,
                          help="the API's report as this format, byte for byte (xlsx: the "
                               "workbook, html: the printable page)")
    document.add_argument("--out", metavar="FILE",
                          help="write it to FILE (needed for xlsx; default: stdout)")
    monthly = r.add_parser("monthly", parents=[conn, document],
                           help="closed and carried-over alerts")
    monthly.add_argument("--month", required=True, help="YYYY-MM")
    monthly.set_defaults(func=cmd_report_monthly)
    times = r.add_parser("response-times", parents=[api, document],
                         help="time to acknowledge and close, SLA attainment")
    times.add_argument("--since", required=True, help="raised at or after (ISO 8601, local)")
    times.add_argument("--until", required=True, help="raised before (ISO 8601, local)")
    times.add_argument("--group-by", choices=GROUP_BY, default="queue")
    shape = times.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the API's JSON")
    shape.add_argument("--csv", action="store_true", help="print the API's CSV")
    times.set_defaults(func=cmd_report_response_times)
