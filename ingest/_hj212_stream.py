"""HJ 212 packets out of a TCP byte stream: what a data logger's 4G link delivers, cut
back into the frames it sent.

A TCP read is not a packet: one packet arrives over several reads, several arrive in one,
a modem's reconnect leaves junk ("AT", "+++", half a packet) between them, and a device
may declare a length that lies. `FrameSplitter` takes the bytes as they come and hands
back whole frames and the junk it skipped, never holding more than `max_frame` bytes:

- a frame starts at `##` followed by 1 to 4 digits and a field name (`##0411QN=`);
  anything before it is junk, and the search resumes at the next `##` (resync);
- it ends at the first `\\r\\n`, or just before the next frame's start when a device left
  the `\\r\\n` off (or, when nothing follows yet, where its declared length and a CRC end
  exactly at the bytes held). A lying length therefore costs its own packet (the
  decoder refuses it, naming both lengths) and never swallows the next one;
- a frame with no end within `max_frame` bytes is dropped (its first bytes are reported,
  as junk with a reason) and the bytes up to the next `\\r\\n` or frame start skipped.

Pure: bytes in, `Frame`s and `Junk` out; the server decides what to do with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_FRAME", "Frame", "FrameSplitter", "Junk"]

#: The largest packet the standard's framing can express: `##`, 4 digits, 9999, CRC, CRLF.
MAX_FRAME: Final = 2 + 4 + 9999 + 4 + 2
#: How much of a piece of junk is kept to show (the rest is counted).
JUNK_SHOWN: Final = 256

# A frame's start: "##", its length, and the first letter of a field name.
_START: Final = re.compile(rb"##[0-9]{1,4}[A-Za-z]")
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Frame:
    """One packet's bytes, `##` to `\\r\\n` (or to where the next packet starts)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Junk:
    """Bytes that were no packet: `sample` is their first `JUNK_SHOWN`, `size` all of
    them; `reason` says why they were skipped."""

    sample: bytes
    size: int
    reason: str


Piece = Frame | Junk


class FrameSplitter:
    """Feed it a connection's bytes in order; it returns what they completed."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if max_frame < 32:
            raise ValueError("max_frame must leave room for a packet")
        self.max_frame = max_frame
        self._buf = bytearray()
        self._skipping = False  # inside an oversized frame, dropping to its end

    @property
    def pending(self) -> int:
        """Bytes held, waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Piece]:
        self._buf += data
        out: list[Piece] = []
        while self._buf:
            if self._skipping and not self._skip(out):
                break
            if not self._buf or not self._next(out):
                break
        return out

    def close(self) -> list[Piece]:
        """The connection ended: what is held is an unfinished frame, reported as junk."""
        out: list[Piece] = []
        if self._buf and not self._skipping:
            out.append(_junk(bytes(self._buf), "the connection closed in the middle of a packet"))
            self._buf.clear()
        return out

    def _next(self, out: list[Piece]) -> bool:
        """Take one frame (or the junk before one) off the buffer; False: wait for more."""
        buf = self._buf
        match = _START.search(buf)
        if match is None:
            # keep what could still become a start: "#", "##", "##04"...
            keep = _partial_start(buf)
            if len(buf) > keep:
                _skip_junk(out, bytes(buf[: len(buf) - keep]), "no packet start (##)")
                del buf[: len(buf) - keep]
            return False
        start = match.start()
        if start:
            _skip_junk(out, bytes(buf[:start]), "bytes before a packet start (##)")
            del buf[:start]
        end = _end(buf, self.max_frame)
        if end is None:
            if len(buf) <= self.max_frame:
                return False
            out.append(_junk(bytes(buf[: self.max_frame + 1]), f"a packet over"
                             f" {self.max_frame} bytes (no end found): dropped to its end"))
            del buf[:2]  # its "##": what follows is searched for its end, then dropped
            self._skipping = True
            return True
        out.append(Frame(bytes(buf[:end])))
        del buf[:end]
        return True

    def _skip(self, out: list[Piece]) -> bool:
        """Drop an oversized frame's bytes up to its `\\r\\n` or the next frame's start;
        False when all held bytes were dropped and its end is still to come."""
        buf = self._buf
        crlf = buf.find(b"\r\n")
        match = _START.search(buf)
        ends = [x for x in (crlf + 2 if crlf >= 0 else -1, match.start() if match else -1)
                if x >= 0]
        if not ends:
            keep = max(_partial_start(buf), 1 if buf.endswith(b"\r") else 0)
            del buf[: len(buf) - keep]
            return False
        del buf[: min(ends)]
        self._skipping = False
        return True


def _end(buf: bytearray, max_frame: int) -> int | None:
    """Where the frame at the start of `buf` ends (exclusive), or None if not yet seen."""
    limit = min(len(buf), max_frame + 1)
    crlf = buf.find(b"\r\n", 2, limit)
    nxt = _START.search(buf, 2, limit + 6)
    ends = [x for x in (crlf + 2 if crlf >= 0 else -1, nxt.start() if nxt else -1) if x >= 0]
    digits = 2
    while digits < 6 and digits < len(buf) and 48 <= buf[digits] <= 57:
        digits += 1
    crc_end = digits + int(buf[2:digits]) + 4  # where the declared length puts the CRC's end
    # an honest length ends the segment with the "&&" closing CP, then 4 hex digits
    crc_ok = (
        crc_end <= len(buf)
        and buf[crc_end - 6 : crc_end - 4] == b"&&"
        and _HEX.issuperset(buf[crc_end - 4 : crc_end])
    )
    if ends:
        end = min(ends)
        if crc_ok and crc_end < end - (2 if end == crlf + 2 else 0):
            # junk glued after an honest packet (no \r\n, or junk before it): the
            # packet ends where its length says, the rest is skipped as junk
            end = crc_end + 2 if buf[crc_end : crc_end + 2] == b"\r\n" else crc_end
        return end if end <= max_frame else None
    # No end yet. A device that leaves the \r\n off would wait for its answer until it
    # sends again: when the declared length and a CRC end exactly at the bytes held,
    # that is the frame (a \r\n that was merely late is skipped as noise next time).
    if crc_ok and crc_end == len(buf) <= max_frame:
        return crc_end
    return None


def _partial_start(buf: bytearray) -> int:
    """How many bytes at the end of `buf` may be the beginning of a frame's start."""
    for n in range(min(6, len(buf)), 0, -1):
        piece = bytes(buf[-n:])
        if piece in (b"#", b"##") or (piece.startswith(b"##") and piece[2:].isdigit()):
            return n
    return 0


def _skip_junk(out: list[Piece], data: bytes, reason: str) -> None:
    """Report junk, but not line ends alone: a late `\\r\\n`, or blank lines, are noise."""
    if data.strip(b"\r\n"):
        out.append(_junk(data, reason))


def _junk(data: bytes, reason: str) -> Junk:
    return Junk(data[:JUNK_SHOWN], len(data), reason)
