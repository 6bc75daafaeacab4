"""The whole service on PostgreSQL: `LANTIAN_STORE_URL=postgresql://...` puts everything
the SQLite file held into the database, and a restart finds it there."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lantian.config import load_settings
from tests.conftest import RunningService, shipped_rules, write_config
from tests.integration.conftest import ADMIN_TOKEN, BLUE_SKY, T0, Deployment, FakeClock
from tests.postgres import PgServer, new_database
from tests.support import Broker, free_port, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


class PgDeployment(Deployment):
    """A deployment whose store is a PostgreSQL database, across restarts too."""

    env: dict[str, str]

    def restart(self) -> None:
        self.service.stop()
        self.service = RunningService(load_settings(self.config, self.env), self.clock).start()


@pytest.fixture
def on_pg(tmp_path: Path, broker: Broker, pg_server: PgServer) -> Iterator[PgDeployment]:
    rules = re.sub(r"(?m)^sweep_s = 15\b", "sweep_s = 0.2", shipped_rules())
    config = write_config(tmp_path / "config", broker_url=broker.url, http_port=free_port(),
                          store=tmp_path / "unused.sqlite", extra=rules)
    env = {"LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN, "LANTIAN_STORE_URL": new_database(pg_server)}
    clock = FakeClock(T0)
    svc = RunningService(load_settings(config, env), clock).start()
    d = PgDeployment(config, clock, broker, svc)
    d.env = env
    yield d
    d.service.stop()


def test_an_alert_raised_acknowledged_and_restarted_lives_in_postgresql(
    on_pg: PgDeployment, broker: Broker, tmp_path: Path,
) -> None:
    d = on_pg
    with broker.sub("lantian/queues/blue_sky/alerts", count=1) as queue:
        d.fume("KY-CS-001")
        [published] = queue.messages(timeout=20)
    aid = json.loads(published)["id"]
    d.clock.advance(minutes=3)
    r = d.post(aid, "ack", BLUE_SKY)
    assert r.status_code == 200, r.text

    d.restart()
    alert = d.alert(aid)
    assert (alert["state"], alert["acknowledged_at"]) == (
        "acknowledged", "2026-06-12T10:03:00+08:00")
    assert [e["kind"] for e in alert["events"]] == ["raised", "dispatched", "acknowledged"]
    url = d.env["LANTIAN_STORE_URL"]

    def all_sent() -> bool:  # what the restarted service publishes, acknowledged too
        with psycopg.connect(url) as db:
            return db.execute(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone() == (0,)
    wait_until(all_sent, what="every publication acknowledged by the broker")
    with psycopg.connect(url) as db:
        state = db.execute("SELECT state FROM alerts WHERE id = %s", (aid,)).fetchone()
        journal = db.execute("SELECT sum(coalesce(messages, 1)) FROM inputs"
                             " WHERE payload IS NOT NULL").fetchone()
        snapshot = db.execute("SELECT name FROM snapshots").fetchall()
    assert state == ("acknowledged",)
    assert journal is not None and journal[0] >= 3  # the three readings, journalled
    assert snapshot == [("rules",)]  # taken at the shutdown
    assert not (tmp_path / "unused.sqlite").exists()  # nothing went to SQLite
