"""What the platform sends a data logger: 9014 and 9013 answers and history requests,
each a packet the decoder's own framing accepts, with the standard's CRC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ingest._hj212_backfill import BackfillPolicy, backfill_span
from ingest._hj212_frame import Packet, parse_packet
from ingest._hj212_replies import (
    data_answer,
    frame,
    history_request,
    notice_answer,
    qn_at,
    wants_answer,
)

TZ = ZoneInfo("Asia/Shanghai")


def parsed(data: bytes) -> Packet:
    packet = parse_packet(data, frozenset())  # strict: upper-case, padded, HJ 212 CRC
    assert isinstance(packet, Packet), packet
    return packet


def test_the_standards_example_frames_to_its_crc() -> None:
    segment = ("QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
               "Flag=5;CP=&&RtdInterval=30&&")
    assert frame(segment) == b"##0101" + segment.encode() + b"1C80\r\n"


def test_a_data_answer_is_9014_with_the_same_qn() -> None:
    answer = data_answer("20260612095900123", "123456", "0507A010003242")
    p = parsed(answer)
    assert (p.qn, p.st, p.cn, p.pw, p.mn, p.flag, p.cp) == (
        "20260612095900123", "91", "9014", "123456", "0507A010003242", 4, "")
    assert answer.endswith(b"\r\n")


def test_a_notice_answer_is_9013() -> None:
    assert parsed(notice_answer("1", None, "MN1")).cn == "9013"


def test_an_answer_to_a_packet_without_qn_has_none() -> None:
    assert parsed(data_answer(None, None, "MN1")).qn is None


@pytest.mark.parametrize(("flag", "wanted"), [
    ("5", True), ("7", True), ("4", False), ("6", False), ("9", True), (None, False),
    ("x", False),
])
def test_the_a_bit_decides(flag: str | None, wanted: bool) -> None:
    assert wants_answer(flag) is wanted


def test_a_history_request_names_the_span_in_local_time() -> None:
    begin = datetime(2026, 6, 12, 1, 1, tzinfo=UTC)
    data = history_request("2051", st="39", pw="123456", mn="MN1", begin=begin,
                           end=begin + timedelta(minutes=58), qn="20260612100000000", tz=TZ)
    p = parsed(data)
    assert (p.cn, p.st, p.flag) == ("2051", "39", 5)
    assert dict(p.fields) == {"BeginTime": "20260612090100", "EndTime": "20260612095900"}


def test_only_minute_and_hourly_history_is_requested() -> None:
    with pytest.raises(ValueError, match="2051 or 2061"):
        history_request("2011", st="39", pw=None, mn="M", begin=datetime.now(UTC),
                        end=datetime.now(UTC), qn="1", tz=TZ)
    with pytest.raises(ValueError, match="2051 or 2061"):
        BackfillPolicy("2031")


def test_qn_is_local_time_to_the_millisecond() -> None:
    at = datetime(2026, 6, 12, 2, 3, 4, 567_890, tzinfo=UTC)
    assert qn_at(at, TZ) == "20260612100304567"


NOW = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)


def test_backfill_asks_for_the_gap_after_the_newest_data() -> None:
    policy = BackfillPolicy("2051", timedelta(minutes=5), timedelta(hours=24))
    newest = NOW - timedelta(hours=1)
    assert backfill_span(policy, newest, NOW) == (newest + timedelta(minutes=1), NOW)


def test_backfill_asks_nothing_for_a_short_gap_or_an_unknown_logger() -> None:
    policy = BackfillPolicy("2051", timedelta(minutes=5), timedelta(hours=24))
    assert backfill_span(policy, NOW - timedelta(minutes=5), NOW) is None
    assert backfill_span(policy, None, NOW) is None


def test_backfill_asks_at_most_max_span_the_newest_part() -> None:
    policy = BackfillPolicy("2061", timedelta(hours=2), timedelta(hours=24))
    assert backfill_span(policy, NOW - timedelta(days=3), NOW) == (NOW - timedelta(hours=24), NOW)
