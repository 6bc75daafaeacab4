"""PostgreSQL killed (SIGKILL) or frozen (SIGSTOP) under a running store: the write in
progress fails with a clear error within a bounded time, the store says it is not
writable, and once the server is back it reconnects by itself and nothing committed is
lost. Each test has a server of its own, since it breaks it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from dispatch.stores import PgStore
from tests.postgres import PgServer, new_database, run_postgres
from tests.support import wait_until
from tests.unit.dispatch.test_sqlite import make_alert, raised

pytestmark = pytest.mark.postgres

#: The watchdog's bound on a call in these tests (the service's is 15 s).
CALL_TIMEOUT_S = 2.0


@pytest.fixture
def server() -> Iterator[PgServer]:
    yield from run_postgres(durable=True)


def open_store(server: PgServer) -> tuple[PgStore, str]:
    url = new_database(server)
    return PgStore(url, call_timeout_s=CALL_TIMEOUT_S), url


def test_a_killed_server_fails_the_write_at_once_and_the_store_comes_back(
    server: PgServer,
) -> None:
    store, _ = open_store(server)
    kept = make_alert("A-1")
    store.create(kept, [raised(kept)])
    server.kill()

    lost = make_alert("A-2", subject="ST-2")
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        store.create(lost, [raised(lost)])
    failed_after = time.monotonic() - started
    assert failed_after < CALL_TIMEOUT_S  # refused or reset: no timeout needed
    assert store.writable() is False
    assert not store.in_transaction  # the next burst can begin

    server.start()
    wait_until(store.writable, 30, "the store to reconnect")
    assert store.get("A-1") == kept  # committed before the kill: there
    assert store.get("A-2") is None  # failed: not half there
    store.create(lost, [raised(lost)])
    assert [a.id for a in store.open_alerts()] == ["A-1", "A-2"]
    print(f"\nwrite failed {failed_after * 1000:.0f} ms after PostgreSQL was killed")
    store.close()


def test_a_frozen_server_fails_the_write_within_the_bound_and_the_store_comes_back(
    server: PgServer,
) -> None:
    store, _ = open_store(server)
    kept = make_alert("A-1")
    store.create(kept, [raised(kept)])
    (backend,) = store.connection.execute("SELECT pg_backend_pid()").fetchone()
    frozen = [server.proc.pid, int(backend)]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            store.begin()  # a burst, begun as the answers stop
            store.append(replace(kept, incident=replace(kept.incident, seq=2)),
                         [replace(raised(kept), seq=2)])
        failed_after = time.monotonic() - started
        assert CALL_TIMEOUT_S <= failed_after < CALL_TIMEOUT_S + 2
        with pytest.raises(psycopg.OperationalError):
            store.commit()  # the burst fails at its end too: it is not acknowledged
        assert not store.in_transaction
        started = time.monotonic()
        assert store.writable() is False  # a new connection gets no answer either
        assert time.monotonic() - started < 10  # connect_timeout (5 s) bounds it
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)

    wait_until(store.writable, 30, "the store to reconnect")
    got = store.get("A-1")
    assert got == kept  # the burst's append was not committed, the creation was
    assert [e.seq for e in store.events("A-1")] == [1]
    print(f"\nwrite failed {failed_after * 1000:.0f} ms after PostgreSQL froze")
    store.close()
