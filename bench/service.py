"""The whole service as fast as its ingest: how fast `lantian run` drains a QoS 1 backlog,
with and without InfluxDB, beside a bare paho subscriber and the ingest path alone.

    python -m bench.service [--n 30000] [--runs 3] [--probes 100] [--duration 10]
                            [--partitions 2] [--store postgres]

Every receiver drains the same backlog: N ~200-byte Lantian readings for the shipped
stations (config/stations.geojson, quiet values under every shipped limit, unique
timestamps an hour ago), published at QoS 1 by a child-process paho publisher to a
persistent session while the receiver is away or frozen. Round-robin, --runs rounds:

  CEILING         a bare paho subscriber (`bench._bare`) resumes its session and counts
  INGEST          `MqttConnection` + `Ingestor` in this process (`bench._lantian`, as
                  `bench.ingest` runs it), against the bench config's stations
  SERVICE         `lantian run` in its own process (shipped rules, SQLite store, the
                  journal and outbox committed before each burst's acks), no InfluxDB:
                  started, frozen (SIGSTOP) while the backlog is queued, thawed and timed
                  until its /metrics counts every reading
  SERVICE+INFLUX  the same with InfluxDB (Debian's victoria-metrics, the InfluxDB v2 write
                  API); after the timing it waits until every point is written

The rate is N over the drain's span (CEILING and INGEST: first message to last;
SERVICE: thaw to the commit of the burst that held the last reading, which the service
says in `lantian_mqtt_last_handled_timestamp_seconds`, read by the /metrics poll that
counts the last (`bench._service.wait_counted`); a poll's own lag, up to a few tens of
ms, would weigh on a partitioned drain of ~1.2 s. Where a compared checkout's service
does not say it, every service drain ends at that poll instead). CPU µs a
message is the receiver process's own (all its threads; for SERVICE from
/proc/<pid>/stat at thaw and at the poll that saw the end). Each round's share of
CEILING is printed per round, so a drift of this shared box hits all receivers of a
round alike.

LATENCY: `lantian run` with InfluxDB under a paced background of readings at half the
SERVICE+INFLUX median drain rate for --duration s, and --probes readings spread over
it, each for a probe station of its own (kind "test", read only by a bench rule with an
instant PM10 limit of 500) with PM10 600: each raises a new alert. Latency is from the
probe's publish to its alert's message on `lantian/queues/+/alerts`; target p99 ≤ 50 ms.

COMPARED+INFLUX (--compare CHECKOUT): SERVICE+INFLUX with the packages of another
checkout (a worktree of the commit before a change), in the same rounds: the change's
effect on rate and CPU a message, per round.

PARTITIONS (--partitions 2): two `lantian run` processes with LANTIAN_PARTITION=0/2 and
1/2 sharing the store and the broker drain the backlog together, against one instance of
the same code in the same round (SERVICE+INFLUX; with --compare, the compared checkout's
code and COMPARED+INFLUX); target ≥ 1.6×. Skipped, saying so, when that service does not
know LANTIAN_PARTITION. For every service drain a second table says how many cores each
party kept busy meanwhile (the instances, Mosquitto, victoria-metrics, PostgreSQL, this
harness, from /proc/<pid>/stat at thaw and at the poll that saw the end; the kernel's
interrupts and softirqs, where loopback TCP's packets are processed, and the time the
hypervisor stole, which no process's time counts, from /proc/stat) and how much stayed
idle: two instances can only drain as much faster as the cores the others leave them.

--store postgres: every `lantian run` (SERVICE, SERVICE+INFLUX, COMPARED+INFLUX,
PARTITIONS, LATENCY) on a fresh database of a PostgreSQL cluster of the bench's own
(Debian's server, `tests.postgres`: loopback, fsync off, so a commit's disk flush is not
in the figures), the configuration several instances are meant for; CEILING and INGEST
do not use a store.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pstats
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from rich.table import Table

from bench import _bare, _lantian, _publisher
from bench._common import console, machine_info, past_base_ms, print_header, spread, write_results
from bench._service import (
    PROBE_STATIONS,
    ServiceProcess,
    kernel_and_idle_s,
    points_written,
    probe_station,
    process_cpu_s,
    readings,
    rejected,
    shipped_station_ids,
    tree_cpu_s,
    wait_counted,
    write_bench_config,
)
from bench._service_latency import LatencyRun, measure_latency
from bench._session import forget_session, register_session
from ingest import DecodeContext, InboundTopics
from lantian.config import load_settings
from tests.postgres import new_database, run_postgres
from tests.support import REPO, Broker, Victoria, free_port, run_mosquitto, run_victoria

KINDS = ("CEILING", "INGEST", "SERVICE", "SERVICE+INFLUX")
TARGET_SHARE = 0.70
TARGET_P99_MS = 50.0
TARGET_PARTITIONS = 1.6


@dataclass(frozen=True, slots=True)
class Drain:
    kind: str
    round: int
    n: int
    counted: int
    dead_letters: int
    rate: float
    cpu_us_per_msg: float
    points_written: int | None = None  # SERVICE+INFLUX: what InfluxDB took, after
    loop_cpu_us_per_msg: float | None = None  # SERVICE: the event loop's thread alone
    #: SERVICE: the cores each party of the box kept busy over the drain (`BOX`)
    box: dict[str, float] | None = None


#: Who shares the box with the receiver during a service drain, in `Drain.box` (which
#: also says how much of it was idle: `IDLE`).
BOX = ("instances", "Mosquitto", "victoria-metrics", "PostgreSQL", "this harness",
       "the kernel")
IDLE = "idle"


@dataclass
class Bench:
    broker: Broker
    victoria: Victoria
    workdir: Path
    stations: list[str]
    n: int
    ctx: DecodeContext
    #: the environment COMPARED+INFLUX's `lantian run` gets on top of ours (--compare)
    compared: dict[str, str] = field(default_factory=dict)
    #: a fresh store for each `lantian run` (--store postgres); None: the config's SQLite
    store_url: Callable[[], str] | None = None
    #: the PostgreSQL server's pid (--store postgres), for `Drain.box`
    postgres_pid: int | None = None
    #: whether a service drain ends at its last commit (`LAST_HANDLED`), or at the poll
    #: that saw it: the same for every service of a run, compared checkout's included
    ends_at_commit: bool = True

    def _box_cpu_s(self, procs: list[ServiceProcess]) -> dict[str, float]:
        """CPU seconds so far of each party of `BOX` (the instances: all of them)."""
        def cpu_of(proc: subprocess.Popen[bytes] | None) -> float:
            return process_cpu_s(proc.pid) if proc is not None else 0.0

        kernel, idle = kernel_and_idle_s()
        return {
            "instances": sum(p.cpu_s() for p in procs),
            "Mosquitto": cpu_of(self.broker.proc),
            "victoria-metrics": cpu_of(self.victoria.proc),
            "PostgreSQL": tree_cpu_s(self.postgres_pid) if self.postgres_pid else 0.0,
            "this harness": time.process_time(),
            "the kernel": kernel,
            IDLE: idle,
        }

    def backlog(self, publish_for: str) -> None:
        published = _publisher.run(self.broker.port, self.n, 0, 1, 0,
                                   past_base_ms(time.time()), stations=self.stations)
        if published.acked != self.n:
            raise RuntimeError(f"{publish_for}: only {published.acked} of {self.n} acknowledged")

    def in_process(self, kind: str, rnd: int) -> Drain:
        cid = f"bench-service-{kind.lower()}-{rnd}"
        register_session(self.broker, cid, InboundTopics().subscriptions())
        try:
            self.backlog(kind)
            timeout = 60 + self.n / 500
            if kind == "CEILING":
                tally, dead = _bare.drain(self.broker, cid, self.n, timeout), 0
            else:
                run = _lantian.drain(self.broker, cid, self.n, timeout, ctx=self.ctx)
                tally, dead = run.tally, sum(run.dead_letters.values())
        finally:
            forget_session(self.broker, cid)
        return Drain(kind, rnd, self.n, tally.count, dead, tally.rate, tally.cpu_us_per_msg)

    def services(self, label: str, influx: bool, partitions: int = 0,
                 profile: Path | None = None, env: dict[str, str] | None = None,
                 ) -> list[ServiceProcess]:
        """Started services on a fresh config and store: one, or `partitions` sharing
        them (each its own HTTP port and LANTIAN_PARTITION)."""
        base = self.workdir / label
        config = write_bench_config(base / "config", self.broker, base / "lantian.sqlite",
                                    self.victoria.url if influx else "")
        if self.store_url is not None:  # one database for all the instances of a drain
            env = {**(env or {}), "LANTIAN_STORE_URL": self.store_url()}
        if not partitions:
            return [ServiceProcess(config, dict(env or {}), base / "lantian.log",
                                   profile=profile).start()]
        # each instance subscribes to its own stations' topics only (no partition takes
        # the wide filters that dead-letter misspelt topics): the scaling configuration
        with (config / "lantian.toml").open("a") as toml:
            toml.write("\n[scale]\ncatch_all = false\n")
        started = []
        try:
            for k in range(partitions):
                own = {**(env or {}), "LANTIAN_PARTITION": f"{k}/{partitions}",
                       "LANTIAN_HTTP": f"127.0.0.1:{free_port()}"}
                started.append(ServiceProcess(config, own, base / f"lantian-{k}.log").start())
        except BaseException:
            for s in started:
                s.stop()
            raise
        return started

    def service(self, kind: str, rnd: int, partitions: int = 0,
                profile: Path | None = None) -> Drain:
        influx = kind != "SERVICE"
        env = self.compared if kind in ("COMPARED+INFLUX", "PARTITIONS") else None
        procs = self.services(f"{kind.lower()}-{rnd}", influx, partitions, profile, env)

        def cpu_s() -> dict[str, float]:  # read at each poll: a drain ends at one
            return {**self._box_cpu_s(procs),
                    "loop": sum(p.thread_cpu_s()["loop"] for p in procs)}

        try:
            with httpx.Client() as client:  # connected before the timing
                for p in procs:
                    p.metrics(client)
                    p.freeze()
                self.backlog(kind)
                before = cpu_s()
                t0, thawed = time.perf_counter(), time.time()
                for p in procs:
                    p.thaw()
                end = wait_counted(procs, self.n, 60 + self.n / 200, client, started=t0,
                                   settle=bool(partitions), sample=cpu_s)
                spent = {k: v - before[k] for k, v in end.sample.items()}
                written = None
                if influx:  # nothing lost on the way to InfluxDB either (not timed)
                    after = wait_counted(procs, self.n, 60, client, points=True).metrics
                    written = sum(points_written(m) for m in after)
        finally:
            for p in procs:
                p.stop()
        polled = end.at - t0  # the CPU counters were read at that poll
        last = max(m.get(LAST_HANDLED, 0.0) for m in end.metrics)
        span = last - thawed if self.ends_at_commit and last > thawed else polled
        counted = sum(readings(m) for m in end.metrics)
        dead = sum(rejected(m) for m in end.metrics)
        box = {k: spent[k] / polled for k in (*BOX, IDLE)}
        return Drain(kind, rnd, self.n, counted, dead, self.n / span,
                     spent["instances"] / self.n * 1e6, written,
                     spent["loop"] / self.n * 1e6, box)


#: When a service last committed a burst: the end of its drain.
LAST_HANDLED = "lantian_mqtt_last_handled_timestamp_seconds"


def says_last_handled(checkout: Path) -> bool:
    """Whether that checkout's service has `LAST_HANDLED` among its metrics."""
    return _mentions(checkout / "ingest" / "_mqtt_metrics.py", LAST_HANDLED)


