"""Readings and drone positions to InfluxDB (v2 write API), posted a batch at a time by
a flusher thread of our own through influxdb-client's write service, with the retry
strategy of its batching writer.

Schema (line protocol, millisecond precision):

    reading,station=KY-CS-001,interval=instant,source=hj212 pm10=187,tsp=320 <ts>
    reading_flagged,station=KY-CS-001,metric=pm10,flag=C value=12 <ts>
    drone_position,drone=KY-UAV-01,source=dji lat=30.03,lon=120.50,alt_m=80.6,... <ts>

Only valid (flag N) values go to `reading`, so a dashboard's mean is never polluted by a
calibration run; the others are kept apart in `reading_flagged`.

A batch the server does not take (down, timing out, 5xx) is parked and offered again
later, so an outage delays points but does not drop them. Only a batch the server
refuses as malformed (4xx other than 429), or points beyond `max_pending`, are given up,
counted and logged.

Retries are idempotent by construction on the client's side: every line carries its own
timestamp (the record's, never the time of sending) and a retry sends the very lines it
was given, so a batch that timed out after the server had in fact stored it is stored
again with the same series and time. InfluxDB keeps one point per series, field and
timestamp (the last write wins), so that is harmless there. VictoriaMetrics keeps every
sample it is sent unless started with `-dedup.minScrapeInterval=1ms`, which gives it the
same one-per-millisecond rule; without it a hung server yields duplicates.

Delivery: a point is in the server once `lantian_influx_points_written_total` counts it.
Until then it lives in this process's memory only (the batch buffer, for up to
`flush_interval_ms` while the server keeps up; every pending point while it does not), and
a kill -9 loses it: its MQTT message has already been acknowledged to the broker. A
graceful stop (`close()`) flushes the buffer and offers parked batches once more, for up
to 10 s; what the server has not taken by then is counted as failed and logged.
`healthy()` says whether the server keeps up, for a degraded (not failed) /healthz.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final

from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import WriteOptions
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.service.write_service import WriteService

from ingest._metrics import IngestMetrics
from rules.records import VALID_FLAG, DronePosition, Measurement, Reading, Record

log = logging.getLogger(__name__)

# the client's stubs declare the enum type but its constants as plain str
_MS: Any = WritePrecision.MS


def _escape_tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _tags(pairs: Iterable[tuple[str, str | None]]) -> str:
    return "".join(f",{k}={_escape_tag(v)}" for k, v in pairs if v)


def _fields(pairs: Iterable[tuple[str, float | int | None]]) -> str:
    return ",".join(
        f"{k}={v}i" if isinstance(v, int) else f"{k}={v!r}" for k, v in pairs if v is not None
    )


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


#: A reading's tag set by (station, interval, source): the same few hundred keys over
#: and over, escaped once (bounded, should the station ids be many).
_READING_TAGS: dict[tuple[str, str, str], str] = {}
_READING_TAGS_MAX: Final = 100_000


def _reading_tags(station: str, interval: str, source: str) -> str:
    key = (station, interval, source)
    tags = _READING_TAGS.get(key)
    if tags is None:
        tags = _tags((("station", station), ("interval", str(interval)), ("source", source)))
        if len(_READING_TAGS) < _READING_TAGS_MAX:
            _READING_TAGS[key] = tags
    return tags


def _reading_lines(record: Reading) -> list[str]:
    """`to_lines` of a reading: on the path of every message, so written for speed (one
    pass over the values, float fields without a generator); the output is the general
    rule's, which `tests/unit/ingest/test_timeseries_lines.py` holds it to."""
    ms = _ms(record.ts)
    fields: list[str] = []
    flagged: list[tuple[str, Measurement]] | None = None
    for metric, v in record.values.items():
        if v.flag != VALID_FLAG:
            (flagged := flagged or []).append((metric, v))
            continue
        value = v.value
        if type(value) is float:
            fields.append(f"{metric}={value!r}")
        elif value is not None:
            fields.append(f"{metric}={value}i" if isinstance(value, int) else f"{metric}={value!r}")
    if record.location is not None:
        fields.append(f"lat={record.location.lat!r},lon={record.location.lon!r}")
    lines = []
    if fields:
        # the interval as itself (a str), not `.value`: an enum descriptor on every message
        tags = _reading_tags(record.station, record.interval, record.source)
        lines.append(f"reading{tags} {','.join(fields)} {ms}")
    for metric, v in flagged or ():
        t = _tags((("station", record.station), ("metric", metric), ("flag", v.flag)))
        lines.append(f"reading_flagged{t} value={v.value!r} {ms}")
    return lines


