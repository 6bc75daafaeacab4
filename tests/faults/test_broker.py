"""The broker restarted while the service was away: with persistence nothing is lost;
without it the loss is noticed, counted and recorded as a data gap for the bureau."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.faults.conftest import ADMIN, ServiceProcess
from tests.support import (
    Broker,
    broker_dir,
    free_port,
    persistence_conf,
    run_mosquitto,
    wait_until,
)

Factory = Callable[..., ServiceProcess]
TOPIC = "lantian/sensors/KY-AQ-001/reading"
AWAY = 50  # readings sent while the service is stopped


def reading(at: datetime) -> bytes:
    return json.dumps({"station": "KY-AQ-001", "ts": at.isoformat(), "pm10": 40}).encode()


@contextmanager
def restartable(tmp_path: Path, port: int, persist: bool, autosave_s: int = 1,
                kill: bool = False) -> Iterator[Callable[[], Broker]]:
    """A broker on a fixed port, started anew by each call: the one before is stopped
    cleanly (SIGTERM: a persisting broker saves), or killed with SIGKILL (it does not)."""
    with broker_dir() as data:
        extra = persistence_conf(data, autosave_s) if persist else ""
        stack: list[object] = []
        brokers: list[Broker] = []

        def start() -> Broker:
            if stack:
                if kill and brokers[-1].proc is not None:
                    brokers[-1].proc.kill()
                    brokers[-1].proc.wait(timeout=10)
                stack.pop().__exit__(None, None, None)  # type: ignore[attr-defined]
            cm = run_mosquitto(tmp_path / f"broker-{persist}", extra, port=port)
            broker = cm.__enter__()
            stack.append(cm)
            brokers.append(broker)
            return broker

        try:
            yield start
        finally:
            for cm in stack:
                cm.__exit__(None, None, None)  # type: ignore[attr-defined]


def gaps(svc: ServiceProcess, since: datetime) -> list[dict[str, object]]:
    r = httpx.get(f"{svc.url}/api/reports/data-gaps", headers=ADMIN, timeout=5, params={
        "since": since.isoformat(), "until": (datetime.now(UTC) + timedelta(hours=1))
        .isoformat()})
    assert r.status_code == 200, r.text
    return list(r.json()["data_gaps"])


def away_and_back(service_factory: Factory, tmp_path: Path, persist: bool,
                  autosave_s: int = 1, kill: bool = False
                  ) -> tuple[float, float, list[dict[str, object]]]:
    """Run the service, stop it, send AWAY readings, restart the broker, start the
    service again; how many readings it then had, how many sessions it found lost, and
    the data gaps it recorded."""
    port = free_port()
    with restartable(tmp_path, port, persist, autosave_s, kill) as start_broker:
        broker = start_broker()
        svc = service_factory(on=broker).start()
        began = datetime.now(UTC)
        broker.pub(TOPIC, reading(began - timedelta(minutes=10)))
        wait_until(lambda: svc.metric("lantian_records_total", type="Reading") == 1,
                   what="the first reading")
        svc.stop()  # a clean stop: its session, and what is queued for it, wait at the broker
        for i in range(AWAY):
            broker.pub(TOPIC, reading(began - timedelta(minutes=9, seconds=-i)))
        broker = start_broker()  # SIGTERM and start: a persisting broker saves first
        svc.start()
        broker.pub(TOPIC, reading(began))  # after the restart: always delivered
        wait_until(lambda: svc.metric("lantian_records_total", type="Reading") >= 1,
                   what="readings after the restart")
        wait_until(lambda: svc.metric("lantian_records_total", type="Reading")
                   in (1, AWAY + 1), what="every reading the broker still had")
        got = svc.metric("lantian_records_total", type="Reading")
        lost = svc.metric("lantian_mqtt_session_lost_total")
        found = gaps(svc, began - timedelta(hours=1))
        svc.stop()
        return got, lost, found


def test_a_persisting_broker_restart_loses_nothing(
    service_factory: Factory, tmp_path: Path
) -> None:
    got, lost, found = away_and_back(service_factory, tmp_path, persist=True)
    print(f"\npersisting broker restarted: {got - 1:.0f} of {AWAY} readings sent while the"
          f" service was away delivered, {len(found)} data gaps")
    assert got == AWAY + 1
    assert (lost, found) == (0, [])


def test_a_broker_that_lost_the_session_is_noticed_and_the_gap_recorded(
    service_factory: Factory, tmp_path: Path
) -> None:
    got, lost, found = away_and_back(service_factory, tmp_path, persist=False)
    print(f"\nbroker restarted without persistence: {got - 1:.0f} of {AWAY} readings sent"
          f" while away delivered; the gap recorded: {found}")
    assert got == 1  # the broker lost them: nothing can bring them back...
    assert lost == 1  # ...but the loss is noticed...
    assert len(found) == 1  # ...and on the record, with its span
    assert float(found[0]["seconds"]) > 0  # type: ignore[arg-type]


def test_a_persisting_broker_killed_before_its_save_is_noticed_too(
    service_factory: Factory, tmp_path: Path
) -> None:
    """kill -9 of the broker: what changed since its last save (here: everything, the
    autosave is an hour away) is gone, our session with it; as without persistence, the
    loss is counted and on the record."""
    got, lost, found = away_and_back(service_factory, tmp_path, persist=True,
                                     autosave_s=3600, kill=True)
    print(f"\npersisting broker killed -9 before its save: {got - 1:.0f} of {AWAY} readings"
          f" delivered, sessions lost {lost:.0f}, data gaps {len(found)}")
    assert (got, lost, len(found)) == (1, 1, 1)
