"""1,000 data loggers connected at once over TCP, each sending an hour of minute data
and waiting for each 9014, as loggers do: every upload answered with its QN, every
reading handed on once, and the registry holding all of them while connected."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from lantian.config import load_settings
from rules.records import Reading
from tests.conftest import RunningService, shipped_rules, write_config
from tests.hj212_logger import upload_hour
from tests.integration.conftest import ADMIN_TOKEN, BLUE_SKY, T0, FakeClock
from tests.support import Broker, free_port

pytestmark = pytest.mark.integration

LOGGERS = 1000
MINUTES = 60


def add_stations(config: Path, n: int) -> list[str]:
    """n dust monitors with MNs, spread over the demo area; their MNs."""
    path = config / "stations.geojson"
    stations = json.loads(path.read_text())
    mns = [f"SC{i:012d}" for i in range(n)]
    for i, mn in enumerate(mns):
        stations["features"].append({
            "type": "Feature", "properties": {"id": f"SC-{i:04d}", "mn": mn, "kind": "test"},
            "geometry": {"type": "Point", "coordinates": [120.45 + (i % 40) * 0.002,
                                                          30.00 + (i // 40) * 0.002]},
        })
    path.write_text(json.dumps(stations))
    return mns


def test_a_thousand_loggers_each_send_an_hour(tmp_path: Path, broker: Broker) -> None:
    tcp_port = free_port()
    config = write_config(
        tmp_path / "config", broker_url=broker.url, http_port=free_port(),
        store=tmp_path / "lantian.sqlite",
        extra=shipped_rules() + f'\n[hj212_tcp]\nlisten = "127.0.0.1:{tcp_port}"\n',
    )
    mns = add_stations(config, LOGGERS)
    service = RunningService(load_settings(config, {"LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN}),
                             FakeClock(T0)).start()
    try:
        start = T0 - timedelta(hours=1)
        latencies: list[float] = []

        async def main() -> tuple[list[int], dict[str, object]]:
            hold = asyncio.Event()
            tasks = [asyncio.create_task(upload_hour(tcp_port, mn, start, latencies, MINUTES,
                                                     hold)) for mn in mns]
            async with httpx.AsyncClient(base_url=service.base_url, headers=BLUE_SKY) as http:
                deadline = asyncio.get_running_loop().time() + 300
                while len(latencies) < LOGGERS * MINUTES:  # all answered: all still connected
                    assert not any(t.done() and t.exception() for t in tasks)
                    assert asyncio.get_running_loop().time() < deadline, len(latencies)
                    await asyncio.sleep(0.1)  # poll interval of the deadline wait above
                registry = (await http.get("/api/hj212/loggers")).json()
            hold.set()
            return await asyncio.gather(*tasks), registry

        answered, registry = asyncio.run(main())
        assert answered == [MINUTES] * LOGGERS  # every upload got its 9014, same QN
        assert registry["connections"] == LOGGERS
        assert {x["mn"] for x in registry["loggers"]} == set(mns)
        assert all(x["packets"] == MINUTES and x["rejects"] == 0 for x in registry["loggers"])
        got = [r for r in service.records if isinstance(r, Reading) and r.station.startswith("SC-")]
        assert len(got) == LOGGERS * MINUTES
        assert len({(r.station, r.ts) for r in got}) == LOGGERS * MINUTES
        latencies.sort()
        print(f"\n{LOGGERS * MINUTES} uploads; 9014 latency p50 "
              f"{latencies[len(latencies) // 2] * 1000:.1f} ms, p99 "
              f"{latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
    finally:
        service.stop()
