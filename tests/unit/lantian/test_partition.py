"""Partitions: which instance owns which station and drone (a stable hash), what each
subscribes to, which records it feeds to its rules and which signals it delivers, how
`[scale] partition` / LANTIAN_PARTITION is read, and the journal and snapshot each
partition keeps to itself in a shared store."""

from __future__ import annotations

import json
import shutil
import zlib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from dispatch._sqlite import SqliteStore
from ingest import Deduplicator, Ingestor
from ingest._deadletters import MemoryDeadLetters
from lantian.config import ConfigError, load_settings
from lantian.layouts import snapshot_name
from lantian.partition import Partition, owner_of
from lantian.pipeline import RulesPipeline
from lantian.recovery import Checkpoints, Journal
from rules.records import DronePosition, Location, Reading
from rules.signals import Action, AlertSignal, Maintenance, Signal, ZoneEvent
from tests.support import REPO

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 7, 0, tzinfo=SH)
SETTINGS = load_settings(REPO / "config")
STATIONS = sorted(SETTINGS.stations)
REFERENCE = SETTINGS.rules.background_stations


def two(index: int) -> Partition:
    return Partition(index, 2, frozenset(STATIONS), REFERENCE)


# -- ownership -------------------------------------------------------------------------


def test_the_owner_is_crc32_of_the_id_the_same_in_every_process() -> None:
    # pinned: a change of hash would move every station's window to another instance
    assert [owner_of(s, 2) for s in STATIONS] == [
        zlib.crc32(s.encode()) % 2 for s in STATIONS]
    assert {s: owner_of(s, 2) for s in STATIONS} == {
        "KY-AQ-001": 1, "KY-AQ-002": 1, "KY-CS-001": 0, "KY-CS-002": 0, "KY-CS-003": 0,
        "KY-CS-004": 1, "KY-RD-001": 0}
    assert owner_of("KY-UAV-01", 2) == 0


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_station_has_exactly_one_owner(n: int) -> None:
    for s in [*STATIONS, "NOT-REGISTERED"]:
        parts = [Partition(k, n, frozenset(STATIONS)) for k in range(n)]
        assert sum(p.owns_station(s) for p in parts) == 1, s
        assert sum(p.owns_drone(s) for p in parts) == 1, s


def test_the_hash_spreads_stations_evenly_enough() -> None:
    assert min(Counter(owner_of(s, 2) for s in STATIONS).values()) >= 3  # 4 and 3 of 7
    many = [f"ZJ-CS-{i:04d}" for i in range(2000)]
    for n in (2, 3, 4, 8):
        counts = Counter(owner_of(s, n) for s in many)
        assert len(counts) == n
        assert max(counts.values()) < 1.15 * len(many) / n, (n, counts)


def test_an_unregistered_station_is_partition_0s_the_one_reading_the_wide_filters() -> None:
    assert two(0).owns_station("MOBILE-7") and not two(1).owns_station("MOBILE-7")


# -- subscriptions ---------------------------------------------------------------------


def test_a_single_instance_subscribes_as_before() -> None:
    assert Partition().subscriptions(SETTINGS.topics) == SETTINGS.topics.subscriptions()
    assert Partition().client_id("lantian") == "lantian"


def test_partition_0_keeps_the_wide_filters_and_skips_what_others_own() -> None:
    p = two(0)
    assert p.subscriptions(SETTINGS.topics) == [
        "lantian/sensors/#", "lantian/drones/#", "thing/product/+/osd"]
    assert p.client_id("lantian") == "lantian-0"
    topics = SETTINGS.topics
    assert p.skips(topics, "lantian/sensors/KY-CS-004/reading")  # partition 1's
    assert p.skips(topics, "lantian/sensors/KY-CS-004/hj212")
    assert not p.skips(topics, "lantian/sensors/KY-CS-001/reading")  # its own
    assert not p.skips(topics, "lantian/sensors/KY-AQ-001/reading")  # a reference station
    assert not p.skips(topics, "lantian/sensors/KY-CS-00l/reading")  # misspelt: dead letter
    assert not p.skips(topics, "lantian/sensrs/KY-CS-004/reading")
    assert not p.skips(topics, "lantian/drones/KY-UAV-02/telemetry")  # every drone


def test_partition_1_subscribes_to_its_stations_the_references_and_every_drone() -> None:
    p = two(1)
    assert p.client_id("lantian") == "lantian-1"
    assert p.subscriptions(SETTINGS.topics) == [
        "lantian/sensors/KY-AQ-001/#", "lantian/sensors/KY-AQ-002/#",
        "lantian/sensors/KY-CS-004/#", "lantian/drones/#", "thing/product/+/osd"]
    assert not p.skips(SETTINGS.topics, "lantian/sensors/KY-CS-004/reading")


