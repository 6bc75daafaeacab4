"""Readings read back from InfluxDB: one station's one metric over a span, for the incident
page's chart of what was measured around an alert.

Read over InfluxDB's `/query` endpoint in InfluxQL, the v1-compatible read API that
InfluxDB 1.x serves and InfluxDB 2.x serves too once the bucket is mapped to a database of
the same name (`influx v1 dbrp create --db lantian --rp autogen --bucket-id <id>
--default`). The measurement, tag and field names are those `ingest._timeseries` writes:
`reading,station=<id>,... <metric>=<value> <ms>`; only valid (flag N) values are there.
Every interval and source the station sent (instants, minute or hour values) is read as
one series, in time order: what was measured, as it came in.

The query text is built by `readings_query`, a pure function: the station is a string
literal and the metric an identifier, each quoted and escaped as InfluxQL's scanner reads
them, and both are checked first (a metric is a lower-case name, a station at most 100
printable characters), so a name with a quote in it selects nothing else. Every read is
bounded: at most `max_points` points, at most `MAX_BODY` bytes of answer, and `timeout_s`
for the whole exchange (connect, send, the answer's last byte), so a hung server costs
the caller that long and no more. Whatever goes wrong (refused, down, hung, a 4xx/5xx,
an answer that is not InfluxDB's JSON) raises `TimeSeriesUnavailable` saying why.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import httpx

#: The most points one read returns (the earliest first).
MAX_POINTS: Final = 2000
#: The most bytes of answer read: 2,000 points are some 60 kB.
MAX_BODY: Final = 1 << 20
#: The whole exchange's deadline, seconds: an officer waits for the chart.
TIMEOUT_S: Final = 2.0

_METRIC: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_STATION_MAX: Final = 100


class TimeSeriesUnavailable(Exception):
    """The time series could not be read; the message says why."""


def quote_identifier(name: str) -> str:
    """`name` as an InfluxQL double-quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(text: str) -> str:
    """`text` as an InfluxQL single-quoted string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _rfc3339(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("a time of the query needs its offset")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_series(station: str, metric: str) -> None:
    """Raise `TimeSeriesUnavailable` unless (station, metric) names a series the writer
    could have written and the query can carry."""
    if not _METRIC.fullmatch(metric):
        raise TimeSeriesUnavailable(f"metric {metric[:40]!r} is not a metric name")
    if not station or len(station) > _STATION_MAX or not station.isprintable():
        raise TimeSeriesUnavailable(f"station {station[:40]!r} is not a station id")


def readings_query(station: str, metric: str, since: datetime, until: datetime,
                   limit: int) -> str:
    """The InfluxQL statement selecting `metric` of `station` in [since, until], earliest
    first, at most `limit` points."""
    check_series(station, metric)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return (
        f"SELECT {quote_identifier(metric)} FROM \"reading\""
        f" WHERE \"station\" = {quote_string(station)}"
        f" AND time >= '{_rfc3339(since)}' AND time <= '{_rfc3339(until)}'"
        f" ORDER BY time ASC LIMIT {int(limit)}"
    )


def parse_answer(body: bytes) -> list[tuple[datetime, float]]:
    """The (time, value) points of a `/query?epoch=ms` answer, in time order; an error the
    server reports in it, or anything else than its JSON, raises `TimeSeriesUnavailable`."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TimeSeriesUnavailable(f"InfluxDB's answer is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise TimeSeriesUnavailable("InfluxDB's answer is not a JSON object")
    if doc.get("error"):
        raise TimeSeriesUnavailable(f"InfluxDB refused the query: {str(doc['error'])[:200]}")
    results = doc.get("results")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise TimeSeriesUnavailable("InfluxDB's answer has no results")
    result = results[0]
    if result.get("error"):
        raise TimeSeriesUnavailable(f"InfluxDB refused the query: {str(result['error'])[:200]}")
    series = result.get("series", [])
    if not isinstance(series, list):
        raise TimeSeriesUnavailable("InfluxDB's answer has malformed series")
    points = [p for s in series for p in _points(s)]
    points.sort(key=lambda p: p[0])
    return points


def _points(series: Any) -> list[tuple[datetime, float]]:
    values = series.get("values", []) if isinstance(series, dict) else None
    if not isinstance(values, list):
        raise TimeSeriesUnavailable("InfluxDB's answer has malformed series")
    out = []
    for row in values:
        if not (isinstance(row, list) and len(row) == 2):
            raise TimeSeriesUnavailable(f"InfluxDB's answer has a malformed row: {row!r:.80}")
        ms, value = row
        if value is None:
            continue  # a time at which the series has other fields only
        if (not isinstance(ms, int) or isinstance(ms, bool) or isinstance(value, bool)
                or not isinstance(value, int | float)):
            raise TimeSeriesUnavailable(f"InfluxDB's answer has a malformed row: {row!r:.80}")
        try:
            at = datetime.fromtimestamp(ms / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise TimeSeriesUnavailable(f"InfluxDB's answer has a time out of range: {ms}") \
                from None
        out.append((at, float(value)))
    return out


class TimeSeriesReader:
    """Reads readings back from the InfluxDB at `url` (database `bucket`), with `token`
    when one is given."""

    def __init__(self, *, url: str, bucket: str, token: str = "",
                 timeout_s: float = TIMEOUT_S, max_points: int = MAX_POINTS) -> None:
        self.url = url.rstrip("/")
        self.bucket = bucket
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        self.timeout_s = timeout_s
        self.max_points = max_points
        # built once, here: loading the CA bundle takes tens of milliseconds, which a
        # client made per read would spend on the event loop every time a chart opens
        self._tls = httpx.create_ssl_context()

    async def readings(self, station: str, metric: str, since: datetime, until: datetime,
                       limit: int | None = None) -> Sequence[tuple[datetime, float]]:
        """`metric` of `station` in [since, until], earliest first, at most `limit` (and
        `max_points`) points; raises `TimeSeriesUnavailable` saying why it could not."""
        n = min(limit or self.max_points, self.max_points)
        query = readings_query(station, metric, since, until, n)
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await self._get(query)
        except TimeoutError:
            raise TimeSeriesUnavailable(
                f"InfluxDB at {self.url} did not answer within {self.timeout_s:g} s") from None
        return parse_answer(body)[:n]

    async def _get(self, query: str) -> bytes:
        params = {"db": self.bucket, "q": query, "epoch": "ms"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, verify=self._tls) as client:
                request = client.build_request("GET", f"{self.url}/query", params=params,
                                               headers=self._headers)
                response = await client.send(request, stream=True)
                try:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY:
                            raise TimeSeriesUnavailable(
                                f"InfluxDB's answer is over {MAX_BODY} bytes")
                    status = response.status_code
                finally:
                    await response.aclose()
        except httpx.HTTPError as exc:
            raise TimeSeriesUnavailable(
                f"InfluxDB at {self.url} cannot be read: {type(exc).__name__} {exc}".strip()
            ) from None
        if status != 200:
            raise TimeSeriesUnavailable(
                f"InfluxDB at {self.url} answered {status}: {_said(bytes(body))}")
        return bytes(body)


def _said(body: bytes) -> str:
    """What an error answer says, short."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("error"):
            return str(doc["error"])[:200]
        if isinstance(doc, dict) and doc.get("message"):  # InfluxDB 2.x's shape
            return str(doc["message"])[:200]
    except (ValueError, UnicodeDecodeError):
        pass
    return body[:200].decode("utf-8", "replace") or "(no body)"
