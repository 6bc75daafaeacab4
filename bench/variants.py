"""Taking the INGEST drain apart: the same backlog drain as `python -m bench.ingest`, with
parts of the path swapped out in-process, round-robin. Nothing outside bench/ is changed;
the variants subclass or wrap the service's classes to try a change before anyone makes it.

    python -m bench.variants [--n 30000] [--runs 3]

Variants:
  CEILING          bare paho, loop(), count only (as in bench.ingest)
  CEILING-mqtt311  the same over MQTT 3.1.1 (persistent session via clean_session=False):
                   what paho's per-message MQTT 5 Properties handling costs
  conn             MqttConnection on asyncio, count only: the MQTT client and its loop
                   integration without Ingestor (INGEST minus conn = Ingestor.handle in situ)
  INGEST           MqttConnection + Ingestor as shipped (as in bench.ingest)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from rich.table import Table

from bench import _bare, _lantian, _publisher
from bench._common import console, machine_info, past_base_ms, print_header, spread
from bench._session import forget_session, register_session
from bench._tally import Tally
from ingest import InboundTopics
from tests.support import Broker, run_mosquitto


def _bare_mqtt311(broker: Broker, client_id: str, n: int, timeout: float) -> Tally:
    tally = Tally(n)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=paho.MQTTv311, clean_session=False)
    client.on_message = lambda *_args: tally.note()
    client.connect(broker.host, broker.port)  # resumes the session register_session made
    deadline = time.monotonic() + timeout
    while tally.count < n and time.monotonic() < deadline:
        if client.loop(timeout=0.1) != paho.MQTT_ERR_SUCCESS:
            raise RuntimeError("MQTT 3.1.1 subscriber lost its connection")
    client.disconnect()
    client.loop(timeout=0.05)
    return tally


Drain = Callable[[Broker, str, int, float], Tally]

VARIANTS: dict[str, Drain] = {
    "CEILING": _bare.drain,
    "CEILING-mqtt311": _bare_mqtt311,
    "conn": lambda b, c, n, t: _lantian.drain(b, c, n, t, ingest=False).tally,
    "INGEST": lambda b, c, n, t: _lantian.drain(b, c, n, t).tally,
}  # fmt: skip


def drain_once(broker: Broker, name: str, n: int, label: str) -> Tally:
    cid = f"bench-variant-{label}"
    register_session(broker, cid, InboundTopics().subscriptions())
    try:
        published = _publisher.run(broker.port, n, 0, 1, 0, past_base_ms(time.time()))
        if published.acked != n:
            raise RuntimeError(f"backlog: only {published.acked} of {n} acknowledged")
        return VARIANTS[name](broker, cid, n, 30 + n / 1000)
    finally:
        forget_session(broker, cid)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.variants", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=30_000)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    print_header("Lantian ingest drain, taken apart", machine_info())
    results: dict[str, list[Tally]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="lantian-variants-") as tmp, \
            run_mosquitto(Path(tmp)) as broker:  # fmt: skip
        for name in VARIANTS:  # untimed warm-up
            drain_once(broker, name, min(a.n, 3000), f"warmup-{name}")
        for run in range(a.runs):
            for name in VARIANTS:
                t = drain_once(broker, name, a.n, f"{run}-{name}")
                results[name].append(t)
                console.print(f"[dim]{run + 1}/{a.runs} {name}: {t.rate:,.0f} msg/s, "
                              f"{t.count:,}/{a.n:,}, CPU {t.cpu_us_per_msg:.1f} µs/msg[/dim]")
    ceiling = statistics.median(t.rate for t in results["CEILING"])
    table = Table(title=f"Drain of {a.n:,} QoS 1 readings: median [min..max]",
                  title_justify="left")
    for col in ("variant", "msg/s", "of CEILING", "CPU µs/msg", "delivered"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for name, tallies in results.items():
        rates = [t.rate for t in tallies]
        table.add_row(
            name, spread(rates), f"{statistics.median(rates) / ceiling:.0%}",
            spread([t.cpu_us_per_msg for t in tallies], "{:.1f}"),
            "all" if all(t.count == a.n for t in tallies) else
            ", ".join(f"{t.count:,}" for t in tallies),
        )
    console.print(table)


if __name__ == "__main__":
    main()
