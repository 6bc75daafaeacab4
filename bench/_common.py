"""What both harnesses share: the synthetic stations and payloads, spread statistics,
machine information and the results file."""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from types import MappingProxyType
from typing import Final

import orjson
from rich.console import Console
from rich.table import Table

from ingest import DecodeContext
from rules.records import Location, Station

RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"

#: Enough stations that dedupe keys and the station lookup look like a real deployment;
#: station i gets message seq with seq % STATION_COUNT == i.
STATION_COUNT: Final = 1000
_CST: Final = timezone(timedelta(hours=8))

# wide enough for the tables when piped to a file (rich assumes 80 columns then)
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def station_id(index: int) -> str:
    return f"BN-{index:04d}"


def bench_stations(extra: Sequence[Station] = ()) -> dict[str, Station]:
    """STATION_COUNT fixed stations on a grid around Keyan, plus `extra`."""
    stations = {
        station_id(i): Station(
            station_id(i), f"bench {i}", "ambient",
            Location(29.95 + (i // 40) * 0.005, 120.40 + (i % 40) * 0.005),
        )
        for i in range(STATION_COUNT)
    }
    stations.update({s.id: s for s in extra})
    return stations


def bench_context(extra: Sequence[Station] = ()) -> DecodeContext:
    return DecodeContext(stations=MappingProxyType(bench_stations(extra)))


def reading_topic(seq: int) -> str:
    return f"lantian/sensors/{station_id(seq % STATION_COUNT)}/reading"


def reading_payload(seq: int, base_ms: int, sent_at: float) -> bytes:
    """A ~200-byte Lantian reading. `ts` is base_ms + seq milliseconds, so (station, ts)
    is unique per seq and dedupe keeps every message; `sent_at` is an unknown field,
    which Lantian keeps in Reading.extras as text (that is how latency is measured)."""
    ts = datetime.fromtimestamp((base_ms + seq) / 1000, _CST).isoformat(timespec="milliseconds")
    k = seq % 200
    return orjson.dumps({
        "station": station_id(seq % STATION_COUNT), "ts": ts,
        "pm10": 20.5 + k, "pm25": 10.25 + k / 2, "tsp": 40.5 + k * 1.5,
        "temp": 12.4, "rh": 64.0, "pressure": 101.3, "wind_speed": 2.1, "wind_dir": 225.0,
        "sent_at": sent_at,
    })  # fmt: skip


def station_topic(station: str) -> str:
    return f"lantian/sensors/{station}/reading"


def station_payload(station: str, seq: int, base_ms: int, sent_at: float) -> bytes:
    """A ~200-byte Lantian reading for a real station (`bench.service`: the shipped
    ones), with values of a quiet day (PM10 40..99 µg/m³, under every shipped limit, so
    the backlog is the rules' and the store's everyday work, not an alert storm); `ts`
    as in `reading_payload`."""
    ts = datetime.fromtimestamp((base_ms + seq) / 1000, _CST).isoformat(timespec="milliseconds")
    pm10 = 40.5 + (seq * 7) % 60
    return orjson.dumps({
        "station": station, "ts": ts,
        "pm10": pm10, "pm25": pm10 / 2, "tsp": pm10 * 1.8,
        "temp": 12.4, "rh": 64.0, "pressure": 101.3, "wind_speed": 2.1, "wind_dir": 225.0,
        "sent_at": sent_at,
    })  # fmt: skip


def past_base_ms(now: float, offset_s: float = 3600.0) -> int:
    """A ts base an hour ago: in the past (validation refuses the future), not ancient."""
    return int((now - offset_s) * 1000)


# -- statistics -------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """`median [min..max]`, the form every figure of this project is reported in."""
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} [{fmt.format(min(values))}..{fmt.format(max(values))}]"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


# -- machine and output ----------------------------------------------------------------------


def _mosquitto_version() -> str:
    for binary in ("/usr/sbin/mosquitto", "mosquitto"):
        try:
            out = subprocess.run(
                [binary, "-h"], capture_output=True, text=True, timeout=5, check=False
            ).stdout
        except OSError:
            continue
        return out.splitlines()[0].removeprefix("mosquitto version ") if out else "?"
    return "not found"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_info() -> dict[str, str]:
    return {
        "command": shlex.join(["python", "-m", *_module_argv()]),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": _cpu_model(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "paho-mqtt": version("paho-mqtt"),
        "orjson": version("orjson"),
        "mosquitto": _mosquitto_version(),
    }


def _module_argv() -> list[str]:
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    return [spec.name if spec else sys.argv[0], *sys.argv[1:]]


def print_header(title: str, info: Mapping[str, str]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in info.items():
        table.add_row(key, value)
    console.print(table)


def write_results(name: str, results: Mapping[str, object]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path
