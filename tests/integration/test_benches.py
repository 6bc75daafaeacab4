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
