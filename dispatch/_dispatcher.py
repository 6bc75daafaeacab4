"""The dispatch shell: signals in from the engine, commands in from officers; incidents,
events and publications out.

Every change follows the same path: load the alert, let the pure lifecycle decide the
events, fold them, then store log, projection and the messages announcing them in one
transaction (the outbox, `dispatch._outbox`), and hand the messages to the broker once
that has committed. A subscriber never hears of an event the store does not have, and a
crash between the two delays a publication, never loses it.

One signal that fails (a bug, a bad stored row, a full disk) is undone, logged and
counted on its own (`lantian_raise_path_errors_total`, and `healthy()` for /healthz):
the signals beside it, and the ones after it, are dispatched as usual.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

import orjson

from dispatch._alert import Alert, describe, lateness
from dispatch._dispatcher_ports import (
    Committed,
    FlightPlanner,
    LifecycleSink,
    Listener,
    NotificationLog,
)
from dispatch._lifecycle import (
    Assist,
    Command,
    Decision,
    Event,
    Incident,
    OnScene,
    Refused,
    Transfer,
    Verify,
    apply,
    decide,
    on_evidence,
    on_raise,
    on_signal,
)
from dispatch._monitoring import DispatchMetrics
from dispatch._outbox import Outbox, Publication
from dispatch._routing import Router
from dispatch._silences import MAINTENANCE_AUTHOR, UNTIL_ENDED, Silence, muting
from dispatch._sla import Deadlines, deadlines_for, overdue
from dispatch._store import DispatchStore
from dispatch._wire import AlertTopics, escalation_json, event_json
from rules.signals import Action, AlertSignal, Maintenance, Signal, ZoneEvent

Clock = Callable[[], datetime]
#: The "silence" of an alert raised on data older than `stale_after`.
STALE = "stale-data"

#: How long after a failure on the raise path `healthy()` says False.
_UNHEALTHY_FOR = timedelta(minutes=10)

log = logging.getLogger(__name__)

#: More messages a change announces, made from the alert and events after it.
Extra = Callable[[Alert, list[Event]], list[Publication]]


class NotFound(LookupError):
    pass


def new_alert_id() -> str:
    """Time-ordered and unique without coordination: milliseconds, then 40 random bits."""
    return f"{time.time_ns() // 1_000_000:011x}{os.urandom(5).hex()}"


class Dispatcher:
    def __init__(
        self,
        *,
        store: DispatchStore,
        router: Router,
        queues: Mapping[str, Deadlines],
        topics: AlertTopics,
        clock: Clock,
        tz: tzinfo,
        outbox: Outbox | None = None,
        lifecycle: LifecycleSink | None = None,
        metrics: DispatchMetrics | None = None,
        new_id: Callable[[], str] = new_alert_id,
        listeners: Sequence[Listener] = (),
        late_after: timedelta = timedelta(minutes=10),
        stale_after: timedelta = timedelta(hours=1),
        notifications: NotificationLog | None = None,
        flights: FlightPlanner | None = None,
    ) -> None:
        self.store = store
        self.router = router
        self.queues = queues
        self.topics = topics
        self.clock = clock
        self.tz = tz
        self.outbox = outbox
        self.last_failure: datetime | None = None
        self.lifecycle = lifecycle
        self.metrics = metrics
        self.new_id = new_id
        self.listeners = list(listeners)
        self.late_after = late_after
        self.stale_after = stale_after
        self.notifications = notifications
        self.flights = flights

    # -- from the engine -----------------------------------------------------------------

    def receive(self, signals: Iterable[Signal]) -> None:
        for signal in signals:
            try:
                with self.store.transaction():
                    self._receive(signal)
            except Exception:
                self._failed("signal", f"dispatch failed on {signal!r}")
            self._flush()

    def _receive(self, signal: Signal) -> None:
        if isinstance(signal, AlertSignal):
            self._alert_signal(signal)
        elif isinstance(signal, ZoneEvent):
            if signal.event == "enter":
                self._arrived(signal)
        else:
            self._maintenance(signal)

    def healthy(self) -> bool:
        """False for a while after a signal or a sweep failed (see the log)."""
        return self.last_failure is None or self.clock() - self.last_failure > _UNHEALTHY_FOR

    def _failed(self, stage: str, what: str) -> None:
        log.exception(what)
        self.last_failure = self.clock()
        if self.metrics is not None:
            self.metrics.raise_path_errors.labels(stage).inc()

    def _alert_signal(self, s: AlertSignal) -> None:
        existing = self.store.open_for(s.rule, s.subject)
        if s.finding and existing is None and s.zone is not None:
            targets = self._open_in(s.zone.id)
            if targets:
                self._attach(targets[0], s)
                return
        if existing is None:
            if s.action is Action.RAISE:
                self._create(s)
            # An update or clear with no open incident: officers closed it while the
            # condition still held. It is not reopened behind their backs; the next raise
            # (after the condition clears) opens a new incident.
            return
        events = on_signal(existing.incident, cleared=s.action is Action.CLEAR,
                           raised_again=s.action is Action.RAISE, severity=s.severity,
                           value=s.value)
        # the description follows the condition; only changes of substance are events
        description = existing.description
        if s.action is not Action.CLEAR:
            description = describe(s, self.tz)
            if description["drone_suggestion"] is None:
                # the engine suggests a drone when it raises; an update keeps that one
                description["drone_suggestion"] = existing.description.get("drone_suggestion")
            for kept in ("delay_s", "late"):  # how late the raise was stays with the alert
                if kept in existing.description:
                    description[kept] = existing.description[kept]
        self._commit(replace(existing, description=description), events)

    def _create(self, s: AlertSignal) -> None:
        now = self.clock()
        zones = [z.id for z in s.zones]
        queue = self.router.queue_for(
            s.kind, [z.kind for z in s.zones], s.severity, now.astimezone(self.tz)
        )
        ack_by, close_by = deadlines_for(queue, self.queues, now)
        alert = Alert(
            incident=Incident(id=self.new_id(), queue=queue, raised_at=now, severity=s.severity),
            rule=s.rule, subject=s.subject, kind=s.kind,
            zone=s.zone.id if s.zone else None, grid=s.grid,
            ack_by=ack_by, close_by=close_by,
            description=describe(s, self.tz) | lateness(s.at, now, self.late_after),
        )
        silence = self._muting(s, zones, queue, now)
        muted = None if silence is None else (silence.id, silence.reason)
        if muted is None and now - s.at > self.stale_after:
            # history a logger sent late (back-fill, a buffered upload): recorded for the
            # bureau, not sent to officers to drive out to a condition of hours ago
            muted = (STALE, f"observed {round((now - s.at).total_seconds())} s before it"
                     f" reached the service (over {round(self.stale_after.total_seconds())}"
                     " s): history, recorded and not dispatched")
        decided = on_raise(queue, s.severity, s.rule, s.subject, muted)
        self._commit(alert, decided, None if muted is not None else (
            lambda a, _events: [self._alert_publication(a, queue)]), new=True)
        if self.metrics is not None:
            self.metrics.raised.labels(queue, s.kind, str(muted is not None).lower()).inc()

    def _muting(self, s: AlertSignal, zones: list[str], queue: str, now: datetime
                ) -> Silence | None:
        """The silence muting a new alert. If the silences cannot be read, none: an alert
        dispatched that should have been muted costs an officer a glance; one muted by
        accident costs the incident."""
        try:
            return muting(self.store.silences(active_at=now), s.rule, s.subject, zones, now,
                          queue=queue)
        except Exception:
            self._failed("silences", "could not read the silences; dispatching unmuted")
            return None

    def _attach(self, alert: Alert, s: AlertSignal) -> None:
        """A finding where an incident is open verifies it: "the drone saw it on video"."""
        data = {"finding": s.kind, "confidence": s.value, "media": list(s.evidence.media),
                "note": s.evidence.note, "drone": s.detail.get("drone"),
                "observed_at": s.at.astimezone(self.tz).isoformat()}
        drone = s.detail.get("drone")
        self._commit(alert, on_evidence(None if drone is None else str(drone), data))

    def _arrived(self, e: ZoneEvent) -> None:
        for alert in self._open_in(e.zone.id):
            with contextlib.suppress(Refused):  # already beyond on scene: nothing to add
                self.act(alert, OnScene(f"drone:{e.drone}", e.drone))

    def _maintenance(self, m: Maintenance) -> None:
        if m.active:
            self.store.add_silence(Silence(
                id=f"maintenance-{m.station}-{int(m.at.timestamp())}", starts_at=m.at,
                ends_at=UNTIL_ENDED, author=MAINTENANCE_AUTHOR,
                reason=f"HJ 212 flags {','.join(m.flags)}: maintenance or calibration",
                stations=frozenset({m.station}), created_at=self.clock(),
            ))
            return
        for silence in self.store.silences(active_at=m.at):
            if silence.author == MAINTENANCE_AUTHOR and silence.stations == {m.station}:
                self.store.end_silence(silence.id, m.at, MAINTENANCE_AUTHOR)

    def _open_in(self, zone_id: str) -> list[Alert]:
        """The open incidents at a zone, newest first."""
        return [a for a in self.store.query(zone=zone_id, limit=1000) if a.incident.open]

    # -- from officers -------------------------------------------------------------------

    def get(self, alert_id: str) -> Alert:
        alert = self.store.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id!r}")
        return alert

    def command(self, alert_id: str, command: Command) -> tuple[Alert, list[Event]]:
        """Apply an officer's (or the system's) command; the alert after it and the new
        events ([] when it had already taken effect). Raises NotFound or Refused."""
        return self.act(self.get(alert_id), command)

    def act(self, alert: Alert, command: Command) -> tuple[Alert, list[Event]]:
        """`command` on an alert just read from the store (the caller's, so it is not
        read twice). Raises Refused."""
        name = type(command).__name__.lower()
        try:
            if isinstance(command, Transfer | Assist) and command.queue not in self.queues:
                known = ", ".join(sorted(self.queues))
                raise Refused(f"no queue {command.queue!r}; queues: {known}")
            decided = decide(alert.incident, command)
        except Refused:
            self._count_command(name, "refused")
            raise
        self._count_command(name, "done" if decided else "repeat")
        if not decided:
            return alert, []
        extra: Extra | None = None
        if isinstance(command, Transfer | Assist):
            queue = command.queue

            def extra(a: Alert, _events: list[Event]) -> list[Publication]:
                return [self._alert_publication(a, queue)]
        if isinstance(command, Verify) and self.flights is not None:
            flight, requests = self.flights.plan(alert, command.drone)
            decided = [*decided, *flight]

            def extra(_a: Alert, _events: list[Event]) -> list[Publication]:
                return requests
        alert, events = self._commit(alert, decided, extra)
        if not alert.incident.open and self.lifecycle is not None:
            self.lifecycle.incident_closed(alert)
        return alert, events

    def record(self, alert_id: str, decided: Decision,
               publications: list[Publication] | None = None) -> None:
        """Commit events that move nothing (a dock's word on a flight) with `publications`.
        Raises NotFound."""
        extra = None if not publications else (lambda _a, _e: publications)
        self._commit(self.get(alert_id), decided, extra)

    # -- from the clock ------------------------------------------------------------------

    def sweep(self) -> list[tuple[Alert, Event]]:
        """Escalate what is overdue now, once per stage."""
        now = self.clock()
        out = []
        for alert, escalate in overdue(self.store.open_alerts(), now):
            def escalations(a: Alert, events: list[Event], deadline: datetime = escalate.deadline
                            ) -> list[Publication]:
                return [self._publication(self.topics.escalations(),
                                          escalation_json(a, e, deadline, self.tz))
                        for e in events]
            try:
                with self.store.transaction():
                    # another instance's sweep may hold it, or have escalated it since
                    claimed = self.store.claim(alert.id)
                    if claimed is None:
                        continue
                    alert, events = self._commit(
                        claimed, decide(claimed.incident, escalate), escalations)
            except Exception:  # one alert's failure must not hold back the others'
                self._failed("sweep", f"could not escalate alert {alert.id}")
                continue
            for event in events:
                out.append((alert, event))
                if self.metrics is not None:
                    self.metrics.escalations.labels(event.data["stage"]).inc()
        if out:
            self._flush()  # each was committed after `_commit`'s own flush
        return out

    # -- internals -----------------------------------------------------------------------

    def _count_command(self, name: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.commands.labels(name, result).inc()

    def _fold(self, alert: Alert, decided: Decision
              ) -> tuple[Alert, list[Event], list[tuple[str, str]]]:
        """The alert after the decided events; the events; the state and queue each one
        left the incident in."""
        now = self.clock()
        incident = alert.incident
        events, after = [], []
        for kind, actor, data in decided:
            event = Event(incident.id, incident.seq + 1, kind, now, actor, data)
            incident = apply(incident, event)
            events.append(event)
            after.append((incident.state.value, incident.queue))
        return replace(alert, incident=incident), events, after

    def _log(self, alert: Alert, events: list[Event], after: list[tuple[str, str]]) -> None:
        """One line an event, once it is committed: what an operator greps for."""
        for e, (state, queue) in zip(events, after, strict=True):
            log.info("alert %s %s by %s: %s, queue %s", alert.id, e.kind.value, e.actor,
                     state, queue, extra={
                         "event": f"alert.{e.kind.value}", "alert_id": alert.id,
                         "seq": e.seq, "actor": e.actor, "state": state, "queue": queue,
                         "rule": alert.rule, "subject": alert.subject, "zone": alert.zone,
                     })

    def _commit(
        self, alert: Alert, decided: Decision,
        extra: Extra | None = None, *, new: bool = False,
    ) -> tuple[Alert, list[Event]]:
        """Fold the decided events into the alert (a `new` one is created), then store them
        with the messages that announce them (and `extra`'s, made from the alert after
        them) in one transaction."""
        alert, events, after = self._fold(alert, decided)
        out: list[Publication] = []
        if self.outbox is not None and events:  # without one, nothing would send them
            out = self._event_publications(alert, events, after)
            if extra is not None:
                out += extra(alert, events)
        with self.store.transaction():
            if new:
                self.store.create(alert, events)
            else:
                self.store.append(alert, events)
            if self.outbox is not None:
                self.outbox.add(out)
            if self.notifications is not None and events:
                self.notifications.record(alert, events, after)
        self._log(alert, events, after)
        self._flush()
        self._tell(Committed(alert, events, after))
        return alert, events

    def _tell(self, change: Committed) -> None:
        for listener in self.listeners:
            try:
                listener(change)
            except Exception:
                self._failed("listener", f"a listener failed on alert {change.alert.id}")

    def _event_publications(
        self, alert: Alert, events: list[Event], after: list[tuple[str, str]]
    ) -> list[Publication]:
        return [
            self._publication(self.topics.events(alert.id), event_json(e, st, q, self.tz))
            for e, (st, q) in zip(events, after, strict=True)
        ]

    def _alert_publication(self, alert: Alert, queue: str) -> Publication:
        return self._publication(self.topics.queue(queue), alert.to_json(self.tz))

    @staticmethod
    def _publication(topic: str, body: Mapping[str, Any]) -> Publication:
        return Publication(topic, orjson.dumps(body))

    def _flush(self) -> None:
        """Hand the committed publications to the broker; a failure here delays them (the
        rows stay unsent and the next flush, or the next start, sends them)."""
        if self.outbox is None:
            return
        try:
            self.outbox.flush()
        except Exception:
            self._failed("outbox", "could not hand the outbox to the broker")
