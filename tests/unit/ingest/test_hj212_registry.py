"""The registry of connected data loggers and the listener's byte budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from ingest._hj212_registry import LoggerRegistry, TcpMetrics
from ingest._hj212_server import _ByteBudget

T = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)


def test_sessions_by_mn_then_the_unidentified_and_gone_when_closed() -> None:
    loggers = LoggerRegistry()
    b = loggers.open("10.0.0.2:5000", T)
    b.mn = "MN-B"
    unknown = loggers.open("10.0.0.3:5000", T)
    a = loggers.open("10.0.0.1:5000", T)
    a.mn = "MN-A"
    assert loggers.sessions() == [a, b, unknown] and len(loggers) == 3
    loggers.close(b)
    assert loggers.sessions() == [a, unknown] and loggers.by_mn("MN-B") == []


def test_a_session_shows_local_times() -> None:
    session = LoggerRegistry().open("10.0.0.1:5000", T)
    session.last_packet_at = T + timedelta(minutes=1)
    shown = session.as_dict(ZoneInfo("Asia/Shanghai"))
    assert shown["connected_since"] == "2026-06-12T10:00:00+08:00"
    assert shown["last_packet_at"] == "2026-06-12T10:01:00+08:00"
    assert shown["mn"] is None and shown["packets"] == 0


def test_newest_data_only_moves_forward() -> None:
    loggers = LoggerRegistry()
    loggers.saw_data("MN", "2051", T)
    loggers.saw_data("MN", "2051", T - timedelta(hours=1))  # a resent old upload
    assert loggers.newest("MN", "2051") == T and loggers.newest("MN", "2061") is None


def test_the_connections_gauge_counts_open_sessions() -> None:
    loggers, registry = LoggerRegistry(), CollectorRegistry()
    TcpMetrics(loggers, registry)
    loggers.open("10.0.0.1:5000", T)
    assert registry.get_sample_value("lantian_hj212_connections") == 1


def test_the_byte_budget_allows_a_burst_then_the_rate() -> None:
    budget = _ByteBudget(rate=1000, burst=5000, now=0.0)
    assert budget.take(5000, 0.0)
    assert not budget.take(1, 0.0)
    budget = _ByteBudget(rate=1000, burst=5000, now=0.0)
    assert budget.take(4000, 0.0) and budget.take(2000, 1.0)  # 1 s refilled 1,000
    assert not budget.take(2000, 1.5)
