"""A burst's messages packed into one journal value: every message comes back exactly
(time, topic, payload, order), and a value that is not whole is a `FrameError` saying
where, never a partial burst or another exception."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lantian.journal_frames import MAGIC, VERSION, FrameError, pack, unpack

AT = datetime(2026, 6, 12, 7, 0, 0, 123456, tzinfo=UTC).timestamp()
BURST = [(AT, "lantian/sensors/KY-CS-001/reading", b'{"pm10": 180}'),
         (AT + 0.5, "lantian/drones/无人机-7/state", b"\x00\xff binary"),
         (AT + 1.0, "t", b"")]

messages = st.lists(st.tuples(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.just(UTC)),  # as ingest's clock gives them
    st.text(max_size=40),
    st.binary(max_size=300),
), max_size=20)


@given(messages)
def test_every_message_comes_back_exactly_and_in_order(
    burst: list[tuple[datetime, str, bytes]],
) -> None:
    back = unpack(pack((at.timestamp(), topic, payload) for at, topic, payload in burst))
    assert [tuple(m) for m in back] == burst


def test_the_framing_is_the_documented_one() -> None:
    topic, payload = "a/b", b"xyz"
    assert pack([(1.5, topic, payload)]) == (
        MAGIC + bytes([VERSION]) + struct.pack("<I", 1)
        + struct.pack("<dHI", 1.5, 3, 3) + b"a/b" + b"xyz")


def test_a_cut_off_value_is_an_error_at_every_length() -> None:
    data = pack(BURST)
    for length in range(len(data)):
        with pytest.raises(FrameError):
            unpack(data[:length])


@pytest.mark.parametrize(("data", "says"), [
    (b"PK" + pack(BURST)[2:], "not a packed burst"),
    (MAGIC + bytes([VERSION + 1]) + pack(BURST)[3:], f"format version {VERSION + 1}"),
    (pack(BURST) + b"\x00", "1 bytes after the last of 3 messages"),
    (pack(BURST)[:-1], "message 3 of 3: 1 bytes missing"),
    (pack([(AT, "é", b"")]).replace("é".encode(), b"\xff\xfe"), "message 1 of 1"),
    (pack([(float("nan"), "t", b"")]), "message 1 of 1"),
    (MAGIC + bytes([VERSION]) + struct.pack("<I", 2) + pack(BURST[:1])[7:],
     "message 2 of 2"),
])
def test_a_damaged_value_says_what_is_wrong(data: bytes, says: str) -> None:
    with pytest.raises(FrameError, match=says):
        unpack(data)


def test_a_message_larger_than_mqtt_allows_is_refused_when_packed() -> None:
    with pytest.raises(ValueError, match="too large to journal"):
        pack([(AT, "t" * 70_000, b"")])
