"""The console's server side under a realistic board: the board's first paint and the
live stream's delay, with 1,000 open alerts and 10 consoles connected.

    python -m bench.console [--alerts 1000] [--clients 10] [--samples 40] [--paints 20]

The real service (`lantian.app.serve` on its own thread, as the tests run it, with the
system clock) on a real Mosquitto, its store loaded beforehand with --alerts open
blue_sky alerts (`bench.dispatch.fresh_alerts`), plus one bench rule: an instant PM10
limit of 500 (clear under 400, at once) on a fixture station, so that every reading
published is exactly one committed change (raised again, or cleared).

FIRST PAINT: what the board's page asks the server for before it can draw (`/`, then
`/api/map`, then `/api/alerts?limit=1000`, the whole board), over one keep-alive httpx
client, --paints times: each request's time and their sum (server time plus loopback; no
browser rendering).

LIVE: --clients Server-Sent Events readers (`bench._sse`, httpx on threads) on
`/api/stream` as the blue-sky officer; --samples readings published (paho, QoS 1) one
after another, each once every reader and the baseline have seen the last one. The delay
is from the publish call to the event's arrival at each reader (every reader, every
sample). Then the same again with, beside the readers, the BASELINE: a board that polls
`/api/alerts?limit=1000` every second instead, timed from the publish to the poll answer
that first shows the change (its whole-board answers also hold up the event loop, which
the readers' delay in that phase shows).
Target: the live update's p95 under 1 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import paho.mqtt.client as mqtt
from rich.table import Table

from bench._common import console, machine_info, percentile, print_header, write_results
from bench._sse import SseReader
from bench.dispatch import fresh_alerts
from dispatch import SqliteStore
from lantian.config import load_settings
from tests.conftest import RunningService, shipped_rules, write_config
from tests.support import free_port, run_mosquitto, wait_until

OFFICER: Final = {"Authorization": "Bearer demo-blue-sky-officer-token"}
STATION: Final = "FX-DUST"  # a fixture station (kind "test"): no shipped rule reads it
BENCH_RULE: Final = """
[[rules.threshold]]
id = "bench-console-instant"
kind = "dust_exceedance"
metric = "pm10"
station_kinds = ["test"]
aggregate = "instant"
window_s = 60
min_samples = 1
levels = [{ severity = "major", limit = 500, clear = 400 }]
clear_for_s = 0
"""


class Poller:
    """The baseline board: polls the whole list every `every_s` and notes when the bench
    alert's JSON last changed."""

    def __init__(self, url: str, every_s: float = 1.0) -> None:
        self.url, self.every_s = url, every_s
        self.seen: dict[str, Any] | None = None
        self.changed_at: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with httpx.Client(headers=OFFICER, timeout=10) as client:
            while not self.stop.is_set():
                started = time.monotonic()
                alerts = client.get(self.url, params={"limit": 1000}).json()["alerts"]
                mine = next((a for a in alerts if a["subject"] == f"station:{STATION}"), None)
                if mine is not None and mine != self.seen:
                    self.seen = mine
                    self.changed_at.append(time.monotonic())
                self.stop.wait(max(0.0, self.every_s - (time.monotonic() - started)))


def _publish(client: mqtt.Client, value: float) -> float:
    payload = json.dumps({"station": STATION, "ts": datetime.now(UTC).isoformat(),
                          "pm10": value}).encode()
    sent = time.monotonic()
    client.publish(f"lantian/sensors/{STATION}/reading", payload, qos=1).wait_for_publish(10)
    return sent


def first_paint(url: str, paints: int) -> dict[str, list[float]]:
    steps = {"/": "/", "/api/map": "/api/map", "/api/alerts?limit=1000": "/api/alerts"}
    times: dict[str, list[float]] = {k: [] for k in [*steps, "total"]}
    with httpx.Client(base_url=url, headers=OFFICER, timeout=30) as client:
        for _ in range(paints + 1):  # the first is a warm-up
            total = 0.0
            row: dict[str, float] = {}
            for name, path in steps.items():
                started = time.perf_counter()
                r = client.get(path, params={"limit": 1000} if "alerts" in path else None)
                row[name] = time.perf_counter() - started
                r.raise_for_status()
                total += row[name]
            for name, seconds in row.items():
                times[name].append(seconds)
            times["total"].append(total)
    return {k: v[1:] for k, v in times.items()}


