"""The incident lifecycle as a transition table: commands and signals in, events out, no
I/O. Everything that moves an incident is decided here, and nowhere else.

    raised → dispatched → acknowledged → verifying → on_scene → closed
                                                                  │ reopen
                                          acknowledged ◄──────────┘

Steps may be skipped (an officer may close straight from the queue) but never taken
backwards, except by `reopen`. `decide` checks an officer's (or the SLA clock's) command
against the incident as it is and returns the changes to append, or raises `Refused`
saying why; repeating a command that already took effect returns none (a retried HTTP
call is harmless). `on_raise`, `on_signal` and `on_evidence` are the same for what the
rules engine says. `apply` folds one event into the incident: the incident is nothing
but the fold of its log. Every kind of event is an `EventKind`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, NamedTuple


class State(StrEnum):
    RAISED = "raised"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    VERIFYING = "verifying"
    ON_SCENE = "on_scene"
    CLOSED = "closed"


ORDER: Final = {s: i for i, s in enumerate(State)}


class Outcome(StrEnum):
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"
    DUPLICATE = "duplicate"


class Stage(StrEnum):
    """What an escalation is about: nobody acknowledged, or nobody closed, in time."""

    ACK = "ack"
    CLOSE = "close"


class Refused(Exception):
    """A command that does not apply to the incident as it is. The message says why."""


class EventKind(StrEnum):
    """What an event of the log says happened. The steps are named after the state they
    lead to; the rest change the incident without moving it along."""

    RAISED = "raised"  # the rules engine opened it
    DISPATCHED = "dispatched"  # published on its queue
    ACKNOWLEDGED = "acknowledged"
    VERIFYING = "verifying"  # a drone was sent to look
    ON_SCENE = "on_scene"
    CLOSED = "closed"  # with the receipt (回执)
    REOPENED = "reopened"
    TRANSFERRED = "transferred"  # to another queue
    ASSIST = "assist"  # another queue called in
    ESCALATED = "escalated"  # an SLA deadline passed
    SILENCED = "silenced"  # raised under a silence: recorded, not dispatched
    UPDATED = "updated"  # the condition changed severity, or was raised again
    CLEARED = "cleared"  # the condition ended (the incident stays open for the officers)
    EVIDENCE = "evidence"  # a drone's finding at the incident's zone
    FLIGHT = "flight"  # a dock's drone sent: requested, accepted, refused, progress, arrived
    COMMENTED = "commented"  # an officer's note or photos, in any state, even closed


_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
#: Event kinds that are lifecycle steps, and the state each leads to.
_STEPS: Final[Mapping[EventKind, State]] = MappingProxyType(
    {EventKind(s.value): s for s in State if s is not State.RAISED}
)


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an incident's append-only log: what happened, when, by whom."""

    alert_id: str
    seq: int
    kind: EventKind
    at: datetime
    actor: str
    data: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        # validated on construction: a kind no code knows never reaches the log
        object.__setattr__(self, "kind", EventKind(self.kind))


class Change(NamedTuple):
    """An event decided, before the dispatcher gives it its seq and time."""

    kind: EventKind
    actor: str
    data: Mapping[str, Any] = _EMPTY


@dataclass(frozen=True, slots=True)
class Incident:
    """The lifecycle projection of an alert's events (the alert's description lives with
    it; see `dispatch._alert`)."""

    id: str
    queue: str
    raised_at: datetime
    state: State = State.RAISED
    assists: tuple[str, ...] = ()
    muted: bool = False
    dispatched_at: datetime | None = None
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    drone: str | None = None
    outcome: Outcome | None = None
    note: str = ""
    officer: str | None = None
    escalated: frozenset[Stage] = frozenset()
    severity: str = ""
    cleared_at: datetime | None = None
    seq: int = 0

    @property
    def open(self) -> bool:
        return self.state is not State.CLOSED


# -- commands --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    actor: str


@dataclass(frozen=True, slots=True)
class Verify:
    actor: str
    drone: str


@dataclass(frozen=True, slots=True)
class OnScene:
    actor: str
    drone: str | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    actor: str
    queue: str


@dataclass(frozen=True, slots=True)
class Assist:
    actor: str
    queue: str


@dataclass(frozen=True, slots=True)
class Close:
    actor: str
    outcome: Outcome
    note: str


@dataclass(frozen=True, slots=True)
class Reopen:
    actor: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Comment:
    """A note, or photos (their SHA-256, the media store's names), on the incident: it
    does not move it, so any state takes one, a closed incident's receipt too."""

    actor: str
    text: str = ""
    photos: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Escalate:
    stage: Stage
    deadline: datetime


Command = Ack | Verify | OnScene | Transfer | Assist | Close | Reopen | Escalate | Comment

#: Lifecycle commands and the state each one moves the incident to.
_TARGET: Final[Mapping[type, State]] = MappingProxyType(
    {Ack: State.ACKNOWLEDGED, Verify: State.VERIFYING, OnScene: State.ON_SCENE,
     Close: State.CLOSED}
)
_VERB: Final = {Ack: "acknowledge", Verify: "send a drone to", OnScene: "put on scene",
                Transfer: "transfer", Assist: "call in assistance for", Close: "close",
                Reopen: "reopen", Escalate: "escalate", Comment: "comment on"}


Decision = list[Change]

#: The actors of what no person did.
RULES: Final = "rules"
SYSTEM: Final = "system"
SLA: Final = "sla"


