"""How the client commands print: rich tables on a terminal, plain whole rows in a pipe,
the API's JSON as it came, and its times as the service's local time."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def emit(*renderables: Any) -> None:
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


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def when(iso: str | None, seconds: bool = True) -> str:
    """The API's times are in the service's timezone: shown as that local time."""
    if not iso:
        return "–"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def cell(value: Any, style: str = "") -> Text:
    # Text, never a str: a str cell is rich markup, and a zone name or an officer's note
    # with "[...]" in it would be eaten or break the table
    return Text("–" if value is None else str(value), style=style)


def new_table(title: str | None, columns: Iterable[str], **kwargs: Any) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", show_edge=False,
                  **kwargs)
    for column in columns:
        # the first column is an id an officer copies: never folded across lines
        table.add_column(column, no_wrap=column == "id")
    return table
