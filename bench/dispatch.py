"""Dispatch at the scale of a city's year: a synthetic 2025 of incidents loaded into the
SQLite store, the bureau's response-time metrics and monthly report timed on it, and
lifecycle commands timed through the HTTP API.

    python -m bench.dispatch [--alerts 1000000] [--runs 3] [--commands 2000] [--db PATH]

THE YEAR (--alerts, --seed): raise times spread over 2025 in Asia/Shanghai, more in winter
and spring, fewer at weekends and over the Spring Festival, by day for the sensors' kinds
and by night for muck trucks; 800 stations (a few much noisier than the rest) in 30 zones
of 4 grids each, 6 % of them in no zone; 8 kinds routed to the two shipped queues as the
shipped routes do (72 % blue_sky). Each alert lives its life through the real lifecycle
(`dispatch._lifecycle.apply`): 5 % muted (raised, silenced; half later cleared), the rest
dispatched, acknowledged (median 2 min; 10 % closed straight from the queue), a drone sent
to 35 %, on scene for 25 %, closed (median 14 min, ~10 % after the 30-minute deadline,
3 % hours or days later; 78 % resolved, 17 % false alarms, 5 % duplicates), escalated
once per stage when a deadline passes (the 15 s sweep), 1 % transferred, 1.5 % reopened
(most closed again), and 4 % never closed (forgotten). Events after the year's end have
not happened yet. Every change is its own `create`/`append`, in time order, inside
`bulk()` blocks of BLOCK alerts: the write pattern of the service, minus the commits.
--db PATH keeps the loaded file for the next run (the load takes minutes).

METRICS: what the API's endpoint does, `metric_columns` + `response_times_of`, for a
month (--month) and for the year, by queue and by day, `now` the end of the year; for
comparison the year through `metric_rows` + `response_times` (the same figures from
`MetricRow`s). REPORT: `closed_rows` + `open_rows` + `monthly_report` for --month and for
December, which carries over the most (the year's forgotten alerts, and every muted one:
muted alerts are never closed, so each is read to be counted). Each case runs once
untimed (the file into the page cache), then --runs times round-robin; the figure is
store read + compute.

COMMANDS: `api_router` on uvicorn (h11, asyncio, as `lantian.app.serve` mounts it, but no
MQTT publisher and no sweeps) with its own `SqliteStore` on the loaded file, first in a
background thread of this process (the clients then share its GIL: pessimistic), then in
a process of its own, whose CPU time a command is reported too. A round: --commands/3
fresh open alerts (written by this process's store, as the engine would), each
acknowledged, sent a drone and closed over HTTP by httpx clients, first one client in
sequence, then --clients clients in threads at once. A response other than 200 is an
error; the server's own exceptions are tallied (thread mode) and printed.
"""

from __future__ import annotations

import argparse
import heapq
import logging
import math
import multiprocessing
import os
import random
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import orjson
import uvicorn
from fastapi import FastAPI
from rich.markup import escape
from rich.table import Table

from bench._common import console, machine_info, print_header, spread, write_results
from dispatch import AlertTopics, Deadlines, Dispatcher, Role, Router, Token
from dispatch._alert import Alert
from dispatch._api import api_router
from dispatch._figures import GroupBy, MetricColumns, MetricRow, response_times, response_times_of
from dispatch._lifecycle import Event, Incident, apply
from dispatch._queries import Queries
from dispatch._report import month_bounds, monthly_report
from dispatch._sqlite import SqliteStore
from tests.support import free_port

TZ: Final = ZoneInfo("Asia/Shanghai")
YEAR_START: Final = datetime(2025, 1, 1, tzinfo=TZ)
YEAR_END: Final = datetime(2026, 1, 1, tzinfo=TZ)
TARGET_S: Final = 1.0
TARGET_COMMANDS: Final = 500.0  # per second
SNAPSHOT: Final = "bench.dispatch"  # the loaded year's parameters, kept in the file
GENERATOR: Final = 1  # bump when the synthetic year changes: an old file is then refused
BLOCK: Final = 10_000  # alerts raised per bulk() transaction

ACK_S, CLOSE_S = 300.0, 1800.0  # the shipped SLA of both queues
SWEEP_S = 15.0
QUEUES: Final = {"blue_sky": Deadlines(), "law_enforcement": Deadlines()}

