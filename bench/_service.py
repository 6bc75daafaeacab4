"""`lantian run` as a deployment runs it, for `bench.service`: its own process on a
config written for the bench (the shipped geography and rules, the tests' fixture
stations, a probe rule for the latency figure), its store in a temporary directory,
read from the outside only: `/healthz`, `/metrics` and `/proc/<pid>/stat`.

The process is frozen (SIGSTOP) while its backlog is published and thawed (SIGCONT) to
be timed: a persistent session it holds, as after a pause of the service, with its
start-up cost outside the timing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from tests.conftest import shipped_rules, write_config
from tests.support import REPO, Broker, free_port, wait_until

#: Stations of kind "test" that only the probe rule reads: each latency probe goes to a
#: station of its own, so that every probe raises a new alert (one open alert per rule
#: and subject), announced on the queue topic.
PROBE_STATIONS: Final = 400
PROBE_RULE: Final = """
[[rules.threshold]]
id = "bench-probe-instant"
kind = "dust_exceedance"
metric = "pm10"
station_kinds = ["test"]
aggregate = "instant"
window_s = 60
min_samples = 1
levels = [{ severity = "major", limit = 500, clear = 400 }]
"""
PROBE_QUEUE_TOPIC: Final = "lantian/queues/+/alerts"
_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


def probe_station(i: int) -> str:
    return f"BQ-{i:04d}"


def write_bench_config(directory: Path, broker: Broker, store: Path, influx_url: str) -> Path:
    """The tests' config (shipped geography, fixture stations) with the shipped rules, a
    sweep interval that stays out of the timing, and the probe stations and rule."""
    rules = re.sub(r"(?m)^sweep_s = 15\b", "sweep_s = 3600", shipped_rules())
    config = write_config(directory, broker_url=broker.url, http_port=free_port(),
                          store=store, influx_url=influx_url, extra=rules + PROBE_RULE)
    path = config / "stations.geojson"
    stations = json.loads(path.read_text())
    for i in range(PROBE_STATIONS):
        stations["features"].append({
            "type": "Feature", "properties": {"id": probe_station(i), "kind": "test"},
            "geometry": {"type": "Point", "coordinates": [120.40 + (i % 20) * 0.003,
                                                          29.98 + (i // 20) * 0.003]},
        })  # fmt: skip
    path.write_text(json.dumps(stations))
    return config


def shipped_station_ids() -> list[str]:
    """The stations of the shipped config/stations.geojson, whose readings the backlog
    carries."""
    features = json.loads((REPO / "config" / "stations.geojson").read_text())["features"]
    return [f["properties"]["id"] for f in features]


def _http_of(config: Path) -> str:
    text = (config / "lantian.toml").read_text()
    match = re.search(r'(?m)^http = "([^"]+)"', text)
    assert match, "bench config without [service] http"
    return f"http://{match.group(1)}"


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text, each sample by its name with labels (`name{a="b"}`), summed over
    nothing: the caller picks what it wants."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            out[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return out


@dataclass
class ServiceProcess:
    """One `lantian run` child process."""

    config: Path
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    #: run under cProfile, its stats written here at a graceful stop
    profile: Path | None = None

    @property
    def url(self) -> str:
        http = self.env.get("LANTIAN_HTTP")
        return f"http://{http}" if http else _http_of(self.config)

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable,
                 *(["-m", "cProfile", "-o", str(self.profile)] if self.profile else []),
                 "-m", "lantian", "--config", str(self.config), "run"],
                # `-m` puts the working directory first on sys.path: another checkout's
                # packages (bench.service --compare) are found from there
                cwd=self.env.get("PYTHONPATH", REPO), env=os.environ | self.env,
                stdout=log, stderr=log,
            )
        wait_until(self._ready, timeout, f"lantian run ({self.log_path}) ready")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"lantian run exited: {self.log_path.read_text()[-3000:]}")
        try:
            up = httpx.get(f"{self.url}/metrics", timeout=1)
        except httpx.HTTPError:
            return False
        return parse_metrics(up.text).get("lantian_mqtt_connected") == 1.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def cpu_s(self) -> float:
        """User plus system CPU of the process, all its threads, in seconds."""
        return process_cpu_s(self.pid)

    def thread_cpu_s(self) -> dict[str, float]:
        """CPU seconds of the event loop's thread (the process's first) and of all its
        other threads together (InfluxDB writer, paho's, executors)."""
        out: dict[str, float] = {}
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                _, _, rest = task.joinpath("stat").read_text().partition(" (")[2].rpartition(")")
            except OSError:
                continue  # the thread ended
            fields = rest.split()
            key = "loop" if task.name == str(self.pid) else "other threads"
            out[key] = out.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / _CLK_TCK
        return out

    def metrics(self, client: httpx.Client) -> dict[str, float]:
        return parse_metrics(client.get(f"{self.url}/metrics", timeout=10).text)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.thaw()  # a stopped process cannot act on SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def process_cpu_s(pid: int) -> float:
    """User plus system CPU of a process, all its threads, in seconds; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime


def kernel_and_idle_s() -> tuple[float, float]:
    """The box's CPU seconds so far that no process's own time counts, from /proc/stat:
    the kernel's interrupts and softirqs (where loopback TCP's packets are processed) and
    the time stolen by the hypervisor; and its idle time (iowait included)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    _user, _nice, _system, idle, iowait, irq, softirq, steal = fields
    return (irq + softirq + steal) / _CLK_TCK, (idle + iowait) / _CLK_TCK


