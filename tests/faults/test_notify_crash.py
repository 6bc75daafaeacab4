"""kill -9 of the service with notifications pending: they are delivered after the
restart, once each."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import shipped_rules
from tests.faults.conftest import ServiceProcess, store_rows
from tests.notify_receivers import run_receivers
from tests.support import Broker, wait_until

Factory = Callable[..., ServiceProcess]
HOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def reading(station: str, at: datetime, pm10: float) -> bytes:
    return json.dumps({"station": station, "ts": at.isoformat(), "pm10": pm10}).encode()


def test_pending_notifications_survive_a_kill_9(
    service_factory: Factory, broker: Broker, tmp_path: Path
) -> None:
    with run_receivers(lambda: int(datetime.now(UTC).timestamp() * 1000)) as receivers:
        receivers.webhook_secret = HOOK_SECRET
        receivers.down.add("/webhook")  # the district platform is down when alerts come
        svc = service_factory(shipped_rules() + f"""
[notify]
retry_first_s = 0.2
retry_max_s = 0.5
[[notify.channels]]
name = "district"
kind = "webhook"
url = "{receivers.url('/webhook')}"
secret = "{HOOK_SECRET}"
""").start()
        now = datetime.now(UTC)
        stations = ("KY-CS-001", "KY-CS-002", "KY-CS-003")
        for station in stations:
            for minutes_ago, pm10 in ((2, 160), (1, 170), (0, 180)):
                broker.pub(f"lantian/sensors/{station}/reading",
                           reading(station, now - timedelta(minutes=minutes_ago), pm10))
        store = tmp_path / "lantian.sqlite"

        def tried() -> int:
            rows = store_rows(store, "SELECT count(*) FROM notifications WHERE attempts > 0")
            return int(rows[0][0])  # type: ignore[call-overload]

        wait_until(lambda: tried() == 3, what="three notifications failing")
        svc.kill()
        pending = store_rows(store, "SELECT count(*) FROM notifications"
                                    " WHERE state = 'pending'")[0][0]
        assert pending == 3

        receivers.down.clear()
        svc.start()
        wait_until(lambda: len(receivers.to("/webhook")) == 3, timeout=30,
                   what="the pending notifications after the restart")
        wait_until(lambda: store_rows(store, "SELECT count(*) FROM notifications"
                                             " WHERE state = 'sent'")[0][0] == 3,
                   what="marked sent")
        ids = sorted(r.headers["webhook-id"] for r in receivers.to("/webhook"))
        alerts = sorted(f"{a}.1" for (a,) in store_rows(store, "SELECT id FROM alerts"))
        assert ids == alerts  # each alert's raise, once
        print(f"{pending} notifications pending at the kill, delivered after the restart")