def partitions_supported(checkout: Path) -> bool:
    """Whether that checkout's service knows LANTIAN_PARTITION (the issue's partitions,
    built in parallel with this harness): the env overrides are a table in
    lantian/config/_env.py."""
    return _mentions(checkout / "lantian" / "config" / "_env.py", "LANTIAN_PARTITION")


def _mentions(source: Path, name: str) -> bool:
    """Whether a source file of a checkout, if it has it, names `name`."""
    return source.is_file() and name in source.read_text(encoding="utf-8")


# -- reporting ---------------------------------------------------------------------------


def drain_table(drains: list[Drain], kinds: Sequence[str], n: int, stations: int = 0
                ) -> Table:
    whose = f"{stations} bench stations" if stations else "the shipped stations"
    table = Table(title=f"Drain a backlog of {n:,} QoS 1 readings for {whose}: "
                  "median [min..max]", title_justify="left")
    for col in ("receiver", "msg/s", "share of CEILING per round", "CPU µs/msg (receiver)",
                "of which its event loop's thread", "counted", "dead letters",
                "InfluxDB points written"):
        table.add_column(col, justify="left" if col == "receiver" else "right")
    ceiling = {d.round: d.rate for d in drains if d.kind == "CEILING"}
    for kind in kinds:
        ds = [d for d in drains if d.kind == kind]
        if not ds:
            continue
        shares = [d.rate / ceiling[d.round] * 100 for d in ds if ceiling.get(d.round)]
        written = [d.points_written for d in ds if d.points_written is not None]
        table.add_row(
            kind, spread([d.rate for d in ds]), spread(shares, "{:.0f} %"),
            spread([d.cpu_us_per_msg for d in ds], "{:.1f}"),
            spread([d.loop_cpu_us_per_msg for d in ds if d.loop_cpu_us_per_msg is not None],
                   "{:.1f}"),
            "all" if all(d.counted == d.n for d in ds) else
            "all, shared stations' by each instance" if all(d.counted > d.n for d in ds) else
            ", ".join(f"{d.counted:,}/{d.n:,}" for d in ds),
            str(sum(d.dead_letters for d in ds)),
            ("-" if not written else "all" if all(w >= n for w in written)
             else ", ".join(f"{w:,}" for w in written)),
        )
    return table


