"""`lantian report ...`: the bureau's figures from the running service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final

import httpx
from rich.text import Text

from lantian.client._api import UsageError, connect
from lantian.client._render import cell, emit, new_table, print_json, when


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


#: The API's report formats (`format=`); the ones a terminal can show.
FORMATS: Final = ("json", "csv", "xlsx", "html")
TEXT_FORMATS: Final = ("json", "csv", "html")


def _check_out(args: argparse.Namespace) -> None:
    """Before asking the service: a binary format needs a file to go to."""
    fmt = getattr(args, "format", None)
    if fmt is not None and fmt not in TEXT_FORMATS and args.out is None:
        raise UsageError(f"--format {fmt} is a binary file: give --out FILE to write it")


def _deliver(response: httpx.Response, out: str | None) -> int:
    """The bytes the API gave, to `out` or (text) to stdout, unchanged."""
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(response.content)
        return 0
    path = Path(out)
    try:
        path.write_bytes(response.content)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from exc
    print(f"wrote {path} ({len(response.content)} bytes)", file=sys.stderr)
    return 0


def cmd_report_monthly(args: argparse.Namespace) -> int:
    _check_out(args)
    api = connect(args)
    if args.format is not None:
        params = {"month": args.month, "format": args.format}
        return _deliver(api.get("/api/reports/monthly", params), args.out)
    if args.out is not None:
        raise UsageError("--out needs --format json|csv|xlsx|html")
    report = api.json(api.get("/api/reports/monthly", {"month": args.month}))
    if args.json:
        print_json(report)
        return 0
    s = report.get("summary", {})
    out: list[Any] = [Text(
        f"monthly report {report.get('month')} "
        f"({when(report.get('start'), False)} to {when(report.get('end'), False)})",
        style="bold",
    ), Text(
        f"closed {s.get('closed')} ({s.get('closed_within_sla')} within SLA), "
        f"carried over {s.get('carried_over')} ({s.get('carried_over_overdue')} overdue), "
        f"escalated {s.get('escalated')}, muted {s.get('muted')}"
    )]
    closed = new_table("closed", ("id", "raised", "closed", "queue", "kind", "zone",
                               "time to close", "outcome", "SLA", "escalated"))
    for i in report.get("closed", []):
        closed.add_row(
            cell(i.get("id")), cell(when(i.get("raised_at"), False)),
            cell(when(i.get("closed_at"), False)), cell(i.get("queue")),
            cell(i.get("kind")), cell(i.get("zone")), cell(_duration(i.get("time_to_close"))),
            cell(i.get("outcome")),
            cell("overdue", "red") if i.get("overdue") else cell("met"),
            cell(", ".join(i.get("escalated", [])) or "–"),
        )
    carried = new_table("carried over", ("id", "raised", "queue", "state", "kind", "zone",
                                      "age at month end", "SLA", "escalated"))
    for i in report.get("carried_over", []):
        carried.add_row(
            cell(i.get("id")), cell(when(i.get("raised_at"), False)), cell(i.get("queue")),
            cell(i.get("state")), cell(i.get("kind")), cell(i.get("zone")),
            cell(_duration(i.get("age_at_month_end"))),
            cell("overdue", "red") if i.get("overdue") else cell("in time"),
            cell(", ".join(i.get("escalated", [])) or "–"),
        )
    for table in (closed, carried):
        if table.row_count:
            out += ["", table]
    emit(*out)
    return 0


def cmd_report_response_times(args: argparse.Namespace) -> int:
    _check_out(args)
    api = connect(args)
    params = {"since": args.since, "until": args.until, "group_by": args.group_by,
              "format": "csv" if args.csv else "json"}
    if args.format is not None:
        params["format"] = args.format
        return _deliver(api.get("/api/metrics/response-times", params), args.out)
    if args.out is not None:
        raise UsageError("--out needs --format json|csv|xlsx|html")
    response = api.get("/api/metrics/response-times", params)
    if args.csv:
        # the API's RFC 4180 text, byte for byte (CRLF line ends included)
        sys.stdout.flush()
        sys.stdout.buffer.write(response.content)
        return 0
    data = api.json(response)
    if args.json:
        print_json(data)
        return 0
    table = new_table(
        f"response times {when(data.get('since'), False)} to {when(data.get('until'), False)}"
        f", by {data.get('group_by')} (minutes)",
        ("group", "count", "open", "closed", "ack median", "close median", "close p90",
         "SLA"),
    )
    for g in data.get("groups", []):
        ack, close = g.get("time_to_ack") or {}, g.get("time_to_close") or {}
        attained = g.get("sla_attainment")
        table.add_row(
            cell(g.get("group")), cell(g.get("count")), cell(g.get("open")),
            cell(g.get("closed")), cell(_minutes(ack.get("median"))),
            cell(_minutes(close.get("median"))), cell(_minutes(close.get("p90"))),
            cell("–" if attained is None else f"{attained * 100:.1f}%"),
        )
    if not table.row_count:
        print(f"no alerts raised from {args.since} to {args.until}")
        return 0
    emit(table)
    return 0
