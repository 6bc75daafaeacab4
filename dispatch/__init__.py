"""What happens after an alert is raised: routing to a queue, the incident lifecycle up
to the receipt, SLA escalation, silences, the store, response-time metrics and reports;
and who may do which of it (named users, their tokens and browser sessions).
"""

from dispatch._access import Role, Token
from dispatch._api import api_router
from dispatch._dispatcher import Clock, Dispatcher
from dispatch._gazetteer import Gazetteer, Outline, Spot
from dispatch._media import MAX_PHOTO, MediaStore
from dispatch._monitoring import DispatchMetrics, OutboxBacklog
from dispatch._outbox import Outbox, Publication
from dispatch._points import IncidentPoints
from dispatch._queries import Queries
from dispatch._routing import Route, Router
from dispatch._sla import Deadlines
from dispatch._sqlite import SqliteStore
from dispatch._sqlite_outbox import SqliteOutbox
from dispatch._sqlite_rows import ROWS_SKIPPED
from dispatch._stream import StreamHub
from dispatch._wire import AlertTopics

__all__ = [
    "MAX_PHOTO",
    "ROWS_SKIPPED",
    "AlertTopics",
    "Clock",
    "Deadlines",
    "DispatchMetrics",
    "Dispatcher",
    "Gazetteer",
    "IncidentPoints",
    "MediaStore",
    "Outbox",
    "OutboxBacklog",
    "Outline",
    "Publication",
    "Queries",
    "Role",
    "Route",
    "Router",
    "Spot",
    "SqliteOutbox",
    "SqliteStore",
    "StreamHub",
    "Token",
    "api_router",
]
