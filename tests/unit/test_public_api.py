"""The public surfaces of the service's packages, pinned (as httpx pins its own): what the
composition root, the CLI, the demo and the benches may import. A name added or dropped
here is a decision, made on purpose; everything else is private to its package (the
layering is enforced by import-linter, `[tool.importlinter]` in pyproject.toml)."""

from __future__ import annotations

import importlib

import pytest

SURFACES = {
    "dispatch": [
        "MAX_PHOTO", "ROWS_SKIPPED", "AlertTopics", "Clock", "Deadlines", "DispatchMetrics",
        "Dispatcher", "Gazetteer", "IncidentPoints", "MediaStore", "Outbox", "OutboxBacklog",
        "Outline", "Publication", "Queries", "Role",
        "Route", "Router", "Spot", "SqliteOutbox", "SqliteStore", "StreamHub", "Token",
        "api_router",
    ],
    "dispatch.feed": ["ChangeFeed", "PgWakeup"],
    "dispatch.flights": ["DockFlight", "Flights"],
    "dispatch.notify": ["Channel", "DeliveryWorker", "Notifier", "SqliteDeliveries"],
    "dispatch.users": ["SessionPolicy", "SqliteUsers", "UserAdmin", "UserRefused"],
    "dispatch.stores": [
        "ReadLane", "PgStore", "SqlStore", "SqliteStore", "StoreUnavailable", "Turns",
        "WalCheckpointer",
        "open_store",
    ],
    "ingest": [
        "HJ212_DIALECTS", "HJ212_RETIRED_DIALECTS", "PAYLOAD_CAP", "BrokerSettings", "DataGap",
        "DeadLetterLimits",
        "DecodeContext", "Decoded", "Deduplicator", "InboundTopics", "IngestMetrics",
        "Ingestor", "Kind", "MqttConnection", "RecordSink", "SourceSettings",
        "SqliteDataGaps", "SqliteDeadLetters", "TimeSeriesWriter", "decode_message",
        "hj212_crc16", "record_as_dict", "unit_factor",
    ],
    "ingest.hj212_tcp": ["Hj212Server", "Hj212TcpSettings"],
    "ingest.timeseries": ["TimeSeriesReader", "TimeSeriesUnavailable"],
    "ingest.vendors": ["VendorMapping", "VendorMetric"],
}


@pytest.mark.parametrize("package", sorted(SURFACES))
def test_the_public_surface_is_what_it_says(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(SURFACES[package])
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert len(module.__all__) <= 24  # small enough to read in one sitting
