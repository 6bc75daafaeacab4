"""`lantian run` on PostgreSQL, PostgreSQL killed (SIGKILL) while readings keep arriving:
they stay unacknowledged at the broker, `/healthz` says the store is not writable, and
once PostgreSQL is back they are processed, with what was committed before the kill."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import shipped_rules
from tests.faults.conftest import ADMIN, ServiceProcess
from tests.faults.test_crash import alerts_for, reading
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
