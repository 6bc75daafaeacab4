"""What the user watches: the day as the service reports it.

Everything shown comes off the wire the service publishes (`lantian/queues/+/alerts`,
`lantian/alerts/+/events`, `lantian/escalations`, `lantian/deadletter`) and from the
ledger's count of messages taken, not from the simulator's intentions: if the console
says "on scene", the service said so. `DayView` folds those messages into a small model;
`render` draws it as a rich Live view, and in --headless mode each change is one plain
log line instead.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from lantian.demo import _story as story
from lantian.demo._report import site
from lantian.demo._sim import Ledger

STATE_STYLE = {
    "raised": "red", "dispatched": "red", "acknowledged": "yellow", "verifying": "cyan",
    "on_scene": "blue", "closed": "green",
}
QUEUES = ("blue_sky", "law_enforcement")


@dataclass(slots=True)
class AlertLine:
    number: int
    id: str
    site: str
    kind: str
    queue: str
    assists: list[str]
    state: str
    raised: str
    changed: str
    escalated: bool = False
    outcome: str | None = None


def _hms(iso: str | None) -> str:
    if not iso:
        return "--:--:--"
    return datetime.fromisoformat(iso).astimezone(story.TZ).strftime("%H:%M:%S")


def describe_alert(alert: dict[str, Any]) -> str:
    """One line for a new alert: what, where, how much, which queue, which drone."""
    parts = [f"{alert.get('kind')} at {site(alert)}"]
    metric, value, threshold = alert.get("metric"), alert.get("value"), alert.get("threshold")
    if metric and value is not None:
        window = alert.get("window_s")
        over = f" over {threshold:g}" if threshold is not None else ""
        span = f" ({int(window) // 60}-min window)" if window else ""
        parts.append(f"{metric} {value:g}{over}{span}")
    parts.append(f"→ {alert.get('queue')}")
    s = alert.get("drone_suggestion")
    if isinstance(s, dict):
        parts.append(f"drone {s['drone']} {s['direction']}, {s['distance_m'] / 1000:.1f} km")
    return " · ".join(parts)


def describe_event(event: dict[str, Any]) -> str:
    kind = str(event.get("kind"))
    actor = event.get("actor")
    data = event.get("data") or {}
    if kind == "closed":
        return f"closed by {actor}: {data.get('outcome')} — {data.get('note')}"
    if kind == "assist":
        return f"{actor} calls in {data.get('queue')} to assist"
    if kind == "transferred":
        return f"transferred to {data.get('queue')} by {actor}"
    if kind == "verifying":
        return f"{actor} sends drone {data.get('drone')} to verify"
    if kind == "on_scene":
        return f"on scene: {actor}"
    if kind == "escalated":
        return f"ESCALATED: {data.get('stage')} deadline missed"
    if kind == "evidence":
        return (f"evidence from {data.get('drone')}: {data.get('finding')} "
                f"({float(data.get('confidence') or 0):.0%})")
    if kind == "cleared":
        return "condition cleared (levels back under the limit)"
    if kind == "updated":
        return f"updated: {data.get('severity')} {data.get('value')}"
    return f"{kind} by {actor}"


class DayView:
    def __init__(self, clock: Callable[[], datetime], start: datetime, end: datetime,
                 ledger: Ledger, prefix: str, speed: float,
                 print_line: Callable[[str], None] | None) -> None:
        self.clock, self.start, self.end, self.ledger = clock, start, end, ledger
        self.prefix, self.speed = prefix, speed
        self.print_line = print_line  # headless: each change printed at once
        self.alerts: dict[str, AlertLine] = {}
        self.log: deque[str] = deque(maxlen=12)
        self.dead_letters = 0
        self.escalations = 0
        #: more lines for the "wire" panel, e.g. where the drone is
        self.status: dict[str, Callable[[], str]] = {}
        self._rate = 0.0
        self._rate_at = (time.monotonic(), 0)

    # -- input --------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> None:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        rest = topic.removeprefix(self.prefix + "/")
        if rest.startswith("queues/"):
            self._alert(body)
        elif rest.startswith("alerts/"):
            self._event(body)
        elif rest == "escalations":
            self.escalations += 1
        elif rest == "deadletter":
            self.dead_letters += 1
            self.note(f"DEAD LETTER from {body.get('topic')}: {body.get('reason')}")

    def note(self, text: str, at: str | None = None) -> None:
        line = f"{at or self.clock().astimezone(story.TZ).strftime('%H:%M:%S')}  {text}"
        self.log.append(line)
        if self.print_line is not None:
            self.print_line(line)

    def _alert(self, alert: dict[str, Any]) -> None:
        aid = str(alert["id"])
        if aid in self.alerts:
            return  # the same alert entering another queue: the assist event says so
        line = AlertLine(len(self.alerts) + 1, aid, site(alert), str(alert.get("kind")),
                         str(alert.get("queue")), list(alert.get("assists") or []),
                         str(alert.get("state")), _hms(alert.get("raised_at")),
                         _hms(alert.get("raised_at")))
        self.alerts[aid] = line
        self.note(f"#{line.number} NEW {describe_alert(alert)}", at=line.raised)

    def _event(self, event: dict[str, Any]) -> None:
        line = self.alerts.get(str(event.get("alert_id")))
        kind = str(event.get("kind"))
        if line is None or kind in ("raised", "dispatched"):
            return  # a new alert is shown from its queue message, which has the details
        line.state = str(event.get("state", line.state))
        line.queue = str(event.get("queue", line.queue))
        line.changed = _hms(event.get("at"))
        if kind == "assist":
            line.assists.append(str((event.get("data") or {}).get("queue")))
        elif kind == "escalated":
            line.escalated = True
        elif kind == "closed":
            line.outcome = str((event.get("data") or {}).get("outcome"))
        self.note(f"#{line.number} {line.site}: {describe_event(event)}", at=line.changed)

    # -- output -------------------------------------------------------------------------

    def open_by_queue(self) -> dict[str, int]:
        counts = dict.fromkeys(QUEUES, 0)
        for a in self.alerts.values():
            if a.state != "closed":
                counts[a.queue] = counts.get(a.queue, 0) + 1
        return counts

    def message_rate(self) -> float:
        """Messages the service took per real second, over the last half second or so."""
        now, taken = time.monotonic(), self.ledger.settled
        then, before = self._rate_at
        if now - then >= 0.5:
            self._rate = (taken - before) / (now - then)
            self._rate_at = (now, taken)
        return self._rate

    def render(self) -> RenderableType:
        now = self.clock().astimezone(story.TZ)
        fraction = min(max((now - self.start) / (self.end - self.start), 0.0), 1.0)
        head = Table.grid(expand=True)
        head.add_column()
        head.add_column(justify="right")
        head.add_row(Text.from_markup(
            f"[bold]Lantian demo[/] · Keyan blue-sky day {now:%Y-%m-%d}"),
            Text.from_markup(f"simulated [bold]{now:%H:%M:%S}[/] · ×{self.speed:g}"))
        bar = Table.grid(expand=True)
        bar.add_column(width=6)
        bar.add_column(ratio=1)
        bar.add_column(width=6, justify="right")
        bar.add_row(f"{self.start:%H:%M}", ProgressBar(total=1.0, completed=fraction),
                    f"{self.end:%H:%M}")

        stats = Table.grid(padding=(0, 2))
        stats.add_column(style="dim")
        stats.add_column(justify="right")
        stats.add_row("messages in", f"{self.message_rate():,.0f}/s")
        stats.add_row("taken so far", f"{self.ledger.settled:,}")
        stats.add_row("dead letters", str(self.dead_letters))
        stats.add_row("escalations", str(self.escalations))
        for name, value in self.status.items():
            stats.add_row(name, value())
        queues = Table.grid(padding=(0, 2))
        queues.add_column(style="dim")
        queues.add_column(justify="right")
        for q, n in self.open_by_queue().items():
            queues.add_row(q, Text(str(n), style="bold red" if n else "green"))
        top = Table.grid(expand=True, padding=(0, 1))
        top.add_column(ratio=1)
        top.add_column(ratio=1)
        top.add_row(Panel(stats, title="wire"), Panel(queues, title="open alerts"))

        table = Table(expand=True, box=None, header_style="bold dim", pad_edge=False)
        for col in ("#", "raised", "site", "kind", "queue", "state", "since"):
            table.add_column(col, no_wrap=True)
        for a in list(self.alerts.values())[-8:]:
            queue = a.queue + "".join(f" +{q}" for q in a.assists)
            state = a.state + (f" ({a.outcome})" if a.outcome else "")
            table.add_row(str(a.number), a.raised, a.site, a.kind, queue,
                          Text(state + (" !" if a.escalated else ""),
                               style=STATE_STYLE.get(a.state, "")), a.changed)
        log = Text("\n".join(self.log) or "waiting for the first alert ...", style="dim",
                   no_wrap=True, overflow="ellipsis")
        return Group(head, bar, top, Panel(table, title="alerts"), Panel(log, title="events"))


def new_console() -> Console:
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a log file or a pipe: wide enough for the report table
        console = Console(highlight=False, soft_wrap=True, width=110)
    return console
