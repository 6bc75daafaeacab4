"""Where the ingest path's time goes: one INGEST drain (as in `python -m bench.ingest`)
under cProfile, top functions by own time.

    python -m bench.profile [--n 30000] [--top 30] [--sort tottime] [--out stats.prof]

cProfile roughly doubles the cost of each Python call, so read the shares, not the
absolute times; the drain rate printed is the profiled one.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from bench import _lantian, _publisher
from bench._common import console, past_base_ms
from bench._session import forget_session, register_session
from ingest import InboundTopics
from tests.support import run_mosquitto


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=30_000)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--sort", default="tottime", choices=("tottime", "cumtime"))
    p.add_argument("--out", type=Path, help="also save the raw stats (for snakeviz etc.)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="lantian-prof-") as tmp, \
            run_mosquitto(Path(tmp)) as broker:  # fmt: skip
        cid = "bench-profile"
        register_session(broker, cid, InboundTopics().subscriptions())
        _publisher.run(broker.port, a.n, 0, 1, 0, past_base_ms(time.time()))
        profiler = cProfile.Profile()
        try:
            run = profiler.runcall(_lantian.drain, broker, cid, a.n, 60 + a.n / 500)
        finally:
            forget_session(broker, cid)
    console.print(f"profiled drain: {run.tally.count:,}/{a.n:,} records, "
                  f"{run.tally.rate:,.0f} msg/s, dead letters {dict(run.dead_letters) or 'none'}")
    stats = pstats.Stats(profiler)
    if a.out:
        stats.dump_stats(a.out)
    stats.strip_dirs().sort_stats(a.sort).print_stats(a.top)


if __name__ == "__main__":
    main()
