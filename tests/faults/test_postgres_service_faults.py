"""`lantian run` on PostgreSQL, PostgreSQL killed (SIGKILL) while readings keep arriving:
they stay unacknowledged at the broker, `/healthz` says the store is not writable, and
once PostgreSQL is back they are processed, with what was committed before the kill.
PostgreSQL frozen (SIGSTOP) under a burst's commit: the port answers meanwhile."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import shipped_rules
from tests.faults.conftest import ADMIN, ServiceProcess
from tests.faults.test_crash import alerts_for, reading, two_readings_over_the_limit
from tests.postgres import PgServer, new_database, run_postgres
from tests.support import Broker, wait_until

pytestmark = pytest.mark.postgres

Factory = Callable[..., ServiceProcess]


@pytest.fixture
def server() -> Iterator[PgServer]:
    yield from run_postgres(durable=True)


def healthy(svc: ServiceProcess) -> bool:
    return httpx.get(f"{svc.url}/healthz", timeout=20).status_code == 200


def test_readings_during_a_postgresql_outage_are_processed_after_it(
    service_factory: Factory, broker: Broker, server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANTIAN_STORE_URL", new_database(server))
    svc = service_factory(shipped_rules()).start()
    topic = "lantian/sensors/KY-CS-001/reading"
    now = datetime.now(UTC)
    broker.pub(topic, reading("KY-CS-001", now - timedelta(minutes=2), 160))
    wait_until(lambda: svc.metric("lantian_records_total", type="Reading") == 1,
               what="the first reading processed")

    server.kill()
    broker.pub(topic, reading("KY-CS-001", now - timedelta(minutes=1), 170))
    broker.pub(topic, reading("KY-CS-001", now, 180))
    wait_until(lambda: not healthy(svc), 30, "/healthz to say the store is down")
    r = httpx.get(f"{svc.url}/api/alerts", headers=ADMIN, timeout=20)
    assert r.status_code == 500 and "the service's log has it" in r.text  # no hang
    down_at = time.monotonic()

    server.start()
    alert = wait_until(lambda: alerts_for(svc, "station:KY-CS-001"), 60,
                       "the alert, from the readings kept at the broker")
    back_after = time.monotonic() - down_at
    assert [a["rule"] for a in alert] == ["site-pm10-15min"]
    full = httpx.get(f"{svc.url}/api/alerts/{alert[0]['id']}",
                     headers=ADMIN,
                     timeout=5).json()
    # the reading committed before the kill and the two that waited at the broker
    assert [v for _, v in full["evidence"]["readings"]] == [160.0, 170.0, 180.0]
    assert svc.proc is not None and svc.proc.poll() is None  # it never stopped
    wait_until(lambda: healthy(svc), 30, "/healthz to say the store is back")
    log = svc.log.read_text()
    assert "could not commit a burst of messages" in log  # the outage, said
    assert "Exception in callback" not in log  # nothing escaped to the event loop
    print(f"\nalert raised {back_after:.1f} s after PostgreSQL was started again")


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def test_a_frozen_postgresql_holds_the_burst_and_not_the_event_loop(
    service_factory: Factory, broker: Broker, server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL stops answering (SIGSTOP: a hung host) while a burst commits. The burst
    waits in the store writer's turn, off the event loop, so the port still answers:
    `/healthz` says 503 (the store not writable) within its bound, `/metrics` answers,
    and a machine's configured token is admitted. Thawed, the burst commits."""
    monkeypatch.setenv("LANTIAN_STORE_URL", new_database(server))
    svc = service_factory(shipped_rules()).start()
    topic, now = two_readings_over_the_limit(svc, broker)

    frozen = [server.proc.pid, *server.backends()]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        broker.pub(topic, reading("KY-CS-001", now, 180))  # completes the alert
        wait_until(lambda: svc.metric("lantian_records_total", type="Reading") == 3, 10,
                   "the third reading handled, its burst's commit waiting on PostgreSQL")
        health, health_s = _timed(lambda: httpx.get(f"{svc.url}/healthz", timeout=10))
        metrics, metrics_s = _timed(lambda: httpx.get(f"{svc.url}/metrics", timeout=10))
        me, me_s = _timed(lambda: httpx.get(f"{svc.url}/api/me", headers=ADMIN, timeout=10))
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert health.status_code == 503
    assert health.json()["checks"]["store_writable"] is False
    assert health.json()["checks"]["broker_connected"] is True
    assert metrics.status_code == 200 and "lantian_records_total" in metrics.text
    assert me.status_code == 200 and me.json()["role"] == "admin"

    alert = wait_until(lambda: alerts_for(svc, "station:KY-CS-001"), 60,
                       "the alert, once PostgreSQL answers again")
    full = httpx.get(f"{svc.url}/api/alerts/{alert[0]['id']}", headers=ADMIN,
                     timeout=5).json()
    assert [v for _, v in full["evidence"]["readings"]] == [160.0, 170.0, 180.0]
    wait_until(lambda: healthy(svc), 30, "/healthz to say the store is back")
    log = svc.log.read_text()
    assert "Exception in callback" not in log
    assert "OutsideTurn" not in log
    print(f"\nPostgreSQL frozen: /healthz answered 503 in {health_s * 1000:.0f} ms, /metrics"
          f" in {metrics_s * 1000:.0f} ms, /api/me in {me_s * 1000:.0f} ms")
