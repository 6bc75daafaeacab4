"""The stream hub on its own: numbering, who hears what, the bounded ring and backlog,
reconnects and the end of every stream on close. No server: the hub is called as the
dispatcher calls it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from dispatch._access import Role, Token
from dispatch._alert import Alert
from dispatch._dispatcher_ports import Committed
from dispatch._lifecycle import Event, EventKind, Incident, State
from dispatch._stream import StreamHub, Subscription

AT = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
BLUE = Token("blue", "s1", Role.OFFICER, "blue_sky")
LAW = Token("law", "s2", Role.OFFICER, "law_enforcement")
ADMIN = Token("admin", "s3", Role.ADMIN)


def change(aid: str, kind: EventKind = EventKind.ACKNOWLEDGED, queue: str = "blue_sky",
           seq: int = 1, data: dict[str, Any] | None = None,
           assists: tuple[str, ...] = ()) -> Committed:
    incident = Incident(aid, queue=queue, raised_at=AT, state=State.ACKNOWLEDGED,
                        assists=assists, seq=seq)
    alert = Alert(incident=incident, rule="r", subject="station:S", kind="dust", zone="cs-01",
                  grid=None, ack_by=AT, close_by=AT, description={})
    event = Event(aid, seq, kind, AT, "li", data or {})
    return Committed(alert, [event], [(incident.state.value, queue)])


def drain(sub: Subscription) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(id, event, data) of every frame waiting; None data for the end of the stream."""
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    while not sub.frames.empty():
        raw = sub.frames.get_nowait()
        if raw is None:
            out.append(("", "end", None))
            continue
        fields = dict(line.split(": ", 1) for line in raw.decode().strip().split("\n"))
        out.append((fields["id"], fields["event"], orjson.loads(fields["data"])))
    return out


def test_each_viewer_hears_only_what_they_may_act_on() -> None:
    hub = StreamHub(UTC, boot="b1")
    blue, law, admin = hub.subscribe(BLUE), hub.subscribe(LAW), hub.subscribe(ADMIN)
    hub.tell(change("A1"))
    hub.tell(change("A1", EventKind.ASSIST, seq=2, data={"queue": "law_enforcement"},
                    assists=("law_enforcement",)))
    assert [(i, e) for i, e, _ in drain(blue)] == [("b1-0", "hello"), ("b1-1", "alert"),
                                                   ("b1-2", "alert")]
    assert [(i, e) for i, e, _ in drain(law)] == [("b1-0", "hello"), ("b1-2", "alert")]
    assert len(drain(admin)) == 3


def test_the_queue_an_alert_left_is_told_it_is_gone_and_nothing_more() -> None:
    hub = StreamHub(UTC, boot="b1")
    blue = hub.subscribe(BLUE)
    hub.tell(change("A1", EventKind.TRANSFERRED, queue="law_enforcement",
                    data={"from": "blue_sky", "queue": "law_enforcement"}))
    assert drain(blue)[1:] == [("b1-1", "gone", {"id": "A1", "queue": "law_enforcement"})]


def test_a_reconnect_is_replayed_from_the_ring_or_reset() -> None:
    hub = StreamHub(UTC, boot="b1", ring=3)
    for n in range(5):
        hub.tell(change(f"A{n}"))
    replayed = drain(hub.subscribe(BLUE, "b1-3"))
    assert [(i, e) for i, e, _ in replayed] == [("b1-4", "alert"), ("b1-5", "alert")]
    assert drain(hub.subscribe(BLUE, "b1-2")) != []  # the oldest kept is 3: 2 is enough
    for stale in ("b1-1", "b0-4", "b1-9", "b1-x", "junk"):
        assert [e for _, e, _ in drain(hub.subscribe(BLUE, stale))] == ["reset"], stale
    assert drain(hub.subscribe(BLUE, "b1-5")) == []  # up to date: nothing to say


def test_a_slow_subscriber_is_dropped_and_the_others_go_on() -> None:
    hub = StreamHub(UTC, boot="b1", backlog=4)
    slow, quick = hub.subscribe(BLUE), hub.subscribe(BLUE)
    for n in range(10):
        hub.tell(change(f"A{n}"))
        drain(quick)
    assert slow.dropped and slow not in hub.subscribers and hub.dropped == 1
    frames = drain(slow)
    assert len(frames) == 5 and frames[-1][1] == "end"  # what it had, then the end
    assert quick in hub.subscribers and not quick.dropped
    registry = CollectorRegistry()
    registry.register(hub)
    assert registry.get_sample_value("lantian_stream_consoles") == 1
    assert registry.get_sample_value("lantian_stream_dropped_total") == 1


def test_a_change_without_events_is_not_news() -> None:
    hub = StreamHub(UTC, boot="b1")
    sub = hub.subscribe(BLUE)
    quiet = change("A1")
    hub.tell(Committed(quiet.alert, [], []))
    assert (hub.count, len(drain(sub))) == (0, 1)


def test_close_ends_every_stream_and_every_later_one() -> None:
    async def run() -> None:
        hub = StreamHub(UTC, boot="b1")
        sub = hub.subscribe(BLUE)
        drain(sub)
        waiting = asyncio.ensure_future(sub.frames.get())
        hub.close()
        assert await asyncio.wait_for(waiting, 1) is None
        assert [e for _, e, _ in drain(hub.subscribe(BLUE))] == ["hello", "end"]
        assert hub.subscribers == set()
    asyncio.run(run())


def test_a_reconnect_that_missed_more_than_a_stream_holds_is_told_to_reset() -> None:
    hub = StreamHub(UTC, boot="b1", ring=20, backlog=4)
    for n in range(6):
        hub.tell(change(f"A{n}"))
    assert [e for _, e, _ in drain(hub.subscribe(BLUE, "b1-0"))] == ["reset"]
    assert [e for _, e, _ in drain(hub.subscribe(BLUE, "b1-3"))] == ["alert"] * 3


def test_the_route_frames_retry_then_heartbeats_on_silence_then_ends_on_close() -> None:
    from dispatch._api_stream import _frames

    async def run() -> list[bytes]:
        hub = StreamHub(UTC, boot="b1")
        sub = hub.subscribe(BLUE)
        frames = _frames(hub, sub, heartbeat_s=0.01)
        got = [await anext(frames), await anext(frames), await anext(frames)]
        hub.tell(change("A1"))
        got.append(await anext(frames))
        hub.close()
        got += [f async for f in frames]
        assert sub not in hub.subscribers
        return got

    retry, hello, idle, alert = asyncio.run(run())
    assert retry == b"retry: 1000\n\n"
    assert hello.startswith(b"id: b1-0\nevent: hello\n")
    assert idle == b": keep-alive\n\n"
    assert alert.startswith(b"id: b1-1\nevent: alert\ndata: {")
