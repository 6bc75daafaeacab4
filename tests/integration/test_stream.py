"""`GET /api/stream` against the real service on a real Mosquitto: an alert raised over
MQTT and every step officers take reach the consoles' streams, each officer hears only
their own queue's (the other queue hears of an alert once it is called in), a reconnect
with `Last-Event-ID` is replayed what it missed (or told to reset after a restart), and
a stopping service ends its streams instead of hanging on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from bench._sse import SseReader
from tests.integration.conftest import ADMIN, BLUE_SKY, BUREAU, LAW, Deployment
from tests.support import wait_until

pytestmark = pytest.mark.integration


@contextmanager
def listening(d: Deployment, headers: dict[str, str],
              last_event_id: str | None = None) -> Iterator[SseReader]:
    reader = SseReader(f"{d.url}/api/stream", headers, last_event_id)
    try:
        assert reader.connected.wait(10)
        assert reader.status == 200
        wait_until(lambda: reader.events, what="the stream's first event")
        yield reader
    finally:
        reader.close()


def alerts_heard(reader: SseReader) -> list[dict[str, object]]:
    return [json.loads(e.data) for e in reader.named("alert")]


def states_of(reader: SseReader, aid: str) -> list[str]:
    return [str(x["alert"]["state"]) for x in alerts_heard(reader)  # type: ignore[index]
            if x["alert"]["id"] == aid]  # type: ignore[index]


def test_the_queue_hears_every_change_and_the_other_queue_only_once_called_in(
    deployment: Deployment,
) -> None:
    d = deployment
    with listening(d, BLUE_SKY) as blue, listening(d, LAW) as law, \
            listening(d, ADMIN) as admin:
        assert [e.event for e in blue.events] == ["hello"]
        metrics = httpx.get(f"{d.url}/metrics").text
        assert "lantian_stream_consoles 3.0" in metrics, metrics
        d.fume("KY-CS-001")
        raised = wait_until(lambda: alerts_heard(blue), what="the raise on the stream")
        alert = raised[0]["alert"]
        aid = alert["id"]  # type: ignore[index]
        assert alert["state"] == "dispatched"  # type: ignore[index]
        assert alert["zone"]["id"] == "cs-01"  # type: ignore[index]
        assert [e["kind"] for e in raised[0]["events"]] == ["raised", "dispatched"]  # type: ignore[union-attr]

        assert d.post(aid, "ack", BLUE_SKY).status_code == 200
        wait_until(lambda: "acknowledged" in states_of(blue, aid), what="the ack heard")
        assert d.post(aid, "assist", BLUE_SKY, {"queue": "law_enforcement"}).status_code == 200
        heard = wait_until(lambda: alerts_heard(law), what="law enforcement called in")
        # the first thing law enforcement hears of it is being called in: not the raise
        # nor the ack of another queue's alert
        assert [e["kind"] for e in heard[0]["events"]] == ["assist"]  # type: ignore[union-attr]
        assert heard[0]["alert"]["assists"] == ["law_enforcement"]  # type: ignore[index]
        wait_until(lambda: len(alerts_heard(admin)) == 3, what="the admin hears all")
        ids = [e.id for e in blue.named("alert")]
        assert len(set(ids)) == len(ids) and all(i.startswith(blue.events[0].id[:8])
                                                 for i in ids)


def test_the_other_queue_hears_nothing_of_an_alert_not_theirs(deployment: Deployment) -> None:
    d = deployment
    with listening(d, LAW) as law, listening(d, BLUE_SKY) as blue:
        d.fume("KY-CS-002")
        aid = wait_until(lambda: alerts_heard(blue), what="the raise")[0]["alert"]["id"]  # type: ignore[index]
        assert d.post(aid, "ack", BLUE_SKY).status_code == 200
        assert d.post(aid, "transfer", BLUE_SKY, {"queue": "law_enforcement"}).status_code == 200
        gone = wait_until(lambda: blue.named("gone"), what="the transfer told to blue sky")
        assert json.loads(gone[0].data) == {"id": aid, "queue": "law_enforcement"}
        heard = wait_until(lambda: alerts_heard(law), what="the transfer heard by law")
        # law enforcement hears it from the transfer on, and nothing of it before
        assert [e["kind"] for e in heard[0]["events"]] == ["transferred"]  # type: ignore[union-attr]
        assert len(heard) == 1


def test_a_reconnect_is_replayed_what_it_missed_and_a_restart_means_reset(
    deployment: Deployment,
) -> None:
    d = deployment
    with listening(d, BLUE_SKY) as blue:
        d.fume("KY-CS-001")
        aid = wait_until(lambda: alerts_heard(blue), what="the raise")[0]["alert"]["id"]  # type: ignore[index]
        last = blue.named("alert")[-1].id
    # while nobody listens: two steps
    assert d.post(aid, "ack", BLUE_SKY).status_code == 200
    assert d.post(aid, "verify", BLUE_SKY, {"drone": "KY-UAV-01"}).status_code == 200
    with listening(d, BLUE_SKY, last_event_id=last) as again:
        wait_until(lambda: len(alerts_heard(again)) == 2, what="the missed steps replayed")
        assert states_of(again, aid) == ["acknowledged", "verifying"]
        assert "hello" not in [e.event for e in again.events]
    with listening(d, BLUE_SKY, last_event_id="not-an-id") as odd:
        assert [e.event for e in odd.events] == ["reset"]
    d.restart()
    with listening(d, BLUE_SKY, last_event_id=last) as after:
        assert [e.event for e in after.events] == ["reset"]  # another boot's id
        assert after.events[0].id.split("-")[0] != last.split("-")[0]


def test_who_may_not_read_alerts_gets_no_stream(deployment: Deployment) -> None:
    url = f"{deployment.url}/api/stream"
    assert httpx.get(url, headers=BUREAU).status_code == 403
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = httpx.get(url, headers=BLUE_SKY | {"Last-Event-ID": "x" * 101})
    assert r.status_code == 422


def test_a_stopping_service_ends_its_streams(deployment: Deployment) -> None:
    d = deployment
    reader = SseReader(f"{d.url}/api/stream", BLUE_SKY)
    try:
        wait_until(lambda: reader.events, what="hello")
        d.service.stop()
        assert reader.ended.wait(15), "the stream was left open by a stopped service"
    finally:
        reader.close()
        d.service = type(d.service)(d.service.settings, d.clock).start()  # for teardown
