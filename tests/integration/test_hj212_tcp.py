"""Data loggers over TCP against the real service: a simulated logger connects to the
HJ 212 port, pushes packets the way 4G links deliver them, and gets its answers; the
readings, the dead letters, the 9014s and the registry are checked."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from ingest import hj212_crc16
from lantian.config import load_settings
from rules.records import Interval, Reading
from tests.conftest import RunningService, shipped_rules, write_config
from tests.hj212_logger import Logger, command, parsed, upload
from tests.integration.conftest import (
    ADMIN,
    ADMIN_TOKEN,
    BLUE_SKY,
    T0,
    Deployment,
    FakeClock,
    start_deployment,
)
from tests.support import Broker, free_port, wait_until

pytestmark = pytest.mark.integration

DUST = "0507A010003242"  # FX-DUST
AMBIENT = "JLYP01_AIR01_0001"  # FX-AMBIENT, back-filled after a gap of over 5 minutes
GASES = "Y80110010000010"  # FX-GASES


def tcp_config(port: int, **limits: object) -> str:
    lines = "\n".join(f"{k} = {v}" for k, v in limits.items())
    return f"""
[hj212_tcp]
listen = "127.0.0.1:{port}"
max_frame_bytes = 2048
{lines}
[hj212_tcp.backfill."FX-AMBIENT"]
cn = "2051"
min_gap_s = 300
"""


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Deployment]:
    dep = start_deployment(
        Path(tmp_path_factory.mktemp("hj212tcp")), broker,
        extra=tcp_config(free_port(), max_bytes_per_s=20_000, burst_bytes=100_000,
                         max_junk_bytes=1_000_000),
    )
    yield dep
    dep.service.stop()


def port(d: Deployment) -> int:
    tcp = d.service.settings.hj212_tcp
    assert tcp is not None
    return tcp.port


def readings(d: Deployment, station: str) -> list[Reading]:
    return [r for r in d.service.records if isinstance(r, Reading) and r.station == station]


def dead_letters(d: Deployment, code: str) -> list[tuple[str, str, bytes]]:
    db = sqlite3.connect(d.service.settings.store_path)
    try:
        return db.execute("SELECT topic, reason, payload FROM dead_letters WHERE code = ?"
                          " ORDER BY id", (code,)).fetchall()
    finally:
        db.close()


def metric(d: Deployment, name: str) -> float:
    text = httpx.get(f"{d.url}/metrics", timeout=5).text
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def check_answer(answer: bytes, to: bytes, cn: str = "9014") -> None:
    """`answer` is `cn` to the packet `to`: same QN and MN, ST=91, Flag=4, a valid CRC."""
    a, p = parsed(answer), parsed(to)
    assert (a.cn, a.st, a.flag, a.qn, a.mn, a.cp) == (cn, "91", 4, p.qn, p.mn, "")
    length = int(answer[2:6])
    assert int(answer[6 + length : 10 + length], 16) == hj212_crc16(answer[6 : 6 + length])


def test_split_coalesced_and_junk_framed_each_flag5_upload_answered(d: Deployment) -> None:
    logger = Logger(port(d))
    try:
        a, b, c, e = (upload(DUST, T0 - timedelta(minutes=m), 50.0 + m) for m in (40, 39, 38, 37))
        for i in range(0, len(a), 7):  # split: a few bytes a write
            logger.send(a[i : i + 7])
        (answer,) = logger.answers(1)
        check_answer(answer, a)
        logger.send(b"AT+CSQ\r\n" + b + b"\x00\xff+++" + c)  # coalesced, with junk
        answers = logger.answers(2)
        check_answer(answers[0], b)
        check_answer(answers[1], c)
        liar = b"##0999" + upload(DUST, T0 - timedelta(minutes=36), 1.0)[6:]
        logger.send(liar + e)  # a lying length: refused, no answer; the next one answered
        (answer,) = logger.answers(1)
        check_answer(answer, e)
    finally:
        logger.close()
    got = wait_until(lambda: len(readings(d, "FX-DUST")) >= 4 and readings(d, "FX-DUST"))
    assert sorted(r.values["pm10"].value for r in got) == [50.0 + m for m in (37, 38, 39, 40)]
    assert all(r.interval is Interval.MINUTE and r.source == "hj212" for r in got)
    junk = wait_until(lambda: dead_letters(d, "hj212_framing"), what="the junk dead-lettered")
    assert any(p == b"AT+CSQ\r\n" and "from tcp 127.0.0.1:" in r for _, r, p in junk)
    (lie,) = dead_letters(d, "hj212_length")
    assert lie[2] == liar and "declared length 999" in lie[1] and "from tcp 127.0.0.1:" in lie[1]


def test_a_disconnect_before_the_answer_then_the_resend_is_processed_once(
    d: Deployment,
) -> None:
    packet = upload(GASES, T0 - timedelta(minutes=10), 77.0, cn="2061")
    first = Logger(port(d))
    first.send(packet)
    first.reset()  # gone before the 9014 could arrive: the logger keeps it as pending
    wait_until(lambda: readings(d, "FX-GASES"), what="the upload processed")
    again = Logger(port(d))  # reconnects and sends its pending packet again
    try:
        again.send(packet)
        (answer,) = again.answers(1)
        check_answer(answer, packet)
    finally:
        again.close()
    assert len(readings(d, "FX-GASES")) == 1
    assert metric(d, 'lantian_records_duplicate_total{kind="hj212"}') >= 1


def test_an_oversized_frame_is_dropped_and_the_connection_kept(d: Deployment) -> None:
    logger = Logger(port(d))
    try:
        logger.send(b"##0400QN=1;" + b"A" * 5000 + b"&&ABCD\r\n")  # over max_frame_bytes
        packet = upload(DUST, T0 - timedelta(minutes=30), 12.5)
        logger.send(packet)
        (answer,) = logger.answers(1)
        check_answer(answer, packet)
    finally:
        logger.close()
    assert any("over 2048 bytes" in r for _, r, _ in dead_letters(d, "hj212_framing"))


def test_heartbeat_answered_9013_and_a_non_data_command_dead_lettered(d: Deployment) -> None:
    logger = Logger(port(d))
    try:
        beat = command(DUST, "9015", qn="20260612095900002")
        logger.send(beat)
        (answer,) = logger.answers(1)
        check_answer(answer, beat, cn="9013")
        restart = command(DUST, "2081", "RestartTime=20260612090000", qn="20260612095900003")
        logger.send(restart)
        (answer,) = logger.answers(1)
        check_answer(answer, restart)  # the standard's data answer: stored, not resent
        no_answer = command(DUST, "9015", flag=4, qn="20260612095900004")
        logger.send(no_answer + upload(DUST, T0 - timedelta(minutes=20), 3.0))
        (answer,) = logger.answers(1)  # the heartbeat without the A bit got none
        assert parsed(answer).cn == "9014"
    finally:
        logger.close()
    letters = wait_until(lambda: dead_letters(d, "hj212_not_data"))
    assert any("2081" in r and p == restart for _, r, p in letters)
    assert not any(b"CN=9015" in p for _, _, p in letters)


def test_the_registry_shows_connected_loggers_in_the_api_and_metrics(d: Deployment) -> None:
    logger = Logger(port(d))
    try:
        packet = upload(DUST, T0 - timedelta(minutes=25), 9.0)
        logger.send(packet + b"junk!")
        logger.answers(1)
        body = wait_until(lambda: [
            x for x in httpx.get(f"{d.url}/api/hj212/loggers", headers=BLUE_SKY).json()["loggers"]
            if x["mn"] == DUST and x["junk_bytes"] == 5
        ], what="the logger in the registry")
        (entry,) = body
        assert entry["station"] == "FX-DUST" and entry["peer"].startswith("127.0.0.1:")
        assert entry["packets"] == 1 and entry["answers"] == 1 and entry["rejects"] == 0
        assert entry["connected_since"].endswith("+08:00")
        assert metric(d, "lantian_hj212_connections") >= 1
        assert httpx.get(f"{d.url}/api/hj212/loggers").status_code == 401
    finally:
        logger.close()
    wait_until(lambda: not [x for x in httpx.get(f"{d.url}/api/hj212/loggers",
                                                 headers=BLUE_SKY).json()["loggers"]
                            if x["mn"] == DUST], what="the closed connection gone")


def test_a_logger_sending_far_too_much_is_cut_off(d: Deployment) -> None:
    logger = Logger(port(d))
    try:
        for _ in range(100):  # 6.5 MB against a budget of 100 kB at once, 20 kB/s
            logger.send(b"x" * 65536)
    except OSError:
        pass  # the platform closed while we were still sending
    assert logger.closed_by_platform()
    logger.close()
    assert metric(d, 'lantian_hj212_closed_total{why="over_byte_rate"}') >= 1


def test_backfill_after_a_gap_asks_for_the_missing_minutes(d: Deployment) -> None:
    first = Logger(port(d))
    old = upload(AMBIENT, T0 - timedelta(hours=1), 20.0, qn="20260612090000000")
    try:
        first.send(old)
        (answer,) = first.answers(1)  # no history request: nothing known before it
        check_answer(answer, old)
    finally:
        first.close()
    again = Logger(port(d))  # an hour later (the clock is the deployment's T0)
    try:
        now = upload(AMBIENT, T0, 25.0, qn="20260612100000000")
        again.send(now)
        answer, request = again.answers(2)
        check_answer(answer, now)
        r = parsed(request)
        assert (r.cn, r.mn, r.flag, r.st) == ("2051", AMBIENT, 5, "39")
        assert dict(r.fields) == {"BeginTime": "20260612090100", "EndTime": "20260612100000"}
        # the logger answers 9011, uploads the span, and ends with 9012: all accepted
        history = [upload(AMBIENT, T0 - timedelta(minutes=m), 30.0 + m, flag=4)
                   for m in range(59, 0, -1)]
        again.send(command(AMBIENT, "9011", "QnRtn=1", flag=4, qn=r.qn or "")
                   + b"".join(history)
                   + command(AMBIENT, "9012", "ExeRtn=1", flag=4, qn=r.qn or ""))
        got = wait_until(lambda: len(readings(d, "FX-AMBIENT")) >= 61
                         and readings(d, "FX-AMBIENT"), what="the back-filled hour")
        assert len(got) == 61
        assert not dead_letters(d, "hj212_not_data") or not any(
            AMBIENT.encode() in p for _, _, p in dead_letters(d, "hj212_not_data"))
    finally:
        again.close()


def test_an_idle_logger_is_disconnected(tmp_path: Path, broker: Broker) -> None:
    dep = start_deployment(tmp_path, broker, extra=tcp_config(free_port(), idle_timeout_s=0.3))
    try:
        logger = Logger(port(dep))
        assert logger.closed_by_platform(timeout=10)
        logger.close()
        assert wait_until(lambda: metric(dep, 'lantian_hj212_closed_total{why="idle"}') >= 1)
    finally:
        dep.service.stop()


def test_a_logger_gone_silent_raises_no_data_like_any_source(
    tmp_path: Path, broker: Broker
) -> None:
    """Its station's no-data clock runs from its last packet over TCP: it stays quiet
    while stations never heard from are already late, and is raised once it is too."""
    rules = (shipped_rules()
             .replace("\n[rules]\n", "\n[rules]\nsweep_s = 0.2\n", 1)
             .replace("by_kind = { construction_site = 600, road = 600 }",
                      "by_kind = { construction_site = 600, road = 600, test = 120 }", 1))
    tcp_port = free_port()
    config = write_config(
        tmp_path / "config", broker_url=broker.url, http_port=free_port(),
        store=tmp_path / "lantian.sqlite",
        extra=rules + f'\n[hj212_tcp]\nlisten = "127.0.0.1:{tcp_port}"\n',
    )
    clock = FakeClock(T0)
    svc = RunningService(load_settings(config, {"LANTIAN_ADMIN_TOKEN": ADMIN_TOKEN}),
                         clock).start()

    def no_data(station: str) -> bool:
        alerts = httpx.get(f"{svc.base_url}/api/alerts", headers=ADMIN).json()["alerts"]
        return any(a["subject"] == f"station:{station}" and a["kind"] == "no_data"
                   for a in alerts)

    try:
        heard = clock.advance(seconds=100)
        logger = Logger(tcp_port)
        packet = upload(DUST, heard, 30.0, cn="2011")
        logger.send(packet)
        check_answer(logger.answers(1)[0], packet)
        logger.close()
        clock.advance(seconds=50)  # never-heard stations: 150 s; FX-DUST: 50 s
        wait_until(lambda: no_data("FX-GASES"), what="a never-heard station's no-data")
        assert not no_data("FX-DUST")
        clock.advance(seconds=100)  # FX-DUST silent for 150 s over TCP
        wait_until(lambda: no_data("FX-DUST"), what="the silent logger's no-data alert")
    finally:
        svc.stop()