def test_a_reference_station_owned_elsewhere_is_still_subscribed_to(tmp_path: Path) -> None:
    # make a station of partition 0 the reference: partition 1 must hear it too
    cfg = _config(tmp_path)
    geo = json.loads((cfg / "stations.geojson").read_text())
    for f in geo["features"]:
        if f["properties"]["id"] == "KY-CS-001":
            f["properties"]["kind"] = "ambient"
    (cfg / "stations.geojson").write_text(json.dumps(geo))
    s = load_settings(cfg, {"LANTIAN_PARTITION": "1/2"})
    assert "KY-CS-001" in s.partition.shared and not s.partition.owns_station("KY-CS-001")
    assert "lantian/sensors/KY-CS-001/#" in s.partition.subscriptions(s.topics)


def test_vendor_topics_under_the_sensors_prefix_stay_subscribed(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    with (cfg / "lantian.toml").open("a", encoding="utf-8") as f:
        f.write("""
[[ingest.vendors]]
name = "acme"
topic = "lantian/sensors/acme/+/up"
device = "deviceId"
stations = { "A-1" = "KY-CS-001" }
time = "ts"
time_format = "epoch_ms"
[ingest.vendors.metrics]
pm10 = { field = "PM10" }
""")
    s = load_settings(cfg, {"LANTIAN_PARTITION": "1/2"})
    assert "lantian/sensors/acme/+/up" in s.partition.subscriptions(s.topics)


# -- records and signals ---------------------------------------------------------------


def _reading(station: str) -> Reading:
    return Reading(station=station, ts=T0, values={})


def test_records_fed_are_those_of_owned_and_shared_stations_and_every_drone() -> None:
    p = two(1)
    assert p.feeds(_reading("KY-CS-004")) and p.feeds(_reading("KY-AQ-001"))
    assert not p.feeds(_reading("KY-CS-001"))
    drone = DronePosition(drone="KY-UAV-01", ts=T0, location=Location(30.0, 120.5))
    assert p.feeds(drone) and two(0).feeds(drone)


def _alert(subject: str, **more: object) -> AlertSignal:
    return AlertSignal(action=Action.RAISE, rule="r", kind="k", subject=subject, at=T0,
                       severity="major", **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(("signal", "owner"), [
    (_alert("station:KY-CS-004"), 1),
    (_alert("station:KY-AQ-001"), 1),
    (_alert("station:KY-CS-001"), 0),
    (_alert("station:MOBILE-7"), 0),  # unregistered: partition 0's
    (_alert("drone:KY-UAV-01"), 0),
    (_alert("drone:KY-UAV-01@nofly-1"), 0),
    (_alert("zone:cs-01", finding=True, detail={"drone": "KY-UAV-01"}), 0),
    (Maintenance(station="KY-CS-004", active=True, at=T0), 1),
])
def test_each_signal_is_delivered_by_exactly_its_subjects_owner(signal: Signal,
                                                                 owner: int) -> None:
    assert [two(k).delivers(signal) for k in (0, 1)] == [owner == 0, owner == 1]


def test_a_zone_event_is_its_drones_owners() -> None:
    zone = next(iter(SETTINGS.zones.values()))
    event = ZoneEvent(drone="KY-UAV-01", zone=zone, event="enter", at=T0,
                      location=Location(30.0, 120.5))
    assert two(0).delivers(event) and not two(1).delivers(event)


class Sink:
    def __init__(self) -> None:
        self.got: list[Signal] = []

    def receive(self, signals: list[Signal]) -> None:
        self.got += signals


def test_the_pipeline_keeps_the_reference_window_but_delivers_only_owned_alerts() -> None:
    """Both instances feed both stations' readings to their rules (as for a reference
    station): each hands dispatch only its own station's alert."""
    sinks = {k: Sink() for k in (0, 1)}
    later = T0 + timedelta(minutes=5)
    pipes = {k: RulesPipeline(SETTINGS.rules, sinks[k], lambda: later, CollectorRegistry(),
                              scope=both(k)) for k in (0, 1)}
    for minute in range(3):
        for station in ("KY-CS-001", "KY-CS-004"):
            for k in (0, 1):
                pipes[k].on_record(_pm10(station, minute))
    raised = {k: sorted(s.subject for s in sinks[k].got
                        if isinstance(s, AlertSignal) and s.action is Action.RAISE)
              for k in (0, 1)}
    assert raised == {0: ["station:KY-CS-001"], 1: ["station:KY-CS-004"]}
    assert "KY-CS-004" in pipes[0].state.no_data.last_seen  # fed, kept, not delivered


def both(index: int) -> Partition:
    return Partition(index, 2, frozenset(STATIONS), frozenset(STATIONS))


def test_the_pipeline_feeds_no_record_of_a_station_owned_elsewhere() -> None:
    sink = Sink()
    pipe = RulesPipeline(SETTINGS.rules, sink, lambda: T0 + timedelta(minutes=5),
                         CollectorRegistry(), scope=two(0))
    for minute in range(3):
        pipe.on_record(_pm10("KY-CS-004", minute))
        pipe.replay(_pm10("KY-CS-004", minute))
    assert sink.got == [] and "KY-CS-004" not in pipe.state.no_data.last_seen


def _pm10(station: str, minute: int) -> Reading:
    ingestor = Ingestor(
        ctx=SETTINGS.decode, topics=SETTINGS.topics, clock=lambda: T0 + timedelta(minutes=5),
        records=lambda r: None, deadletters=MemoryDeadLetters(), dedupe=Deduplicator(10))
    at = T0 + timedelta(minutes=minute)
    payload = json.dumps({"station": station, "ts": at.isoformat(), "pm10": 180.0}).encode()
    (record,) = ingestor.replay(f"lantian/sensors/{station}/reading", payload, at)
    assert isinstance(record, Reading)
    return record


# -- configuration ---------------------------------------------------------------------


def _config(tmp_path: Path) -> Path:
    d = tmp_path / "config"
    shutil.copytree(REPO / "config", d)
    return d


def test_the_default_is_the_single_instance(tmp_path: Path) -> None:
    s = load_settings(_config(tmp_path))
    assert (s.partition.index, s.partition.count, s.broker.client_id) == (0, 1, "lantian")


def test_the_partition_from_the_toml_and_from_the_environment(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    (cfg / "lantian.toml").write_text(
        (cfg / "lantian.toml").read_text() + '\n[scale]\npartition = "2/3"\n')
    s = load_settings(cfg)
    assert (s.partition.name, s.broker.client_id) == ("2/3", "lantian-2")
    s = load_settings(cfg, {"LANTIAN_PARTITION": "0/2"})
    assert (s.partition.name, s.broker.client_id) == ("0/2", "lantian-0")
    assert s.partition.stations == frozenset(STATIONS)
    assert s.partition.shared == {"KY-AQ-001", "KY-AQ-002"}


@pytest.mark.parametrize(("value", "problem"), [
    ("2/2", "k must be below N (0..1), got '2/2'"),
    ("1", "expected k/N (e.g. 0/2), got '1'"),
    ("a/b", "expected k/N (e.g. 0/2), got 'a/b'"),
    ("-1/2", "expected k/N (e.g. 0/2), got '-1/2'"),
    ("0/0", "N must be 1..256, got '0/0'"),
    ("0/100000", "N must be 1..256, got '0/100000'"),
    ("１/２", "expected k/N (e.g. 0/2), got '１/２'"),
])
def test_a_bad_partition_names_the_variable_and_the_problem(
    tmp_path: Path, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_config(tmp_path), {"LANTIAN_PARTITION": value})
    assert str(err.value) == f"LANTIAN_PARTITION: scale.partition: {problem}"


def test_a_bad_partition_in_the_file_names_the_file_and_key(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    (cfg / "lantian.toml").write_text(
        (cfg / "lantian.toml").read_text() + '\n[scale]\npartition = "3/2"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(err.value) == (f"{cfg / 'lantian.toml'}: scale.partition:"
                              " k must be below N (0..1), got '3/2'")
    (cfg / "lantian.toml").write_text(
        (cfg / "lantian.toml").read_text().replace('"3/2"', '"0/2/4 and then some"'))
    with pytest.raises(ConfigError, match=r"scale\.partition: String should have at most 16"):
        load_settings(cfg)


# -- journal and snapshot per partition ------------------------------------------------


class Instance:
    """One partition's rules path on a shared store, as in `lantian.app`."""

    def __init__(self, store: SqliteStore, partition: Partition) -> None:
        self.sink = Sink()
        clock = lambda: T0 + timedelta(minutes=10)  # noqa: E731
        self.pipeline = RulesPipeline(SETTINGS.rules, self.sink, clock, CollectorRegistry(),
                                      scope=partition)
        self.ingestor = Ingestor(
            ctx=SETTINGS.decode, topics=SETTINGS.topics, clock=clock,
            records=self.pipeline.on_record, deadletters=MemoryDeadLetters(),
            dedupe=Deduplicator(100))
        self.checkpoints = Checkpoints(store, self.pipeline, self.ingestor, clock,
                                       partition=partition.name)
        self.recovered = self.checkpoints.restore()
        self.ingestor.journal = self.checkpoints.journal
        self.store = store

    def reading(self, station: str, minute: int) -> None:
        at = T0 + timedelta(minutes=minute)
        payload = json.dumps({"station": station, "ts": at.isoformat(),
                              "pm10": 180.0}).encode()
        with self.store.transaction():
            self.ingestor.handle(f"lantian/sensors/{station}/reading", payload)


def test_each_partition_journals_snapshots_and_prunes_only_its_own(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "shared.sqlite"), tz=SH)
    a, b = Instance(store, two(0)), Instance(store, two(1))
    a.reading("KY-CS-001", 0)
    b.reading("KY-CS-004", 0)
    b.reading("KY-CS-004", 1)
    assert (len(a.checkpoints.journal), len(b.checkpoints.journal)) == (1, 2)
    assert a.checkpoints.save()  # prunes partition 0's entries (keep=RECENT_KEPT aside)
    a.checkpoints.journal.checkpoint(b"{}", T0, keep=0)
    assert len(b.checkpoints.journal) == 2  # partition 1's journal untouched
    assert store.load_snapshot(snapshot_name("0/2")) == b"{}"
    assert store.load_snapshot(snapshot_name("1/2")) is None
    assert snapshot_name("0/1") == "rules"

    # instance 1 is replaced: it replays its own two entries, and the third reading
    # completes the window it had; partition 0's state is not in it
    b2 = Instance(store, two(1))
    assert (b2.recovered.snapshot, b2.recovered.replayed) == (False, 2)
    b2.reading("KY-CS-004", 2)
    assert [s.subject for s in b2.sink.got if isinstance(s, AlertSignal)
            and s.action is Action.RAISE] == ["station:KY-CS-004"]
    assert "KY-CS-001" not in b2.pipeline.state.no_data.last_seen
    store.close()


def test_a_journal_from_before_partitions_is_the_single_instances(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.sqlite"), tz=SH)
    # a row as written before migration 6: no partition named
    store.connection.execute("INSERT INTO inputs (at, topic, payload) VALUES (0, NULL, NULL)")
    assert (len(Journal(store)), len(Journal(store, "0/2"))) == (1, 0)
    store.close()


def test_without_catch_all_partition_0_subscribes_to_its_stations_only(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    (cfg / "lantian.toml").write_text(
        (cfg / "lantian.toml").read_text() + "\n[scale]\ncatch_all = false\n")
    s = load_settings(cfg, {"LANTIAN_PARTITION": "0/2"})
    assert s.partition.subscriptions(s.topics) == [
        "lantian/sensors/KY-AQ-001/#", "lantian/sensors/KY-AQ-002/#",
        "lantian/sensors/KY-CS-001/#", "lantian/sensors/KY-CS-002/#",
        "lantian/sensors/KY-CS-003/#", "lantian/sensors/KY-RD-001/#",
        "lantian/drones/#", "thing/product/+/osd"]
    # a single instance keeps the wide filters whatever the setting
    single = load_settings(cfg)
    assert single.partition.subscriptions(single.topics) == single.topics.subscriptions()


def test_only_other_partitions_rows_are_in_the_partition_index_and_each_reads_its_own(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "s.sqlite"), tz=SH)
    single, half = Journal(store), Journal(store, "1/2")
    for i in range(3):
        with store.transaction():
            single.message("lantian/sensors/KY-CS-001/reading", b"{}", T0 + timedelta(i))
            half.message("lantian/sensors/KY-CS-004/reading", b"{}", T0 + timedelta(i))
    db = store.connection
    # the index holds partition 1/2's rows, not the single instance's (its insert is cheaper)
    indexed = db.execute("SELECT count(*) FROM inputs INDEXED BY inputs_partition"
                         " WHERE partition = '1/2' AND partition <> '0/1'").fetchone()[0]
    assert indexed == 3
    # another partition's reads use the index; the single instance's walk the ids
    plan = " ".join(r[3] for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM inputs WHERE " + half._mine + " AND id > ?",
        ("1/2", 0)))
    assert "inputs_partition" in plan
    assert [e.topic for e in single.after(0)] == ["lantian/sensors/KY-CS-001/reading"] * 3
    assert [e.topic for e in half.after(0)] == ["lantian/sensors/KY-CS-004/reading"] * 3
    # a snapshot covers its partition's newest entry and prunes only its own
    newest = {j.partition: max(e.id for e in j.after(0)) for j in (single, half)}
    assert half.checkpoint(b"{}", T0, keep=1) == newest["1/2"]
    assert (len(single), len(half)) == (3, 1)
    assert single.checkpoint(b"{}", T0, keep=0) == newest["0/1"]
    assert (len(single), len(half)) == (0, 1)
    store.close()