def to_lines(record: Record) -> list[str]:
    """The line-protocol lines for a record (none for missions and findings)."""
    if type(record) is Reading:
        return _reading_lines(record)
    if isinstance(record, DronePosition):
        tags = _tags((("drone", record.drone), ("mission", record.mission),
                      ("source", record.source)))
        fields = _fields(
            (("lat", record.location.lat), ("lon", record.location.lon), ("alt_m", record.alt_m),
             ("heading", record.heading), ("speed_mps", record.speed_mps),
             ("battery_pct", record.battery_pct), ("waypoint", record.waypoint))
        )
        return [f"drone_position{tags} {fields} {_ms(record.ts)}"]
    return []


class TimeSeriesWriter:
    def __init__(
        self,
        *,
        url: str,
        token: str,
        org: str,
        bucket: str,
        metrics: IngestMetrics,
        batch_size: int = 5000,
        flush_interval_ms: int = 1000,
        max_pending: int = 1_000_000,
        timeout_ms: int = 10_000,
        retry_interval_ms: int = 1000,
        max_retry_time_ms: int = 15_000,
        stale_after_ms: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bucket, self._org = bucket, org
        self._metrics = metrics
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._pending = 0
        self._parked: deque[bytes] = deque()
        # health: how old the oldest unsettled point is, and whether the last attempt failed
        self._monotonic = monotonic
        self._stale_after = (
            stale_after_ms if stale_after_ms is not None else flush_interval_ms + timeout_ms
        ) / 1000
        self._ages: deque[list[float]] = deque()  # [first write time, points], oldest first
        self._failing = False
        # Lines wait here, rendered, until a batch is full or the flush interval passed;
        # the flusher thread alone posts them, a batch at a time. The client's batching
        # writer (an rx pipeline) costs tens of µs an item: an item a point on the event
        # loop's thread was a fifth of the whole service's CPU under a backlog.
        self._batch_size = batch_size
        self._flush_s = flush_interval_ms / 1000
        self._buffer: list[str] = []
        self._reoffer: list[bytes] = []  # parked batches to offer again
        self._wake = threading.Event()
        self._closing = False
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=timeout_ms)
        # The flusher posts each batch itself, through the client's write service with
        # the client's retry strategy (what its batching WriteApi does for an item, less
        # the rx pipeline and its two threads: ~1 ms of CPU a batch, twice the post's).
        self._service = WriteService(self._client.api_client)  # type: ignore[no-untyped-call]
        self._retries = WriteOptions(
            retry_interval=retry_interval_ms,
            max_retries=3,
            max_retry_delay=5000,
            max_retry_time=max_retry_time_ms,
        )
        self._close_wait_s = 10.0
        self._gave_up = False  # close() stopped waiting: a late answer settles nothing
        # read at each scrape: a gauge set a write cost a lock of its own a message
        metrics.points_pending.set_function(lambda: self._pending)
        self._flusher = threading.Thread(target=self._flush_loop, name="influx-flush",
                                         daemon=True)
        self._flusher.start()

    @property
    def pending(self) -> int:
        return self._pending

    def healthy(self) -> bool:
        """False while the server does not keep up: a batch is parked, the last attempt
        failed, or a point has waited longer than `stale_after_ms` (default: the flush
        interval plus the request timeout). For a degraded /healthz, not a failed one:
        the points wait, nothing is lost while the process lives."""
        with self._lock:
            if self._parked or self._failing:
                return False
            return not self._ages or self._monotonic() - self._ages[0][0] <= self._stale_after

    def write(self, record: Record) -> None:
        self.write_lines(to_lines(record))

    def write_lines(self, lines: list[str]) -> None:
        """Line-protocol lines at millisecond precision (other parts' points, e.g.
        dispatch's incident response times, go through the same batching and parking)."""
        if not lines:
            return
        with self._lock:
            if self._pending + len(lines) > self._max_pending:
                self._metrics.points_failed.inc(len(lines))
                log.error("time series: %d points pending, over the limit: dropping new points",
                          self._pending)
                return
            self._pending += len(lines)
            now = self._monotonic()
            # one entry a second at most, so an outage costs a few bytes a second here
            if self._ages and now - self._ages[-1][0] < 1.0:
                self._ages[-1][1] += len(lines)
            else:
                self._ages.append([now, len(lines)])
            self._buffer += lines
            full = len(self._buffer) >= self._batch_size
        if full:
            self._wake.set()

    def retry_parked(self) -> int:
        """Offer parked batches to the server again; returns the number of points offered."""
        with self._lock:
            batches = list(self._parked)
            self._parked.clear()
            self._reoffer += batches
        if batches:
            self._wake.set()
        return sum(_count_lines(b) for b in batches)

    def _flush_loop(self) -> None:
        """The flusher thread: every flush interval, or at once when a batch is full,
        post the buffered lines in batches, and the parked ones offered again; the last
        round runs after `close()` asked for it."""
        while True:
            self._wake.wait(self._flush_s)
            self._wake.clear()
            with self._lock:
                lines, self._buffer = self._buffer, []
                reoffer, self._reoffer = self._reoffer, []
                closing = self._closing
            size = self._batch_size
            batches = reoffer + [
                "\n".join(lines[i:i + size]).encode() for i in range(0, len(lines), size)
            ]
            for batch in batches:
                if self._gave_up:
                    return
                self._post(batch)
            if closing:
                return

    def _post(self, batch: bytes) -> None:
        """One batch to the server, retried as the client's batching writer retries an
        item (a new strategy a batch: its time limit starts with the first attempt)."""
        retry = self._retries.to_retry_strategy(  # type: ignore[no-untyped-call]
            retry_callback=lambda exc: self._on_retry(batch, exc)
        )
        try:
            self._service.post_write(  # type: ignore[no-untyped-call]
                org=self._org, bucket=self._bucket, body=batch, precision=_MS,
                async_req=False, content_type="text/plain; charset=utf-8",
                urlopen_kw={"retries": retry},
            )
        except Exception as exc:  # whatever the request raised: the batch is not lost
            self._on_error(batch, exc)
        else:
            self._on_success(batch)

    def close(self) -> None:
        """Flush, offering the parked batches once more; waits up to 10 s for the
        server. What it has not taken by then is given up, counted and logged: a stop
        with the server away must not lose points in silence."""
        self.retry_parked()
        with self._lock:
            self._closing = True
        self._wake.set()
        self._flusher.join(self._close_wait_s)
        with self._lock:
            self._gave_up = True
            lost, self._pending = self._pending, 0
            self._parked.clear()
            self._ages.clear()
        self._client.close()  # type: ignore[no-untyped-call]
        if lost:
            self._metrics.points_failed.inc(lost)
            log.error("time series: stopping with %d points the server has not taken: "
                      "they are lost", lost)

    # what became of a batch, on the flusher's thread
    def _settled(self, points: int) -> None:
        # under the lock: settled points are taken off the oldest entries (batches settle
        # roughly in the order they were written, and a parked one makes healthy() False)
        self._pending -= points
        while points and self._ages:
            first = self._ages[0]
            taken = min(points, int(first[1]))
            first[1] -= taken
            points -= taken
            if not first[1]:
                self._ages.popleft()

    def _on_success(self, batch: bytes) -> None:
        n = _count_lines(batch)
        with self._lock:
            if self._gave_up:
                return
            self._metrics.points_written.inc(n)  # counted before it is no longer pending
            self._failing = False
            self._settled(n)

    def _on_retry(self, _batch: bytes, exc: Exception) -> None:
        self._failing = True
        log.info("time series: write failed, retrying: %s", exc)

    def _on_error(self, batch: bytes, exc: Exception) -> None:
        n = _count_lines(batch)
        status = exc.response.status if isinstance(exc, InfluxDBError) and exc.response else None
        if status is not None and 400 <= status < 500 and status != 429:
            with self._lock:
                if self._gave_up:
                    return
                self._metrics.points_failed.inc(n)
                self._settled(n)
            log.error("time series: server refused %d points (%s): %s", n, status, exc)
            return
        with self._lock:
            if self._gave_up:
                return
            self._failing = True
            self._parked.append(batch)
        log.warning("time series: %d points parked for retry: %s", n, exc)


def _count_lines(batch: bytes) -> int:
    return batch.count(b"\n") + 1
