"""The live stream of committed changes: what the consoles' boards hear (`GET /api/stream`).

The dispatcher tells its listeners of every committed change (`Committed`); the hub turns
each into one numbered entry, keeps the last `ring` of them, and hands each subscriber the
ones it may see, already framed as Server-Sent Events. Everything here runs on the
service's one event loop, called synchronously by the dispatcher: so the raise path never
waits on a browser. Every queue is bounded: a subscriber that does not keep up is dropped
(its stream ends; its browser reconnects with the last id it got and is replayed from the
ring, or told to reload), never waited for.

An entry's id is `<boot>-<n>`: `boot` is new at every start, so an id from before a restart
is recognised as such, and `n` counts the changes since. A reconnect presenting
`Last-Event-ID` gets what the ring still holds after it; an id the ring no longer covers,
or from another boot, gets `event: reset`: the client reloads its board from
`/api/alerts`, so nothing is missed either way.

Who hears what is the caller's `may_act_on` of the incident after the change: an alert
transferred away is announced to the queue it left as `event: gone` (its id and new
queue, nothing more), so that the board drops it.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Final, Protocol

import orjson
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dispatch._dispatcher_ports import Committed
from dispatch._lifecycle import EventKind, Incident
from dispatch._wire import event_json

#: The changes kept for reconnecting clients. At tens of changes a minute on a busy day,
#: this covers far more than a browser's reconnect takes.
RING: Final = 2000
#: The frames one subscriber may have waiting; past that it is too slow and is dropped.
#: As many as the ring: an SLA sweep escalating a whole board at once is a burst, not a
#: slow client. A waiting frame is a reference to the entry's, so this costs little.
BACKLOG: Final = RING


class Viewer(Protocol):
    """Who is listening: the API's caller (a token today, a user's session later)."""

    def may_act_on(self, incident: Incident) -> bool: ...


@dataclass(frozen=True, slots=True)
class Entry:
    """One committed change as the stream keeps it: the incident after it (to decide who
    may hear it), the queues it left, and its `event: alert` frame, encoded once for
    every subscriber."""

    n: int
    incident: Incident
    left: tuple[str, ...]
    frame: bytes


def frame(event_id: str, event: str, data: bytes) -> bytes:
    """One Server-Sent Event. The JSON is one line (orjson writes no newline)."""
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (event_id.encode(), event.encode(), data)


def entry_of(n: int, event_id: str, change: Committed, tz: tzinfo) -> Entry:
    alert = change.alert
    events = [event_json(e, state, queue, tz)
              for e, (state, queue) in zip(change.events, change.after, strict=True)]
    left = tuple(str(e.data["from"]) for e in change.events
                 if e.kind is EventKind.TRANSFERRED and "from" in e.data)
    payload = orjson.dumps({"alert": alert.to_json(tz), "events": events})
    return Entry(n, alert.incident, left, frame(event_id, "alert", payload))


def heard_as(entry: Entry, event_id: str, viewer: Viewer) -> bytes | None:
    """The frame `viewer` hears of `entry`: the alert, that it is gone from their queue,
    or nothing."""
    if viewer.may_act_on(entry.incident):
        return entry.frame
    for queue in entry.left:
        if viewer.may_act_on(replace(entry.incident, queue=queue, assists=())):
            gone = {"id": entry.incident.id, "queue": entry.incident.queue}
            return frame(event_id, "gone", orjson.dumps(gone))
    return None


class Subscription:
    """One console's stream: frames waiting to be sent, at most `backlog` of them. `None`
    in the queue ends the stream (the hub closed, or the subscriber fell behind)."""

    def __init__(self, viewer: Viewer, backlog: int) -> None:
        self.viewer = viewer
        self.frames: asyncio.Queue[bytes | None] = asyncio.Queue(backlog + 1)
        self.backlog = backlog
        self.dropped = False

    def offer(self, data: bytes) -> bool:
        """Queue a frame; False (and the stream ends) when the subscriber is too far
        behind."""
        if self.frames.qsize() >= self.backlog:
            self.end()
            return False
        self.frames.put_nowait(data)
        return True

    def end(self) -> None:
        self.dropped = True
        if not self.frames.full():  # room is kept for it: `offer` stops at `backlog`
            self.frames.put_nowait(None)


class StreamHub(Collector):
    """The dispatcher's listener (`tell`) and the streams' source (`subscribe`); as a
    Prometheus collector, the consoles connected and those dropped for falling behind."""

    def __init__(self, tz: tzinfo, *, ring: int = RING, backlog: int = BACKLOG,
                 boot: str | None = None) -> None:
        self.tz = tz
        self.boot = boot or os.urandom(4).hex()
        self.backlog = backlog
        self.entries: deque[Entry] = deque(maxlen=ring)
        self.count = 0
        self.subscribers: set[Subscription] = set()
        self.dropped = 0  # subscribers dropped for falling behind, since start
        self.closed = False

    def event_id(self, n: int) -> str:
        return f"{self.boot}-{n}"

    def tell(self, change: Committed) -> None:
        """A committed change: kept, and offered to every subscriber who may hear it."""
        if not change.events:
            return
        self.count += 1
        event_id = self.event_id(self.count)
        entry = entry_of(self.count, event_id, change, self.tz)
        self.entries.append(entry)
        for sub in list(self.subscribers):
            heard = heard_as(entry, event_id, sub.viewer)
            if heard is not None and not sub.offer(heard):
                self.subscribers.discard(sub)
                self.dropped += 1

    def subscribe(self, viewer: Viewer, last_event_id: str | None = None) -> Subscription:
        """A new stream for `viewer`. Its first frame is `hello` (a fresh connection:
        the id to resume from), or what it missed since `last_event_id`, or `reset`."""
        sub = Subscription(viewer, self.backlog)
        now = self.event_id(self.count)
        missed = self.since(last_event_id) if last_event_id else []
        replay = [f for f in (heard_as(e, self.event_id(e.n), viewer) for e in missed or [])
                  if f is not None]
        if missed is None or len(replay) >= self.backlog:  # reloading is quicker then
            sub.offer(frame(now, "reset", b'{"reason": "missed changes: reload the board"}'))
            replay = []
        elif not last_event_id:
            sub.offer(frame(now, "hello", b"{}"))
        for data in replay:
            sub.offer(data)
        if self.closed:
            sub.end()
        else:
            self.subscribers.add(sub)
        return sub

    def since(self, last_event_id: str) -> list[Entry] | None:
        """The entries after `last_event_id`, or None when the ring cannot say (another
        boot, a number never given, or older than what is kept)."""
        boot, _, number = last_event_id.strip().rpartition("-")
        if boot != self.boot or not number.isdigit() or int(number) > self.count:
            return None
        n = int(number)
        oldest = self.entries[0].n if self.entries else self.count + 1
        if n < oldest - 1:
            return None
        return [e for e in self.entries if e.n > n]

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily("lantian_stream_consoles", "Live streams (/api/stream) open",
                                value=len(self.subscribers))
        yield CounterMetricFamily(
            "lantian_stream_dropped", "Live streams ended because the console fell "
            f"{self.backlog} changes behind", value=self.dropped)

    def close(self) -> None:
        """End every stream (the service is stopping: the HTTP server waits for them)."""
        self.closed = True
        for sub in self.subscribers:
            sub.end()
        self.subscribers.clear()

