"""kill -9 of one of two partitions mid-stream, and its replacement: no reading's effect
lost (the replacement restores its partition's snapshot and replays its journal, and the
broker redelivers what was never acknowledged to its session), no alert raised twice,
each escalation once though both instances sweep."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lantian.journal_frames import unpack
from lantian.partition import owner_of
from tests.faults.conftest import Watcher
from tests.faults.test_crash import FAULT_RULE, add_stations, publish_paced
from tests.partition_support import (
    Instance,
    SharedStore,
    as_json,
    partition_config,
    publish,
    reading,
    settle,
)
from tests.support import Broker, wait_until


@pytest.fixture
def store(store_url: str) -> SharedStore:
    """The one store of the deployment, on each engine in turn: a SQLite file both
    processes open, then a PostgreSQL database."""
    return SharedStore(store_url)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[list[Instance]]:
    started: list[Instance] = []
    yield started
    for i in started:
        i.stop()


def journalled_topics(store: SharedStore, partition: str) -> list[str | None]:
    """The topic of each entry of a partition's journal, in order (None: a sweep)."""
    out: list[str | None] = []
    for topic, payload, messages in store.rows(
            "SELECT topic, payload, messages FROM inputs"
            f" WHERE partition = '{partition}' ORDER BY id"):
        if messages is None:  # a sweep (or a message as versions before 10 wrote it)
            out.append(None if topic is None else str(topic))
        else:  # a burst's messages
            assert isinstance(payload, bytes | memoryview)
            out += [m.topic for m in unpack(bytes(payload))]
    return out


def records(instance: Instance) -> float:
    return instance.metric("lantian_records_total", type="Reading")


def test_a_replacement_continues_the_windows_of_its_partition(
    deployment: list[Instance], broker: Broker, tmp_path: Path, store: SharedStore,
    service_logs: Path,
) -> None:
    """Two PM10 readings over the limit at a station of each partition, kill -9 of
    partition 1, a third after its replacement started: both 15-minute means need all
    three, so both alerts mean nothing was lost on either side."""
    assert (owner_of("KY-CS-001", 2), owner_of("KY-CS-004", 2)) == (0, 1)
    config = partition_config(tmp_path, broker)
    a = Instance(config, "0/2", service_logs / "p0.log", store).start()
    b = Instance(config, "1/2", service_logs / "p1.log", store).start()
    deployment += [a, b]
    settle(broker, a, b)
    now = datetime.now(UTC)
    publish(broker, [reading(s, now - timedelta(minutes=m), pm10)
                     for m, pm10 in ((2, 160.0), (1, 170.0)) for s in ("KY-CS-001", "KY-CS-004")])
    wait_until(lambda: records(a) == 2 and records(b) == 2, what="each partition's two")
    b.kill()  # long before the minute's snapshot: all in partition 1's journal
    journal = journalled_topics(store, "1/2")
    assert journal.count("lantian/sensors/KY-CS-004/reading") == 2
    replacement = Instance(config, "1/2", service_logs / "p1-again.log", store).start()
    deployment.append(replacement)
    publish(broker, [reading(s, now, 180.0) for s in ("KY-CS-001", "KY-CS-004")])

    def both_raised() -> list[tuple[object, ...]]:
        found = store.rows("SELECT subject FROM alerts ORDER BY subject")
        return found if len(found) >= 2 else []

    assert wait_until(both_raised, what="both alerts") == [
        ("station:KY-CS-001",), ("station:KY-CS-004",)]
    assert records(replacement) == 1  # the third only: the two came from the journal
    # its own journal replayed, partition 0's left alone
    assert f"rules state: new, {len(journal)} journalled inputs replayed" in \
        (service_logs / "p1-again.log").read_text()


STATIONS = 1200


def test_kill_9_of_one_partition_mid_stream_loses_nothing_and_repeats_nothing(
    deployment: list[Instance], broker: Broker, tmp_path: Path, store: SharedStore,
    service_logs: Path,
) -> None:
    config = partition_config(tmp_path, broker, rules="[rules]\n" + FAULT_RULE + """
[dispatch]
sweep_s = 15
[dispatch.queues.blue_sky]
ack_s = 3
""")
    stations = add_stations(config, STATIONS)
    share = Counter(owner_of(s, 2) for s in stations)
    a = Instance(config, "0/2", service_logs / "p0.log", store).start()
    b = Instance(config, "1/2", service_logs / "p1.log", store).start()
    deployment += [a, b]
    settle(broker, a, b)
    watcher = Watcher(broker, "lantian/queues/+/alerts")
    now = datetime.now(UTC)
    stream = publish_paced(broker, [reading(s, now, 150.0) for s in stations], per_s=1000,
                           client_id="partition-fault-publisher")
    wait_until(lambda: records(b) >= share[1] // 4, timeout=60,
               what="a quarter of partition 1's share processed")
    b.kill()
    raised_before = store.count("SELECT count(*) FROM alerts")
    started = time.monotonic()
    replacement = Instance(config, "1/2", service_logs / "p1-again.log", store).start()
    deployment.append(replacement)
    stream.join(60)

    def every_station_alerted() -> bool:
        return store.count("SELECT count(*) FROM alerts") >= STATIONS

    wait_until(every_station_alerted, timeout=120, what="an alert for every station")
    recovered_s = time.monotonic() - started
    per_subject = Counter(str(r[0]) for r in store.rows("SELECT subject FROM alerts"))
    assert len(per_subject) == STATIONS  # no reading's effect lost...
    assert max(per_subject.values()) == 1  # ...and none counted twice

    # every alert escalates at its acknowledgement deadline (3 s), both instances
    # sweeping every 0.2 s, one of them killed and replaced meanwhile
    def escalated() -> list[tuple[str, str]]:
        return [(str(aid), str(as_json(data)["stage"])) for aid, data in store.rows(
            "SELECT alert_id, data FROM events WHERE kind = 'escalated'")]

    wait_until(lambda: len({x for x, _ in escalated()}) >= STATIONS, timeout=120,
               what="every alert escalated")
    per_stage = Counter(escalated())
    stored = {str(r[0]) for r in store.rows("SELECT id FROM alerts")}
    wait_until(lambda: stored <= {json.loads(p)["id"] for _, p in watcher.received()},
               timeout=60, what="every alert published")
    watcher.close()
    published = Counter(json.loads(p)["id"] for _, p in watcher.received())
    print(f"\nkill -9 of partition 1 after {raised_before} of {STATIONS} alerts raised;"
          f" replacement caught up in {recovered_s:.1f} s; {len(per_subject)} alerts,"
          f" {len(per_stage)} escalations (most per alert and stage:"
          f" {max(per_stage.values())}); {sum(published.values()) - len(published)}"
          " repeated publications")
    assert max(per_stage.values()) == 1
