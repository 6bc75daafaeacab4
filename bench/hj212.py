"""HJ 212 decode rate, in-process: decode_hj212 on the public ambient-minute fixture and on
a typical dust-monitor packet, with the JSON reading decoder alongside for comparison.

    python -m bench.hj212 [--n 50000] [--runs 3]

Each case is timed as --n back-to-back calls, the cases round-robin --runs times (this
box drifts by ±20 %, and round-robin makes the drift hit every case alike).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rich.table import Table

from bench._common import (
    bench_context,
    console,
    machine_info,
    past_base_ms,
    print_header,
    reading_payload,
    reading_topic,
    spread,
    station_id,
    write_results,
)
from ingest import DecodeContext, Decoded, InboundTopics, decode_message, hj212_crc16
from ingest._decode import Decoding
from ingest._hj212 import decode_hj212
from ingest._lantian_json import decode_reading  # the JSON decoder alone, as decode_hj212 is
from rules.records import Location, Reading, Station
from tests.support import FIXTURES

TARGET = 50_000  # packets/s
AMBIENT = FIXTURES / "hj212" / "ambient-minute-2051.hj212"
AMBIENT_MN = "JLYP01_AIR01_0001"
DUST_MN = "BN0507A0100001"
TZ = ZoneInfo("Asia/Shanghai")

STATIONS = (
    Station("FX-AMBIENT", "ambient fixture", "ambient", Location(30.04, 120.50), mn=AMBIENT_MN),
    Station("BN-DUST", "bench dust monitor", "construction_site", Location(30.03, 120.51),
            mn=DUST_MN),
)

#: A construction-site dust monitor's real-time upload: particulates, weather and noise.
_DUST_FACTORS = (
    ("a34001", "152.3"), ("a34002", "87.1"), ("a34004", "41.6"), ("a01001", "12.4"),
    ("a01002", "64.0"), ("a01006", "101.3"), ("a01007", "2.1"), ("a01008", "225"),
    ("LA", "58.2"),
)  # fmt: skip


def dust_packet(at: datetime) -> bytes:
    """`##`, length, data segment, its HJ 212 CRC, CRLF: a packet any station could send."""
    local = at.astimezone(TZ)
    cp = ";".join(f"{code}-Rtd={value},{code}-Flag=N" for code, value in _DUST_FACTORS)
    segment = (
        f"QN={local:%Y%m%d%H%M%S}000;ST=39;CN=2011;PW=123456;MN={DUST_MN};Flag=4;"
        f"CP=&&DataTime={local:%Y%m%d%H%M%S};{cp}&&"
    ).encode()
    return b"##%04d%s%04X\r\n" % (len(segment), segment, hj212_crc16(segment))


def _check(name: str, result: object, metrics: int) -> None:
    """A benchmark of a rejection would be a benchmark of the wrong thing."""
    if isinstance(result, Decoding):
        result = result.result
    if not (
        isinstance(result, Decoded)
        and isinstance(result.records[0], Reading)
        and len(result.records[0].values) == metrics
    ):
        raise RuntimeError(f"{name}: does not decode to a {metrics}-metric reading: {result!r}")


def cases(ctx: DecodeContext) -> dict[str, tuple[Callable[[], object], int, int]]:
    """name -> (one call, metrics expected, payload bytes)."""
    ambient = AMBIENT.read_bytes()
    dust = dust_packet(datetime.now(UTC) - timedelta(hours=1))
    seq = 7
    reading = reading_payload(seq, past_base_ms(time.time()), time.time())
    topics, now = InboundTopics(), datetime.now(UTC)
    json_topic = reading_topic(seq)
    return {
        "decode_hj212: ambient minute fixture (CN 2051)": (
            lambda: decode_hj212(ambient, ctx), 11, len(ambient)),
        "decode_hj212: dust monitor real-time (CN 2011)": (
            lambda: decode_hj212(dust, ctx), len(_DUST_FACTORS), len(dust)),
        "decode_message: dust monitor (+ route, validate)": (
            lambda: decode_message("lantian/sensors/BN-DUST/hj212", dust, ctx=ctx,
                                   topics=topics, now=now), len(_DUST_FACTORS), len(dust)),
        "decode_reading: JSON reading": (
            lambda: decode_reading(station_id(seq), reading, ctx), 8, len(reading)),
        "decode_message: JSON reading (+ route, validate)": (
            lambda: decode_message(json_topic, reading, ctx=ctx, topics=topics, now=now),
            8, len(reading)),
    }  # fmt: skip


def rate(call: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - t0)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.hj212", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50_000, help="calls per case per run")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    info = machine_info()
    print_header("Lantian decode benchmark (in-process, one thread)", info)
    ctx = bench_context(STATIONS)
    todo = cases(ctx)
    for name, (call, metrics, _size) in todo.items():
        _check(name, call(), metrics)
        rate(call, min(args.n, 2000))  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in todo}
    for _ in range(args.runs):
        for name, (call, _m, _s) in todo.items():
            rates[name].append(rate(call, args.n))
    table = Table(title=f"Decode rate, {args.n:,} calls × {args.runs} runs: median [min..max]",
                  title_justify="left")
    for col in ("case", "bytes", "calls/s", "µs/call", f"≥ {TARGET:,}/s"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for name, (_c, _m, size) in todo.items():
        rs = rates[name]
        table.add_row(
            name, str(size), spread(rs), spread([1e6 / r for r in rs], "{:.1f}"),
            ("[green]yes[/green]" if sorted(rs)[len(rs) // 2] >= TARGET else "[red]no[/red]")
            if "hj212" in name or "dust" in name else "",
        )
    console.print(table)
    if not args.no_json:
        path = write_results("hj212", {"machine": info, "args": vars(args), "rates": rates})
        console.print(f"results: {path}")


if __name__ == "__main__":
    main()
