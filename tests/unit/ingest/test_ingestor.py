"""The ingest shell with in-memory fakes: what reaches the rules, the dead letters, the
publisher and the time series, for each kind of message."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from prometheus_client import Counter, generate_latest

from ingest import DecodeContext, Deduplicator, InboundTopics, Ingestor, Kind
from ingest._deadletters import PUBLISH_PAYLOAD_LIMIT, DeadLetter, MemoryDeadLetters
from ingest._metrics import IngestMetrics
from ingest._topics import TopicAddress
from rules.records import Location, Reading, Record, Station

NOW = datetime(2026, 6, 12, 3, 0, tzinfo=UTC)
CTX = DecodeContext(stations={"S1": Station("S1", "S1", "construction_site", Location(30, 120))})
GOOD = b'{"station": "S1", "ts": "2026-06-12T10:31:00+08:00", "pm10": 187.0}'


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.sent.append((topic, payload, qos))


class FakePoints:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def write(self, record: Record) -> None:
        self.records.append(record)


@pytest.fixture
def parts() -> tuple[Ingestor, list[Record], MemoryDeadLetters, FakePublisher, FakePoints]:
    records: list[Record] = []
    dead, pub, points = MemoryDeadLetters(), FakePublisher(), FakePoints()
    ingestor = Ingestor(ctx=CTX, topics=InboundTopics("site/a"), clock=lambda: NOW,
                        records=records.append, deadletters=dead, publisher=pub,
                        timeseries=points, dedupe=Deduplicator(10))
    return ingestor, records, dead, pub, points


def test_good_reading_reaches_rules_and_time_series_once(parts) -> None:  # type: ignore[no-untyped-def]
    ingestor, records, dead, pub, points = parts
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    assert len(records) == 1 and isinstance(records[0], Reading)
    assert points.records == records
    assert dead.letters == [] and pub.sent == []


def test_bad_message_is_dead_lettered_and_published(parts) -> None:  # type: ignore[no-untyped-def]
    ingestor, records, dead, pub, _ = parts
    outcome = ingestor.handle("site/a/sensors/S1/reading", b"{not json")
    assert outcome.kind == "reading"
    assert records == []
    (letter,) = dead.letters
    assert (letter.topic, letter.code, letter.payload, letter.received_at) == (
        "site/a/sensors/S1/reading", "bad_json", b"{not json", NOW)
    ((topic, body, qos),) = pub.sent
    assert (topic, qos) == ("site/a/deadletter", 1)
    published = json.loads(body)
    assert published == {
        "topic": "site/a/sensors/S1/reading", "reason": letter.reason, "code": "bad_json",
        "payload_b64": base64.b64encode(b"{not json").decode(),
        "received_at": "2026-06-12T03:00:00+00:00",
    }


def test_a_decoder_crash_costs_one_message_not_the_service(  # type: ignore[no-untyped-def]
    parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest._ingestor as module

    def broken(*_a: object, **_k: object) -> object:
        raise ZeroDivisionError("boom")

    ingestor, records, dead, _, _ = parts
    monkeypatch.setattr(module, "decode_message", broken)
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    assert dead.letters[0].code == "decoder_error"
    assert "ZeroDivisionError" in dead.letters[0].reason
    monkeypatch.undo()
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    assert len(records) == 1


def test_metrics_count_by_kind_and_reason(parts) -> None:  # type: ignore[no-untyped-def]
    ingestor, *_ = parts
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    ingestor.handle("site/a/nowhere", b"x")
    m = ingestor.metrics.registry
    assert m.get_sample_value("lantian_messages_received_total", {"kind": "reading"}) == 2
    assert m.get_sample_value("lantian_records_duplicate_total", {"kind": "reading"}) == 1
    assert m.get_sample_value(
        "lantian_messages_rejected_total", {"kind": "unknown", "reason": "unknown_topic"}) == 1
    assert m.get_sample_value("lantian_messages_decoded_total", {"kind": "reading"}) == 2
    assert m.get_sample_value("lantian_records_total", {"type": "Reading"}) == 1


def test_the_per_message_tallies_are_exposed_as_counters() -> None:
    metrics = IngestMetrics()
    metrics.received.counts["reading"] += 2
    text = generate_latest(metrics.registry).decode()
    assert "# TYPE lantian_messages_received_total counter" in text
    assert 'lantian_messages_received_total{kind="reading"} 2.0' in text
    with pytest.raises(ValueError, match="Duplicated timeseries"):  # named like any counter
        Counter("lantian_records", "again", ["type"], registry=metrics.registry)


def test_dead_letter_publishes_huge_payloads_cut() -> None:
    letter = DeadLetter("t", "too_large", "r", b"x" * (PUBLISH_PAYLOAD_LIMIT + 5), NOW)
    body = json.loads(letter.to_json())
    assert len(base64.b64decode(body["payload_b64"])) == PUBLISH_PAYLOAD_LIMIT
    assert (body["payload_truncated"], body["payload_size"]) == (True, PUBLISH_PAYLOAD_LIMIT + 5)


ADDRESSES = [
    ("lantian/sensors/KY-CS-001/reading", TopicAddress(Kind.READING, "KY-CS-001")),
    ("lantian/sensors/KY-CS-001/hj212", TopicAddress(Kind.HJ212, "KY-CS-001")),
    ("lantian/drones/KY-UAV-01/telemetry", TopicAddress(Kind.TELEMETRY, "KY-UAV-01")),
    ("lantian/drones/KY-UAV-01/mission", TopicAddress(Kind.MISSION, "KY-UAV-01")),
    ("lantian/drones/KY-UAV-01/finding", TopicAddress(Kind.FINDING, "KY-UAV-01")),
    ("thing/product/1581F5BKD225D00BP891/osd", TopicAddress(Kind.DJI_OSD, "1581F5BKD225D00BP891")),
    ("lantian/sensors/KY-CS-001/readings", None),
    ("lantian/sensors//reading", None),
    ("lantian/sensors/KY-CS-001/reading/extra", None),
    ("lantian/drones/KY-UAV-01/reading", None),
    ("other/sensors/KY-CS-001/reading", None),
    ("thing/product//osd", None),
    ("thing/product/SN/state", None),
]


@pytest.mark.parametrize(("topic", "address"), ADDRESSES, ids=[t for t, _ in ADDRESSES])
def test_topic_addresses(topic: str, address: TopicAddress | None) -> None:
    assert InboundTopics().address(topic) == address


def test_a_multi_level_prefix_routes_and_subscribes() -> None:
    topics = InboundTopics("cn/zj/keyan", frozenset({Kind.READING}))
    assert topics.address("cn/zj/keyan/sensors/S1/reading") == TopicAddress(Kind.READING, "S1")
    assert topics.subscriptions() == ["cn/zj/keyan/sensors/#", "cn/zj/keyan/drones/#"]
    assert topics.deadletter() == "cn/zj/keyan/deadletter"


def test_topics_are_routed_alike_however_many_and_the_memory_of_them_is_bounded(
    parts,  # type: ignore[no-untyped-def]
) -> None:
    from ingest._ingestor import _ADDRESSES_KEPT

    ingestor, records, dead, *_ = parts
    for i in range(_ADDRESSES_KEPT + 10):  # misspelt topics, each new
        ingestor.handle(f"site/a/sensors/S1/reading-{i}", GOOD)
    assert len(dead.letters) == _ADDRESSES_KEPT + 10
    assert {letter.code for letter in dead.letters} == {"unknown_topic"}
    assert len(ingestor._addresses) <= _ADDRESSES_KEPT
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    ingestor.handle("site/a/sensors/S1/reading", b"junk")  # the same topic, remembered
    assert len(records) == 1
    assert dead.letters[-1].code == "bad_json"


def test_dedupe_forgets_the_oldest_beyond_capacity() -> None:
    d = Deduplicator(2)
    assert [d.first_time(k) for k in ("a", "b", "a", "c", "a")] == [True, True, False, True, True]
    assert len(d) == 2


def test_replay_remembers_and_forget_forgets(parts) -> None:  # type: ignore[no-untyped-def]
    ingestor, records, *_ = parts
    assert len(ingestor.replay("site/a/sensors/S1/reading", GOOD, NOW)) == 1
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    assert records == []  # the replay remembered it: a redelivery is a duplicate
    ingestor.forget()
    ingestor.handle("site/a/sensors/S1/reading", GOOD)
    assert len(records) == 1


def test_replay_gives_the_records_and_does_nothing_else(parts) -> None:  # type: ignore[no-untyped-def]
    ingestor, records, dead, pub, points = parts
    assert [r.station for r in ingestor.replay("site/a/sensors/S1/reading", GOOD, NOW)
            if isinstance(r, Reading)] == ["S1"]
    assert ingestor.replay("site/a/sensors/S1/reading", b"junk", NOW) == []
    assert (records, dead.letters, pub.sent, points.records) == ([], [], [], [])


def test_the_live_dead_letter_topic_is_limited_and_counts_the_rest() -> None:
    from ingest import IngestMetrics
    from ingest._ratelimit import TokenBucket

    dead, pub, metrics = MemoryDeadLetters(), FakePublisher(), IngestMetrics()
    ingestor = Ingestor(ctx=CTX, topics=InboundTopics("site/a"), clock=lambda: NOW,
                        records=lambda _: None, deadletters=dead, publisher=pub,
                        metrics=metrics, live_deadletters=TokenBucket(rate=1, burst=2))
    for _ in range(5):
        ingestor.handle("site/a/sensors/S1/reading", b"junk")
    assert len(dead.letters) == 5  # every one kept
    assert len(pub.sent) == 2  # two on the live topic
    assert metrics.registry.get_sample_value("lantian_deadletters_unpublished_total") == 3


def test_a_flood_of_dead_letters_is_summed_up_not_logged_line_by_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ingest._ratelimit import TokenBucket

    dead = MemoryDeadLetters()
    ingestor = Ingestor(ctx=CTX, topics=InboundTopics("site/a"), clock=lambda: NOW,
                        records=lambda _: None, deadletters=dead,
                        live_deadletters=TokenBucket(rate=1, burst=3))
    with caplog.at_level("INFO", logger="ingest._ingestor"):
        for _ in range(10):
            ingestor.handle("site/a/sensors/S1/reading", b"junk")
    assert len(dead.letters) == 10
    assert sum("dead letter from" in r.message for r in caplog.records) == 3
    assert ingestor.quiet_deadletters() == 7
    assert ingestor.quiet_deadletters() == 0  # counted once