def live(url: str, broker_port: int, clients: int, samples: int, levels: Iterator[float],
         *, poll: bool) -> dict[str, Any]:
    """`levels` alternates over the limit and under the clear level, across both phases:
    each reading changes the condition."""
    readers = [SseReader(f"{url}/api/stream", OFFICER) for _ in range(clients)]
    poller = Poller(f"{url}/api/alerts") if poll else None
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-console",
                      protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker_port)
    pub.loop_start()
    sse: list[float] = []
    polled: list[float] = []
    try:
        for r in readers:
            wait_until(lambda r=r: r.named("hello"), what="every reader connected")
        # the first raise makes the bench alert; every sample after it is one change
        _publish(pub, next(levels))  # raised, or cleared: the readers' first change
        wait_until(lambda: all(r.named("alert") for r in readers), 30, "the first change")
        if poller is not None:
            wait_until(lambda: poller.changed_at, 30, "the poller's first sight")
        for _ in range(samples):
            heard = [len(r.named("alert")) for r in readers]
            seen = len(poller.changed_at) if poller is not None else 0
            sent = _publish(pub, next(levels))
            wait_until(lambda heard=heard: all(len(r.named("alert")) > n for r, n in zip(
                readers, heard, strict=True)), 30, "every reader's event")
            sse += [r.named("alert")[n].received_at - sent
                    for r, n in zip(readers, heard, strict=True)]
            if poller is not None:
                wait_until(lambda seen=seen: len(poller.changed_at) > seen, 30,
                           "the poller's sight")
                polled.append(poller.changed_at[seen] - sent)
        dropped = sum(r.ended.is_set() for r in readers)  # a stream the server ended
    finally:
        if poller is not None:
            poller.stop.set()
            poller.thread.join(10)
        for r in readers:
            r.close()
        pub.loop_stop()
        pub.disconnect()
    return {"sse": sse, "poll": polled, "dropped": dropped}


def _ms(values: Sequence[float]) -> tuple[str, str, str]:
    ordered = sorted(values)
    return tuple(f"{1000 * x:,.1f}" for x in (  # type: ignore[return-value]
        statistics.median(ordered), percentile(ordered, 95), ordered[-1]))


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=1000)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--paints", type=int, default=20)
    p.add_argument("--no-json", action="store_true")
    args = p.parse_args(argv)
    info = machine_info() | {"open alerts": str(args.alerts), "consoles": str(args.clients)}
    print_header("bench.console: the board's first paint and the live stream", info)

    with tempfile.TemporaryDirectory(prefix="lantian-bench-console-") as tmp, \
            run_mosquitto(Path(tmp) / "mosquitto") as broker:
        db = Path(tmp) / "lantian.sqlite"
        rules = re.sub(r"(?m)^sweep_s = 15\b", "sweep_s = 3600", shipped_rules())
        config = write_config(Path(tmp) / "config", broker_url=broker.url,
                              http_port=free_port(), store=db, extra=rules + BENCH_RULE)
        settings = load_settings(config, {})
        store = SqliteStore(db, tz=settings.tz)
        fresh_alerts(store, args.alerts, "console")
        store.close()
        service = RunningService(settings).start()
        try:
            paint = first_paint(service.base_url, args.paints)
            levels = itertools.cycle((600.0, 100.0))
            alone = live(service.base_url, broker.port, args.clients, args.samples, levels,
                         poll=False)
            stream = live(service.base_url, broker.port, args.clients, args.samples, levels,
                          poll=True)
        finally:
            service.stop()

    table = Table(title="first paint (s → ms; median, p95, max)", title_justify="left")
    for col in ("request", "median ms", "p95 ms", "max ms"):
        table.add_column(col, justify="right" if "ms" in col else "left")
    for name, values in paint.items():
        table.add_row(name, *_ms(values))
    console.print(table)
    table = Table(title=f"live update: reading published → seen ({args.samples} readings)",
                  title_justify="left")
    for col in ("path", "observations", "median ms", "p95 ms", "max ms"):
        table.add_column(col, justify="left" if col == "path" else "right")
    table.add_row(f"SSE, {args.clients} consoles", str(len(alone["sse"])), *_ms(alone["sse"]))
    table.add_row(f"SSE, {args.clients} consoles + 1 polling board",
                  str(len(stream["sse"])), *_ms(stream["sse"]))
    table.add_row("baseline: that board, polling /api/alerts every 1 s",
                  str(len(stream["poll"])), *_ms(stream["poll"]))
    console.print(table)
    p95 = max(percentile(sorted(alone["sse"]), 95), percentile(sorted(stream["sse"]), 95))
    console.print(f"SSE p95 {1000 * p95:,.0f} ms (the worse phase): "
                  f"{'under' if p95 < 1 else 'OVER'} the 1 s target; streams ended early: "
                  f"{alone['dropped'] + stream['dropped']}")
    if not args.no_json:
        path = write_results("console", {
            "info": info, "first_paint_s": paint, "sse_alone_s": alone["sse"],
            "sse_with_poll_s": stream["sse"], "poll_s": stream["poll"]})
        console.print(f"results: {path}")


if __name__ == "__main__":
    main()