#: kind -> (share of alerts, rule, queue (as the shipped routes send it), hours profile)
DAY, NIGHT = "day", "night"
KINDS: Final = {
    "dust_exceedance": (0.45, "site-pm10-15min", "blue_sky", DAY),
    "air_quality": (0.12, "ambient-aqi-1h", "blue_sky", DAY),
    "no_data": (0.10, "no-data", "blue_sky", DAY),
    "dust_plume": (0.05, "finding-dust-plume", "blue_sky", DAY),
    "road_dust": (0.12, "road-pm10-rise", "law_enforcement", NIGHT),
    "muck_on_road": (0.10, "finding-muck-truck", "law_enforcement", NIGHT),
    "uncovered_earth": (0.04, "finding-bare-earth", "law_enforcement", DAY),
    "illegal_land_use": (0.02, "finding-land-use", "law_enforcement", DAY),
}
_HOURS: Final = {
    # construction hours, a lunch dip; muck trucks run from 22:00 to 05:00
    DAY: [1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 6, 8, 10, 10, 10, 9, 6, 4, 3, 2, 1, 1],
    NIGHT: [9, 9, 8, 7, 5, 3, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 8, 9],
}
N_STATIONS, N_ZONES, GRIDS_PER_ZONE = 800, 30, 4
OFFICERS: Final = {"blue_sky": [f"蓝天-{i:02d}" for i in range(1, 13)],
                   "law_enforcement": [f"执法-{i:02d}" for i in range(1, 9)]}
DRONES: Final = [f"KY-UAV-{i:02d}" for i in range(1, 5)]
NOTES: Final = {"resolved": "已现场处置，洒水降尘", "false_alarm": "现场核实无异常",
                "duplicate": "与前一告警重复"}


# -- the synthetic year -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    zone: str | None
    grid: str | None
    lat: float
    lon: float


def _stations(rng: np.random.Generator) -> list[Station]:
    zone_of = rng.integers(0, N_ZONES, N_STATIONS)
    out = []
    for i in range(N_STATIONS):
        z = int(zone_of[i])
        if rng.random() < 0.06:
            zone, grid = None, None
        else:
            zone = f"KY-Z{z + 1:02d}"
            grid = f"G-{z * GRIDS_PER_ZONE + int(rng.integers(0, GRIDS_PER_ZONE)) + 1:03d}"
        out.append(Station(f"KY-ST-{i + 1:04d}", zone, grid, 29.98 + rng.random() * 0.08,
                           120.45 + rng.random() * 0.10))
    return out


def _raise_times(rng: np.random.Generator, kinds: np.ndarray, n: int) -> np.ndarray:
    """Epoch seconds of each alert's raise, given its kind's index (see KINDS)."""
    days = (YEAR_END - YEAR_START).days
    doy = np.arange(days)
    weight = 1 + 0.35 * np.cos(2 * np.pi * (doy - 15) / 365)  # dusty winter and spring
    weekday = np.array([(YEAR_START + timedelta(days=int(d))).weekday() for d in doy])
    weight *= np.where(weekday == 6, 0.7, np.where(weekday == 5, 0.85, 1.0))
    festival = (doy >= 27) & (doy <= 35)  # 2025-01-28 .. 02-05: sites stand still
    weight[festival] *= 0.3
    day = rng.choice(days, n, p=weight / weight.sum())
    profiles = {p: np.array(h, float) / sum(h) for p, h in _HOURS.items()}
    hour = np.empty(n, np.int64)
    profile_of = np.array([KINDS[k][3] == NIGHT for k in KINDS])[kinds]
    for night, p in ((False, profiles[DAY]), (True, profiles[NIGHT])):
        mask = profile_of == night
        hour[mask] = rng.choice(24, int(mask.sum()), p=p)
    # Shanghai has kept UTC+8 all year since 1991: local midnight + seconds is exact
    seconds = day * 86400.0 + hour * 3600.0 + rng.random(n) * 3600.0
    return np.round(YEAR_START.timestamp() + seconds, 3)  # milliseconds, like the service


Step = tuple[float, str, str, dict[str, Any]]  # at, kind, actor, data


