"""50,000 malformed messages: every one dead-lettered with its reason, the memory flat,
and the readings between them still raising their alerts."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import shipped_rules
from tests.faults.conftest import ServiceProcess, store_rows
from tests.faults.test_crash import alerts_for, reading
from tests.support import Broker, wait_until

Factory = Callable[..., ServiceProcess]
JUNK = 50_000


def rss_mb(pid: int, kind: str = "RssAnon") -> float:
    """Resident memory of the process: `RssAnon` its heap, `RssFile` the pages of files
    it maps (SQLite maps the store: those grow with the file, and are not a leak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {kind}")


def junk(rng: random.Random, i: int) -> tuple[str, bytes]:
    """One of the ways a message goes wrong, in turn."""
    station = f"KY-CS-00{1 + i % 4}"
    if i % 100 == 99:
        return f"lantian/sensors/{station}/reading", b'{"station": 1e999}'
    kind = i % 7
    if kind == 0:
        return f"lantian/sensors/{station}/reading", rng.randbytes(rng.randrange(1, 300))
    if kind == 1:
        return f"lantian/sensors/{station}/reading", b'{"station": "' + station.encode() + b'"'
    if kind == 2:
        return f"lantian/sensors/{station}/reading", json.dumps(
            {"station": station, "ts": "yesterday", "pm10": "lots"}).encode()
    if kind == 3:
        return f"lantian/sensors/{station}/reading", json.dumps(
            {"station": station, "ts": datetime.now(UTC).isoformat(), "pm10": -5}).encode()
    if kind == 4:
        return f"lantian/sensors/{station}/hj212", b"##0010QN=1;ST=39&&ZZZZ\r\n"
    if kind == 5:
        return f"lantian/sensors/{station}/{i}", b"{}"  # not a topic the service knows
    if kind == 6:
        return "lantian/drones/KY-UAV-01/telemetry", json.dumps(
            {"drone": "KY-UAV-01", "ts": datetime.now(UTC).isoformat(), "lat": 91,
             "lon": 500}).encode()
    return f"lantian/sensors/{station}/reading", b'{"station": 1e999}'


def test_junk_is_dead_lettered_and_costs_no_memory(
    service_factory: Factory, broker: Broker, tmp_path: Path
) -> None:
    svc = service_factory(shipped_rules()).start()
    assert svc.proc is not None
    before = rss_mb(svc.proc.pid)
    rng = random.Random(212)
    now = datetime.now(UTC)
    good = [("lantian/sensors/KY-CS-001/reading", reading("KY-CS-001", now - timedelta(
        minutes=m), 180)) for m in (2, 1, 0)]
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="junk-publisher")
    c.max_queued_messages_set(0)
    c.connect(broker.host, broker.port)
    c.loop_start()
    infos = []
    for i in range(JUNK):
        infos.append(c.publish(*junk(rng, i), qos=1))
        if i % (JUNK // 3) == 0 and good:  # the good readings go in among the junk
            infos.append(c.publish(*good.pop(0), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    c.loop_stop()
    c.disconnect()

    def rejected() -> float:
        return svc.metric_sum("lantian_messages_rejected_total")

    wait_until(lambda: rejected() >= JUNK, timeout=180, what="every junk message rejected")
    after = rss_mb(svc.proc.pid)
    mapped = rss_mb(svc.proc.pid, "RssFile")
    stored, codes = store_rows(
        tmp_path / "lantian.sqlite", "SELECT count(*), count(DISTINCT code) FROM dead_letters"
    )[0]
    alert = wait_until(lambda: alerts_for(svc, "station:KY-CS-001"), what="the alert")
    unpublished = svc.metric("lantian_deadletters_unpublished_total")
    print(f"\n{JUNK} junk messages: {rejected():.0f} rejected, {stored} dead letters stored"
          f" ({codes} reasons); heap {before:.0f} → {after:.0f} MB (and {mapped:.0f} MB of"
          f" mapped files); {JUNK - unpublished:.0f} on the live dead-letter topic;"
          f" the 3 good readings"
          f" among them raised {len(alert)} alert")
    assert rejected() == JUNK
    assert stored == JUNK
    assert 0 < unpublished < JUNK  # the live view was limited, and said so
    assert after - before < 64  # a leak of a few hundred bytes a message would show
    assert [a["rule"] for a in alert] == ["site-pm10-15min"]
    os.sync()
