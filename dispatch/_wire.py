"""The outbound half of the wire contract: the topics dispatch publishes on, and the one
JSON shape of an event, an incident's history and an escalation (the alert's own shape is
`Alert.to_json`). The MQTT messages and the API's answers use these and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from dispatch._alert import Alert
from dispatch._lifecycle import Event, EventKind, Incident, apply


class AlertTopics:
    """Where alerts and their lifecycle go, under the deployment's topic prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def queue(self, queue: str) -> str:
        return f"{self.prefix}/queues/{queue}/alerts"

    def events(self, alert_id: str) -> str:
        return f"{self.prefix}/alerts/{alert_id}/events"

    def escalations(self) -> str:
        return f"{self.prefix}/escalations"


def event_json(e: Event, state: str, queue: str, tz: tzinfo) -> dict[str, Any]:
    """An event, with the state and queue the incident was in after it."""
    return {
        "alert_id": e.alert_id, "seq": e.seq, "kind": e.kind.value,
        "at": e.at.astimezone(tz).isoformat(), "actor": e.actor, "data": dict(e.data),
        "state": state, "queue": queue,
    }


def history_json(alert: Alert, events: Sequence[Event], tz: tzinfo) -> list[dict[str, Any]]:
    """The whole log in the shape of `event_json`: the states and queues are those of the
    incident folded event by event, as they were when each was published."""
    first = next((e for e in events if e.kind is EventKind.RAISED), None)
    queue = first.data.get("queue", alert.incident.queue) if first else alert.incident.queue
    incident = Incident(alert.id, queue=queue, raised_at=alert.incident.raised_at)
    out = []
    for e in events:
        incident = apply(incident, e)
        out.append(event_json(e, incident.state.value, incident.queue, tz))
    return out


def escalation_json(alert: Alert, e: Event, deadline: datetime, tz: tzinfo) -> dict[str, Any]:
    return {
        "alert_id": alert.id, "stage": e.data["stage"],
        "deadline": deadline.astimezone(tz).isoformat(),
        "at": e.at.astimezone(tz).isoformat(), "queue": alert.incident.queue,
        "kind": alert.kind, "zone": alert.zone, "state": alert.incident.state.value,
    }