class Year:
    """The synthetic year, alert by alert in raise order; see the module docstring."""

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.rnd = random.Random(seed)
        self.stations = _stations(rng)
        shares = np.array([v[0] for v in KINDS.values()])
        self.kinds = rng.choice(len(KINDS), n, p=shares / shares.sum())
        times = _raise_times(rng, self.kinds, n)
        order = np.argsort(times, kind="stable")
        self.times, self.kinds = times[order], self.kinds[order]
        # a few stations are much noisier than the rest (Zipf-like)
        noise = 1.0 / np.arange(1, N_STATIONS + 1) ** 0.8
        self.station_of = rng.choice(N_STATIONS, n, p=noise / noise.sum())[order]
        self.end = YEAR_END.timestamp()
        self.busy: dict[tuple[str, str], float] = {}  # (rule, subject) -> free again at

    def __len__(self) -> int:
        return len(self.times)

    def alert(self, i: int) -> tuple[Alert, list[Step], list[Step]]:
        """Alert i as raised, the events of its create, and its later steps in time order
        (those before the year's end)."""
        r = self.rnd
        t0 = float(self.times[i])
        kind = list(KINDS)[int(self.kinds[i])]
        _share, rule, queue, _profile = KINDS[kind]
        station = self.stations[int(self.station_of[i])]
        subject = station.id
        for _ in range(5):  # one open alert per (rule, subject): another station if taken
            if self.busy.get((rule, subject), -math.inf) <= t0:
                break
            station = self.stations[r.randrange(N_STATIONS)]
            subject = station.id
        else:
            subject = f"{station.id}#{i}"
        raised_at = datetime.fromtimestamp(t0, TZ)
        severity = r.choices(("warning", "major", "critical"), (0.3, 0.6, 0.1))[0]
        alert = Alert(
            incident=Incident(id=f"{int(t0 * 1000):011x}{i:010x}", queue=queue,
                              raised_at=raised_at, severity=severity),
            rule=rule, subject=subject, kind=kind, zone=station.zone, grid=station.grid,
            ack_by=raised_at + timedelta(seconds=ACK_S),
            close_by=raised_at + timedelta(seconds=CLOSE_S),
            description=_description(r, kind, station, raised_at),
        )
        first: list[Step] = [(t0, "raised", "rules", {
            "queue": queue, "severity": severity, "rule": rule, "subject": subject})]
        steps: list[Step] = []
        free_at = math.inf
        if r.random() < 0.05:
            first.append((t0, "silenced", "system",
                          {"silence": f"maintenance-{station.id}", "reason": "HJ 212 flags M"}))
            if r.random() < 0.5:
                steps.append((t0 + r.lognormvariate(math.log(1800), 1.0), "cleared", "rules",
                              {"value": 60.0}))
        else:
            first.append((t0, "dispatched", "system", {"queue": queue}))
            steps, free_at = self._life(t0, queue)
        self.busy[(rule, subject)] = free_at
        return alert, first, [s for s in steps if s[0] < self.end]

    def _life(self, t0: float, queue: str) -> tuple[list[Step], float]:
        r = self.rnd
        officer = r.choice(OFFICERS[queue])
        steps: list[Step] = []
        t = t0 + max(5.0, r.lognormvariate(math.log(120), 0.7))
        first_action = math.inf  # an officer's first step: acknowledging, or the close
        acknowledged = r.random() < 0.9  # or closed straight from the queue, at t
        if acknowledged:
            steps.append((t, "acknowledged", officer, {}))
            first_action = t
            if r.random() < 0.01:
                other = "law_enforcement" if queue == "blue_sky" else "blue_sky"
                t += 60 + r.random() * 120
                steps.append((t, "transferred", officer, {"from": queue, "queue": other}))
                queue, officer = other, r.choice(OFFICERS[other])
            if r.random() < 0.35:
                drone = r.choice(DRONES)
                t += r.lognormvariate(math.log(180), 0.5)
                steps.append((t, "verifying", officer, {"drone": drone}))
                if r.random() < 0.7:
                    t += r.lognormvariate(math.log(360), 0.4)
                    steps.append((t, "on_scene", f"drone:{drone}", {"drone": drone}))
        forgotten = r.random() < 0.04
        close_at = math.inf
        if not forgotten:
            if not acknowledged:
                close_at = t
            elif r.random() < 0.03:  # the tail: hours or days
                close_at = t0 + r.lognormvariate(math.log(4 * 3600), 1.2)
            else:
                close_at = t0 + r.lognormvariate(math.log(14 * 60), 0.6)
            if acknowledged:
                close_at = max(close_at, t + 30 + r.random() * 60)
            steps.append(_close(r, close_at, officer))
            if r.random() < 0.015:
                reopen_at = close_at + r.lognormvariate(math.log(3 * 3600), 1.0)
                steps.append((reopen_at, "reopened", officer, {"reason": "群众再次投诉"}))
                close_at = math.inf
                if r.random() < 0.85:
                    close_at = reopen_at + r.lognormvariate(math.log(40 * 60), 0.7)
                    steps.append(_close(r, close_at, officer))
        # the sweep escalates each missed deadline once, if the alert is still open then
        first_close = next((s[0] for s in steps if s[1] == "closed"), math.inf)
        first_action = min(first_action, first_close)
        for stage, deadline, done in (("ack", t0 + ACK_S, first_action),
                                      ("close", t0 + CLOSE_S, first_close)):
            at = deadline + r.random() * SWEEP_S
            if done > at:
                steps.append((at, "escalated", "sla", {"stage": stage,
                                                       "deadline": _iso(deadline)}))
        steps.sort(key=lambda s: s[0])
        return steps, close_at


