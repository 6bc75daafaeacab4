"""Framing HJ 212 packets out of a TCP stream: split reads, coalesced packets, junk,
lying lengths, oversized frames, a missing CRLF; bounded memory throughout."""

from __future__ import annotations

import pytest

from ingest._hj212_replies import frame
from ingest._hj212_stream import Frame, FrameSplitter, Junk, Piece
from tests.support import FIXTURES

AMBIENT = (FIXTURES / "hj212" / "ambient-minute-2051.hj212").read_bytes().rstrip(b"\r\n") + b"\r\n"


def packet(n: int) -> bytes:
    return frame(f"QN=2026061210{n:02d}00000;ST=39;CN=2051;PW=123456;MN=MN{n:04d};Flag=5;"
                 f"CP=&&DataTime=202606120{n % 10}0000;a34002-Avg={n},a34002-Flag=N&&")


def frames(pieces: list[Piece]) -> list[bytes]:
    return [p.data for p in pieces if isinstance(p, Frame)]


def junk(pieces: list[Piece]) -> list[Junk]:
    return [p for p in pieces if isinstance(p, Junk)]


def whole(pieces: list[Piece]) -> bool:
    """The packet, once, and nothing else; cut just before its CRLF it is complete
    without it (its length and CRC say so), and the late CRLF is no junk."""
    return [p.data.removesuffix(b"\r\n") for p in pieces] == [AMBIENT.removesuffix(b"\r\n")]


def test_a_packet_split_at_every_offset_comes_out_whole_once() -> None:
    for cut in range(1, len(AMBIENT)):
        s = FrameSplitter()
        out = s.feed(AMBIENT[:cut]) + s.feed(AMBIENT[cut:])
        assert whole(out), cut
        assert s.pending == 0


def test_a_packet_fed_byte_by_byte() -> None:
    s = FrameSplitter()
    out: list[Piece] = []
    for i in range(len(AMBIENT)):
        out += s.feed(AMBIENT[i : i + 1])
    assert whole(out)


def test_several_packets_in_one_read() -> None:
    data = b"".join(packet(n) for n in range(5))
    assert frames(FrameSplitter().feed(data)) == [packet(n) for n in range(5)]


def test_junk_between_packets_is_reported_and_the_next_packet_found() -> None:
    s = FrameSplitter()
    out = s.feed(b"AT+CSQ\r\n" + packet(1) + b"\x00\xff+++" + packet(2) + b"#garbage#")
    assert frames(out) == [packet(1), packet(2)]
    assert [j.sample for j in junk(out)] == [b"AT+CSQ\r\n", b"\x00\xff+++", b"#garbage"]
    assert all("packet start" in j.reason for j in junk(out))
    assert s.pending <= 6  # the trailing "#" could start a packet
    out = s.feed(b"#" + packet(3)[1:])  # ... and it did not, but the next one is whole
    assert frames(out) == [packet(3)]


def test_a_lying_length_costs_its_own_packet_only() -> None:
    liar = b"##0999" + packet(1)[6:]  # says 999 bytes, has about 100
    out = FrameSplitter().feed(liar + packet(2))
    assert frames(out) == [liar, packet(2)]


def test_a_length_saying_less_does_not_cut_the_packet_short() -> None:
    liar = b"##0010" + packet(1)[6:]
    assert frames(FrameSplitter().feed(liar + packet(2))) == [liar, packet(2)]


def test_a_packet_without_crlf_ends_where_the_next_begins_or_at_its_length() -> None:
    bare = packet(1)[:-2]
    s = FrameSplitter()
    assert frames(s.feed(bare)) == [bare]  # length and CRC end exactly here: answer now
    assert s.feed(b"\r\n") == []  # the CRLF was only late: noise, not junk
    assert frames(s.feed(bare + b"xx" + packet(2))) == [bare, packet(2)]


def test_an_oversized_frame_is_dropped_and_the_stream_goes_on() -> None:
    s = FrameSplitter(max_frame=1024)
    out = s.feed(b"##0400QN=1;" + b"A" * 3000)
    assert frames(out) == [] and len(junk(out)) == 1
    assert "over 1024 bytes" in junk(out)[0].reason
    assert s.pending <= 6  # bounded: the rest is dropped as it comes
    out = s.feed(b"B" * 5000)
    assert out == [] and s.pending <= 6
    out = s.feed(b"CC&&ABCD\r\n" + packet(1))
    assert frames(out) == [packet(1)]


def test_memory_stays_bounded_under_junk_without_a_start() -> None:
    s = FrameSplitter(max_frame=1024)
    for _ in range(100):
        out = s.feed(b"x" * 10_000)
        assert sum(j.size for j in junk(out)) == 10_000
        assert all(len(j.sample) <= 256 for j in junk(out))
    assert s.pending == 0


def test_an_unfinished_packet_at_close_is_junk() -> None:
    s = FrameSplitter()
    s.feed(packet(1)[:40])
    (left,) = s.close()
    assert isinstance(left, Junk) and left.size == 40 and "closed" in left.reason


@pytest.mark.parametrize("max_frame", [0, 31])
def test_max_frame_must_hold_a_packet(max_frame: int) -> None:
    with pytest.raises(ValueError, match="max_frame"):
        FrameSplitter(max_frame)


def test_an_oversized_frame_read_whole_with_the_next_packet_keeps_the_next() -> None:
    s = FrameSplitter(max_frame=1024)
    out = s.feed(b"##0400QN=1;" + b"A" * 5000 + b"&&ABCD\r\n" + packet(1))
    assert frames(out) == [packet(1)] and len(junk(out)) == 1