def tree_cpu_s(pid: int) -> float:
    """`process_cpu_s` of a process and its children (a PostgreSQL server's backends)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return process_cpu_s(pid) + sum(process_cpu_s(int(c)) for c in children)


def readings(m: dict[str, float]) -> int:
    return int(m.get('lantian_records_total{type="Reading"}', 0))


def rejected(m: dict[str, float]) -> int:
    return int(sum(v for k, v in m.items() if k.startswith("lantian_messages_rejected_total")))


def points_written(m: dict[str, float]) -> int:
    return int(m.get("lantian_influx_points_written_total", 0))


@dataclass(frozen=True, slots=True)
class Poll:
    """One poll of every service: when the last one answered, their metrics, and what
    the caller's `sample` read right after it (CPU counters, so that a drain's CPU figures
    end where the drain did, not where the polling stopped)."""

    at: float
    metrics: list[dict[str, float]]
    sample: dict[str, float]


def wait_counted(
    services: list[ServiceProcess], n: int, timeout: float, client: httpx.Client, *,
    points: bool = False, started: float | None = None, settle: bool = False,
    sample: Callable[[], dict[str, float]] = dict,
) -> Poll:
    """Poll every service's /metrics until together they count `n` readings (or dead
    letters: those are counted, and reported, not waited for in vain), or with `points`
    `n` points written to InfluxDB: the poll that saw it. `client` is opened by the
    caller before the timing starts, so its first connections are not in it.

    A scrape costs the service 0.6-0.75 ms of CPU (idle, SQLite and PostgreSQL alike;
    the dispatch figures read the store), and each poll this process's: polling every
    20 ms would take a share of the box from the drain being timed. The next poll is due
    when half of what remains should be done at the rate so far (20 ms at least, 0.5 s
    at most), a dozen scrapes a drain.

    `settle` (partitions): instances may each count a reading of a station they share,
    so past `n` the polls go on until the sum stops growing for `SETTLE_S`; the drain
    ended at the first poll that saw the final sum."""
    deadline = time.monotonic() + timeout
    t0 = started if started is not None else time.perf_counter()
    count = points_written if points else (lambda m: readings(m) + rejected(m))
    while True:
        poll = _poll(services, client, sample)
        got = sum(count(m) for m in poll.metrics)
        if got >= n:
            return _settled(services, client, sample, got, poll) if settle else poll
        if time.monotonic() > deadline:
            what = "points written" if points else "readings counted"
            raise RuntimeError(f"only {got} of {n} {what} in {timeout:.0f} s")
        rate = got / (poll.at - t0) if got and poll.at > t0 else 0.0
        due = 0.5 if not rate else min(0.5, max(0.02, (n - got) / rate / 2))
        time.sleep(due)  # the poll interval of a deadline wait, see above


#: How long the counts of partitioned instances must stay still to call a drain over.
SETTLE_S: Final = 0.5


def _poll(services: list[ServiceProcess], client: httpx.Client,
          sample: Callable[[], dict[str, float]]) -> Poll:
    seen = [s.metrics(client) for s in services]
    return Poll(time.perf_counter(), seen, sample())


def _settled(
    services: list[ServiceProcess], client: httpx.Client,
    sample: Callable[[], dict[str, float]], got: int, first: Poll,
) -> Poll:
    while True:
        time.sleep(0.05)  # the poll interval while waiting for the counts to settle
        poll = _poll(services, client, sample)
        total = sum(readings(m) + rejected(m) for m in poll.metrics)
        if total != got:
            got, first = total, poll
        elif poll.at - first.at >= SETTLE_S:
            return first
