"""After a change of the partition count, the old layout's snapshots and journal rows are
pruned by an instance of the new one, once the old has been silent for a day; rows of
the instance's own count never, so a late replacement still finds its journal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from dispatch.stores import SqliteStore, SqlStore, open_store
from ingest import Deduplicator, Ingestor
from ingest._deadletters import MemoryDeadLetters
from lantian.layouts import (
    NEWEST_ROW,
    NEXT_PARTITION,
    QUIET,
    count_of,
    prunable,
    snapshot_partition,
)
from lantian.pipeline import RulesPipeline
from lantian.recovery import Checkpoints
from tests.unit.lantian.test_recovery import SETTINGS, SH, T0, TOPIC, Sink, reading


def test_snapshot_rows_name_their_partition() -> None:
    assert snapshot_partition("rules") == "0/1"
    assert snapshot_partition("rules@1/3") == "1/3"
    assert snapshot_partition("something-else") is None
    assert (count_of("1/3"), count_of("0/1"), count_of("junk")) == (3, 1, None)


def test_only_other_counts_silent_for_a_day_may_go() -> None:
    now = T0 + timedelta(days=3)
    old = now - QUIET - timedelta(seconds=1)
    seen = {"0/2": old, "1/2": old, "0/1": old, "0/3": now, "1/3": old - QUIET}
    # 1/3 is the instance's own count: kept however old (a replacement may come)
    assert prunable("0/3", seen, now) == ["0/1", "0/2", "1/2"]
    # a layout one of whose instances still writes is alive: nothing of it goes
    assert prunable("0/3", seen | {"1/2": now - timedelta(minutes=1)}, now) == ["0/1"]
    # its own count's rows, even were all of them silent: kept
    assert prunable("0/3", {"1/3": old, "2/3": old}, now) == []
    # silent for less than the quiet period: kept (an operator may go back)
    assert prunable("0/3", {"0/2": now - QUIET + timedelta(minutes=1)}, now) == []


class Instance:
    """The rules path of `lantian run` as partition `partition`, on `store`, at the
    time `clock` is set to."""

    def __init__(self, store: SqlStore, partition: str, at: datetime) -> None:
        self.now = at
        self.store = store
        pipeline = RulesPipeline(SETTINGS.rules, Sink(), lambda: self.now, CollectorRegistry())
        self.ingestor = Ingestor(
            ctx=SETTINGS.decode, topics=SETTINGS.topics, clock=lambda: self.now,
            records=pipeline.on_record, deadletters=MemoryDeadLetters(),
            dedupe=Deduplicator(100))
        self.checkpoints = Checkpoints(store, pipeline, self.ingestor, lambda: self.now,
                                       partition=partition)
        self.recovered = self.checkpoints.restore()
        self.ingestor.journal = self.checkpoints.journal

    def messages(self, *minutes: int) -> None:
        for m in minutes:
            with self.store.transaction():
                self.ingestor.handle(TOPIC, reading(m))


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = open_store(store_url, tz=SH)
    yield s
    s.close()


def rows(store: SqlStore) -> tuple[dict[str, int], list[str]]:
    db = store.connection
    journal = dict(db.execute("SELECT partition, count(*) FROM inputs GROUP BY partition")
                   .fetchall())
    names = [str(n) for (n,) in db.execute("SELECT name FROM snapshots ORDER BY name")]
    return journal, names


def test_a_new_layout_prunes_the_old_once_it_is_silent_and_never_its_own(
    store: SqlStore
) -> None:
    # the single instance, then two partitions, each with a snapshot and a journal
    single = Instance(store, "0/1", T0)
    single.messages(0)
    assert single.checkpoints.save()
    for k in (0, 1):
        two = Instance(store, f"{k}/2", T0 + timedelta(hours=1))
        two.messages(1, 2)
        assert two.checkpoints.save()
        two.messages(3)  # after the snapshot: to be replayed by a replacement
    # three partitions from now on; partition 1/3 journals, then dies unreplaced
    late = Instance(store, "1/3", T0 + timedelta(hours=2))
    late.messages(4, 5)
    first = Instance(store, "0/3", T0 + timedelta(hours=2))
    assert first.checkpoints.save()
    # the layout of two wrote an hour ago: kept (an operator may yet go back to it)
    assert rows(store) == ({"0/1": 1, "0/2": 3, "1/2": 3, "1/3": 2},
                           ["rules", "rules@0/2", "rules@0/3", "rules@1/2"])
    # a day and more later the next snapshot of 0/3 prunes both older layouts
    first.now = T0 + timedelta(hours=1) + QUIET + timedelta(minutes=1)
    assert first.checkpoints.save()
    assert rows(store) == ({"1/3": 2}, ["rules@0/3"])
    # ... but not its own count's: 1/3's replacement, days late, replays its journal
    replacement = Instance(store, "1/3", T0 + timedelta(days=5))
    assert (replacement.recovered.snapshot, replacement.recovered.replayed) == (False, 2)


def test_a_stray_instance_of_another_count_prunes_nothing_of_a_live_layout(
    store: SqlStore
) -> None:
    """0/3 started by mistake beside a deployment of two, one of whose instances has
    been down for days: the other still writes, so the layout is alive."""
    down = Instance(store, "1/2", T0)
    down.messages(1, 2)
    live = Instance(store, "0/2", T0 + timedelta(days=3))
    live.messages(3)
    stray = Instance(store, "0/3", T0 + timedelta(days=3, minutes=1))
    assert stray.checkpoints.save()
    assert rows(store)[0] == {"0/2": 1, "1/2": 2}


def test_the_layouts_are_told_by_index_seeks_not_by_a_scan_of_the_journal(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "s.sqlite"), tz=UTC)
    db = store.connection
    for sql, arg in ((NEXT_PARTITION, ""), (NEWEST_ROW, "0/2")):
        plan = " ".join(str(r[3]) for r in db.execute("EXPLAIN QUERY PLAN " + sql, (arg,)))
        assert "USING COVERING INDEX inputs_partition" in plan or \
            "USING INDEX inputs_partition" in plan, (sql, plan)
    store.close()