def decide(incident: Incident, command: Command) -> Decision:
    """The events that `command` causes, [] if it already took effect, or `Refused`."""
    verb = _VERB[type(command)]
    if isinstance(command, Comment):
        if not command.text.strip() and not command.photos:
            raise Refused(f"a comment on alert {incident.id} needs a text or a photo")
        return [Change(EventKind.COMMENTED, command.actor,
                       {"text": command.text, "photos": list(command.photos)})]
    if isinstance(command, Reopen):
        if incident.state is not State.CLOSED:
            raise Refused(f"alert {incident.id} is {incident.state}, not closed; cannot {verb} it")
        return [Change(EventKind.REOPENED, command.actor, {"reason": command.reason})]
    if isinstance(command, Escalate):
        if command.stage in incident.escalated or incident.state is State.CLOSED:
            return []
        return [Change(EventKind.ESCALATED, SLA, {"stage": command.stage.value,
                                                  "deadline": command.deadline.isoformat()})]
    if incident.state is State.CLOSED:
        if isinstance(command, Close) and (
            command.outcome, command.note, command.actor
        ) == (incident.outcome, incident.note, incident.officer):
            return []
        raise Refused(f"alert {incident.id} is closed; reopen it before you {verb} it")
    if isinstance(command, Transfer):
        if command.queue == incident.queue:
            return []
        return [Change(EventKind.TRANSFERRED, command.actor,
                       {"from": incident.queue, "queue": command.queue})]
    if isinstance(command, Assist):
        if command.queue == incident.queue or command.queue in incident.assists:
            return []
        return [Change(EventKind.ASSIST, command.actor, {"queue": command.queue})]
    target = _TARGET[type(command)]
    data: dict[str, Any] = {}
    if isinstance(command, Verify | OnScene) and command.drone:
        data["drone"] = command.drone
    elif isinstance(command, Close):
        data = {"outcome": command.outcome.value, "note": command.note}
    if incident.state is target:
        # the same step again: harmless, unless it says something new (another drone sent)
        if isinstance(command, Verify) and command.drone != incident.drone:
            return [Change(EventKind(target.value), command.actor, data)]
        return []
    if ORDER[target] < ORDER[incident.state]:
        raise Refused(
            f"alert {incident.id} is already {incident.state}; it cannot go back to {target}"
        )
    return [Change(EventKind(target.value), command.actor, data)]


# -- what the rules engine says -----------------------------------------------------------


def on_raise(queue: str, severity: str, rule: str, subject: str,
             silence: tuple[str, str] | None) -> Decision:
    """A new incident's first events: raised, then dispatched to `queue`, or silenced by
    `silence` (its id and reason)."""
    raised = Change(EventKind.RAISED, RULES, {"queue": queue, "severity": severity,
                                              "rule": rule, "subject": subject})
    if silence is not None:
        silence_id, reason = silence
        return [raised, Change(EventKind.SILENCED, SYSTEM, {"silence": silence_id,
                                                            "reason": reason})]
    return [raised, Change(EventKind.DISPATCHED, SYSTEM, {"queue": queue})]


def on_signal(incident: Incident, cleared: bool, raised_again: bool, severity: str,
              value: float | None) -> Decision:
    """The condition behind an open incident changed: it ended (`cleared`), was raised
    again, or moved to another severity. Anything else (a value a little higher within
    the same level) is not an event: the description keeps the latest."""
    if cleared:
        return [Change(EventKind.CLEARED, RULES, {"value": value})]
    if raised_again or severity != incident.severity:
        return [Change(EventKind.UPDATED, RULES, {"severity": severity, "value": value,
                                                  "reraised": raised_again})]
    return []


def on_evidence(drone: str | None, finding: Mapping[str, Any]) -> Decision:
    """A drone's finding where the incident is: "the drone saw it on video"."""
    return [Change(EventKind.EVIDENCE, drone or "drone", finding)]


def on_flight(dock: str, data: Mapping[str, Any]) -> Decision:
    """What a DJI dock said of the flight it was asked for. Informational: the drone's
    position entering the zone (the rules) is what puts the incident on scene."""
    return [Change(EventKind.FLIGHT, f"dock:{dock}", data)]


def apply(incident: Incident, event: Event) -> Incident:
    """The incident after `event`."""
    kind, at, data = event.kind, event.at, event.data
    changes: dict[str, Any] = {"seq": event.seq}
    state = _STEPS.get(kind)
    if state is not None:
        changes["state"] = state
        if state is State.DISPATCHED:
            changes["dispatched_at"] = at
        if ORDER[state] >= ORDER[State.ACKNOWLEDGED] and incident.acknowledged_at is None:
            # time to acknowledge runs to the first thing an officer did, whatever it was
            changes["acknowledged_at"] = at
        if "drone" in data:
            changes["drone"] = data["drone"]
        if state is State.CLOSED:
            changes.update(closed_at=at, outcome=Outcome(data["outcome"]), note=data["note"],
                           officer=event.actor)
    elif kind is EventKind.REOPENED:
        # escalations stay: the close deadline was missed once, and is reported once
        changes.update(state=State.ACKNOWLEDGED, closed_at=None, outcome=None, note="",
                       officer=None)
    elif kind is EventKind.TRANSFERRED:
        changes["queue"] = data["queue"]
        changes["assists"] = tuple(q for q in incident.assists if q != data["queue"])
    elif kind is EventKind.ASSIST:
        changes["assists"] = (*incident.assists, data["queue"])
    elif kind is EventKind.ESCALATED:
        changes["escalated"] = incident.escalated | {Stage(data["stage"])}
    elif kind is EventKind.SILENCED:
        changes["muted"] = True
    elif kind is EventKind.UPDATED:
        changes["severity"] = data.get("severity", incident.severity)
    elif kind is EventKind.CLEARED:
        changes["cleared_at"] = at
    return replace(incident, **changes)
