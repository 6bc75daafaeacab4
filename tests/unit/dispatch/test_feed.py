"""The change feed of a shared store: what another instance's dispatcher committed is
told to this instance's listeners (its consoles' stream) once, with the state each event
left the incident in; what this instance committed itself is not told again."""

from __future__ import annotations

from pathlib import Path

from dispatch import AlertTopics, Deadlines, Dispatcher, Router
from dispatch._dispatcher_ports import Committed
from dispatch._lifecycle import Ack
from dispatch._sqlite import SqliteStore
from dispatch.feed import ChangeFeed
from rules.signals import Action
from tests.unit.dispatch.test_dispatcher import SH, Clock, Recorder, outbox_to, signal


def instance(path: Path, clock: Clock, prefix: str = "a") -> Dispatcher:
    store = SqliteStore(str(path), tz=SH)
    ids = iter(f"{prefix}{i}" for i in range(1, 100))
    return Dispatcher(
        store=store, router=Router((), "blue_sky"), queues={"blue_sky": Deadlines()},
        topics=AlertTopics("lantian"), clock=clock, tz=SH,
        outbox=outbox_to(store, Recorder(), clock), new_id=lambda: next(ids))


def test_a_change_committed_elsewhere_is_told_once_and_ours_not_at_all(
    tmp_path: Path,
) -> None:
    clock = Clock()
    a = instance(tmp_path / "shared.sqlite", clock, "a")
    b = instance(tmp_path / "shared.sqlite", clock, "b")
    assert isinstance(b.store, SqliteStore)
    told: list[Committed] = []
    feed = ChangeFeed(b.store, told.append, "lantian")
    b.listeners.append(feed.mine)
    assert feed.poll() == 0

    a.receive([signal(Action.RAISE)])  # instance A raises: B's consoles must hear it
    assert feed.poll() == 1
    (raised,) = told
    assert raised.alert.id == "a1"
    assert [e.kind.value for e in raised.events] == ["raised", "dispatched"]
    assert raised.after == [("raised", "blue_sky"), ("dispatched", "blue_sky")]
    assert feed.poll() == 0  # told once

    b.command("a1", Ack("officer"))  # through B: its own listeners heard it already
    assert feed.poll() == 0 and len(told) == 1
    a.receive([signal(Action.RAISE, subject="station:KY-CS-002")])
    a.command("a2", Ack("officer"))
    assert feed.poll() == 1  # one alert's two changes, told together
    assert [e.kind.value for e in told[-1].events] == ["raised", "dispatched", "acknowledged"]
    assert told[-1].alert.incident.state.value == "acknowledged"
