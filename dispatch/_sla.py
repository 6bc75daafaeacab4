"""SLA deadlines and escalation: what is overdue at a given time.

Each queue has its own acknowledge and close deadlines, counted from the raise time (a
transfer does not restart the clock: the public waited all along). An overdue alert is
escalated once per stage; the sweep reads the store, so no timer lives only in memory and
a restart neither loses nor repeats an escalation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch._alert import Alert
from dispatch._lifecycle import Escalate, Stage


@dataclass(frozen=True, slots=True)
class Deadlines:
    ack: timedelta = timedelta(minutes=5)
    close: timedelta = timedelta(minutes=30)


def deadlines_for(
    queue: str, policies: Mapping[str, Deadlines], raised_at: datetime
) -> tuple[datetime, datetime]:
    d = policies.get(queue, Deadlines())
    return raised_at + d.ack, raised_at + d.close


def overdue(alerts: Iterable[Alert], now: datetime) -> list[tuple[Alert, Escalate]]:
    """Escalations due at `now`: past the deadline (strictly), not yet escalated for that
    stage, and not muted (a muted alert was never dispatched, so nobody missed it)."""
    out = []
    for alert in alerts:
        i = alert.incident
        if not i.open or i.muted:
            continue
        if i.acknowledged_at is None and now > alert.ack_by and Stage.ACK not in i.escalated:
            out.append((alert, Escalate(Stage.ACK, alert.ack_by)))
        if now > alert.close_by and Stage.CLOSE not in i.escalated:
            out.append((alert, Escalate(Stage.CLOSE, alert.close_by)))
    return out
