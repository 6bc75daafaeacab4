"""MQTT ingest benchmark: how fast Lantian's ingest path drains a QoS 1 backlog compared
with a bare paho subscriber, and what latency it gives at a sustainable paced rate.

    python -m bench.ingest [--n 30000] [--qos 1] [--rate R] [--duration 10] [--runs 3]
                           [--manual-ack] [--durable]

Phases (each run round-robin, so slow drift on this noisy box hits all alike):
  1. CEILING  bare paho subscriber draining N messages queued for its persistent session
  2. INGEST   the same backlog through MqttConnection + Ingestor (decode, validate, dedupe)
  3. SUSTAINED  a publisher process paced at R msg/s (default 60 % of INGEST's drain rate)
              for --duration seconds, through INGEST and through the bare subscriber
With --manual-ack, INGEST+ACK joins phases 2 and 3: INGEST with MqttConnection's
manual_ack and an empty on_burst_end, i.e. acks sent after each read burst instead of
after each message (the commit a caller would make there is not measured).
With --durable, DURABLE joins phase 2: INGEST as the service runs it, each message that
brings a record journalled in a SQLite store, one transaction a read burst committed
before the burst's acknowledgements (lantian.recovery): the cost of "an acknowledged
reading is never forgotten".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.table import Table

from bench import _bare, _lantian, _publisher
from bench._common import console, machine_info, past_base_ms, print_header, spread, write_results
from bench._session import forget_session, register_session
from bench._tally import LagStats, Tally
from ingest import BrokerSettings, InboundTopics, MqttConnection
from tests.support import Broker, run_mosquitto

#: run_mosquitto already sets `max_queued_messages 0` (nothing dropped however long the
#: backlog); QoS 0 backlogs (--qos 0) are only kept for an offline session with this.
BROKER_EXTRA = "queue_qos0_messages true"
TARGET_RATIO = 0.70
SUSTAINED_SHARE = 0.60
PACED_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class DrainRun:
    kind: str
    n: int
    delivered: int
    rate: float
    span_s: float
    cpu_us_per_msg: float
    backlog_publish_rate: float
    dead_letters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PacedRun:
    kind: str
    target_rate: float
    publish_rate: float
    sent: int
    delivered: int
    lag_ms: LagStats

    @property
    def sustained(self) -> bool:
        return self.delivered >= self.sent and not self.lag_ms.backlog_grew()


# -- one run of each phase ----------------------------------------------------------------

Drainer = Callable[[Broker, str, int, float], tuple[Tally, Counter[str]]]


def _drain_bare(broker: Broker, cid: str, n: int, timeout: float) -> tuple[Tally, Counter[str]]:
    return _bare.drain(broker, cid, n, timeout), Counter()


def _drain_ingest(broker: Broker, cid: str, n: int, timeout: float) -> tuple[Tally, Counter[str]]:
    run = _lantian.drain(broker, cid, n, timeout)
    return run.tally, run.dead_letters


class ManualAckConnection(MqttConnection):
    """MqttConnection with manual_ack, counting its bursts (read bursts that delivered
    messages, each ending in on_burst_end and then the acks)."""

    bursts = 0  # over all instances: one connection at a time here

    def __init__(self, settings: BrokerSettings, subscriptions: list[str],
                 on_message: Callable[[str, bytes], object]) -> None:
        super().__init__(settings, subscriptions, on_message, manual_ack=True,
                         on_burst_end=self._count_burst)

    @staticmethod
    def _count_burst() -> None:
        ManualAckConnection.bursts += 1


def _drain_manual_ack(
    broker: Broker, cid: str, n: int, timeout: float
) -> tuple[Tally, Counter[str]]:
    run = _lantian.drain(broker, cid, n, timeout, connection=ManualAckConnection)
    return run.tally, run.dead_letters


def _drain_durable(
    broker: Broker, cid: str, n: int, timeout: float
) -> tuple[Tally, Counter[str]]:
    with tempfile.TemporaryDirectory(prefix="lantian-bench-store-") as tmp:
        run = _lantian.drain(broker, cid, n, timeout, durable=Path(tmp) / "store.sqlite")
    return run.tally, run.dead_letters


DRAINERS: dict[str, Drainer] = {"CEILING": _drain_bare, "INGEST": _drain_ingest,
                                "INGEST+ACK": _drain_manual_ack, "DURABLE": _drain_durable}


def drain_once(broker: Broker, kind: str, n: int, qos: int, label: str) -> DrainRun:
    cid = f"bench-{kind.lower()}-{label}"
    register_session(broker, cid, InboundTopics().subscriptions())
    try:
        published = _publisher.run(broker.port, n, 0, qos, 0, past_base_ms(time.time()))
        if published.acked != n:
            raise RuntimeError(f"backlog: only {published.acked} of {n} acknowledged")
        tally, dead = DRAINERS[kind](broker, cid, n, 30 + n / 1000)
    finally:
        forget_session(broker, cid)
    return DrainRun(kind, n, tally.count, tally.rate, tally.span, tally.cpu_us_per_msg,
                    published.rate, dict(dead))


def paced_once(
    broker: Broker, kind: str, rate: float, duration: float, qos: int, label: str
) -> PacedRun:
    n = max(1, round(rate * duration))
    cid = f"bench-paced-{kind.lower()}-{label}"
    register_session(broker, cid, InboundTopics().subscriptions())
    cmd = _publisher.command(broker.port, n, rate, qos, 0, past_base_ms(time.time()))
    try:
        if kind in ("INGEST", "INGEST+ACK"):
            connection = ManualAckConnection if kind == "INGEST+ACK" else MqttConnection
            run = asyncio.run(_lantian._run(broker, cid, n, cmd, PACED_GRACE_S, connection))
            tally, published = run.tally, run.published
            assert published is not None
        else:
            tally, published = _bare.paced(broker, cid, cmd, n, PACED_GRACE_S)
    finally:
        forget_session(broker, cid)
    return PacedRun(kind, rate, published.rate, published.sent, tally.count,
                    LagStats.of(tally.lags))


# -- reporting ---------------------------------------------------------------------------


def _delivered(runs: Sequence[DrainRun | PacedRun]) -> str:
    def sent(r: DrainRun | PacedRun) -> int:
        return r.n if isinstance(r, DrainRun) else r.sent

    if all(r.delivered == sent(r) for r in runs):
        return f"all, {len(runs)}/{len(runs)} runs"
    return ", ".join(f"{r.delivered:,}/{sent(r):,}" for r in runs)


def drain_table(runs: list[DrainRun], n: int, qos: int) -> tuple[Table, list[float]]:
    table = Table(title=f"Drain a backlog of {n:,} QoS {qos} readings: median [min..max]",
                  title_justify="left")
    for col in ("phase", "msg/s", "delivered", "dead letters", "CPU µs/msg (receiver)",
                "drain span s", "backlog published at msg/s"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for kind in DRAINERS:
        rs = [r for r in runs if r.kind == kind]
        if not rs:
            continue
        dead = sum(sum(r.dead_letters.values()) for r in rs)
        codes = Counter[str]()
        for r in rs:
            codes.update(r.dead_letters)
        table.add_row(
            kind, spread([r.rate for r in rs]), _delivered(rs),
            "none" if not dead else ", ".join(f"{c}: {k}" for c, k in codes.items()),
            spread([r.cpu_us_per_msg for r in rs], "{:.1f}"),
            spread([r.span_s for r in rs], "{:.2f}"),
            spread([r.backlog_publish_rate for r in rs]),
        )
    ceiling = [r.rate for r in runs if r.kind == "CEILING"]
    ingest = [r.rate for r in runs if r.kind == "INGEST"]
    # pairs from the same round, so drift cancels
    ratios = [i / c for c, i in zip(ceiling, ingest, strict=True) if c]
    return table, ratios


def paced_table(runs: list[PacedRun], rate: float, duration: float, qos: int) -> Table:
    table = Table(
        title=f"Sustained: paced publisher at {rate:,.0f} msg/s for {duration:g} s, QoS {qos}: "
        "median [min..max]", title_justify="left",
    )
    for col in ("receiver", "published msg/s", "delivered", "lag first 10 % → last 10 % ms",
                "p50 ms", "p99 ms", "max ms", "sustained"):
        table.add_column(col, justify="left" if col == "receiver" else "right")
    for kind in ("INGEST", "INGEST+ACK", "BARE"):
        rs = [r for r in runs if r.kind == kind]
        if not rs:
            continue
        table.add_row(
            kind, spread([r.publish_rate for r in rs]), _delivered(rs),
            f"{spread([r.lag_ms.first10 for r in rs], '{:.1f}')} → "
            f"{spread([r.lag_ms.last10 for r in rs], '{:.1f}')}",
            spread([r.lag_ms.p50 for r in rs], "{:.1f}"),
            spread([r.lag_ms.p99 for r in rs], "{:.1f}"),
            spread([r.lag_ms.max for r in rs], "{:.1f}"),
            f"{sum(r.sustained for r in rs)}/{len(rs)}",
        )
    return table


# -- main ----------------------------------------------------------------------------------


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=30_000, help="backlog size (default 30000)")
    p.add_argument("--qos", type=int, default=1, choices=(0, 1), help="publish QoS (default 1)")
    p.add_argument("--rate", type=float, default=0.0,
                   help="paced rate, msg/s (default: 60 %% of INGEST's median drain rate)")
    p.add_argument("--duration", type=float, default=10.0, help="paced run length, s")
    p.add_argument("--runs", type=int, default=3, help="rounds of each phase (default 3)")
    p.add_argument("--manual-ack", action="store_true",
                   help="also run INGEST with manual_ack (acks after each read burst)")
    p.add_argument("--durable", action="store_true",
                   help="also run DURABLE: INGEST journalled, committed before the acks")
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _args(argv)
    info = machine_info()
    print_header("Lantian MQTT ingest benchmark", info)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lantian-bench-") as tmp, \
            run_mosquitto(Path(tmp), extra=BROKER_EXTRA) as broker:  # fmt: skip
        console.print(f"mosquitto on {broker.url}, max_queued_messages 0; publisher: "
                      f"paho in a child process, {_publisher.INFLIGHT} in flight")
        kinds = [k for k in DRAINERS if (args.manual_ack or k != "INGEST+ACK")
                 and (args.durable or k != "DURABLE")]
        # one small untimed round: imports, first connections, broker allocations
        for kind in kinds:
            drain_once(broker, kind, min(args.n, 3000), args.qos, "warmup")
        drains: list[DrainRun] = []
        for run in range(args.runs):
            for kind in kinds:
                bursts_before = ManualAckConnection.bursts
                r = drain_once(broker, kind, args.n, args.qos, str(run))
                drains.append(r)
                bursts = ManualAckConnection.bursts - bursts_before
                per_burst = f", {r.delivered / bursts:.1f} msg/burst" if bursts else ""
                console.print(f"[dim]drain {run + 1}/{args.runs} {kind}: {r.rate:,.0f} msg/s, "
                              f"{r.delivered:,}/{r.n:,}, CPU {r.cpu_us_per_msg:.1f} µs/msg"
                              f"{per_burst}[/dim]")
        table, ratios = drain_table(drains, args.n, args.qos)
        console.print(table)
        ingest_median = statistics.median(r.rate for r in drains if r.kind == "INGEST")
        ceiling_median = statistics.median(r.rate for r in drains if r.kind == "CEILING")
        ok = statistics.median(ratios) >= TARGET_RATIO
        console.print(
            f"INGEST / CEILING: [bold]{spread([x * 100 for x in ratios], '{:.0f}')} %[/bold] "
            f"per round (ratio of medians {ingest_median / ceiling_median:.0%}); target ≥ "
            f"{TARGET_RATIO:.0%}: " + ("[green]met[/green]" if ok else "[red]not met[/red]")
        )
        plain = [r.rate for r in drains if r.kind == "INGEST"]
        for kind in ("INGEST+ACK", "DURABLE"):
            other = [r.rate for r in drains if r.kind == kind]
            if other:
                console.print(f"{kind} / INGEST: " + spread(
                    [o / i * 100 for i, o in zip(plain, other, strict=True)], "{:.0f}") +
                    " % per round")

        rate = args.rate or SUSTAINED_SHARE * ingest_median
        paced: list[PacedRun] = []
        for run in range(args.runs):
            for kind in ("INGEST", "INGEST+ACK", "BARE"):
                if kind == "INGEST+ACK" and not args.manual_ack:
                    continue
                p = paced_once(broker, kind, rate, args.duration, args.qos, str(run))
                paced.append(p)
                console.print(
                    f"[dim]paced {run + 1}/{args.runs} {kind}: published {p.publish_rate:,.0f} "
                    f"msg/s, {p.delivered:,}/{p.sent:,}, p50 {p.lag_ms.p50:.1f} ms, "
                    f"p99 {p.lag_ms.p99:.1f} ms[/dim]"
                )
        console.print(paced_table(paced, rate, args.duration, args.qos))
    console.print(f"[dim]total {time.monotonic() - started:.0f} s[/dim]")
    if not args.no_json:
        path = write_results("ingest", {
            "machine": info, "args": vars(args),
            "drain": [asdict(r) for r in drains], "ratios": ratios,
            "paced": [asdict(r) | {"sustained": r.sustained} for r in paced],
        })  # fmt: skip
        console.print(f"results: {path}")


if __name__ == "__main__":
    main()
