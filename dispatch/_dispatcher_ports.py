"""What the dispatcher is handed and whom it tells: the protocols of its collaborators
(dashboards, notifications, flights: each optional, each its own module) and the change
its listeners hear once it is committed (the consoles' live stream)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

from dispatch._alert import Alert
from dispatch._lifecycle import Decision, Event
from dispatch._outbox import Publication


class LifecycleSink(Protocol):
    """Where closed incidents' response times go for dashboards (InfluxDB)."""

    def incident_closed(self, alert: Alert) -> None: ...


class NotificationLog(Protocol):
    """Where the notifications of events are recorded, in their transaction
    (`dispatch._deliveries.Notifier`)."""

    def record(self, alert: Alert, events: list[Event], after: list[tuple[str, str]]
               ) -> None: ...


class FlightPlanner(Protocol):
    """Who turns "send a drone" into a real flight (`dispatch._flights.Flights`): the
    events and the messages to commit with the step; ([], []) leaves it a record."""

    def plan(self, alert: Alert, drone: str) -> tuple[Decision, list[Publication]]: ...


class Committed(NamedTuple):
    """A change as committed: the alert after it, its events, and the state and queue
    each event left the incident in."""

    alert: Alert
    events: list[Event]
    after: list[tuple[str, str]]


#: Told of every committed change, after the commit (a live view of the queues). A
#: listener that raises is logged and counted; the change stays committed.
Listener = Callable[[Committed], None]
