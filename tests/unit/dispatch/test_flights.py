"""The flights shell with the real dispatcher on an in-memory store and a recording broker:
"send a drone" sends the request for a dock's drone only, and what the dock answers lands
on the incident as flight events, throttled, once each, and still after a restart; with
partitions, the dock's drone's owner alone reads it, whoever sent the request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import orjson
import pytest
from prometheus_client import CollectorRegistry

from dispatch import AlertTopics, Deadlines, Dispatcher, Route, Router
from dispatch._dji_flight import DockFlight
from dispatch._flights import Flights
from dispatch._lifecycle import Ack, EventKind, State, Verify
from dispatch._sqlite import SqliteStore
from rules.signals import Action
from tests.unit.dispatch.test_dispatcher import SH, Clock, Recorder, outbox_to, signal

DOCK = "7CTDM3D00BVY4B"
DOCKS = {
    DOCK: DockFlight(DOCK, "KY-UAV-01", enabled=True, height_m=120.0, progress_every_s=30),
    "OFF": DockFlight("OFF", "KY-UAV-09", enabled=False),
}


class Parts:
    def __init__(self, store: SqliteStore | None = None,
                 owns: Callable[[str], bool] = lambda drone: True) -> None:
        self.clock = Clock()
        self.wire = Recorder()
        self.store = store or SqliteStore(":memory:", tz=SH)
        outbox = outbox_to(self.store, self.wire, self.clock)
        ids = iter(f"uuid-{i}" for i in range(100))
        self.registry = CollectorRegistry()
        self.flights = Flights(DOCKS, self.store, outbox, self.clock, registry=self.registry,
                               new_id=lambda: next(ids), owns=owns)
        alert_ids = iter(f"a{i}" for i in range(1, 100))
        self.dispatcher = Dispatcher(
            store=self.store, router=Router((Route("law", kinds=frozenset({"x"})),), "blue_sky"),
            queues={"blue_sky": Deadlines()}, topics=AlertTopics("lantian"), clock=self.clock,
            tz=SH, outbox=outbox, new_id=lambda: next(alert_ids), flights=self.flights)
        self.flights.recorder = self.dispatcher

    def raise_and_verify(self, drone: str = "KY-UAV-01") -> str:
        self.dispatcher.receive([signal(Action.RAISE)])
        self.dispatcher.command("a1", Ack("li"))
        self.dispatcher.command("a1", Verify("li", drone))
        return "a1"

    def flight_events(self) -> list[dict[str, object]]:
        return [dict(e.data) for e in self.store.events("a1") if e.kind is EventKind.FLIGHT]

    def requests(self) -> list[dict[str, object]]:
        return [b for t, b in self.wire.sent if t.endswith("/services")]

    def dock_says(self, leaf: str, body: dict[str, object]) -> None:
        self.flights.handle(f"thing/product/{DOCK}/{leaf}", orjson.dumps(body))

    def counted(self, kind: str, outcome: str) -> float:
        return self.registry.get_sample_value(
            "lantian_dji_flight_messages_total", {"kind": kind, "outcome": outcome}) or 0.0


@pytest.fixture
def p() -> Parts:
    return Parts()


def progress(status: str, flight: str = "uuid-0", **more: object) -> dict[str, object]:
    return {"tid": "dt", "bid": "db", "method": "takeoff_to_point_progress", "need_reply": 1,
            "data": {"result": 0, "status": status, "flight_id": flight, **more}}


def test_verify_sends_the_request_with_the_step(p: Parts) -> None:
    p.raise_and_verify()
    [request] = p.requests()
    assert request["method"] == "takeoff_to_point" and request["bid"] == "uuid-0"
    data = request["data"]
    assert isinstance(data, dict)
    assert (data["target_latitude"], data["target_longitude"], data["target_height"]) == (
        30.0278, 120.5026, 120.0)
    assert p.dispatcher.get("a1").incident.state is State.VERIFYING
    [requested] = p.flight_events()
    assert (requested["status"], requested["bid"], requested["dock"]) == (
        "requested", "uuid-0", DOCK)
    # sending the same drone again is no new step, and so no second flight
    p.dispatcher.command("a1", Verify("li", "KY-UAV-01"))
    assert len(p.requests()) == 1


def test_an_airborne_drone_flies_to_the_point(p: Parts) -> None:
    p.dock_says("osd", {"data": {"drone_in_dock": 0}})
    p.raise_and_verify()
    assert [r["method"] for r in p.requests()] == ["fly_to_point"]


@pytest.mark.parametrize("drone", ["KY-UAV-07", "KY-UAV-09"])  # no dock; a disabled dock
def test_other_drones_stay_a_record(p: Parts, drone: str) -> None:
    p.raise_and_verify(drone)
    assert p.requests() == [] and p.flight_events() == []
    assert p.dispatcher.get("a1").incident.drone == drone


def test_accepted_progress_throttled_and_arrival(p: Parts) -> None:
    p.raise_and_verify()
    p.dock_says("services_reply", {"tid": "uuid-1", "bid": "uuid-0",
                                   "method": "takeoff_to_point", "data": {"result": 0}})
    p.dock_says("services_reply", {"tid": "uuid-1", "bid": "uuid-0",
                                   "method": "takeoff_to_point", "data": {"result": 0}})
    p.dock_says("events", progress("wayline_progress", remaining_distance=900.0))
    p.clock.now += timedelta(seconds=10)
    p.dock_says("events", progress("wayline_progress", remaining_distance=700.0))  # too soon
    p.clock.now += timedelta(seconds=25)
    p.dock_says("events", progress("wayline_progress", remaining_distance=300.0))
    p.dock_says("events", progress("wayline_ok", remaining_distance=0))
    p.dock_says("events", progress("task_finish"))  # arrived already recorded
    statuses = [(e["status"], e.get("remaining_distance_m")) for e in p.flight_events()]
    assert statuses == [("requested", None), ("accepted", None), ("progress", 900.0),
                        ("progress", 300.0), ("arrived", 0.0)]
    # every need_reply event was answered, the throttled and repeated ones too
    replies = [b for t, b in p.wire.sent if t == f"thing/product/{DOCK}/events_reply"]
    assert len(replies) == 5 and all(r["data"] == {"result": 0} for r in replies)
    assert p.counted("event", "throttled") == 1
    assert p.counted("services_reply", "repeat") == 1


def test_a_refusal_shows_the_code(p: Parts) -> None:
    p.raise_and_verify()
    p.dock_says("services_reply", {"tid": "uuid-1", "bid": "uuid-0",
                                   "method": "takeoff_to_point", "data": {"result": 314001}})
    assert p.flight_events()[-1] == {"status": "refused", "dock": DOCK, "code": 314001,
                                     "method": "takeoff_to_point", "bid": "uuid-0"}
    assert p.dispatcher.get("a1").incident.state is State.VERIFYING


def test_unknown_and_unreadable_are_counted_never_raised(p: Parts) -> None:
    p.raise_and_verify()
    p.dock_says("services_reply", {"tid": "t", "bid": "nobody", "method": "x",
                                   "data": {"result": 0}})
    p.flights.handle(f"thing/product/{DOCK}/services_reply", b"\xff not json")
    p.dock_says("events", progress("wayline_ok", flight="nobody"))
    assert [e["status"] for e in p.flight_events()] == ["requested"]
    assert p.counted("services_reply", "unknown_bid") == 1
    assert p.counted("services_reply", "unreadable") == 1
    assert p.counted("event", "unknown_bid") == 1


def test_a_late_reply_after_a_restart_finds_its_alert(p: Parts) -> None:
    p.raise_and_verify()
    again = Parts(p.store)  # a new process on the same store
    assert again.flights.restore() == 1
    again.dock_says("services_reply", {"tid": "uuid-1", "bid": "uuid-0",
                                       "method": "takeoff_to_point", "data": {"result": 0}})
    assert [e["status"] for e in again.flight_events()] == ["requested", "accepted"]


def test_only_enabled_docks_are_subscribed(p: Parts) -> None:
    assert p.flights.subscriptions() == [f"thing/product/{DOCK}/services_reply",
                                         f"thing/product/{DOCK}/events"]
    assert p.flights.wants(f"thing/product/{DOCK}/osd")
    assert not p.flights.wants("thing/product/OFF/services_reply")


def test_an_alert_without_a_location_is_not_flown_to(p: Parts) -> None:
    p.dispatcher.receive([signal(Action.RAISE, location=None)])
    p.dispatcher.command("a1", Verify("li", "KY-UAV-01"))
    assert p.requests() == []
    [event] = p.flight_events()
    assert (event["status"], event["reason"]) == ("not_sent", "the alert has no location")


def test_a_progress_event_that_needs_no_answer_gets_none(p: Parts) -> None:
    p.raise_and_verify()
    body = progress("wayline_progress")
    del body["need_reply"]
    p.dock_says("events", body)
    assert [t for t, _ in p.wire.sent if t.endswith("/events_reply")] == []
    assert [e["status"] for e in p.flight_events()] == ["requested", "progress"]


def test_a_partition_not_owning_the_docks_drone_reads_only_its_osd() -> None:
    other = Parts(owns=lambda drone: drone != "KY-UAV-01")
    assert other.flights.subscriptions() == []
    assert other.flights.wants(f"thing/product/{DOCK}/osd")  # it may still send the drone
    assert not other.flights.wants(f"thing/product/{DOCK}/services_reply")
    assert not other.flights.wants(f"thing/product/{DOCK}/events")


def test_the_sender_sends_and_the_owner_follows_from_the_store() -> None:
    """Instance B (not the drone's owner) took the officer's request; A, the owner, reads
    what the dock answers, finds the flight in the shared store, records each once and
    answers the dock once."""
    sender = Parts(owns=lambda drone: False)
    owner = Parts(sender.store)
    sender.raise_and_verify()
    assert [r["bid"] for r in sender.requests()] == ["uuid-0"]
    assert owner.requests() == []
    owner.dock_says("services_reply", {"tid": "uuid-1", "bid": "uuid-0",
                                       "method": "takeoff_to_point", "data": {"result": 0}})
    owner.dock_says("events", progress("wayline_progress", remaining_distance=900.0))
    owner.dock_says("events", progress("wayline_ok", remaining_distance=0))
    owner.dock_says("events", progress("task_finish"))  # arrived already recorded
    assert [e["status"] for e in owner.flight_events()] == [
        "requested", "accepted", "progress", "arrived"]
    replies = [t for t, _ in owner.wire.sent if t.endswith("/events_reply")]
    assert len(replies) == 3  # every need_reply event, once, by the owner
    assert [t for t, _ in sender.wire.sent if t.endswith("/events_reply")] == []


def test_a_followed_flight_keeps_what_was_recorded_before() -> None:
    """An owner that follows a flight another instance sent picks up its outcomes too:
    a repeated reply after a restart is not recorded twice."""
    sender = Parts(owns=lambda drone: False)
    first = Parts(sender.store)
    sender.raise_and_verify()
    first.dock_says("services_reply", {"tid": "uuid-1", "bid": "uuid-0",
                                       "method": "takeoff_to_point", "data": {"result": 0}})
    again = Parts(sender.store)  # the owner's replacement; the broker redelivers
    again.dock_says("services_reply", {"tid": "uuid-1", "bid": "uuid-0",
                                       "method": "takeoff_to_point", "data": {"result": 0}})
    assert [e["status"] for e in again.flight_events()] == ["requested", "accepted"]
    assert again.counted("services_reply", "repeat") == 1


def test_a_bid_nobody_sent_is_counted_each_time_and_logged() -> None:
    owner = Parts(Parts(owns=lambda drone: False).store)
    for _ in range(3):
        owner.dock_says("events", progress("wayline_progress", flight="a-pilots-flight"))
    assert owner.counted("event", "unknown_bid") == 3
    assert len([t for t, _ in owner.wire.sent if t.endswith("/events_reply")]) == 3
