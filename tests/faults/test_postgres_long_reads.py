"""A read waits on PostgreSQL, and the service goes on: readings are processed and
`/healthz` answers meanwhile (`dispatch._read_lane`), whether the read is the bureau's
monthly report (its lane) or a console's list of alerts (theirs). The wait is made on
purpose: a transaction of the test's holds `alerts` locked (ACCESS EXCLUSIVE), which the
read's first query needs and the reading path does not; the service's periodic sweeps
that read `alerts` are set an hour apart so that none of them falls inside the wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.conftest import shipped_rules
from tests.faults.conftest import ADMIN, ServiceProcess
from tests.faults.test_crash import reading
from tests.support import Broker, wait_until

pytestmark = pytest.mark.postgres

Factory = Callable[..., ServiceProcess]


def journalled(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as c:
        # the messages: a burst's row counts them (a sweep's has no payload)
        row = c.execute("SELECT coalesce(sum(coalesce(messages, 1)), 0) FROM inputs"
                        " WHERE payload IS NOT NULL").fetchone()
        assert row is not None
        return int(row[0])


def connections(url: str) -> dict[str, int]:
    """The service's connections to its database by application name."""
    with psycopg.connect(url, autocommit=True) as c:
        return {str(name): int(n) for name, n in c.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE application_name LIKE 'lantian%' AND datname = current_database()"
            " GROUP BY 1").fetchall()}


def read_waiting(url: str) -> bool:
    """Whether one of the service's connections waits for a lock (the read's query)."""
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                        " 'lantian' AND wait_event_type = 'Lock'"
                        " AND datname = current_database()").fetchone()
        assert row is not None
        return int(row[0]) > 0


@pytest.mark.parametrize(("path", "params", "answered"), [
    ("/api/reports/monthly", {"month": f"{datetime.now(UTC):%Y-%m}"}, "month"),
    ("/api/alerts", {"limit": "1000"}, "alerts"),
], ids=["monthly report", "console's list"])
def test_readings_are_processed_while_a_read_waits_on_the_database(
    service_factory: Factory, broker: Broker, pg_url: str, monkeypatch: pytest.MonkeyPatch,
    path: str, params: dict[str, str], answered: str,
) -> None:
    monkeypatch.setenv("LANTIAN_STORE_URL", pg_url)
    # the SLA sweep ([dispatch]) and the silent stations' ([rules]) an hour apart
    rules = shipped_rules().replace("\nsweep_s = 15 ", "\nsweep_s = 3600 ")
    svc = service_factory(rules.replace("[rules]\n", "[rules]\nsweep_s = 3600\n", 1)).start()
    before = journalled(pg_url)
    # docs/postgresql.md: the writer, the labels' and the two read lanes (one instance
    # needs no change feed)
    assert connections(pg_url) == {"lantian": 4}
    answer: list[httpx.Response] = []

    with psycopg.connect(pg_url) as lock:
        lock.execute("LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE")
        asking = threading.Thread(target=lambda: answer.append(httpx.get(
            f"{svc.url}{path}", params=params, headers=ADMIN, timeout=60)), daemon=True)
        asking.start()
        wait_until(lambda: read_waiting(pg_url), 10, "the read's query to wait")
        locked_at = time.monotonic()

        now = datetime.now(UTC)
        for i in range(3):
            broker.pub("lantian/sensors/KY-CS-001/reading",
                       reading("KY-CS-001", now - timedelta(seconds=30 - i), 40))
        wait_until(lambda: journalled(pg_url) == before + 3, 8,
                   "the three readings committed while the read waits")
        processed_after = time.monotonic() - locked_at
        assert httpx.get(f"{svc.url}/healthz", timeout=5).status_code == 200
        assert asking.is_alive() and not answer  # the read is still waiting
        lock.rollback()

    asking.join(30)
    assert [r.status_code for r in answer] == [200], answer and answer[0].text
    assert answered in answer[0].json()
    assert "Exception in callback" not in svc.log.read_text()
    print(f"\nthree readings committed {processed_after * 1000:.0f} ms into the read's wait")
