"""HJ 212 over TCP: packets/s through the data loggers' port, and the 9014's latency.

    python -m bench.hj212_tcp [--loggers 200] [--minutes 60] [--runs 3]

The platform side runs here, as the service wires it: `Hj212Server` on an asyncio loop
feeding `Ingestor.handle` (decode, validation, dedupe, a counting record sink) with each
read's packets journalled in a SQLite store and committed before they are answered. The
loggers run in a child process (the box has two cores: one each), each its own TCP
connection sending `--minutes` minute uploads (Flag=5). Cases, round-robin per run:

- *TCP, AWAIT 9014*: each logger waits for the answer to an upload before sending the
  next, as loggers do; packets/s over all, and the answer's latency from the logger's
  write to the answer read back (p50, p99, max);
- *TCP, PACED*: the same, at `--rate` packets/s offered by all loggers together, evenly
  spread: the answer's latency when the port is not saturated (loggers send once a
  minute: 1,000 of them offer 17 packets/s);
- *TCP, PIPELINED*: each logger writes all its uploads at once, then reads the answers:
  what the port takes when loggers resend a backlog after an outage;
- *BASELINE, NO TCP*: the same packets through the same `Ingestor.handle`, committed one
  by one in-process: the decode-and-commit cost the TCP cases pay on top of.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.table import Table

from bench._common import (
    bench_context,
    machine_info,
    percentile,
    print_header,
    spread,
    write_results,
)
from bench._common import console as out
from dispatch._sqlite import SqliteStore
from ingest import InboundTopics, Ingestor
from ingest._deadletters import MemoryDeadLetters
from ingest.hj212_tcp import Hj212Server, Hj212TcpSettings
from lantian.recovery import Journal
from rules.records import Location, Record, Station
from tests.hj212_logger import parsed, upload


def mn(i: int) -> str:
    return f"BT{i:012d}"


def stations(n: int) -> list[Station]:
    return [Station(f"BT-{i:04d}", f"bench logger {i}", "construction_site",
                    Location(29.9 + (i // 40) * 0.005, 120.4 + (i % 40) * 0.005), mn=mn(i))
            for i in range(n)]


# -- the loggers (child process) ---------------------------------------------------------------


async def _logger(port: int, i: int, start: datetime, minutes: int, pipelined: bool,
                  latencies: list[float], every: float = 0.0, offset: float = 0.0) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    packets = [upload(mn(i), start + timedelta(minutes=m), 40.0 + m % 50) for m in range(minutes)]
    answered = 0
    try:
        if pipelined:
            writer.write(b"".join(packets))
            for _ in packets:
                answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), 120)
                answered += b"CN=9014" in answer
            return answered
        # the answer's QN checked as bytes: parsing it here would make this process,
        # not the platform, what is measured
        qns = [b"QN=%s;" % (parsed(p).qn or "").encode() for p in packets]
        first = time.perf_counter() + offset
        for k, (packet, qn) in enumerate(zip(packets, qns, strict=True)):
            if every:  # paced: upload k at its slot, whenever the last answer came
                await asyncio.sleep(max(0.0, first + k * every - time.perf_counter()))
            sent = time.perf_counter()
            writer.write(packet)
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), 120)
            latencies.append(time.perf_counter() - sent)
            answered += answer.startswith(b"##") and qn in answer and b"CN=9014;" in answer
    finally:
        writer.close()
    return answered


async def _loggers(port: int, n: int, start: datetime, minutes: int, pipelined: bool,
                   rate: float = 0.0) -> dict[str, object]:
    """`rate`: packets/s offered by all loggers together, evenly spread (0: as fast as
    the answers come)."""
    latencies: list[float] = []
    every = n / rate if rate else 0.0
    t0 = time.perf_counter()
    answered = await asyncio.gather(*(
        _logger(port, i, start, minutes, pipelined, latencies, every, i * every / n)
        for i in range(n)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"answered": sum(answered), "elapsed": elapsed,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": latencies[-1] * 1000 if latencies else float("nan")}


# -- the platform (this process) ---------------------------------------------------------------


class Platform:
    def __init__(self, n: int, store_path: Path) -> None:
        self.records = 0
        self.store = SqliteStore(store_path)
        self.ingestor = Ingestor(
            ctx=bench_context(stations(n)), topics=InboundTopics(),
            clock=lambda: datetime.now(UTC), records=self._count,
            deadletters=MemoryDeadLetters(),
        )
        self.ingestor.journal = Journal(self.store)
        self.server = Hj212Server(
            Hj212TcpSettings("127.0.0.1", 0, max_bytes_per_s=1e9, burst_bytes=1 << 30),
            self.ingestor, begin=self.store.begin, commit=self.store.commit,
            clock=lambda: datetime.now(UTC),
        )

    def _count(self, _record: Record) -> None:
        self.records += 1


async def _tcp_case(platform: Platform, n: int, minutes: int, start: datetime,
                    pipelined: bool, rate: float = 0.0) -> dict[str, object]:
    before = platform.records
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.hj212_tcp", "--client", str(platform.server.port),
        "--loggers", str(n), "--minutes", str(minutes), "--start", start.isoformat(),
        *(["--pipelined"] if pipelined else []), "--rate", str(rate),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await proc.communicate()  # the loop serves the loggers meanwhile
    if proc.returncode != 0:
        raise RuntimeError(f"the loggers failed: {stderr.decode()[-2000:]}")
    result: dict[str, object] = json.loads(stdout)
    if result["answered"] != n * minutes or platform.records - before != n * minutes:
        raise RuntimeError(f"not every upload was answered and ingested: {result},"
                           f" {platform.records - before} records")
    return result


def _baseline(platform: Platform, n: int, minutes: int, start: datetime) -> float:
    packets = [(f"lantian/sensors/BT-{i:04d}/hj212",
                upload(mn(i), start + timedelta(minutes=m), 40.0 + m % 50))
               for m in range(minutes) for i in range(n)]
    before = platform.records
    t0 = time.perf_counter()
    for topic, packet in packets:
        platform.store.begin()
        platform.ingestor.handle(topic, packet)
        platform.store.commit()
    elapsed = time.perf_counter() - t0
    if platform.records - before != len(packets):
        raise RuntimeError("the baseline did not ingest every packet")
    return len(packets) / elapsed


async def _platform(args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {
        "await": [], "paced": [], "pipelined": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform(args.loggers, Path(tmp) / "bench.sqlite")
        await platform.server.start()
        try:
            # each case a span of its own: nothing is a duplicate of an earlier one
            span = timedelta(minutes=args.minutes)
            first = datetime.now(UTC) - span * (4 * args.runs + 2)
            for run in range(args.runs):
                for k, case in enumerate(results):
                    start = first + span * (4 * run + k)
                    if case == "baseline":
                        rate = _baseline(platform, args.loggers, args.minutes, start)
                        results[case].append({"rate": rate})
                        continue
                    r = await _tcp_case(platform, args.loggers, args.minutes, start,
                                        case == "pipelined",
                                        args.rate if case == "paced" else 0.0)
                    rate = args.loggers * args.minutes / float(str(r["elapsed"]))
                    results[case].append({"rate": rate, "p50_ms": float(str(r["p50_ms"])),
                                          "p99_ms": float(str(r["p99_ms"])),
                                          "max_ms": float(str(r["max_ms"]))})
        finally:
            await platform.server.stop()
            platform.store.close()
    return results


def _table(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> Table:
    table = Table(title=f"HJ 212 over TCP, {args.loggers} loggers × {args.minutes} uploads × "
                        f"{args.runs} runs: median [min..max]", title_justify="left")
    for col in ("case", "packets/s", "9014 p50 ms", "9014 p99 ms", "9014 max ms", "vs baseline"):
        table.add_column(col, justify="left" if col == "case" else "right")
    base = sorted(r["rate"] for r in results["baseline"])[len(results["baseline"]) // 2]
    names = {"await": "TCP, AWAIT 9014", "paced": f"TCP, PACED {args.rate:,.0f}/s",
             "pipelined": "TCP, PIPELINED", "baseline": "BASELINE, NO TCP (Ingestor + commit)"}
    for case, runs in results.items():
        latency = case in ("await", "paced")
        table.add_row(
            names[case], spread([r["rate"] for r in runs]),
            spread([r["p50_ms"] for r in runs], "{:.1f}") if latency else "",
            spread([r["p99_ms"] for r in runs], "{:.1f}") if latency else "",
            spread([r["max_ms"] for r in runs], "{:.1f}") if latency else "",
            # the paced rate is the offered one: no ratio to speak of
            "" if case == "paced" else spread([r["rate"] / base * 100 for r in runs],
                                              "{:.0f} %"),
        )
    return table


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.hj212_tcp", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loggers", type=int, default=200, help="TCP connections at once")
    p.add_argument("--minutes", type=int, default=60, help="uploads per logger per case")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rate", type=float, default=500.0,
                   help="packets/s all loggers offer together in the PACED case")
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    p.add_argument("--client", type=int, help=argparse.SUPPRESS)  # the loggers' process
    p.add_argument("--start", help=argparse.SUPPRESS)
    p.add_argument("--pipelined", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _args(argv)
    if args.client is not None:
        result = asyncio.run(_loggers(args.client, args.loggers,
                                      datetime.fromisoformat(args.start), args.minutes,
                                      args.pipelined, args.rate))
        print(json.dumps(result))
        return
    info = machine_info()
    print_header("Lantian HJ 212 TCP benchmark (platform here, loggers in a child process)",
                 info)
    results = asyncio.run(_platform(args))
    out.print(_table(results, args))
    if not args.no_json:
        path = write_results("hj212_tcp", {"info": info, "args": vars(args), "results": results})
        out.print(f"results: {path}")


if __name__ == "__main__":
    main()