def _close(r: random.Random, at: float, officer: str) -> Step:
    outcome = r.choices(("resolved", "false_alarm", "duplicate"), (0.78, 0.17, 0.05))[0]
    return (at, "closed", officer, {"outcome": outcome, "note": NOTES[outcome]})


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, TZ).isoformat()


def _description(r: random.Random, kind: str, s: Station, at: datetime) -> dict[str, Any]:
    """What `dispatch._alert.describe` writes, about as long."""
    value = round(150 + r.expovariate(1 / 40), 1)
    return {
        "zone": None if s.zone is None else {
            "id": s.zone, "name": f"柯岩{s.zone[-2:]}号工地", "kind": "construction_site",
            "grid": s.grid},
        "zones": [] if s.zone is None else [s.zone],
        "grid": s.grid, "location": {"lat": s.lat, "lon": s.lon}, "metric": "pm10",
        "value": value, "threshold": 150.0, "window_s": 900,
        "evidence": {"readings": [[(at - timedelta(minutes=m)).isoformat(),
                                   round(value - m * r.random(), 1)] for m in (10, 5, 0)]},
        "drone_suggestion": {"drone": r.choice(DRONES), "distance_m": r.randrange(300, 4000),
                             "bearing_deg": r.randrange(360), "direction": "东南",
                             "eta_s": r.randrange(30, 400)},
        "detail": {"kind": kind}, "observed_at": at.isoformat(),
    }


def _fold(alert: Alert, steps: Sequence[Step]) -> tuple[Alert, list[Event]]:
    incident, events = alert.incident, []
    for at, kind, actor, data in steps:
        event = Event(incident.id, incident.seq + 1, kind, datetime.fromtimestamp(at, TZ),
                      actor, data)
        incident = apply(incident, event)
        events.append(event)
    return replace(alert, incident=incident), events


