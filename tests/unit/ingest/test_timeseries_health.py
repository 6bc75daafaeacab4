"""The time-series writer's retries resend the very lines they were given (so the
server's one-point-per-series-and-time rule makes them idempotent), and `healthy()` says
when the server does not keep up. Local stand-in servers: no InfluxDB needed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ingest import IngestMetrics, TimeSeriesWriter
from tests.support import wait_until

LINES = [f"reading,station=S{i},interval=instant,source=json pm10={100 + i}.5 "
         f"{1781230000000 + i}" for i in range(5)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyInflux(BaseHTTPRequestHandler):
    """Answers 503 to the first `fail` writes, then 204; keeps every body it was sent."""

    bodies: ClassVar[list[str]] = []
    fail: ClassVar[int] = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        cls = type(self)
        cls.bodies.append(body)
        self.send_response(503 if len(cls.bodies) <= cls.fail else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[tuple[str, type[FlakyInflux]]]:
    handler = type("Handler", (FlakyInflux,), {"bodies": [], "fail": 2})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def _writer(url: str, clock: FakeClock | None = None, **kw: int) -> TimeSeriesWriter:
    options = {"flush_interval_ms": 50, "retry_interval_ms": 50, "max_retry_time_ms": 2000,
               **kw}
    return TimeSeriesWriter(
        url=url, token="t", org="o", bucket="b", metrics=IngestMetrics(), batch_size=100,
        monotonic=clock or FakeClock(), **options,
    )


def test_a_retried_and_parked_batch_resends_the_same_lines(
    flaky: tuple[str, type[FlakyInflux]],
) -> None:
    url, server = flaky
    server.fail = 10**6  # down until told otherwise: the client's retries give up, it parks
    w = _writer(url)
    try:
        w.write_lines(LINES)
        wait_until(lambda: w._parked, what="the batch to be parked")
        assert not w.healthy()
        server.fail = 0
        w.retry_parked()
        wait_until(lambda: w.pending == 0, what="the parked batch to be written")
        assert len(server.bodies) >= 3  # the first try, the client's retries, the re-offer
        for body in server.bodies:  # every attempt: the same lines, the same timestamps
            assert sorted(body.splitlines()) == sorted(LINES)
        assert w.healthy()
    finally:
        w.close()


def test_healthy_while_the_server_keeps_up(flaky: tuple[str, type[FlakyInflux]]) -> None:
    url, server = flaky
    server.fail = 0
    w = _writer(url)
    try:
        assert w.healthy()
        w.write_lines(LINES)
        wait_until(lambda: w.pending == 0, what="the points written")
        assert w.healthy()
    finally:
        w.close()


def test_a_failed_attempt_is_unhealthy_at_once_until_a_write_succeeds(
    flaky: tuple[str, type[FlakyInflux]],
) -> None:
    url, server = flaky
    server.fail = 1  # the first attempt fails, the client's own retry succeeds
    w = _writer(url, retry_interval_ms=1000)
    try:
        w.write_lines(LINES[:1])
        wait_until(lambda: len(server.bodies) == 1, what="the first attempt")
        wait_until(lambda: not w.healthy(), what="unhealthy after the 503")
        wait_until(lambda: w.pending == 0, what="the retry to succeed")
        assert w.healthy()
    finally:
        w.close()


def test_a_hung_server_is_unhealthy_once_the_oldest_point_is_stale() -> None:
    # a socket that listens and never answers: the request waits out its timeout
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    clock = FakeClock()
    w = _writer(f"http://127.0.0.1:{hung.getsockname()[1]}", clock,
                timeout_ms=60_000, stale_after_ms=5000)
    try:
        w.write_lines(LINES)
        assert w.healthy()  # just written: not late yet
        clock.now += 4.9
        assert w.healthy()
        clock.now += 0.2
        assert not w.healthy()  # 5.1 s old, and the server has said nothing
        assert w.pending == len(LINES)
    finally:
        hung.close()  # the request fails now; close() waits for the writer to give up
        w.close()


def test_close_offers_parked_batches_once_more(flaky: tuple[str, type[FlakyInflux]]) -> None:
    url, server = flaky
    server.fail = 10**6
    w = _writer(url)
    w.write_lines(LINES)
    wait_until(lambda: w._parked, what="the batch to be parked")
    server.fail = 0  # back just before the stop
    w.close()
    m = w._metrics.registry
    assert m.get_sample_value("lantian_influx_points_written_total") == len(LINES)
    assert m.get_sample_value("lantian_influx_points_failed_total") == 0
    assert sorted(server.bodies[-1].splitlines()) == sorted(LINES)


def test_close_with_the_server_away_counts_what_is_lost(
    flaky: tuple[str, type[FlakyInflux]], caplog: pytest.LogCaptureFixture,
) -> None:
    url, server = flaky
    server.fail = 10**6  # away for good
    w = _writer(url, max_retry_time_ms=500)
    w.write_lines(LINES)
    wait_until(lambda: w._parked, what="the batch to be parked")
    w.close()
    m = w._metrics.registry
    assert m.get_sample_value("lantian_influx_points_failed_total") == len(LINES)
    assert m.get_sample_value("lantian_influx_points_pending") == 0
    assert f"stopping with {len(LINES)} points the server has not taken" in caplog.text
