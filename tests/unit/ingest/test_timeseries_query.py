"""The InfluxQL text of a readings query, and the reading of InfluxDB's answer: pure parts
of `ingest._timeseries_query` (the exchange itself is tested against a real influxd in
tests/integration/test_timeseries_read.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest._timeseries_query import (
    TimeSeriesUnavailable,
    parse_answer,
    quote_identifier,
    quote_string,
    readings_query,
)

T0 = datetime(2026, 6, 12, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def test_the_query_selects_one_metric_of_one_station_in_utc_bounds_earliest_first() -> None:
    q = readings_query("KY-CS-001", "pm10", T0 - timedelta(minutes=30), T0, 2000)
    assert q == (
        "SELECT \"pm10\" FROM \"reading\" WHERE \"station\" = 'KY-CS-001'"
        " AND time >= '2026-06-12T01:30:00.000000Z' AND time <= '2026-06-12T02:00:00.000000Z'"
        " ORDER BY time ASC LIMIT 2000"
    )


def test_quotes_and_backslashes_are_escaped_as_influxql_reads_them() -> None:
    assert quote_string("O'Brien\\") == "'O\\'Brien\\\\'"
    assert quote_identifier('a"b\\') == '"a\\"b\\\\"'
    q = readings_query("X' OR station =~ /.*/ --", "pm10", T0, T0, 1)
    # the whole id is one literal: the quote inside cannot end it
    assert "\"station\" = 'X\\' OR station =~ /.*/ --' AND time" in q


@pytest.mark.parametrize("station, metric", [
    ("KY-CS-001", 'pm10" FROM x --'), ("KY-CS-001", "PM10"), ("KY-CS-001", ""),
    ("KY-CS-001", "p" * 33), ("", "pm10"), ("A\nB", "pm10"), ("x" * 101, "pm10"),
])
def test_a_series_the_writer_cannot_have_written_is_refused_before_any_query(
    station: str, metric: str
) -> None:
    with pytest.raises(TimeSeriesUnavailable):
        readings_query(station, metric, T0, T0, 10)


def test_a_naive_time_or_no_limit_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        readings_query("S", "pm10", T0.replace(tzinfo=None), T0, 10)
    with pytest.raises(ValueError):
        readings_query("S", "pm10", T0, T0, 0)


def _answer(*series: dict[str, object]) -> bytes:
    return json.dumps({"results": [{"statement_id": 0, "series": list(series)}]}).encode()


def test_the_answer_gives_utc_times_and_floats_in_time_order_skipping_nulls() -> None:
    ms = int(T0.timestamp() * 1000)
    body = _answer(
        {"name": "reading", "columns": ["time", "pm10"], "values": [[ms + 60_000, 170]]},
        {"name": "reading", "columns": ["time", "pm10"],
         "values": [[ms, 160.5], [ms + 30_000, None]]},
    )
    assert parse_answer(body) == [(T0.astimezone(UTC), 160.5),
                                  (T0.astimezone(UTC) + timedelta(minutes=1), 170.0)]
    assert parse_answer(json.dumps({"results": [{"statement_id": 0}]}).encode()) == []


@pytest.mark.parametrize("body, says", [
    (b"<html>502</html>", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[]", "not a JSON object"),
    (b'{"error": "authorization failed"}', "authorization failed"),
    (b'{"results": []}', "no results"),
    (b'{"results": [{"error": "database not found: x"}]}', "database not found"),
    (b'{"results": [{"series": {"values": 1}}]}', "malformed series"),
    (b'{"results": [{"series": [{"values": [[1]]}]}]}', "malformed row"),
    (b'{"results": [{"series": [{"values": [["2026", 1]]}]}]}', "malformed row"),
    (b'{"results": [{"series": [{"values": [[1, "high"]]}]}]}', "malformed row"),
    (b'{"results": [{"series": [{"values": [[1, true]]}]}]}', "malformed row"),
    (b'{"results": [{"series": [{"values": [[99999999999999999999, 1]]}]}]}', "out of range"),
])
def test_anything_but_influxdbs_answer_is_one_clear_error(body: bytes, says: str) -> None:
    with pytest.raises(TimeSeriesUnavailable, match=says):
        parse_answer(body)
