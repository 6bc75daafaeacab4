"""Closed incidents as time-series points, for dashboards of response times.

One `incident` point per close, at the close time: tags queue, zone, grid, kind, outcome;
fields time to acknowledge and to close in seconds, and whether the close deadline was
met. A reopened and re-closed incident writes a second point, as it was closed twice.
"""

from __future__ import annotations

from collections.abc import Callable

from dispatch._alert import Alert


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def incident_line(alert: Alert) -> str | None:
    i = alert.incident
    if i.closed_at is None:
        return None
    tags = "".join(
        f",{k}={_tag(v)}"
        for k, v in (("queue", i.queue), ("zone", alert.zone), ("grid", alert.grid),
                     ("kind", alert.kind), ("outcome", i.outcome.value if i.outcome else None))
        if v
    )
    fields = [f"time_to_close_s={(i.closed_at - i.raised_at).total_seconds()!r}",
              f"sla_met={'true' if i.closed_at <= alert.close_by else 'false'}"]
    if i.acknowledged_at is not None:
        fields.append(f"time_to_ack_s={(i.acknowledged_at - i.raised_at).total_seconds()!r}")
    return f"incident{tags} {','.join(fields)} {int(i.closed_at.timestamp() * 1000)}"


class IncidentPoints:
    """A `LifecycleSink` writing `incident_line`s through a line writer."""

    def __init__(self, write_lines: Callable[[list[str]], None]) -> None:
        self._write = write_lines

    def incident_closed(self, alert: Alert) -> None:
        line = incident_line(alert)
        if line is not None:
            self._write([line])