def box_table(drains: list[Drain], kinds: Sequence[str]) -> Table | None:
    """Where the box's CPU went during the service drains: each party's cores, median
    [min..max] of the rounds (what a partitioned run's rate can grow into)."""
    rows = [(kind, [d.box for d in drains if d.kind == kind and d.box is not None])
            for kind in kinds]
    rows = [(kind, boxes) for kind, boxes in rows if boxes]
    if not rows:
        return None
    table = Table(title=f"Cores busy during the service drains, of {os.cpu_count()}: median "
                  "[min..max]", title_justify="left")
    for col in ("receiver", *BOX, "all of them", IDLE):
        table.add_column(col, justify="left" if col == "receiver" else "right")
    for kind, boxes in rows:
        table.add_row(kind, *(spread([b[k] for b in boxes], "{:.2f}") for k in BOX),
                      spread([sum(b[k] for k in BOX) for b in boxes], "{:.2f}"),
                      spread([b.get(IDLE, 0.0) for b in boxes], "{:.2f}"))
    return table


def share(drains: list[Drain], kind: str, of: str = "CEILING") -> list[float]:
    base = {d.round: d.rate for d in drains if d.kind == of}
    return [d.rate / base[d.round] for d in drains if d.kind == kind and base.get(d.round)]


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.service", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=30_000, help="backlog size (default 30000)")
    p.add_argument("--runs", type=int, default=3, help="rounds of each receiver (default 3)")
    p.add_argument("--probes", type=int, default=100, help="latency probes (default 100)")
    p.add_argument("--duration", type=float, default=10.0, help="latency run length, s")
    p.add_argument("--latency-rate", type=float, default=0.0, metavar="R",
                   help="background msg/s of the latency run (default: half the median "
                   "SERVICE+INFLUX drain rate)")
    p.add_argument("--partitions", type=int, default=0, choices=(0, 2),
                   help="also drain with two partitioned instances (default: off)")
    p.add_argument("--spread", type=int, default=0, metavar="N",
                   help="the backlog for N bench stations (up to 400, kind test, read by"
                        " one instant rule) instead of the 7 shipped ones: a district's"
                        " spread over the partitions, none shared")
    p.add_argument("--only", nargs="*", choices=KINDS, help="run only these receivers")
    p.add_argument("--profile", type=Path, metavar="STATS",
                   help="instead: one SERVICE+INFLUX drain with `lantian run` under cProfile "
                   "(its event loop's thread), stats saved to STATS, top functions printed")
    p.add_argument("--compare", type=Path, metavar="CHECKOUT",
                   help="add COMPARED+INFLUX: SERVICE+INFLUX with `lantian run` from this "
                   "checkout's packages (PYTHONPATH), e.g. a worktree of the commit before a "
                   "change, in the same rounds")
    p.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                   help="the store of every `lantian run` (default: the config's SQLite)")
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _args(argv)
    info = machine_info()
    print_header("Lantian whole-service benchmark", info)
    started = time.monotonic()
    kinds = [k for k in KINDS if not args.only or k in args.only or k == "CEILING"]
    if args.compare:
        kinds.append("COMPARED+INFLUX")
    # the partitions run the compared checkout's code when there is one, and are
    # measured against one instance of the same code
    code = args.compare.resolve() if args.compare else REPO
    single = "COMPARED+INFLUX" if args.compare else "SERVICE+INFLUX"
    partitioned = args.partitions and partitions_supported(code)
    if args.partitions and not partitioned:
        console.print(f"[yellow]PARTITIONS skipped: the service in {code} does not know "
                      "LANTIAN_PARTITION (lantian/config/_env.py) yet[/yellow]")
    latency: LatencyRun | None = None
    with tempfile.TemporaryDirectory(prefix="lantian-bench-service-") as tmp, \
            run_mosquitto(Path(tmp) / "mosquitto") as broker, \
            run_victoria(Path(tmp) / "victoria") as victoria, \
            contextlib.ExitStack() as stack:  # fmt: skip
        first = write_bench_config(Path(tmp) / "ctx", broker, Path(tmp) / "ctx.sqlite", "")
        stations = ([probe_station(i) for i in range(min(args.spread, PROBE_STATIONS))]
                    if args.spread else shipped_station_ids())
        bench = Bench(broker, victoria, Path(tmp), stations, args.n,
                      load_settings(first, {}).decode,
                      {"PYTHONPATH": str(args.compare.resolve())} if args.compare else {})
        bench.ends_at_commit = says_last_handled(REPO) and (
            not args.compare or says_last_handled(args.compare.resolve()))
        console.print("a service drain ends at " + (
            f"its last commit ({LAST_HANDLED})" if bench.ends_at_commit else
            "the /metrics poll that counts its last reading (a compared checkout does "
            f"not say {LAST_HANDLED})"))
        if args.store == "postgres":
            server = stack.enter_context(contextlib.contextmanager(run_postgres)())
            bench.store_url = lambda: new_database(server)
            bench.postgres_pid = server.proc.pid
            console.print(f"store: PostgreSQL on 127.0.0.1:{server.port} (fsync off), a "
                          "database a drain")
        if args.compare:
            console.print(f"COMPARED+INFLUX: lantian run from {args.compare.resolve()}")
        console.print(f"mosquitto on {broker.url}, victoria-metrics on {victoria.url}; "
                      f"backlog for {', '.join(bench.stations[:10])}"
                      f"{f' and {len(bench.stations) - 10} more' if len(stations) > 10 else ''}")
        if args.profile:
            d = bench.service("SERVICE+INFLUX", 0, profile=args.profile.resolve())
            console.print(f"profiled SERVICE+INFLUX: {d.rate:,.0f} msg/s (cProfile slows it), "
                          f"CPU {d.cpu_us_per_msg:.1f} µs/msg, of which the loop's "
                          f"{d.loop_cpu_us_per_msg:.1f}; stats in {args.profile}")
            pstats.Stats(str(args.profile)).strip_dirs().sort_stats("tottime").print_stats(40)
            return
        drains: list[Drain] = []
        order = [*kinds, *(["PARTITIONS"] if partitioned else [])]
        for rnd in range(args.runs):
            for kind in order:
                if kind in ("CEILING", "INGEST"):
                    d = bench.in_process(kind, rnd)
                elif kind == "PARTITIONS":
                    d = bench.service(kind, rnd, partitions=args.partitions)
                else:
                    d = bench.service(kind, rnd)
                drains.append(d)
                console.print(f"[dim]round {rnd + 1}/{args.runs} {kind}: {d.rate:,.0f} msg/s, "
                              f"{d.counted:,}/{d.n:,}, CPU {d.cpu_us_per_msg:.1f} µs/msg[/dim]")
        console.print(drain_table(drains, order, args.n, args.spread))
        busy = box_table(drains, order)
        if busy is not None:
            console.print(busy)
        for kind in kinds[1:]:
            shares = share(drains, kind)
            if not shares:
                continue
            line = f"{kind} / CEILING: [bold]{spread([x * 100 for x in shares], '{:.0f}')} %"
            line += "[/bold] per round"
            if kind == "SERVICE+INFLUX":
                met = statistics.median(shares) >= TARGET_SHARE
                line += f"; target ≥ {TARGET_SHARE:.0%}: " + (
                    "[green]met[/green]" if met else "[red]not met[/red]")
            console.print(line)
        if partitioned:
            both = share(drains, "PARTITIONS", of=single)
            ok = statistics.median(both) >= TARGET_PARTITIONS
            console.print(f"PARTITIONS ({args.partitions} instances) / {single}: "
                          f"[bold]{spread(both, '{:.2f}')}×[/bold] per round; target ≥ "
                          f"{TARGET_PARTITIONS}×: " + ("[green]met[/green]" if ok
                                                       else "[red]not met[/red]"))
        if args.compare:
            vs = share(drains, "SERVICE+INFLUX", of="COMPARED+INFLUX")
            cpu = {d.round: d.cpu_us_per_msg for d in drains if d.kind == "COMPARED+INFLUX"}
            less = [1 - d.cpu_us_per_msg / cpu[d.round] for d in drains
                    if d.kind == "SERVICE+INFLUX" and cpu.get(d.round)]
            console.print(f"SERVICE+INFLUX / COMPARED+INFLUX: {spread(vs, '{:.2f}')}× the rate, "
                          f"{spread([x * 100 for x in less], '{:.0f}')} % less CPU a message, "
                          "per round")
        rates = [d.rate for d in drains if d.kind == "SERVICE+INFLUX"]
        if (rates or args.latency_rate) and args.probes:
            rate = args.latency_rate or statistics.median(rates) / 2
            procs = bench.services("latency", influx=True)
            try:
                latency = measure_latency(broker, bench.stations, rate, args.duration,
                                          args.probes)
            finally:
                procs[0].stop()
            console.print(latency.table(TARGET_P99_MS))
    console.print(f"[dim]total {time.monotonic() - started:.0f} s[/dim]")
    if not args.no_json:
        path = write_results("service", {
            "machine": info, "args": vars(args), "drain": [asdict(d) for d in drains],
            "latency": asdict(latency) if latency is not None else None,
        })  # fmt: skip
        console.print(f"results: {path}")


if __name__ == "__main__":
    main()
