"""HJ 212 framing: a packet's bytes to its checked header fields and CP data area.

A packet is `##`, a 4-digit length, the data segment, a 4-hex-digit CRC of the data
segment, `\\r\\n` (shared/reference/hj212_aqi.md §1). Devices in the field bend these rules
in a few known ways (`HJ212_DIALECTS`); each one is refused unless the station's
`hj212_lenient` names it, and a packet let through says which rules it bent.

Inside the HJ 212 modules a refusal raises `BadPacket`; only the public functions
(`parse_packet` here, `decode_hj212`) turn it into a `Rejection`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, NoReturn

from ingest._context import HJ212_DIALECTS
from ingest._hj212_crc import hj212_crc16, modbus_crc16
from ingest._result import Rejection

__all__ = [
    "BadPacket",
    "Packet",
    "clip",
    "cp_fields",
    "cp_texts",
    "enforce_dialects",
    "parse_packet",
    "split_packet",
]

_MAX_SEGMENT: Final = 9999
_MAX_PACKET: Final = 2 + 4 + _MAX_SEGMENT + 4 + 2
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
# Every header field name starts with a letter: this is where an unpadded length ends.
_HEAD: Final = re.compile(rb"##([0-9]{1,4})(?=[A-Za-z][A-Za-z0-9]*=)")
_LENGTH: Final = re.compile(rb"##([0-9]*)")  # to explain a packet _HEAD refused
_HEADER_KEYS: Final = frozenset({"QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"})
_HEADER_INTS: Final = (("Flag", 255), ("PNUM", 9999), ("PNO", 9999))

_Found = list[tuple[str, str]]  # (dialect, what this packet did), in packet order


class BadPacket(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.rejection = Rejection(code, reason)


@dataclass(frozen=True, slots=True)
class Packet:
    """One framed HJ 212 packet. `cp` is the text between `CP=&&` and the closing `&&`;
    `fields` are its (name, value) pairs in order; `deviations` names the dialects used."""

    qn: str | None
    st: str
    cn: str
    pw: str | None
    mn: str
    flag: int | None
    cp: str
    fields: tuple[tuple[str, str], ...]
    pnum: int | None = None
    pno: int | None = None
    deviations: tuple[str, ...] = ()


def parse_packet(payload: bytes, lenient: frozenset[str]) -> Packet | Rejection:
    """Check framing, length and CRC, split header and CP. Dialects not in `lenient`
    are refused."""
    try:
        packet, found = _parse(payload)
        enforce_dialects(found, lenient)
    except BadPacket as refused:
        return refused.rejection
    return packet


def _parse(payload: bytes) -> tuple[Packet, _Found]:
    header, cp, found = split_packet(payload)
    packet = Packet(
        qn=header.get("QN"),
        st=header["ST"],
        cn=header["CN"],
        pw=header.get("PW"),
        mn=header["MN"],
        flag=_optional_int(header.get("Flag")),
        cp=cp,
        fields=cp_fields(cp),
        pnum=_optional_int(header.get("PNUM")),
        pno=_optional_int(header.get("PNO")),
        deviations=tuple([name for name, _ in found]),
    )
    return packet, found


def _optional_int(text: str | None) -> int | None:
    return None if text is None else int(text)


def split_packet(payload: bytes) -> tuple[dict[str, str], str, _Found]:
    """The checked header fields, the CP text and the dialects used to frame them.
    decode_hj212 reads these directly: a Packet it would throw away costs it 7 %."""
    segment, found = _frame(payload)
    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPacket("hj212_framing", "the data segment is not UTF-8 text") from None
    cp_at = text.find("CP=&&")
    if cp_at < 0:
        raise BadPacket("hj212_fields", "no CP=&&…&& data area")
    if len(text) < cp_at + 7 or not text.endswith("&&"):
        raise BadPacket("hj212_fields", "the data segment does not end with the && closing CP")
    if cp_at and text[cp_at - 1] != ";":
        raise BadPacket("hj212_fields", 'no ";" before CP=&&')
    return _header(text[: cp_at - 1] if cp_at else ""), text[cp_at + 5 : -2], found


def _frame(payload: bytes) -> tuple[bytes, _Found]:
    """The data segment, once length and CRC check out, and the dialects used to frame it."""
    if not payload:
        raise BadPacket("hj212_framing", "empty payload")
    if len(payload) > _MAX_PACKET:
        raise BadPacket(
            "hj212_length",
            f"packet is {len(payload)} bytes; an HJ 212 packet is at most {_MAX_PACKET}",
        )
    match = _HEAD.match(payload)
    if match is None:
        _refuse_start(payload)
    digits = match.group(1)
    found: _Found = []
    if len(digits) < 4:
        found.append(("length_unpadded", f'data length "{_show(digits)}" is not 4 digits'))
    terminated = payload.endswith(b"\r\n")
    rest = payload[match.end() : -2 if terminated else None]
    declared = int(digits)
    width = _crc_width(rest, declared)
    actual = len(rest) - width
    if actual != declared:
        raise BadPacket("hj212_length", f"declared length {declared}, actual {actual}")
    segment, crc_text = rest[:actual], rest[actual:].decode("ascii")
    _check_crc(segment, crc_text, found)
    # No `\r\n` is no dialect here: it frames packets on a TCP stream, and on MQTT the
    # message is the frame (the wire contract makes it optional).
    return segment, found


def _refuse_start(payload: bytes) -> NoReturn:
    match = _LENGTH.match(payload)
    if match is None:
        raise BadPacket("hj212_framing", f'does not start with "##": "{_show(payload[:8])}"')
    digits = match.group(1)
    if not digits:
        raise BadPacket("hj212_framing", 'no data length after "##"')
    if len(digits) > 4:
        raise BadPacket("hj212_length", f'data length "{_show(digits)}" is over 4 digits')
    raise BadPacket(
        "hj212_framing",
        "the data segment must start with a field name such as QN= or ST=, not "
        f'"{_show(payload[match.end() : match.end() + 8])}"',
    )


def _crc_width(rest: bytes, declared: int) -> int:
    """How many trailing hex digits are the CRC: 4, or 3 from a device that drops a
    leading zero. The declared length decides when the data itself ends in hex digits."""
    if len(rest) - 4 == declared and _HEX.issuperset(rest[-4:]):
        return 4
    if len(rest) < declared:
        raise BadPacket(
            "hj212_length",
            f"declared length {declared}, but only {len(rest)} bytes follow: cut short",
        )
    hex_tail = 0
    while hex_tail < 4 and hex_tail < len(rest) and rest[-1 - hex_tail] in _HEX:
        hex_tail += 1
    if hex_tail < 3:
        raise BadPacket("hj212_framing", f'no CRC at the end: the packet ends "{_show(rest[-8:])}"')
    if hex_tail == 4 and len(rest) - 3 == declared:
        return 3
    return hex_tail


def _check_crc(segment: bytes, crc_text: str, found: _Found) -> None:
    sent = int(crc_text, 16)
    computed = hj212_crc16(segment)
    if sent != computed:
        if sent != _swap_bytes(modbus_crc16(segment)):
            raise BadPacket(
                "hj212_crc", f"CRC mismatch: packet says {crc_text}, computed {computed:04X}"
            )
        found.append(
            (
                "crc_modbus_swapped",
                f'CRC "{crc_text}" is CRC-16/MODBUS with its bytes swapped, '
                f"not the HJ 212 CRC {computed:04X}",
            )
        )
    if len(crc_text) < 4:
        found.append(("crc_unpadded", f'CRC "{crc_text}" has {len(crc_text)} hex digits, not 4'))
    # Lower-case hex is no dialect: Table 2 asks for a hexadecimal integer, of no case.


def _swap_bytes(value: int) -> int:
    return (value >> 8) | (value & 0xFF) << 8


def enforce_dialects(found: _Found, lenient: frozenset[str], station: str | None = None) -> None:
    refused = [(name, what) for name, what in found if name not in lenient]
    if refused:
        # Name the whole list the station needs, ready to paste into its config.
        allow = sorted((lenient & HJ212_DIALECTS.keys()) | {name for name, _ in refused})
        listed = ", ".join(f'"{name}"' for name in allow)
        raise BadPacket(
            "hj212_dialect",
            "; ".join(what for _, what in refused)
            + f"; allow with hj212_lenient = [{listed}]"
            + (f' in [sources."{station}"]' if station else ""),
        )


def _header(text: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for item in text.split(";") if text else ():
        key, eq, value = item.partition("=")
        if not eq:
            raise BadPacket("hj212_fields", f'header item "{clip(item)}" is not name=value')
        if key not in _HEADER_KEYS:
            raise BadPacket("hj212_fields", f'unknown header field "{clip(key)}"')
        if key in header:
            raise BadPacket("hj212_fields", f"header field {key} appears twice")
        header[key] = value
    for key in ("ST", "CN", "MN"):  # QN, PW and Flag are missing in 2005-style packets
        if not header.get(key):
            raise BadPacket("hj212_fields", f"no {key} in the header")
    cn = header["CN"]
    if len(cn) != 4 or not (cn.isascii() and cn.isdigit()):
        raise BadPacket("hj212_fields", f'CN "{clip(cn)}" is not 4 digits')
    for key, highest in _HEADER_INTS:
        number = header.get(key)
        if number is not None and not (
            0 < len(number) <= 4
            and number.isascii()
            and number.isdigit()
            and int(number) <= highest
        ):
            raise BadPacket(
                "hj212_fields", f'{key} "{clip(number)}" is not an integer 0..{highest}'
            )
    return header


def cp_fields(cp: str) -> tuple[tuple[str, str], ...]:
    fields = []
    # Items are split by ";" and their pairs by ","; only a stray Flag needs the items
    # (`_stray_flags`, in `_hj212`), so this hot path splits on both at once.
    for pair in cp.replace(";", ",").split(","):
        name, eq, value = pair.partition("=")
        if not (eq and name):
            if not pair:
                continue  # an empty item: a trailing ";", or the empty CP of a reply
            raise BadPacket("hj212_fields", f'CP item "{clip(pair)}" is not name=value')
        fields.append((name, value))
    return tuple(fields)


def cp_texts(cp: str) -> tuple[dict[str, str], int]:
    """`dict(cp_fields(cp))` and how many fields there are, without the tuple of fields
    that decode_hj212 does not need."""
    texts: dict[str, str] = {}
    pairs = cp.replace(";", ",").split(",")
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not (eq and name):  # an empty item, or one cp_fields refuses
            fields = cp_fields(cp)
            return dict(fields), len(fields)
        texts[name] = value
    return texts, len(pairs)


# --- reasons --------------------------------------------------------------------------------


def clip(text: str, limit: int = 32) -> str:
    """Device text quoted in a reason: bounded, so a garbage packet cannot flood the logs."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(raw: bytes) -> str:
    return clip(raw.decode("ascii", "backslashreplace"))
