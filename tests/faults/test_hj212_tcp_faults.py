"""Data loggers over TCP when things break: a 9014 is only ever sent for what is durable,
so a kill -9 after it loses nothing, and a store that cannot commit sends none (the
logger's resend is the recovery, processed once)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.faults.conftest import ServiceProcess
from tests.hj212_logger import TZ, Logger, parsed, upload
from tests.support import free_port, wait_until

Factory = Callable[..., ServiceProcess]
DUST = "0507A010003242"  # FX-DUST in the test config


def tcp(port: int) -> str:
    return f'\n[hj212_tcp]\nlisten = "127.0.0.1:{port}"\n'


def connect(port: int) -> Logger:
    def attempt() -> Logger | None:
        try:
            return Logger(port)
        except OSError:
            return None

    return wait_until(attempt, what="the HJ 212 port")


def test_an_answered_upload_survives_kill_9_and_its_resend_is_a_duplicate(
    service_factory: Factory,
) -> None:
    port = free_port()
    svc = service_factory(tcp(port)).start()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    packets = [upload(DUST, now - timedelta(minutes=m), 60.0 + m) for m in (3, 2, 1)]
    logger = connect(port)
    for packet in packets:
        logger.send(packet)
        (answer,) = logger.answers(1)
        assert parsed(answer).qn == parsed(packet).qn
    logger.close()
    svc.kill()  # right after the answers: long before the minute's snapshot
    svc.start()
    logger = connect(port)
    try:
        logger.send(packets[-1])  # a logger that did not see its answer sends it again
        (answer,) = logger.answers(1)
        assert parsed(answer).cn == "9014"
    finally:
        logger.close()
    wait_until(lambda: svc.metric("lantian_records_duplicate_total", kind="hj212") == 1,
               what="the resend recognised as a duplicate after the restart")
    assert svc.metric("lantian_records_total", type="Reading") == 0
    print(f"\n{len(packets)} answered uploads before kill -9; the resend after it: a duplicate")


def test_no_answer_while_the_store_cannot_commit_then_the_resend_counts_once(
    service_factory: Factory,
) -> None:
    port = free_port()
    svc = service_factory(tcp(port)).start()
    store = svc.config.parent / "lantian.sqlite"
    packet = upload(DUST, datetime.now(UTC) - timedelta(minutes=1), 88.0)
    lock = sqlite3.connect(store, isolation_level=None, timeout=10)
    lock.execute("BEGIN EXCLUSIVE")  # every write of the service waits, then fails
    try:
        logger = connect(port)
        logger.send(packet)
        logger.sock.settimeout(30)
        try:
            got = logger.sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            got = b""
        assert got == b"", "no 9014 may be sent for what is not durable"
        logger.close()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert svc.metric("lantian_hj212_closed_total", why="not_committed") == 1
    logger = connect(port)
    try:
        logger.send(packet)
        (answer,) = logger.answers(1)
        assert parsed(answer).qn == parsed(packet).qn
    finally:
        logger.close()
    wait_until(lambda: svc.metric("lantian_records_total", type="Reading") == 1,
               what="the resend processed")
    assert svc.metric("lantian_records_duplicate_total", kind="hj212") == 0


def test_backfill_after_kill_9_starts_where_the_data_stopped(
    service_factory: Factory,
) -> None:
    """The gap is judged from the station's newest record, which the journal brings
    back after a kill: the logger's reconnection after the restart asks for the gap."""
    port = free_port()
    svc = service_factory(
        tcp(port) + '[hj212_tcp.backfill."FX-DUST"]\ncn = "2051"\nmin_gap_s = 300\n'
    ).start()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    old = upload(DUST, now - timedelta(minutes=30), 40.0)
    logger = connect(port)
    logger.send(old)
    assert [parsed(a).cn for a in logger.answers(1)] == ["9014"]  # no gap known yet
    logger.close()
    svc.kill()
    svc.start()
    logger = connect(port)
    try:
        logger.send(upload(DUST, now, 41.0))
        answer, request = (parsed(a) for a in logger.answers(2))
        assert answer.cn == "9014" and request.cn == "2051"
        begin = dict(request.fields)["BeginTime"]
        expected = (now - timedelta(minutes=29)).astimezone(TZ).strftime("%Y%m%d%H%M%S")
        assert begin == expected
    finally:
        logger.close()
