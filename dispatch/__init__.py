"""What happens after an alert is raised: routing to a queue, the incident lifecycle up
to the receipt, SLA escalation, silences, the store, response-time metrics and reports.
"""

from dispatch._access import Role, Token, identify
from dispatch._alert import Alert, describe
from dispatch._dispatcher import Dispatcher, LifecycleSink, NotFound
from dispatch._figures import MetricRow
from dispatch._lifecycle import (
    Ack,
    Assist,
    Close,
    Command,
    Event,
    Incident,
    OnScene,
    Outcome,
    Refused,
    Reopen,
    Stage,
    State,
    Transfer,
    Verify,
)
from dispatch._outbox import Outbox, Publication
from dispatch._routing import Route, Router
from dispatch._silences import Silence
from dispatch._sla import Deadlines
from dispatch._store import AlertStore, Conflict
from dispatch._wire import AlertTopics, event_json, history_json

__all__ = [
    "Ack",
    "Alert",
    "AlertStore",
    "AlertTopics",
    "Assist",
    "Close",
    "Command",
    "Conflict",
    "Deadlines",
    "Dispatcher",
    "Event",
    "Incident",
    "LifecycleSink",
    "MetricRow",
    "NotFound",
    "OnScene",
    "Outbox",
    "Outcome",
    "Publication",
    "Refused",
    "Reopen",
    "Role",
    "Route",
    "Router",
    "Silence",
    "Stage",
    "State",
    "Token",
    "Transfer",
    "Verify",
    "describe",
    "event_json",
    "history_json",
    "identify",
]
