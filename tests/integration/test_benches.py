"""Every harness in bench/ runs, in miniature: a bench that no longer starts (a renamed
import, a type its output cannot write) is a broken promise of the README's
"Performance" section. The figures of these runs mean nothing; that they finish, with
their table, is what is tested."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO

pytestmark = pytest.mark.integration

SMALL = {
    "hj212": ["--n", "200", "--runs", "1"],
    "hj212_tcp": ["--loggers", "20", "--minutes", "5", "--runs", "1"],
    "rules": ["--stations", "50", "--zones", "50", "--readings", "500", "--runs", "1",
              "--points", "100"],
    "geofence": ["--zones", "50", "--points", "100", "--runs", "1", "--sample", "100",
                 "--batch", "10"],
    "dispatch": ["--alerts", "300", "--runs", "1", "--commands", "30"],
    "console": ["--alerts", "50", "--clients", "2", "--samples", "2", "--paints", "1"],
    "ingest": ["--n", "2000", "--runs", "1", "--duration", "1", "--durable", "--manual-ack"],
}


@pytest.mark.parametrize("bench", sorted(SMALL))
def test_the_harness_runs_and_prints_its_table(bench: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", *SMALL[bench], "--no-json"],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:] or done.stdout[-3000:]
    assert "┏" in done.stdout and "Traceback" not in done.stderr, done.stdout[-2000:]


def test_the_service_bench_counts_every_reading_in_every_receiver() -> None:
    """`bench.service` in miniature: each of its four receivers (bare paho, the ingest
    path, `lantian run` without and with InfluxDB) got the whole backlog, InfluxDB every
    point, and the latency probes their alerts. No speed is asserted."""
    n = 400
    done = subprocess.run(
        [sys.executable, "-m", "bench.service", "--n", str(n), "--runs", "1", "--probes", "5",
         "--duration", "1", "--partitions", "2", "--no-json"],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:] or done.stdout[-3000:]
    out = done.stdout
    for kind in ("CEILING", "INGEST", "SERVICE", "SERVICE+INFLUX"):
        assert f"round 1/1 {kind}: " in out, out[-3000:]
        line = next(li for li in out.splitlines() if li.startswith(f"round 1/1 {kind}: "))
        assert f"{n}/{n}" in line, line
    row = next(li for li in out.splitlines() if li.startswith("│ SERVICE+INFLUX"))
    assert row.rstrip(" │").endswith("all"), row  # every point written to InfluxDB
    assert "5/5" in out, out[-2000:]  # every probe's alert arrived on the queue topic
    assert "PARTITIONS" in out  # run, or skipped saying why
    # and where the box's cores went during each service drain: a second row for it
    assert "Cores busy during the service drains" in out, out[-3000:]
    rows = [li for li in out.splitlines() if li.startswith("│ SERVICE+INFLUX")]
    assert len(rows) == 2, rows
