"""The lifecycle table: every legal and illegal move, idempotence, and the fold."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch._lifecycle import (
    Ack,
    Assist,
    Change,
    Close,
    Command,
    Escalate,
    Event,
    EventKind,
    Incident,
    OnScene,
    Outcome,
    Refused,
    Reopen,
    Stage,
    State,
    Transfer,
    Verify,
    apply,
    decide,
    on_evidence,
    on_raise,
    on_signal,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 10, 31, tzinfo=SH)
CLOSE = Close("王警官", Outcome.RESOLVED, "洒水降尘，覆盖裸土")


def incident_in(state: State, **kw: object) -> Incident:
    base = Incident(id="a1", queue="blue_sky", raised_at=T0, severity="major")
    return replace(base, state=state, **kw)  # type: ignore[arg-type]


def run(incident: Incident, *commands: Command) -> Incident:
    for n, command in enumerate(commands):
        for kind, actor, data in decide(incident, command):
            incident = apply(
                incident,
                Event(incident.id, incident.seq + 1, kind, T0 + timedelta(minutes=n + 1), actor,
                      data),
            )
    return incident


STEPS: list[tuple[str, Command, State]] = [
    ("ack", Ack("o"), State.ACKNOWLEDGED),
    ("verify", Verify("o", "KY-UAV-01"), State.VERIFYING),
    ("on-scene", OnScene("o"), State.ON_SCENE),
    ("close", CLOSE, State.CLOSED),
]


@pytest.mark.parametrize("start", list(State), ids=lambda s: f"from {s}")
@pytest.mark.parametrize(("name", "command", "target"), STEPS, ids=[s[0] for s in STEPS])
def test_every_step_from_every_state(
    start: State, name: str, command: Command, target: State
) -> None:
    order = list(State)
    incident = incident_in(
        start, drone="KY-UAV-01", outcome=Outcome.RESOLVED if start is State.CLOSED else None
    )
    if start is State.CLOSED and command != CLOSE:
        with pytest.raises(Refused, match="is closed; reopen it before"):
            decide(incident, command)
    elif start is State.CLOSED:
        # closing again with another receipt is refused, with the same one it is harmless
        with pytest.raises(Refused):
            decide(incident, command)
    elif order.index(target) < order.index(start):
        with pytest.raises(Refused, match=f"already {start}; it cannot go back to {target}"):
            decide(incident, command)
    elif target is start:
        assert decide(incident, command) == []
    else:
        [(kind, _, _)] = decide(incident, command)
        assert kind == target.value
        assert run(incident, command).state is target


def test_the_story_acknowledged_at_is_the_first_officer_action() -> None:
    i = run(incident_in(State.DISPATCHED), Verify("o", "KY-UAV-01"), OnScene("drone:KY-UAV-01"),
            CLOSE)
    assert i.state is State.CLOSED
    assert i.acknowledged_at == T0 + timedelta(minutes=1)  # skipped ack: the verify counts
    assert i.closed_at == T0 + timedelta(minutes=3)
    assert (i.outcome, i.note, i.officer, i.drone) == (
        Outcome.RESOLVED, "洒水降尘，覆盖裸土", "王警官", "KY-UAV-01"
    )


def test_repeated_commands_are_harmless() -> None:
    i = run(incident_in(State.DISPATCHED), Ack("o"))
    assert decide(i, Ack("o")) == []
    i = run(i, Verify("o", "KY-UAV-01"))
    assert decide(i, Verify("o", "KY-UAV-01")) == []
    [(kind, _, data)] = decide(i, Verify("o", "KY-UAV-02"))  # another drone is news
    assert (kind, data) == ("verifying", {"drone": "KY-UAV-02"})
    closed = run(i, CLOSE)
    assert decide(closed, CLOSE) == []
    with pytest.raises(Refused, match="reopen it before you close"):
        decide(closed, Close("王警官", Outcome.FALSE_ALARM, "误报"))


def test_reopen_only_a_closed_incident_and_it_goes_back_to_acknowledged() -> None:
    with pytest.raises(Refused, match="is on_scene, not closed; cannot reopen"):
        decide(incident_in(State.ON_SCENE), Reopen("o"))
    i = run(incident_in(State.DISPATCHED), CLOSE, Reopen("o", "扬尘复发"))
    assert (i.state, i.closed_at, i.outcome) == (State.ACKNOWLEDGED, None, None)
    i = run(i, CLOSE)
    assert i.closed_at == T0 + timedelta(minutes=1)  # the fold dates it at the last step


def test_transfer_and_assist() -> None:
    i = run(incident_in(State.ACKNOWLEDGED), Assist("o", "law_enforcement"))
    assert (i.queue, i.assists, i.state) == ("blue_sky", ("law_enforcement",), State.ACKNOWLEDGED)
    assert decide(i, Assist("o", "law_enforcement")) == []
    assert decide(i, Assist("o", "blue_sky")) == []  # its own queue does not assist itself
    moved = run(i, Transfer("o", "law_enforcement"))
    assert (moved.queue, moved.assists) == ("law_enforcement", ())
    assert decide(moved, Transfer("o", "law_enforcement")) == []
    with pytest.raises(Refused, match="closed"):
        decide(run(moved, CLOSE), Transfer("o", "blue_sky"))


def test_escalation_once_per_stage_and_never_after_closing() -> None:
    i = incident_in(State.DISPATCHED)
    esc = Escalate(Stage.ACK, T0 + timedelta(minutes=5))
    [(kind, actor, data)] = decide(i, esc)
    assert (kind, actor, data["stage"]) == ("escalated", "sla", "ack")
    i = run(i, esc)
    assert i.escalated == {Stage.ACK}
    assert decide(i, esc) == []
    assert decide(i, Escalate(Stage.CLOSE, T0)) != []
    assert decide(run(i, CLOSE), Escalate(Stage.CLOSE, T0)) == []
    # reopening does not re-arm an escalation already reported
    reopened = run(i, Escalate(Stage.CLOSE, T0), CLOSE, Reopen("o"))
    assert decide(reopened, Escalate(Stage.CLOSE, T0)) == []


# -- what the rules engine says -------------------------------------------------------------


@pytest.mark.parametrize(("silence", "then"), [
    (None, Change(EventKind.DISPATCHED, "system", {"queue": "blue_sky"})),
    (("s1", "road works"), Change(EventKind.SILENCED, "system",
                                  {"silence": "s1", "reason": "road works"})),
])
def test_a_raise_is_raised_then_dispatched_or_silenced(
    silence: tuple[str, str] | None, then: Change
) -> None:
    first, second = on_raise("blue_sky", "major", "site-pm10-15min", "station:S1", silence)
    assert first == Change(EventKind.RAISED, "rules", {
        "queue": "blue_sky", "severity": "major", "rule": "site-pm10-15min",
        "subject": "station:S1"})
    assert second == then
    folded = incident_in(State.RAISED)
    for seq, c in enumerate((first, second), 1):
        folded = apply(folded, Event("a1", seq, c.kind, T0, c.actor, c.data))
    assert (folded.state, folded.muted) == (
        (State.RAISED, True) if silence else (State.DISPATCHED, False))


@pytest.mark.parametrize(("cleared", "again", "severity", "kinds"), [
    (True, False, "major", [EventKind.CLEARED]),
    (False, True, "major", [EventKind.UPDATED]),  # raised again after a clear
    (False, False, "critical", [EventKind.UPDATED]),  # a level up
    (False, False, "major", []),  # a little higher, same level: not an event
])
def test_what_a_signal_does_to_an_open_incident(
    cleared: bool, again: bool, severity: str, kinds: list[EventKind]
) -> None:
    decided = on_signal(incident_in(State.ACKNOWLEDGED), cleared=cleared, raised_again=again,
                        severity=severity, value=210.0)
    assert [c.kind for c in decided] == kinds
    assert all(c.actor == "rules" for c in decided)


def test_evidence_is_the_drones() -> None:
    (change,) = on_evidence("KY-UAV-01", {"finding": "dust_plume"})
    assert change == Change(EventKind.EVIDENCE, "KY-UAV-01", {"finding": "dust_plume"})
    assert on_evidence(None, {})[0].actor == "drone"


def test_an_event_of_no_known_kind_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="not a valid EventKind"):
        Event("a1", 1, "note", T0, "wang")  # type: ignore[arg-type]
    assert Event("a1", 1, "closed", T0, "wang").kind is EventKind.CLOSED  # type: ignore[arg-type]
