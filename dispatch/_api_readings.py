"""`GET /api/alerts/{id}/readings`: what was measured around an alert, for the incident
page's chart with the limit line.

The readings of the alert's station and metric from half an hour before it was raised to
half an hour after (or its closing, or now, whichever comes first), read from InfluxDB
when the service writes there (`ReadingSource`, which the composition root hands in:
dispatch does not talk to InfluxDB itself). Without InfluxDB, for an alert that is not a
station's (a drone's), or when InfluxDB cannot be read, the answer is the rule window kept
in the alert's evidence at raise time, and says so: `source` is `"rule window"`, and an
`error` says why InfluxDB was not used when it should have been. A failing InfluxDB is
logged, once a minute at most: an officer opening pages must not flood the log.

Who may read it is who may read the alert (`check_may_act`).
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any, Final, Protocol

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from dispatch._alert import Alert
from dispatch._api_alerts import check_may_act
from dispatch._api_answer import answer
from dispatch._api_models import answers
from dispatch._api_params import AlertId
from dispatch._dispatcher import Clock, NotFound
from dispatch._guard import Officer
from dispatch._turns import Turns
from rules.records import METRIC_UNITS

log = logging.getLogger(__name__)

#: Minutes charted either side of the raise, unless the request asks otherwise.
AROUND_MIN: Final = 30
#: The most minutes a request may ask for either side: half a day.
MAX_MINUTES: Final = 720
#: The most points charted.
MAX_POINTS: Final = 2000
#: Seconds between two warnings that InfluxDB cannot be read.
WARN_EVERY_S: Final = 60.0

INFLUXDB: Final = "influxdb"
RULE_WINDOW: Final = "rule window"


class ReadingSource(Protocol):
    """The stored readings of one station's metric (ingest's InfluxDB reader). Raises an
    exception saying why when they cannot be read."""

    async def readings(self, station: str, metric: str, since: datetime, until: datetime,
                       limit: int | None = None) -> Sequence[tuple[datetime, float]]: ...


class AlertReadings(BaseModel):
    """The readings around an alert, oldest first, as [time, value] pairs; where they come
    from (`influxdb` or the `rule window` of the alert's evidence), the metric, its unit
    and the alert's limit; `error` says why InfluxDB was not used when configured."""

    model_config = ConfigDict(extra="forbid")
    source: str
    metric: str | None
    unit: str
    limit: float | None
    since: str
    until: str
    readings: list[tuple[str, float]]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """The times charted: [since, until]."""

    since: datetime
    until: datetime


def span_around(raised_at: datetime, closed_at: datetime | None, now: datetime,
                minutes: int = AROUND_MIN) -> Span:
    """`minutes` before the raise to `minutes` after it, or to the closing or now if that
    comes first (never before the raise: a clock behind the alert's time still charts
    the minutes before it)."""
    around = timedelta(minutes=minutes)
    end = min(closed_at or now, raised_at + around)
    return Span(raised_at - around, max(end, raised_at))


def station_of(alert: Alert) -> str | None:
    """The station an alert is about, or None (a drone's, a zone's)."""
    kind, _, name = alert.subject.partition(":")
    return name if kind == "station" and name else None


def rule_window(description: Mapping[str, Any]) -> list[list[Any]]:
    """The readings kept in the alert's evidence at raise time, [[iso, value], ...]."""
    evidence = description.get("evidence")
    readings = evidence.get("readings") if isinstance(evidence, dict) else None
    return [list(r) for r in readings] if isinstance(readings, list) else []


class Throttle:
    """True at most once every `every_s` seconds of `clock`."""

    def __init__(self, clock: Clock, every_s: float) -> None:
        self._clock, self._every = clock, timedelta(seconds=every_s)
        self._last: datetime | None = None

    def __call__(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self._every:
            return False
        self._last = now
        return True


def readings_routes(router: APIRouter, find: Callable[[str], Alert], tz: tzinfo,
                    clock: Clock, source: ReadingSource | None = None,
                    turns: Turns | None = None) -> None:
    """The route, reading alerts with `find` (the dispatcher's `get`: the alert without
    its event log, which the chart does not need) in the store writer's `turns`."""
    in_turn = turns or Turns.inline()
    warn = Throttle(clock, WARN_EVERY_S)

    @router.get("/alerts/{alert_id}/readings", response_model=None,
                responses=answers(AlertReadings, 403, 404, 422))
    async def alert_readings(
        alert_id: AlertId, token: Officer,
        minutes: Annotated[int, Query(ge=1, le=MAX_MINUTES)] = AROUND_MIN,
    ) -> Response:
        """The readings of the alert's station and metric from `minutes` (default 30,
        at most 720) before it was raised to as long after (or its closing, or now), from
        InfluxDB when configured, else the rule window of its evidence."""
        try:
            alert = await in_turn(find, alert_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        check_may_act(alert, token)
        incident = alert.incident
        span = span_around(incident.raised_at, incident.closed_at, clock(), minutes)
        metric = alert.description.get("metric")
        metric = metric if isinstance(metric, str) else None
        threshold = alert.description.get("threshold")
        out: dict[str, Any] = {
            "source": RULE_WINDOW, "metric": metric, "unit": METRIC_UNITS.get(metric or "", ""),
            "limit": threshold if isinstance(threshold, int | float) else None,
            "since": span.since.astimezone(tz).isoformat(),
            "until": span.until.astimezone(tz).isoformat(),
            "readings": rule_window(alert.description),
        }
        station = station_of(alert)
        if source is None or station is None or metric is None:
            return answer(out)
        try:
            points = await source.readings(station, metric, span.since, span.until,
                                           MAX_POINTS)
        except Exception as exc:  # another package's IO: whatever it raises, fall back
            out["error"] = str(exc) or type(exc).__name__
            if warn():
                log.warning("readings of alert %s from InfluxDB: %s; the rule window is "
                            "charted instead", alert.id, out["error"])
            return answer(out)
        if not points and out["readings"]:
            out["error"] = f"InfluxDB holds no {metric} readings of {station} in this span"
            return answer(out)
        out["source"] = INFLUXDB
        out["readings"] = [[at.astimezone(tz).isoformat(), v] for at, v in points]
        return answer(out)
