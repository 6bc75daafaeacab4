"""The DJI Cloud API messages of a flight, pure: the service request built for a dock's
drone, and the replies and progress events read back (hostile ones refused clearly)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from dispatch._dji_flight import (
    DockFlight,
    Unreadable,
    drone_in_dock,
    events_reply,
    read_event,
    read_reply,
    service_request,
)
from dispatch._lifecycle import Event as LogEvent
from dispatch._lifecycle import EventKind, Incident, State, apply, on_flight

DOCK = DockFlight("7CTDM3D00BVY4B", "KY-UAV-01", enabled=True, height_m=120.0, max_speed=12)


def test_a_docked_drone_takes_off_to_the_point() -> None:
    r = service_request(DOCK, 30.0278, 120.5026, in_dock=True, bid="b-1", tid="t-1",
                        now_ms=1_780_000_000_000)
    body = orjson.loads(r.payload)
    assert r.topic == "thing/product/7CTDM3D00BVY4B/services"
    assert (body["method"], body["bid"], body["tid"], body["timestamp"]) == (
        "takeoff_to_point", "b-1", "t-1", 1_780_000_000_000)
    data = body["data"]
    assert (data["target_latitude"], data["target_longitude"], data["target_height"]) == (
        30.0278, 120.5026, 120.0)
    assert (data["max_speed"], data["flight_id"]) == (12, "b-1")
    assert {"security_takeoff_height", "rth_altitude", "rth_mode", "rc_lost_action",
            "commander_mode_lost_action", "commander_flight_mode",
            "commander_flight_height"} <= data.keys()
    assert isinstance(data["max_speed"], int)


def test_an_unknown_dock_state_also_takes_off() -> None:
    assert service_request(DOCK, 30.0, 120.5, in_dock=None, bid="b", tid="t",
                           now_ms=0).method == "takeoff_to_point"


def test_an_airborne_drone_flies_to_the_point() -> None:
    r = service_request(DOCK, 30.0278, 120.5026, in_dock=False, bid="b-2", tid="t-2", now_ms=1)
    data = orjson.loads(r.payload)["data"]
    assert r.method == "fly_to_point"
    assert data == {"fly_to_id": "b-2", "max_speed": 12, "points": [
        {"latitude": 30.0278, "longitude": 120.5026, "height": 120.0}]}


def test_replies_carry_the_result() -> None:
    ok = read_reply(b'{"tid":"t","bid":"b","method":"takeoff_to_point","data":{"result":0}}')
    assert ok.accepted and ok.bid == "b"
    no = read_reply(b'{"tid":"t","bid":"b","method":"takeoff_to_point","data":{"result":314001}}')
    assert (no.accepted, no.code) == (False, 314001)


@pytest.mark.parametrize("payload", [
    b"not json", b"[]", b'{"bid":"b"}', b'{"bid":"b","data":{}}',
    b'{"bid":"b","data":{"result":"0"}}', b'{"bid":7,"data":{"result":0}}',
    b'{"bid":"' + b"x" * 200 + b'","data":{"result":0}}',
])
def test_a_hostile_reply_is_unreadable(payload: bytes) -> None:
    with pytest.raises(Unreadable):
        read_reply(payload)


def test_progress_of_a_take_off_and_of_a_fly_to() -> None:
    p = read_event(orjson.dumps({
        "tid": "t", "bid": "x", "method": "takeoff_to_point_progress", "need_reply": 1,
        "data": {"result": 0, "status": "wayline_progress", "flight_id": "b-1",
                 "remaining_distance": 812.5, "remaining_time": 70}}))
    assert p is not None
    assert (p.flight, p.outcome, p.remaining_distance, p.remaining_time, p.need_reply) == (
        "b-1", "progress", 812.5, 70.0, True)
    q = read_event(orjson.dumps({
        "tid": "t", "bid": "x", "method": "fly_to_point_progress",
        "data": {"result": 0, "status": "wayline_ok", "fly_to_id": "b-2"}}))
    assert q is not None and (q.flight, q.outcome, q.need_reply) == ("b-2", "arrived", False)
    failed = read_event(orjson.dumps({
        "tid": "t", "bid": "x", "method": "fly_to_point_progress",
        "data": {"result": 314002, "status": "wayline_failed", "fly_to_id": "b-2"}}))
    assert failed is not None and (failed.outcome, failed.code) == ("failed", 314002)


def test_other_events_are_not_progress_but_still_answered() -> None:
    assert read_event(b'{"tid":"t","bid":"b","method":"hms","data":{}}') is None
    p = read_event(b'{"tid":"t","bid":"b","method":"hms","need_reply":1,"data":{}}')
    assert p is not None and p.need_reply and not p.status
    topic, body = events_reply("DOCK", p, 5)
    assert topic == "thing/product/DOCK/events_reply"
    assert orjson.loads(body) == {"tid": "t", "bid": "b", "timestamp": 5, "method": "hms",
                                  "data": {"result": 0}}


def test_the_dock_osd_says_whether_the_drone_is_home() -> None:
    assert drone_in_dock(b'{"data":{"drone_in_dock":1}}') is True
    assert drone_in_dock(b'{"data":{"drone_in_dock":0}}') is False
    assert drone_in_dock(b'{"data":{"cover_state":0}}') is None
    assert drone_in_dock(b'{"data":{"drone_in_dock":true}}') is None
    assert drone_in_dock(b"garbage") is None


def test_a_flight_event_moves_no_state() -> None:
    [change] = on_flight("DOCK", {"status": "arrived"})
    assert (change.kind, change.actor) == (EventKind.FLIGHT, "dock:DOCK")
    incident = Incident("a1", "blue_sky", raised_at=datetime(2026, 1, 1, tzinfo=UTC),
                        state=State.VERIFYING, seq=4)
    after = apply(incident, LogEvent("a1", 5, change.kind, incident.raised_at, change.actor,
                                     change.data))
    assert (after.state, after.seq) == (State.VERIFYING, 5)
