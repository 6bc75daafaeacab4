"""The shell around `dispatch._dji_flight`: sends a dock's drone when an officer verifies,
and records on the incident what the dock says of the flight.

`plan` is asked by the dispatcher while it decides "send a drone": for a drone behind a
configured, enabled dock it returns a `flight` event (requested, with the request's bid)
and the service request, committed together with the `verifying` step (the outbox sends
it at least once after the commit). Any other drone gets nothing: the step stays a record.

`handle` reads the dock's `services_reply` and `events` (and its OSD for `drone_in_dock`):
each reply and each progress event becomes a `flight` event on the incident whose bid it
carries, progress at most every `progress_every_s` a flight, terminal states always, each
once. The bid → alert map lives in the `flight` events themselves, so `restore` rebuilds
it from the open alerts after a restart and a late reply still finds its alert. A message
for an unknown bid or one that cannot be read is logged and counted, never raised.

Several instances (`lantian.partition`): a dock belongs to the partition owning its
aircraft (`owns(dock.drone)`, the Lantian drone id the dock's config names: the drone's
owner already speaks for its alerts, and every instance maps the dock's serial number to
it from the one config). Only the owner subscribes to the dock's `services_reply` and
`events`, so a flight's progress is recorded, and a `need_reply` event answered, by one
instance. Every instance reads every dock's OSD (the drones are shared) and may *send*:
"the sender sends, the owner follows". The instance that took the officer's request
commits the `requested` event and the service request in the step's transaction, as a
single instance does, and its outbox publishes it; the owner, hearing a reply for a bid
it does not know, reads the flight from the store (`_follow`: the request was committed
before it was sent, so before the dock could answer). Chosen over "the request is stored
and the owner sends it" because it needs no hand-over between instances, and so nothing
that a kill -9 could interrupt:

- the sender killed after its commit: the request is an outbox row like any other, sent
  by its replacement or, once the claim lapses, by another instance (PostgreSQL), so it
  reaches the dock at least once (QoS 1), and its bid is one, however often it is sent;
- the owner killed: what the dock said and the broker had not seen acknowledged is
  redelivered to its replacement's session, which `restore`s the flights (their replies
  and progress already recorded, so none twice) or follows the new ones from the store.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter

from dispatch._alert import Alert
from dispatch._dji_flight import (
    DockFlight,
    Progress,
    Reply,
    Unreadable,
    drone_in_dock,
    events_reply,
    read_event,
    read_reply,
    service_request,
)
from dispatch._lifecycle import Decision, Event, EventKind, on_flight
from dispatch._outbox import Outbox, Publication
from dispatch._store import DispatchStore

log = logging.getLogger(__name__)


#: Bids looked up in the store and not found, remembered so that a dock chattering about
#: flights Lantian never asked for (a pilot's, from DJI's own cloud) costs one look each.
UNKNOWN_KEPT = 1000


class Recorder(Protocol):
    """The dispatcher as flights need it: commit events (and messages) on an alert."""

    def record(self, alert_id: str, decided: Decision,
               publications: list[Publication] | None = None) -> None: ...


@dataclass(slots=True)
class _Flight:
    alert_id: str
    dock: str
    method: str
    last_progress: datetime | None = None
    done: set[str] = field(default_factory=set)  # outcomes recorded once: accepted, arrived...


class Flights:
    def __init__(
        self,
        docks: Mapping[str, DockFlight],
        store: DispatchStore,
        outbox: Outbox,
        clock: Callable[[], datetime],
        *,
        registry: CollectorRegistry | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        owns: Callable[[str], bool] = lambda drone: True,
    ) -> None:
        """`owns`: whether this instance's partition owns a drone (`Partition.owns_drone`);
        it follows the docks of the drones it owns, and sends any dock's drone."""
        self.docks = {sn: d for sn, d in docks.items() if d.enabled}
        #: the docks whose replies and events this instance reads (see the docstring)
        self.followed = {sn: d for sn, d in self.docks.items() if owns(d.drone)}
        self._by_drone = {d.drone: d for d in self.docks.values()}
        self.store = store
        self.outbox = outbox
        self.clock = clock
        self.new_id = new_id
        self.recorder: Recorder | None = None  # the dispatcher, set by the composition root
        self._flights: dict[str, _Flight] = {}  # bid -> flight
        self._in_dock: dict[str, bool] = {}
        self._unknown: OrderedDict[str, None] = OrderedDict()  # bids not in the store
        self.messages = Counter(
            "lantian_dji_flight_messages", "Messages from DJI docks about flights, by kind"
            " and outcome (recorded, throttled, unknown_bid, unreadable, other)",
            ["kind", "outcome"], registry=registry)

    # -- wiring --------------------------------------------------------------------------

    def subscriptions(self) -> list[str]:
        """The followed docks' replies and events; every dock's OSD comes with ingest's
        `+/osd` filter."""
        return [f"thing/product/{sn}/{leaf}" for sn in sorted(self.followed)
                for leaf in ("services_reply", "events")]

    def wants(self, topic: str) -> bool:
        """A followed dock's reply or event, or any enabled dock's OSD (whether its drone
        sits in the dock decides the request whoever sends it). Asked of every message:
        a station's reading is not split to answer it."""
        if not topic.startswith("thing/product/"):
            return False
        parts = topic.split("/")  # the prefix checked: thing, product, device, what
        if len(parts) != 4:
            return False
        if parts[3] == "osd":
            return parts[2] in self.docks
        return parts[2] in self.followed and parts[3] in ("services_reply", "events")

    def restore(self) -> int:
        """Rebuild the bid → alert map from the open alerts' flight events; how many."""
        for alert in self.store.open_alerts():
            for event in self.store.events(alert.id):
                if event.kind is EventKind.FLIGHT:
                    self._remember(alert.id, event)
        return len(self._flights)

    def _follow(self, bid: str) -> _Flight | None:
        """The flight of `bid`, read from the store if another instance sent it: among
        the open alerts, first those a followed dock's drone was last sent to (an
        officer may have sent another since). A bid found nowhere is remembered as
        unknown (the last `UNKNOWN_KEPT`), so it is looked up once."""
        flight = self._flights.get(bid)
        if flight is not None or not bid or bid in self._unknown:
            return flight
        drones = {d.drone for d in self.followed.values()}
        alerts = sorted(self.store.open_alerts(), key=lambda a: a.incident.drone not in drones)
        for alert in alerts:
            events = self.store.events(alert.id)
            if any(e.kind is EventKind.FLIGHT and e.data.get("bid") == bid for e in events):
                for event in events:  # its replies and progress too: each recorded once
                    if event.kind is EventKind.FLIGHT:
                        self._remember(alert.id, event)
                break
        flight = self._flights.get(bid)
        if flight is None:
            self._unknown[bid] = None
            if len(self._unknown) > UNKNOWN_KEPT:
                self._unknown.popitem(last=False)
        return flight

    def _remember(self, alert_id: str, event: Event) -> None:
        bid = event.data.get("bid")
        if not isinstance(bid, str):
            return
        status = str(event.data.get("status", ""))
        if status == "requested":
            self._flights[bid] = _Flight(alert_id, str(event.data.get("dock", "")),
                                         str(event.data.get("method", "")))
        elif bid in self._flights:
            flight = self._flights[bid]
            flight.done.add(status)
            if status == "progress":
                flight.last_progress = event.at

    # -- sending -------------------------------------------------------------------------

    def plan(self, alert: Alert, drone: str) -> tuple[Decision, list[Publication]]:
        """For "send `drone`" on `alert`: the flight event and the request, or nothing."""
        dock = self._by_drone.get(drone)
        location = alert.description.get("location")
        if dock is None:
            return [], []
        if not isinstance(location, dict):
            return on_flight(dock.dock, {"status": "not_sent", "dock": dock.dock,
                                         "reason": "the alert has no location"}), []
        request = service_request(
            dock, float(location["lat"]), float(location["lon"]),
            in_dock=self._in_dock.get(dock.dock), bid=self.new_id(), tid=self.new_id(),
            now_ms=int(self.clock().timestamp() * 1000))
        self._flights[request.bid] = _Flight(alert.id, dock.dock, request.method)
        data = {"status": "requested", "dock": dock.dock, "method": request.method,
                "bid": request.bid, "tid": request.tid, "lat": location["lat"],
                "lon": location["lon"], "height_m": dock.height_m}
        return on_flight(dock.dock, data), [Publication(request.topic, request.payload)]

    # -- what the docks say --------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> None:
        dock, leaf = topic.split("/")[2:4]
        try:
            if leaf == "osd":
                in_dock = drone_in_dock(payload)
                if in_dock is not None:
                    self._in_dock[dock] = in_dock
            elif leaf == "services_reply":
                self._reply(dock, read_reply(payload))
            else:
                progress = read_event(payload)
                if progress is None:
                    self.messages.labels("event", "other").inc()
                    return
                self._event(dock, progress)
        except Unreadable as exc:
            log.warning("unreadable %s from dock %s: %s", leaf, dock, exc)
            self.messages.labels(leaf, "unreadable").inc()

    def _reply(self, dock: str, reply: Reply) -> None:
        flight = self._follow(reply.bid)
        if flight is None or flight.dock != dock:
            log.warning("services_reply from dock %s for unknown bid %r (%s), ignored",
                        dock, reply.bid, reply.method)
            self.messages.labels("services_reply", "unknown_bid").inc()
            return
        status = "accepted" if reply.accepted else "refused"
        if status in flight.done:
            self.messages.labels("services_reply", "repeat").inc()
            return
        data: dict[str, Any] = {"status": status, "dock": dock, "method": reply.method,
                                "bid": reply.bid}
        if not reply.accepted:
            data["code"] = reply.code
        self._record(flight, reply.bid, data, [])
        self.messages.labels("services_reply", "recorded").inc()

    def _event(self, dock: str, p: Progress) -> None:
        answer = ([Publication(*events_reply(dock, p, int(self.clock().timestamp() * 1000)))]
                  if p.need_reply else [])
        bid, flight = p.flight, self._follow(p.flight) if p.status else None
        if flight is None and p.bid in self._flights:  # the flight named by the envelope
            bid, flight = p.bid, self._flights[p.bid]
        if flight is None or flight.dock != dock or not p.status:
            if p.status:
                log.warning("%s from dock %s for unknown flight %r, ignored", p.method, dock,
                            p.flight)
            self.messages.labels("event", "unknown_bid" if p.status else "other").inc()
            self._send(answer)
            return
        outcome = p.outcome
        now = self.clock()
        if outcome == "progress":
            every = self.docks[dock].progress_every_s
            if (flight.last_progress is not None
                    and (now - flight.last_progress).total_seconds() < every):
                self.messages.labels("event", "throttled").inc()
                self._send(answer)
                return
            flight.last_progress = now
        elif outcome in flight.done:
            self.messages.labels("event", "repeat").inc()
            self._send(answer)
            return
        data: dict[str, Any] = {"status": outcome, "dock": dock, "method": p.method,
                                "bid": bid, "device_status": p.status}
        if p.remaining_distance is not None:
            data["remaining_distance_m"] = p.remaining_distance
        if p.remaining_time is not None:
            data["remaining_time_s"] = p.remaining_time
        if p.code:
            data["code"] = p.code
        self._record(flight, bid, data, answer)
        self.messages.labels("event", "recorded").inc()

    def _record(self, flight: _Flight, bid: str, data: dict[str, Any],
                publications: list[Publication]) -> None:
        assert self.recorder is not None, "Flights.recorder is set by the composition root"
        if data["status"] != "progress":
            flight.done.add(data["status"])
        try:
            self.recorder.record(flight.alert_id, on_flight(flight.dock, data), publications)
        except LookupError:  # the alert is gone: nothing to record on
            log.warning("flight %s: alert %s not found", bid, flight.alert_id)
            self._send(publications)

    def _send(self, publications: list[Publication]) -> None:
        if not publications:
            return
        with self.store.transaction():
            self.outbox.add(publications)
        self.outbox.flush()
