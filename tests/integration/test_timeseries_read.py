"""Reading a station's readings back from a real InfluxDB (Debian's influxd 1.6, over the
v1 `/query` endpoint in InfluxQL): the points the product's writer emits, within the
span's bounds and the limit on points; a station id with quotes in it selects its own
points and nothing else; and a server killed, hung or answering junk is one clear error
within the reader's deadline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest._timeseries import to_lines
from ingest.timeseries import TimeSeriesReader, TimeSeriesUnavailable
from rules.records import Interval, Measurement, Reading
from tests.influxdb import InfluxDB, run_influxdb
from tests.support import accepting

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _minutely(station: str, first: int, last: int, metric: str = "pm10") -> list[str]:
    """The writer's own lines for a reading a minute from T0+first to T0+last minutes,
    valued 100 + the minute."""
    return [line for m in range(first, last + 1) for line in to_lines(Reading(
        station, T0 + m * MIN, {metric: Measurement(100.0 + m), "tsp": Measurement(1.0)},
        interval=Interval.INSTANT, source="json"))]


def _read(reader: TimeSeriesReader, station: str, since: datetime, until: datetime,
          limit: int | None = None, metric: str = "pm10") -> Sequence[tuple[datetime, float]]:
    return asyncio.run(reader.readings(station, metric, since, until, limit))


def _reader(influxdb: InfluxDB, **kw: float) -> TimeSeriesReader:
    return TimeSeriesReader(url=influxdb.url, bucket=influxdb.database, token="a-token",
                            **kw)  # type: ignore[arg-type]


def test_the_span_is_read_inclusive_earliest_first_and_only_that_station(
    influxdb: InfluxDB
) -> None:
    influxdb.write(_minutely("RD-SPAN", -40, 40) + _minutely("RD-OTHER", -40, 40))
    points = _read(_reader(influxdb), "RD-SPAN", T0 - 30 * MIN, T0 + 30 * MIN)
    assert [at for at, _ in points] == [T0 + m * MIN for m in range(-30, 31)]
    assert [v for _, v in points] == [100.0 + m for m in range(-30, 31)]
    assert _read(_reader(influxdb), "RD-SPAN", T0 - 30 * MIN, T0 + 30 * MIN,
                 metric="tsp")[0] == (T0 - 30 * MIN, 1.0)


def test_flagged_values_are_not_read_back_as_readings(influxdb: InfluxDB) -> None:
    influxdb.write(to_lines(Reading("RD-FLAG", T0, {"pm10": Measurement(999.0, flag="C")})))
    assert _read(_reader(influxdb), "RD-FLAG", T0 - MIN, T0 + MIN) == []


def test_the_points_are_bounded_by_the_limit_and_by_the_readers_maximum(
    influxdb: InfluxDB
) -> None:
    influxdb.write(_minutely("RD-MANY", 0, 59))
    since, until = T0, T0 + 60 * MIN
    assert [v for _, v in _read(_reader(influxdb), "RD-MANY", since, until, 5)] == [
        100.0, 101.0, 102.0, 103.0, 104.0]
    assert len(_read(_reader(influxdb, max_points=10), "RD-MANY", since, until)) == 10
    assert len(_read(_reader(influxdb, max_points=10), "RD-MANY", since, until, 500)) == 10


def test_a_station_id_with_quotes_reads_its_own_points_and_cannot_inject(
    influxdb: InfluxDB
) -> None:
    # quotes only: InfluxDB 1.6 keeps a tag's `\\` as two backslashes, so an id with a
    # backslash does not round-trip through the writer's escaping there (the reader's
    # quoting of one is checked in tests/unit/ingest/test_timeseries_query.py)
    odd = "RD-O'B\"x"
    influxdb.write(_minutely(odd, 0, 2) + _minutely("RD-VICTIM", 0, 2))
    reader = _reader(influxdb)
    assert [v for _, v in _read(reader, odd, T0, T0 + 2 * MIN)] == [100.0, 101.0, 102.0]
    for hostile in ("RD-VICTIM' OR \"station\" = 'RD-VICTIM",
                    "x' OR station =~ /.*/ OR station = 'x",
                    "'; DROP DATABASE \"lantian\"; SELECT '"):
        assert _read(reader, hostile, T0, T0 + 2 * MIN) == []
    assert len(_read(reader, "RD-VICTIM", T0, T0 + 2 * MIN)) == 3  # the database is there


def test_a_database_the_server_does_not_have_is_a_clear_error(influxdb: InfluxDB) -> None:
    reader = TimeSeriesReader(url=influxdb.url, bucket="no-such-db")
    with pytest.raises(TimeSeriesUnavailable, match="database not found"):
        _read(reader, "RD-SPAN", T0, T0 + MIN)


def test_influxd_killed_is_a_clear_error_within_the_deadline(tmp_path: Path) -> None:
    with run_influxdb(tmp_path / "influxdb") as server:
        server.write(_minutely("RD-KILL", 0, 1))
        reader = _reader(server, timeout_s=2.0)
        assert len(_read(reader, "RD-KILL", T0, T0 + MIN)) == 2
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        started = time.monotonic()
        with pytest.raises(TimeSeriesUnavailable, match="cannot be read: ConnectError"):
            _read(reader, "RD-KILL", T0, T0 + MIN)
        assert time.monotonic() - started < 2.0 + 1.0  # the deadline, not a speed


def test_a_server_that_never_answers_costs_the_deadline_and_no_more() -> None:
    held: list[socket.socket] = []
    with accepting(held.append) as port:
        reader = TimeSeriesReader(url=f"http://127.0.0.1:{port}", bucket="lantian",
                                  timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(TimeSeriesUnavailable, match=r"did not answer within 0\.5 s"):
            _read(reader, "RD-HUNG", T0, T0 + MIN)
        assert time.monotonic() - started < 0.5 + 1.0
    assert held  # it did connect: the wait was for an answer
    for conn in held:
        conn.close()


def test_a_server_that_trickles_forever_costs_the_deadline_too() -> None:
    """A byte a tenth of a second keeps every read under httpx's own timeout; the
    whole-exchange deadline still ends it."""
    def trickle(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000\r\n\r\n")
        try:
            for _ in range(100):
                conn.sendall(b" ")
                time.sleep(0.1)  # the hostile server's pace, not synchronisation
        except OSError:
            pass
        conn.close()

    with accepting(trickle) as port:
        reader = TimeSeriesReader(url=f"http://127.0.0.1:{port}", bucket="lantian",
                                  timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(TimeSeriesUnavailable, match="did not answer within"):
            _read(reader, "RD-SLOW", T0, T0 + MIN)
        assert time.monotonic() - started < 0.5 + 1.0


@pytest.mark.parametrize("status, body, says", [
    (200, b"<html>hello</html>", "not JSON"),
    (401, b'{"error":"unable to parse authentication credentials"}',
     "answered 401: unable to parse authentication"),
    (404, b'{"code":"not found","message":"database not found"}', "answered 404: database"),
    (500, b"", "answered 500: \\(no body\\)"),
])
def test_an_answer_that_is_not_influxdbs_json_is_a_clear_error(
    status: int, body: bytes, says: str
) -> None:
    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
        conn.close()

    with accepting(answer) as port:
        reader = TimeSeriesReader(url=f"http://127.0.0.1:{port}", bucket="lantian")
        with pytest.raises(TimeSeriesUnavailable, match=says):
            _read(reader, "RD-JUNK", T0, T0 + MIN)


def test_an_answer_over_the_size_bound_is_refused() -> None:
    def flood(conn: socket.socket) -> None:
        conn.recv(65536)
        with contextlib.suppress(OSError):  # the reader hangs up once it has enough
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\n\r\n" + b"[" * (2 << 20))
        conn.close()

    with accepting(flood) as port:
        reader = TimeSeriesReader(url=f"http://127.0.0.1:{port}", bucket="lantian")
        with pytest.raises(TimeSeriesUnavailable, match="over 1048576 bytes"):
            _read(reader, "RD-FLOOD", T0, T0 + MIN)
