"""The rules engine alone, in-process on one core: readings per second through threshold
and window rules, geofence lookups, and memory per station-metric window.

    python -m bench.rules [--stations 10000] [--zones 10000] [--readings 200000] [--runs 3]
                          [--backlog 30000] [--only-backlog]

Stations: one per synthetic zone cell (the zones of `bench.geofence`), kind
construction_site, each sending a real-time reading a minute (pm10, pm25, tsp) in time
order, round-robin over the stations. Rules: the shipped construction-site set (PM10
15-minute mean with two levels and hysteresis, TSP 1-hour mean, PM10 rise over 10 minutes)
plus an instant PM2.5 limit, so a reading goes through 4 rules and 3 windows. Values stay
mostly under the limits with a few sites over, as on a real day: a fraction of readings
raise, update or clear, which is the expensive path.

Backlog: the rules' CPU µs a reading on the shape of `bench.service`'s backlog, in-process:
the shipped stations (`config/stations.geojson`) and rules (`config/lantian.toml`, loaded
as the service loads them), --backlog readings published the way `bench._service` does
(quiet values, the stations in turn, timestamps a millisecond apart, so every window
holds the whole backlog), decoded by ingest's decoder and fed to `rules.evaluate` with a
clock, as `RulesPipeline.on_record` feeds them; a fresh rule state each run.

Memory: Python allocations (tracemalloc) of the rule state after every station has filled
its windows, divided by the number of station-metric windows; the window arrays alone too.
Geofence: `bench.geofence.run` over --zones zones (single and batched lookups).
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.table import Table

from bench import geofence
from bench._common import (
    console,
    machine_info,
    past_base_ms,
    print_header,
    spread,
    station_payload,
    station_topic,
    write_results,
)
from bench._service import shipped_station_ids
from ingest import InboundTopics
from ingest._decode import decode_message
from lantian.config import load_settings
from rules import RuleState, evaluate
from rules.geo import ZoneIndex
from rules.records import Location, Measurement, Reading, Station
from rules.settings import Aggregate, Direction, Level, Ruleset, Selector, ThresholdRule, Trigger
from tests.conftest import shipped_rules, write_config

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 6, 0, tzinfo=SH)
SITES = Selector(station_kinds=frozenset({"construction_site"}))

RULES = (
    ThresholdRule(
        id="site-pm10-15min", kind="dust_exceedance", metric="pm10",
        trigger=Trigger(Direction.ABOVE, (Level("major", 150, 130), Level("critical", 200, 170)),
                        clear_for_s=300, max_gap_s=900),
        aggregate=Aggregate.MEAN, window_s=900, min_samples=3, select=SITES,
    ),
    ThresholdRule(
        id="site-tsp-1h", kind="dust_exceedance", metric="tsp",
        trigger=Trigger(Direction.ABOVE, (Level("major", 700, 600),), max_gap_s=3600),
        aggregate=Aggregate.MEAN, window_s=3600, min_samples=10, select=SITES,
    ),
    ThresholdRule(
        id="site-pm10-rise", kind="road_dust", metric="pm10",
        trigger=Trigger(Direction.ABOVE, (Level("major", 100, 50),)),
        aggregate=Aggregate.RISE, window_s=600, select=SITES,
    ),
    ThresholdRule(
        id="site-pm25-instant", kind="dust_exceedance", metric="pm25",
        trigger=Trigger(Direction.ABOVE, (Level("major", 250, 200),)), select=SITES,
    ),
)


def ruleset(n_stations: int, n_zones: int) -> Ruleset:
    zones = geofence.synthetic_zones(n_zones)
    index = ZoneIndex(zones)
    stations = {}
    for i in range(n_stations):
        c = zones[i % len(zones)].geometry.representative_point()
        sid = f"ST-{i:05d}"
        stations[sid] = Station(sid, sid, "construction_site", Location(c.y, c.x))
    return Ruleset(tz=SH, stations=stations, index=index, thresholds=RULES)


def readings(rs: Ruleset, n: int, seed: int, start: datetime) -> list[Reading]:
    rnd = random.Random(seed)
    ids = list(rs.stations)
    hot = set(rnd.sample(ids, max(1, len(ids) // 50)))  # 2 % of sites fuming
    out = []
    for k in range(n):
        sid = ids[k % len(ids)]
        ts = start + timedelta(minutes=k // len(ids))
        base = 180.0 if sid in hot else 60.0
        out.append(Reading(sid, ts, {
            "pm10": Measurement(rnd.gauss(base, 25.0)),
            "pm25": Measurement(rnd.gauss(base / 2.5, 10.0)),
            "tsp": Measurement(rnd.gauss(base * 2.5, 60.0)),
        }))
    return out


def throughput(rs: Ruleset, state: RuleState, batch: list[Reading]) -> tuple[float, int]:
    gc.collect()
    signals = 0
    t0 = time.perf_counter()
    for r in batch:
        state, out = evaluate(state, r, rs)
        signals += len(out)
    return len(batch) / (time.perf_counter() - t0), signals


def service_backlog(n: int) -> tuple[Ruleset, list[Reading]]:
    """The shipped ruleset, and n readings as `bench.service` publishes them, decoded."""
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), broker_url="mqtt://127.0.0.1:1883", http_port=8080,
                              store=Path(tmp) / "store.sqlite", extra=shipped_rules())
        settings = load_settings(config, {})
    ids = shipped_station_ids()
    base_ms = past_base_ms(time.time())
    topics, now = InboundTopics(), datetime.now(UTC)
    out: list[Reading] = []
    for seq in range(n):
        station = ids[seq % len(ids)]
        payload = station_payload(station, seq, base_ms, time.time())
        decoded = decode_message(station_topic(station), payload, ctx=settings.decode,
                                 topics=topics, now=now).result
        out.extend(r for r in getattr(decoded, "records", ()) if isinstance(r, Reading))
    if len(out) != n:
        raise RuntimeError(f"the backlog decoded to {len(out)} readings, not {n}")
    return settings.rules, out


def backlog_us(rs: Ruleset, batch: list[Reading]) -> tuple[float, int]:
    """CPU µs a reading through `evaluate` from a fresh state, and the signals emitted."""
    state = RuleState()
    now = datetime.now(UTC)
    signals = 0
    gc.collect()
    t0 = time.process_time()
    for r in batch:
        state, out = evaluate(state, r, rs, now)
        signals += len(out)
    return (time.process_time() - t0) / len(batch) * 1e6, signals


def window_memory(rs: Ruleset) -> tuple[float, float, int]:
    """Bytes per station-metric window once every window holds its span (an hour of
    minute data: the TSP window's 60 samples, PM10's 15)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    state = RuleState()
    for r in readings(rs, len(rs.stations) * 61, 7, T0):
        state, _ = evaluate(state, r, rs)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    windows = state.thresholds.windows
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    arrays = sum(w.nbytes() for w in windows.values())
    return total / len(windows), arrays / len(windows), len(windows)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stations", type=int, default=10_000)
    p.add_argument("--zones", type=int, default=10_000)
    p.add_argument("--readings", type=int, default=200_000, help="readings per run")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--points", type=int, default=50_000, help="geofence lookups per run")
    p.add_argument("--backlog", type=int, default=30_000,
                   help="readings of the service's backlog shape per run")
    p.add_argument("--only-backlog", action="store_true",
                   help="only the backlog figure (seconds, not a minute)")
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    print_header("rules engine", machine_info())

    shipped, backlog = service_backlog(args.backlog)
    backlog_runs = [backlog_us(shipped, backlog) for _ in range(max(args.runs, 1))]
    backlog_table = Table(title=f"the service's backlog shape: {args.backlog:,} readings, "
                                f"{len(shipped.stations)} stations, shipped rules")
    backlog_table.add_column("figure")
    backlog_table.add_column("median [min..max]", justify="right")
    backlog_table.add_row("rules CPU µs a reading",
                          spread([us for us, _ in backlog_runs], "{:,.2f}"))
    backlog_table.add_row("  signals emitted a run", f"{backlog_runs[0][1]:,}")
    console.print(backlog_table)
    if args.only_backlog:
        if not args.no_json:
            path = write_results("rules", {"args": vars(args),
                                           "backlog_us": [us for us, _ in backlog_runs]})
            console.print(f"results: {path}")
        return

    rs = ruleset(args.stations, args.zones)
    state = RuleState()
    warm = readings(rs, args.stations * 20, 1, T0)  # 20 minutes: windows past min_samples
    throughput(rs, state, warm)
    rates, signals = [], 0
    start = T0 + timedelta(minutes=20)
    for run in range(args.runs):
        batch = readings(rs, args.readings, 100 + run, start)
        start = batch[-1].ts + timedelta(minutes=1)
        rate, n = throughput(rs, state, batch)
        rates.append(rate)
        signals += n
    per_window, per_array, n_windows = window_memory(
        ruleset(min(args.stations, 2000), min(args.zones, 2000))
    )
    fence = geofence.run(n_zones=args.zones, points=args.points, runs=args.runs,
                         sample=5_000)

    table = Table(title=f"{args.stations:,} stations, {args.zones:,} zones, {len(RULES)} rules")
    table.add_column("figure")
    table.add_column("median [min..max]", justify="right")
    table.add_column("target", justify="right")
    table.add_row("readings/s through threshold + window rules", spread(rates), "≥ 50,000")
    table.add_row("  signals emitted (all runs)", f"{signals:,}", "")
    table.add_row("geofence single lookups/s", f"{fence['single_per_s']:,.0f}", "≥ 200,000")
    table.add_row("geofence batched points/s", f"{fence['batched_per_s']:,.0f}",
                  "≥ 1,000,000")
    table.add_row("bytes per station-metric window (all state)", f"{per_window:,.0f}", "≤ 2,048")
    table.add_row("  of which the window's samples", f"{per_array:,.0f}", "")
    table.add_row("  windows measured", f"{n_windows:,}", "")
    console.print(table)
    if not args.no_json:
        path = write_results("rules", {
            "args": vars(args), "readings_per_s": rates, "signals": signals,
            "bytes_per_window": per_window, "window_array_bytes": per_array,
            "geofence": fence, "backlog_us": [us for us, _ in backlog_runs],
        })
        console.print(f"results: {path}")


if __name__ == "__main__":
    main()