def load(store: SqliteStore, year: Year) -> dict[str, Any]:
    """Writes the year through create/append in time order; returns what was written."""
    n = len(year)
    pending: list[tuple[float, int, int, Step]] = []  # at, serial, alert index, step
    alive: dict[int, Alert] = {}
    serial = writes = events = 0
    kinds: Counter[str] = Counter()
    t_start = time.perf_counter()
    report_every = max(n // 20, 1)

    def drain(until: float) -> None:
        nonlocal writes, events
        while pending and pending[0][0] <= until:
            _at, _s, i, step = heapq.heappop(pending)
            alert, new = _fold(alive[i], [step])
            store.append(alert, new)
            writes += 1
            events += 1
            kinds[step[1]] += 1
            if pending_of[i] == 1:
                del alive[i], pending_of[i]
            else:
                alive[i] = alert
                pending_of[i] -= 1

    pending_of: dict[int, int] = {}
    for block in range(0, n, BLOCK):
        with store.bulk():
            for i in range(block, min(block + BLOCK, n)):
                alert, first, later = year.alert(i)
                drain(first[0][0])
                alert, new = _fold(alert, first)
                store.create(alert, new)
                writes += 1
                events += len(new)
                kinds.update(e.kind for e in new)
                if later:
                    alive[i] = alert
                    pending_of[i] = len(later)
                    for step in later:
                        serial += 1
                        heapq.heappush(pending, (step[0], serial, i, step))
                if (i + 1) % report_every == 0:
                    el = time.perf_counter() - t_start
                    console.print(
                        f"  loaded {i + 1:>9,} alerts, {writes:,} writes, {events:,} events"
                        f" in {el:,.0f} s ({(i + 1) / el:,.0f} alerts/s,"
                        f" ~{el * (n - i - 1) / (i + 1):,.0f} s to go)")
            if block + BLOCK >= n:
                drain(math.inf)
    return {"alerts": n, "writes": writes, "events": events,
            "load_s": time.perf_counter() - t_start, "events_by_kind": dict(kinds)}


# -- timed cases --------------------------------------------------------------------------


def _month_range(month: str) -> tuple[datetime, datetime]:
    return month_bounds(month, TZ)


def metrics_case(store: SqliteStore, since: datetime, until: datetime, group_by: GroupBy,
                 *, rows: bool = False) -> Callable[[], tuple[float, float, int]]:
    """What the API's response-times endpoint does: `metric_columns` + `response_times_of`
    (or, `rows`, the same figures through `metric_rows` + `response_times`)."""
    now = YEAR_END.timestamp()

    def run() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        if rows:
            got: list[MetricRow] | MetricColumns = store.metric_rows(since, until)
        else:
            got = store.metric_columns(since, until)
        t1 = time.perf_counter()
        if isinstance(got, MetricColumns):
            results = response_times_of(got, group_by=group_by, tz=TZ, now=now)
        else:
            results = response_times(got, group_by=group_by, tz=TZ, now=now)
        t2 = time.perf_counter()
        assert results[0].count + results[0].muted == len(got)
        return t1 - t0, t2 - t1, len(got)

    return run


def report_case(store: SqliteStore, month: str) -> Callable[[], tuple[float, float, int]]:
    start, end = month_bounds(month, TZ)

    def run() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        closed, still_open = store.closed_rows(start, end), store.open_rows(end)
        t1 = time.perf_counter()
        report = monthly_report(month, closed, still_open, TZ)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, len(report.closed) + len(report.carried_over)

    return run


# -- commands through the API -------------------------------------------------------------

OFFICER_SECRET: Final = "bench-blue-sky-officer-token"
TOKENS: Final = (Token("bench blue-sky officer", OFFICER_SECRET, Role.OFFICER, "blue_sky"),)


def _now() -> datetime:
    return datetime.now(UTC)


class ErrorTally(logging.Handler):
    """Counts the exceptions uvicorn logs (an unhandled one in a route is a 500)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.causes: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        self.causes[f"{type(exc).__name__}: {exc}" if exc else record.getMessage()] += 1


def _uvicorn(db: Path, port: int, errors: logging.Handler) -> tuple[uvicorn.Server, SqliteStore]:
    """`api_router` as `lantian.app.serve` mounts it (no MQTT publisher, no sweeps)."""
    store = SqliteStore(db, tz=TZ)
    dispatcher = Dispatcher(store=store, router=Router((), "blue_sky"), queues=QUEUES,
                            topics=AlertTopics("lantian"), clock=_now, tz=TZ)
    app = FastAPI()
    app.include_router(api_router(dispatcher, TOKENS, TZ, _now,
                                  queries=Queries(store, TZ), silences=store))
    log = logging.getLogger("uvicorn.error")
    log.handlers[:] = [errors]
    log.propagate = False
    return uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", log_config=None,
        lifespan="off", access_log=False)), store


def _serve_process(db: Path, port: int) -> None:
    server, store = _uvicorn(db, port, logging.NullHandler())
    try:
        server.run()  # the main thread: SIGTERM stops it
    finally:
        store.close()


class ApiServer:
    """The API on uvicorn on a free loopback port, in a background thread of this process
    (`process=False`) or in a process of its own, as the service runs."""

    def __init__(self, db: Path, *, process: bool) -> None:
        self.port = free_port()
        self.process: multiprocessing.process.BaseProcess | None = None
        self.thread: threading.Thread | None = None
        if process:
            self.process = multiprocessing.get_context("spawn").Process(
                target=_serve_process, args=(db, self.port), daemon=True)
        else:
            self.errors = ErrorTally()
            self.server, self.store = _uvicorn(db, self.port, self.errors)
            self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ApiServer:
        worker = self.process or self.thread
        assert worker is not None
        worker.start()
        deadline = time.monotonic() + 60
        while not self._listening():
            if time.monotonic() > deadline or not worker.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def cpu_seconds(self) -> float | None:
        """The server process's CPU time so far (user + system); None in a thread."""
        if self.process is None or self.process.pid is None:
            return None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _listening(self) -> bool:
        if self.thread is not None:
            return bool(self.server.started)
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(30)
        else:
            self.server.should_exit = True
            assert self.thread is not None
            self.thread.join(30)
            self.store.close()


def fresh_alerts(store: SqliteStore, n: int, tag: str) -> list[str]:
    """n open blue_sky alerts raised now, as the engine would create them."""
    now = _now()
    station = Station("KY-ST-BENCH", "KY-Z01", "G-001", 30.0, 120.5)
    rnd = random.Random(tag)
    ids = []
    with store.bulk():
        for k in range(n):
            alert = Alert(
                incident=Incident(id=f"bench-{tag}-{k:05d}", queue="blue_sky", raised_at=now,
                                  severity="major"),
                rule="bench-commands", subject=f"{tag}-{k}", kind="dust_exceedance",
                zone="KY-Z01", grid="G-001", ack_by=now + timedelta(seconds=ACK_S),
                close_by=now + timedelta(seconds=CLOSE_S),
                description=_description(rnd, "dust_exceedance", station, now),
            )
            alert, events = _fold(alert, [
                (now.timestamp(), "raised", "rules", {"queue": "blue_sky"}),
                (now.timestamp(), "dispatched", "system", {"queue": "blue_sky"})])
            store.create(alert, events)
            ids.append(alert.id)
    return ids


@dataclass
class CommandRun:
    commands: int
    seconds: float
    errors: int
    first_error: str | None
    latencies: list[float]
    server_cpu_s: float | None = None  # the server process's CPU time over the round

    @property
    def rate(self) -> float:
        return self.commands / self.seconds


_STEPS: Final = (("ack", None), ("verify", {"drone": "KY-UAV-02"}),
                 ("close", {"outcome": "resolved", "note": "洒水降尘，已处置"}))


def _drive(url: str, ids: Sequence[str], out: CommandRun) -> None:
    headers = {"Authorization": f"Bearer {OFFICER_SECRET}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for alert_id in ids:
            for step, body in _STEPS:
                t = time.perf_counter()
                try:
                    response = client.post(f"/api/alerts/{alert_id}/{step}", json=body)
                    error = (None if response.status_code == 200 else
                             f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:  # e.g. the server dropped the connection
                    error = f"{type(exc).__name__}: {exc}"
                out.latencies.append(time.perf_counter() - t)
                out.commands += 1
                if error is not None:
                    out.errors += 1
                    out.first_error = out.first_error or f"{step} {alert_id}: {error}"


def command_round(api: ApiServer, ids: Sequence[str], clients: int) -> CommandRun:
    url = api.url
    parts = [ids[k::clients] for k in range(clients)]
    runs = [CommandRun(0, 0.0, 0, None, []) for _ in parts]
    threads = [threading.Thread(target=_drive, args=(url, p, r)) for p, r in zip(parts, runs,
                                                                                  strict=True)]
    cpu0 = api.cpu_seconds()
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - t0
    cpu1 = api.cpu_seconds()
    return CommandRun(
        sum(r.commands for r in runs), seconds, sum(r.errors for r in runs),
        next((r.first_error for r in runs if r.first_error), None),
        [x for r in runs for x in r.latencies],
        None if cpu0 is None or cpu1 is None else cpu1 - cpu0)


# -- main ---------------------------------------------------------------------------------


def _file_size(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def _open_loaded(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The loaded year's record, loading it first if the file does not hold it."""
    want = {"generator": GENERATOR, "alerts": args.alerts, "seed": args.seed}
    t0 = time.perf_counter()
    store = SqliteStore(db, tz=TZ)  # migrates a file of an older schema
    opened_s = time.perf_counter() - t0
    try:
        saved = store.load_snapshot(SNAPSHOT)
        if saved is not None:
            record: dict[str, Any] = orjson.loads(saved)
            if {k: record.get(k) for k in want} != want:
                raise SystemExit(f"{db} holds another year ({record}); delete it or pass"
                                 " another --db")
            console.print(f"reusing the year loaded in {db} ({record['load_s']:,.0f} s then)")
            if opened_s > 1:
                console.print(f"opening it took {opened_s:,.1f} s: it was migrated")
                record["migrated_s"] = opened_s
            return record
        if store.open_alerts() or store.query(limit=1):
            raise SystemExit(f"{db} holds alerts that are not this benchmark's year")
        console.print(f"loading {args.alerts:,} alerts into {db} ...")
        record = {**want, **load(store, Year(args.alerts, args.seed))}
        # kinds are EventKinds (str enums): written as their values
        store.save_snapshot(SNAPSHOT, orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS),
                            _now())
        return record
    finally:
        store.close()


def _shape(store: SqliteStore) -> dict[str, Any]:
    rows = store.metric_rows(YEAR_START, YEAR_END)
    n = len(rows)
    muted = sum(r.muted for r in rows)
    closed = sum(r.state == "closed" for r in rows)
    return {
        "alerts": n, "muted": muted, "closed": closed,
        "open (not muted)": sum(not r.muted and r.state != "closed" for r in rows),
        "escalated": sum(bool(r.escalated) for r in rows),
        "queues": len({r.queue for r in rows}), "zones": len({r.zone for r in rows}),
        "grids": len({r.grid for r in rows}),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--commands", type=int, default=2000, help="HTTP commands per round")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients' round")
    p.add_argument("--month", default="2025-06", help="the month of the monthly cases")
    p.add_argument("--db", type=Path, help="keep the loaded year here (default: a temp file)")
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    info = machine_info()
    print_header("Lantian dispatch benchmark (SQLite store, metrics, report, HTTP API)", info)

    with tempfile.TemporaryDirectory(prefix="lantian-bench-") as tmp:
        db = args.db or Path(tmp) / "year.sqlite"
        record = _open_loaded(db, args)
        size = _file_size(db)
        store = SqliteStore(db, tz=TZ)
        shape = _shape(store)
        console.print("year: " + ", ".join(f"{k} {v:,}" for k, v in shape.items()))

        month = _month_range(args.month)
        cases: dict[str, Callable[[], tuple[float, float, int]]] = {
            f"metrics {args.month} by queue": metrics_case(store, *month, GroupBy.QUEUE),
            f"metrics {args.month} by day": metrics_case(store, *month, GroupBy.DAY),
            "metrics 2025 by queue": metrics_case(store, YEAR_START, YEAR_END, GroupBy.QUEUE),
            "metrics 2025 by day": metrics_case(store, YEAR_START, YEAR_END, GroupBy.DAY),
            "  for comparison: 2025 by queue through metric_rows + response_times":
                metrics_case(store, YEAR_START, YEAR_END, GroupBy.QUEUE, rows=True),
            f"monthly report {args.month}": report_case(store, args.month),
            "monthly report 2025-12": report_case(store, "2025-12"),
        }
        timings: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
        for run in cases.values():
            run()  # untimed: the pages into the cache
        for _ in range(args.runs):
            for name, run in cases.items():
                timings[name].append(run())
        store.close()

        per_round = max(args.commands // len(_STEPS), 1)
        rounds: dict[str, list[CommandRun]] = {}
        server_errors: Counter[str] = Counter()
        writer = SqliteStore(db, tz=TZ)
        for where in ("thread", "process"):
            with ApiServer(db, process=where == "process") as api:
                warm = fresh_alerts(writer, 20, f"warm-{where}-{os.getpid()}")
                command_round(api, warm, 1)
                for r in range(args.runs):
                    for clients in (1, args.clients):
                        name = (f"server in a {where}, "
                                + ("1 client" if clients == 1 else f"{clients} clients"))
                        ids = fresh_alerts(writer, per_round,
                                           f"{os.getpid()}-{where}-{r}-{clients}")
                        rounds.setdefault(name, []).append(command_round(api, ids, clients))
                if api.process is None:
                    server_errors += api.errors.causes
        writer.close()
        size_after = _file_size(db)

    load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    table = Table(title=f"{record['alerts']:,} alerts of 2025 ({record['events']:,} events),"
                  f" {args.runs} runs: median \\[min..max]; load average at the end"
                  f" {load_avg}",
                  title_justify="left")
    for col in ("case", "n", "of which (median)", "median \\[min..max]", "target", "met"):
        table.add_column(col, justify="left" if col in ("case", "of which (median)")
                         else "right")
    results: dict[str, Any] = {}
    for name, ts in timings.items():
        reads, computes = [a for a, _, _ in ts], [b for _, b, _ in ts]
        totals = [a + b for a, b, _ in ts]
        met = statistics.median(totals) < TARGET_S
        table.add_row(
            name, f"{ts[0][2]:,} " + ("items" if name.startswith("monthly") else "alerts"),
            f"store {statistics.median(reads):.3f} s,"
            f" compute {statistics.median(computes):.3f} s",
            spread(totals, "{:.3f} s"), f"< {TARGET_S:.0f} s",
            "[green]yes[/green]" if met else "[red]no[/red]")
        results[name] = {"store_s": reads, "compute_s": computes, "total_s": totals,
                         "rows": ts[0][2]}
    for name, runs in rounds.items():
        rates = [r.rate for r in runs]
        errors = sum(r.errors for r in runs)
        lat = sorted(x for r in runs for x in r.latencies)
        cpu = [r.server_cpu_s / r.commands * 1000 for r in runs if r.server_cpu_s is not None]
        met = statistics.median(rates) >= TARGET_COMMANDS and errors == 0
        table.add_row(
            f"commands via HTTP, {name}", f"{runs[0].commands:,} a run",
            f"latency p50 {lat[len(lat) // 2] * 1000:.1f} ms,"
            f" p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms"
            + (f"; server CPU {statistics.median(cpu):.2f} ms a command" if cpu else ""),
            spread(rates, "{:,.0f}/s"), f"≥ {TARGET_COMMANDS:.0f}/s",
            ("[green]yes[/green]" if met else "[red]no[/red]")
            + (f" ({errors} errors)" if errors else ""))
        results[name] = {"rates": rates, "errors": errors, "server_cpu_ms_per_command": cpu,
                         "latency_p50_s": lat[len(lat) // 2],
                         "latency_p99_s": lat[int(len(lat) * 0.99)],
                         "first_error": next((r.first_error for r in runs if r.first_error),
                                             None)}
    table.add_row("load: create/append in bulk()", f"{record['writes']:,} writes", "",
                  f"{record['load_s']:,.0f} s", "", "")
    if record.get("migrated_s") is not None:
        table.add_row("  then migrating the file to this schema", "", "",
                      f"{record['migrated_s']:,.0f} s", "", "")
    table.add_row("database file (+ WAL)", "", f"after the commands {size_after / 2**20:,.0f} MiB",
                  f"{size / 2**20:,.0f} MiB", "", "")
    console.print(table)
    for name, res in results.items():
        if res.get("first_error"):
            console.print(f"[red]{name}: first error:[/red] {escape(res['first_error'])}")
    for cause, n in server_errors.most_common():
        console.print(f"[red]server in a thread: {n} × {escape(cause)}[/red]")
    if not args.no_json:
        path = write_results("dispatch", {
            "machine": info, "args": {**vars(args), "db": str(args.db)}, "load": record,
            "shape": shape, "db_bytes": size, "db_bytes_after": size_after,
            "load_average_end": load_avg, "cases": results,
            "server_errors": dict(server_errors)})
        console.print(f"results: {path}")


if __name__ == "__main__":
    main()
