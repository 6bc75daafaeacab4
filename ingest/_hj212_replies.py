"""What the platform (上位机) sends a data logger: HJ 212 answers and requests, framed.

- **9014** (data answer) to a data upload whose Flag has the A bit: the same QN, MN and
  PW, `ST=91`, `Flag=4`, an empty CP (HJ 212-2017 C.14). A logger that does not get it
  keeps the data as pending and sends it again.
- **9013** (notification answer) to a notification that asks for one: a logger's clock
  calibration request (1013) or an HJ 212-2025 heartbeat (9015).
- **2051 / 2061** with `BeginTime` and `EndTime`: the platform asking for the minute or
  hourly data of a span it missed (补抽, C.20-C.23); the logger answers 9011, uploads the
  data as ordinary 2051/2061 packets and ends with 9012.

Pure: strings in, bytes out. The CRC is the standard's (Appendix A), in upper-case hex.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Final

from ingest._hj212_crc import hj212_crc16

__all__ = [
    "ANSWER_FLAG", "data_answer", "frame", "history_request", "notice_answer", "qn_at",
    "wants_answer",
]

#: Flag of the platform's answers: version bits 000001 (HJ 212-2017), no answer wanted.
ANSWER_FLAG: Final = 4
#: Flag of the platform's requests: version 2017, answer wanted (A bit).
REQUEST_FLAG: Final = 5


def frame(segment: str) -> bytes:
    """`##`, the 4-digit length, the data segment, its CRC, `\\r\\n`."""
    data = segment.encode("utf-8")
    if len(data) > 9999:
        raise ValueError(f"an HJ 212 data segment is at most 9999 bytes, not {len(data)}")
    return b"##%04d%s%04X\r\n" % (len(data), data, hj212_crc16(data))


def wants_answer(flag: str | None) -> bool:
    """The A bit (bit 0) of a packet's Flag; a packet without Flag (HJ/T 212-2005) wants none."""
    return flag is not None and flag.isdigit() and int(flag) & 1 == 1


def _answer(cn: str, qn: str | None, pw: str | None, mn: str) -> bytes:
    head = f"QN={qn};" if qn is not None else ""
    pw_part = f"PW={pw};" if pw is not None else ""
    return frame(f"{head}ST=91;CN={cn};{pw_part}MN={mn};Flag={ANSWER_FLAG};CP=&&&&")


def data_answer(qn: str | None, pw: str | None, mn: str) -> bytes:
    """9014 to the upload with this QN."""
    return _answer("9014", qn, pw, mn)


def notice_answer(qn: str | None, pw: str | None, mn: str) -> bytes:
    """9013 to the notification with this QN."""
    return _answer("9013", qn, pw, mn)


def qn_at(at: datetime, tz: tzinfo) -> str:
    """A QN: the local time to the millisecond, `YYYYMMDDhhmmsszzz`."""
    local = at.astimezone(tz)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def history_request(
    cn: str, *, st: str, pw: str | None, mn: str, begin: datetime, end: datetime,
    qn: str, tz: tzinfo,
) -> bytes:
    """Ask a logger for its minute (2051) or hourly (2061) data from `begin` to `end`,
    both in the site's local time as DataTime is."""
    if cn not in ("2051", "2061"):
        raise ValueError(f"history is requested with CN 2051 or 2061, not {cn}")
    fmt = "%Y%m%d%H%M%S"
    pw_part = f"PW={pw};" if pw is not None else ""
    return frame(
        f"QN={qn};ST={st};CN={cn};{pw_part}MN={mn};Flag={REQUEST_FLAG};"
        f"CP=&&BeginTime={begin.astimezone(tz).strftime(fmt)};"
        f"EndTime={end.astimezone(tz).strftime(fmt)}&&"
    )
