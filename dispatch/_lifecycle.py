"""The incident lifecycle as a transition table: commands in, events out, no I/O.

    raised → dispatched → acknowledged → verifying → on_scene → closed
                                                                  │ reopen
                                          acknowledged ◄──────────┘

Steps may be skipped (an officer may close straight from the queue) but never taken
backwards, except by `reopen`. `decide` checks a command against the incident as it is
and returns the events to append, or raises `Refused` saying why; repeating a command
that already took effect returns no events (a retried HTTP call is harmless). `apply`
folds one event into the incident: the incident is nothing but the fold of its log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final


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


_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
#: Event kinds that are lifecycle steps (named after the state they lead to).
_STEPS: Final = frozenset(s.value for s in State) - {State.RAISED.value}


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an incident's append-only log. `kind` is what happened; `state`,
    when set, the lifecycle state it moved the incident to."""

    alert_id: str
    seq: int
    kind: str
    at: datetime
    actor: str
    data: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


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
class Escalate:
    stage: Stage
    deadline: datetime


Command = Ack | Verify | OnScene | Transfer | Assist | Close | Reopen | Escalate

#: Lifecycle commands and the state each one moves the incident to.
_TARGET: Final[Mapping[type, State]] = MappingProxyType(
    {Ack: State.ACKNOWLEDGED, Verify: State.VERIFYING, OnScene: State.ON_SCENE,
     Close: State.CLOSED}
)
_VERB: Final = {Ack: "acknowledge", Verify: "send a drone to", OnScene: "put on scene",
                Transfer: "transfer", Assist: "call in assistance for", Close: "close",
                Reopen: "reopen", Escalate: "escalate"}


Decision = list[tuple[str, str, dict[str, Any]]]


def decide(incident: Incident, command: Command) -> Decision:
    """The events (kind, actor, data) that `command` causes, [] if it already took
    effect, or `Refused`."""
    verb = _VERB[type(command)]
    if isinstance(command, Reopen):
        if incident.state is not State.CLOSED:
            raise Refused(f"alert {incident.id} is {incident.state}, not closed; cannot {verb} it")
        return [("reopened", command.actor, {"reason": command.reason})]
    if isinstance(command, Escalate):
        if command.stage in incident.escalated or incident.state is State.CLOSED:
            return []
        return [("escalated", "sla", {"stage": command.stage.value,
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
        return [("transferred", command.actor, {"from": incident.queue, "queue": command.queue})]
    if isinstance(command, Assist):
        if command.queue == incident.queue or command.queue in incident.assists:
            return []
        return [("assist", command.actor, {"queue": command.queue})]
    target = _TARGET[type(command)]
    data: dict[str, Any] = {}
    if isinstance(command, Verify | OnScene) and command.drone:
        data["drone"] = command.drone
    elif isinstance(command, Close):
        data = {"outcome": command.outcome.value, "note": command.note}
    if incident.state is target:
        # the same step again: harmless, unless it says something new (another drone sent)
        if isinstance(command, Verify) and command.drone != incident.drone:
            return [(target.value, command.actor, data)]
        return []
    if ORDER[target] < ORDER[incident.state]:
        raise Refused(
            f"alert {incident.id} is already {incident.state}; it cannot go back to {target}"
        )
    return [(target.value, command.actor, data)]


def apply(incident: Incident, event: Event) -> Incident:
    """The incident after `event`."""
    kind, at, data = event.kind, event.at, event.data
    changes: dict[str, Any] = {"seq": event.seq}
    if kind in _STEPS:
        state = State(kind)
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
    elif kind == "reopened":
        # escalations stay: the close deadline was missed once, and is reported once
        changes.update(state=State.ACKNOWLEDGED, closed_at=None, outcome=None, note="",
                       officer=None)
    elif kind == "transferred":
        changes["queue"] = data["queue"]
        changes["assists"] = tuple(q for q in incident.assists if q != data["queue"])
    elif kind == "assist":
        changes["assists"] = (*incident.assists, data["queue"])
    elif kind == "escalated":
        changes["escalated"] = incident.escalated | {Stage(data["stage"])}
    elif kind == "silenced":
        changes["muted"] = True
    elif kind == "updated":
        changes["severity"] = data.get("severity", incident.severity)
    elif kind == "cleared":
        changes["cleared_at"] = at
    return replace(incident, **changes)
