"""Snapshot and journal: the state a crashed process had is rebuilt at start, from the
last snapshot and the inputs journalled since, without a signal delivered twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from dispatch.stores import SqlStore, open_store
from ingest import Deduplicator, Ingestor
from ingest._deadletters import MemoryDeadLetters
from lantian.config import load_settings
from lantian.layouts import SNAPSHOT_NAME
from lantian.pipeline import RulesPipeline
from lantian.recovery import Burst, Checkpoints
from rules.records import Record
from rules.signals import AlertSignal, Signal
from tests.support import REPO

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 7, 0, tzinfo=SH)
SETTINGS = load_settings(REPO / "config")
TOPIC = "lantian/sensors/KY-CS-001/reading"


def reading(minute: int, pm10: float = 180.0) -> bytes:
    at = T0 + timedelta(minutes=minute)
    return json.dumps({"station": "KY-CS-001", "ts": at.isoformat(), "pm10": pm10}).encode()


class Sink:
    def __init__(self) -> None:
        self.got: list[Signal] = []

    def receive(self, signals: list[Signal]) -> None:
        self.got += signals

    def raised(self) -> list[str]:
        return [s.rule for s in self.got if isinstance(s, AlertSignal)]


class Process:
    """The service's rules path on a store: ingest → rules → sink, journalled."""

    def __init__(self, store: SqlStore, keep: int = 0) -> None:
        self.store = store
        self.sink = Sink()
        self.seen: list[Record] = []
        clock = lambda: T0 + timedelta(minutes=10)  # noqa: E731
        self.pipeline = RulesPipeline(SETTINGS.rules, self.sink, clock, CollectorRegistry())

        def on_record(record: Record) -> None:
            self.seen.append(record)
            self.pipeline.on_record(record)

        self.ingestor = Ingestor(
            ctx=SETTINGS.decode, topics=SETTINGS.topics, clock=clock, records=on_record,
            deadletters=MemoryDeadLetters(), dedupe=Deduplicator(100),
        )
        self.checkpoints = Checkpoints(store, self.pipeline, self.ingestor, clock, keep)
        self.recovered = self.checkpoints.restore()
        self.ingestor.journal = self.checkpoints.journal

    def message(self, payload: bytes) -> None:
        with self.store.transaction():
            self.ingestor.handle(TOPIC, payload)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = open_store(store_url, tz=SH)
    yield s
    s.close()


def test_what_came_after_the_snapshot_is_replayed_silently(store: SqlStore) -> None:
    first = Process(store)
    first.message(reading(0))
    assert first.checkpoints.save()
    first.message(reading(1))  # journalled, not in the snapshot: the crash comes now
    assert len(first.checkpoints.journal) == 1

    second = Process(store)  # the restart
    assert (second.recovered.snapshot, second.recovered.replayed) == (True, 1)
    assert second.sink.got == []  # the replay delivers nothing: its effects were committed
    second.message(reading(2))  # the third over the limit completes the rebuilt window
    assert second.sink.raised() == ["site-pm10-15min"]


def test_a_redelivered_message_is_a_duplicate_after_the_replay(store: SqlStore) -> None:
    first = Process(store)
    first.message(reading(0))
    second = Process(store)  # no snapshot at all: the whole journal is replayed
    assert (second.recovered.snapshot, second.recovered.replayed) == (False, 1)
    second.message(reading(0))  # the broker redelivers what it was never told we had
    assert second.seen == []


def test_a_snapshot_covers_and_prunes_the_journal(store: SqlStore) -> None:
    p = Process(store)
    for m in range(3):
        p.message(reading(m, pm10=20.0))
    p.message(reading(2, pm10=20.0))  # a duplicate is not journalled: it changes nothing
    assert len(p.checkpoints.journal) == 3
    assert p.checkpoints.save()
    assert len(p.checkpoints.journal) == 0
    assert Process(store).recovered.replayed == 0


def test_a_broken_snapshot_is_dropped_and_the_journal_still_replayed(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    p = Process(store)
    p.message(reading(0))
    store.save_snapshot(SNAPSHOT_NAME, b"not a pickle", T0, position=0)
    again = Process(store)
    assert (again.recovered.snapshot, again.recovered.replayed) == (False, 1)
    assert "dropping an unreadable rules snapshot" in caplog.text
    store.close()
    assert p.checkpoints.save() is False  # a closed store: logged, not raised


def test_what_a_snapshot_covers_is_still_known_to_ingest_after_a_restart(
    store: SqlStore,
) -> None:
    first = Process(store, keep=2)
    for m in range(3):
        first.message(reading(m, pm10=20.0))
    assert first.checkpoints.save()
    assert len(first.checkpoints.journal) == 2  # kept behind the snapshot, not replayed
    second = Process(store, keep=2)
    assert (second.recovered.snapshot, second.recovered.replayed) == (True, 0)
    second.message(reading(2, pm10=20.0))  # redelivered or resent: known again
    second.message(reading(1, pm10=20.0))
    assert second.seen == []
    second.message(reading(0, pm10=20.0))  # older than what was kept: processed again
    assert len(second.seen) == 1


def test_an_old_pickled_snapshot_is_dropped_and_the_journal_replayed(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    import pickle

    first = Process(store)
    first.message(reading(0))
    first.message(reading(1))
    store.save_snapshot(SNAPSHOT_NAME, pickle.dumps((3, "a state")), T0, position=1)
    second = Process(store)
    assert (second.recovered.snapshot, second.recovered.replayed) == (False, 2)
    assert "dropping an unreadable rules snapshot" in caplog.text
    second.message(reading(2))  # the window was rebuilt from the whole journal
    assert second.sink.raised() == ["site-pm10-15min"]


class Relay:
    """An outbox that is never handed anything: these bursts publish nothing."""

    def flush_new(self) -> int:
        return 0


def test_a_burst_that_cannot_begin_fails_at_its_end_and_the_state_is_rebuilt(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = Process(store)
    burst = Burst(store, Relay(), p.checkpoints)  # type: ignore[arg-type]
    burst.begin()
    p.ingestor.handle(TOPIC, reading(0))
    burst.end()  # committed: journalled
    down = RuntimeError("the database is away")

    def refuse() -> None:
        raise down
    with monkeypatch.context() as m:
        m.setattr(store, "begin", refuse)
        burst.begin()  # does not raise into the MQTT client's callback...
        with pytest.raises(RuntimeError, match="away"):
            burst.end()  # ...but the burst fails: its messages stay unacknowledged
    assert len(p.checkpoints.journal) == 1
    burst.begin()  # the store answers again: the state is rebuilt from it
    p.ingestor.handle(TOPIC, reading(1))  # the redelivered message
    p.ingestor.handle(TOPIC, reading(2))
    burst.end()
    assert p.sink.raised() == ["site-pm10-15min"]  # the window kept the committed reading
    assert len(p.checkpoints.journal) == 3
