"""The lifecycle table: every legal and illegal move, idempotence, and the fold."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch._lifecycle import (
    Ack,
    Assist,
    Close,
    Command,
    Escalate,
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
    apply,
    decide,
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
