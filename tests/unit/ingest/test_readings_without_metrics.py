"""A station that sends only unmapped codes (issue 15, point 3): its readings go on, and
are counted per station, logged once per station, and said by the decoder's note."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from ingest import Decoded, Deduplicator, InboundTopics, IngestMetrics, Ingestor
from ingest._deadletters import MemoryDeadLetters
from ingest._without_metrics import OTHER, ReadingsWithoutMetrics
from rules.records import Reading, Record
from tests.unit.ingest.test_hj212 import context, fixture, packet

NOW = datetime(2026, 6, 12, 3, 0, tzinfo=UTC)
TOPIC = "lantian/sensors/KY-CS-001/hj212"
WATER = "DataTime=20260612103{second};w01018-Rtd=194.2,w01018-Flag=N;w21003-Rtd=53.1"
DUST = "DataTime=20260612103{second};a34002-Rtd=80,a34002-Flag=N"
METRIC = "lantian_readings_without_metrics_total"


def ingestor(records: list[Record], now: datetime = NOW) -> Ingestor:
    return Ingestor(ctx=context(), topics=InboundTopics(), clock=lambda: now,
                    records=records.append, deadletters=MemoryDeadLetters(),
                    dedupe=Deduplicator(100))


def count(ing: Ingestor, station: str) -> float | None:
    return ing.metrics.registry.get_sample_value(METRIC, {"station": station})


def test_readings_without_metrics_reach_the_rules_counted_per_station(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records: list[Record] = []
    ing = ingestor(records)
    with caplog.at_level(logging.WARNING, logger="ingest._without_metrics"):
        for second in ("100", "130", "200"):
            outcome = ing.handle(TOPIC, packet(WATER.format(second=second)))
            assert isinstance(outcome.result, Decoded)
        ing.handle(TOPIC, packet(WATER.format(second="200")))  # a duplicate: not counted
        ing.handle(TOPIC, packet(DUST.format(second="230")))  # a metric: not counted
    assert [len(r.values) for r in records if isinstance(r, Reading)] == [0, 0, 0, 1]
    assert count(ing, "KY-CS-001") == 3
    # logged once for the station, with the codes it sends
    [line] = [r for r in caplog.records if r.name == "ingest._without_metrics"]
    assert line.getMessage() == (
        "station KY-CS-001 sends readings with no Lantian metric (logged once): no factor "
        "maps to a Lantian metric (w01018, w21003): kept as extras; to the no-data rule the "
        "station sends no data"
    )
    assert line.__dict__["event"] == "readings_without_metrics"


def test_the_real_water_packet_is_counted_under_its_station() -> None:
    records: list[Record] = []
    ing = ingestor(records, datetime(2021, 3, 20, 0, 0, tzinfo=UTC))
    outcome = ing.handle("lantian/sensors/WATER/hj212", fixture("water-realtime-2011-unmapped"))
    assert isinstance(outcome.result, Decoded)
    assert count(ing, "WATER") == 1
    assert count(ing, "KY-CS-001") is None


def test_a_station_with_metrics_is_never_a_label() -> None:
    ing = ingestor([])
    ing.handle(TOPIC, packet(DUST.format(second="100")))
    assert count(ing, "KY-CS-001") is None


def test_stations_past_the_limit_are_counted_as_other_and_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = IngestMetrics()
    seen = ReadingsWithoutMetrics(metrics, limit=2)
    with caplog.at_level(logging.WARNING, logger="ingest._without_metrics"):
        for station in ("A", "B", "C", "D", "A", "C"):
            seen.saw(station, "why")
    get = metrics.registry.get_sample_value
    assert [get(METRIC, {"station": s}) for s in ("A", "B", "C", "D", OTHER)] == [
        2, 1, None, None, 3
    ]
    assert [r.__dict__["station"] for r in caplog.records] == ["A", "B"]
