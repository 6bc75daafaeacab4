"""HJ 212 packets (2017 and 2025 editions: same framing, same CRC) to Readings.

A packet is `##`, a 4-digit length, the data segment, a 4-hex-digit CRC of the data
segment, `\\r\\n` (shared/reference/hj212_aqi.md §1). Devices in the field bend these rules
in a few known ways (`HJ212_DIALECTS`); each one is refused unless the station's
`hj212_lenient` names it, and a packet let through says which rules it bent.

Checks run in this order, so that the first reason given is the most useful one:
integrity (length, CRC: until they pass, not even the MN can be trusted), then the header,
then whose packet it is (MN), then the station's dialects, then what the packet says.
Plausibility of values is `_validate`'s job, after decoding.

Inside this module a refusal raises `_Refused`; only the public functions turn it into
a `Rejection`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Final, NamedTuple, NoReturn

from ingest._context import HJ212_DIALECTS, DecodeContext, SourceSettings
from ingest._result import Decoded, DecodeResult, Rejection
from rules import VALID_FLAG, Interval, Measurement, Reading

__all__ = ["Packet", "decode_hj212", "hj212_crc16", "modbus_crc16", "parse_packet"]

# --- CRC ----------------------------------------------------------------------------------


def _arc_step(value: int) -> int:
    for _ in range(8):
        value = (value >> 1) ^ 0xA001 if value & 1 else value >> 1
    return value


#: 8 rounds of shift-and-xor-0xA001 on one byte: the CRC-16/ARC table.
_ARC: Final = tuple(_arc_step(i) for i in range(256))
_ARC_HIGH: Final = bytes(v >> 8 for v in _ARC)

# Appendix A keeps only the register's high byte from one step to the next:
# reg = _ARC[(reg >> 8) ^ byte]. That 8-bit state map is linear over GF(2) and repeats
# after 8 bytes, so the state before the last byte is a fixed affine function of the data
# in which a byte's share depends only on its value and its distance from the end, mod 8.
# XOR-folding the data (all but its last byte: the head) into one 8-byte word, aligned at
# its end, therefore keeps everything the state needs, and the word's 8 bytes look up their
# shares in 8 tables. The fold is a few big-int shifts and XORs that run in C, each halving
# the int: about 7 times faster than a Python loop over the bytes (1.7 times faster than
# taking the parity of the whole head under 8 period-8 masks).
_FOLD_MAX: Final = 10_000  # bytes; longer input (never a valid packet) takes the loop


def _halvings(steps: int) -> tuple[tuple[int, int], ...]:
    """(shift, low mask) for each of `steps` halvings, the widest first: they fold
    2**steps words of 64 bits into one."""
    return tuple((64 << i, (1 << (64 << i)) - 1) for i in reversed(range(steps)))


#: _FOLDS[steps]: the halvings that fold a head of up to 2**steps words of 8 bytes
_FOLDS: Final = tuple(_halvings(steps) for steps in range(((_FOLD_MAX - 2) // 8).bit_length() + 1))


def _share_tables() -> tuple[tuple[bytes, ...], bytes]:
    identity = [1 << bit for bit in range(8)]
    powers = [identity]  # powers[r][bit]: the state map applied r times to one data bit
    for _ in range(8):
        powers.append([_ARC_HIGH[column] for column in powers[-1]])
    assert powers[8] == identity, "the HJ 212 state map must repeat after 8 bytes"
    shares = []
    for k in range(8):
        # byte k (mod 8) from the end of the head (k = 0 is the byte just before the data's
        # last one) passes through the map k + 1 times
        power = powers[(k + 1) % 8]
        shares.append(
            bytes(
                _xor_all(power[bit] for bit in range(8) if value >> bit & 1)
                for value in range(256)
            )
        )
    start = [0xFF]  # the high byte of the initial 0xFFFF, mapped once per byte
    for _ in range(7):
        start.append(_ARC_HIGH[start[-1]])
    return tuple(shares), bytes(start)


def _xor_all(values: Iterable[int]) -> int:
    result = 0
    for value in values:
        result ^= value
    return result


#: _SHARES[k][b]: the share in the state of byte value b, k bytes (mod 8) from the head's end
_SHARES, _START = _share_tables()


def hj212_crc16(data: bytes) -> int:
    """The HJ 212 Appendix A CRC of `data` (a packet's data segment). Not CRC-16/MODBUS."""
    if not data:
        return 0xFFFF
    if len(data) > _FOLD_MAX:
        reg = 0xFFFF
        for byte in data:
            reg = _ARC[(reg >> 8) ^ byte]
        return reg
    head = len(data) - 1
    word = int.from_bytes(data[:-1], "big")
    # (head + 7) // 8 words, after ceil(log2(words)) halvings: one
    for shift, low in _FOLDS[((head - 1) // 8).bit_length() if head else 0]:
        word = (word >> shift) ^ (word & low)
    # w0: the byte just before the data's last one, w7: 7 bytes (mod 8) before that
    w0, w1, w2, w3, w4, w5, w6, w7 = word.to_bytes(8, "little")
    s0, s1, s2, s3, s4, s5, s6, s7 = _SHARES
    state = (
        _START[head % 8]
        ^ s0[w0] ^ s1[w1] ^ s2[w2] ^ s3[w3] ^ s4[w4] ^ s5[w5] ^ s6[w6] ^ s7[w7]
    )  # fmt: skip
    return _ARC[state ^ data[-1]]


def modbus_crc16(data: bytes) -> int:
    """CRC-16/MODBUS: what some devices send, byte-swapped, instead of the HJ 212 CRC."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ _ARC[(reg ^ byte) & 0xFF]
    return reg


# --- framing and fields -------------------------------------------------------------------

_MAX_SEGMENT: Final = 9999
_MAX_PACKET: Final = 2 + 4 + _MAX_SEGMENT + 4 + 2
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
# Every header field name starts with a letter: this is where an unpadded length ends.
_HEAD: Final = re.compile(rb"##([0-9]{1,4})(?=[A-Za-z][A-Za-z0-9]*=)")
_LENGTH: Final = re.compile(rb"##([0-9]*)")  # to explain a packet _HEAD refused
_HEADER_KEYS: Final = frozenset({"QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"})
_HEADER_INTS: Final = (("Flag", 255), ("PNUM", 9999), ("PNO", 9999))

_Found = list[tuple[str, str]]  # (dialect, what this packet did), in packet order


class _Refused(Exception):
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
        _enforce(found, lenient)
    except _Refused as refused:
        return refused.rejection
    return packet


def _parse(payload: bytes) -> tuple[Packet, _Found]:
    header, cp, found = _split(payload)
    packet = Packet(
        qn=header.get("QN"),
        st=header["ST"],
        cn=header["CN"],
        pw=header.get("PW"),
        mn=header["MN"],
        flag=_optional_int(header.get("Flag")),
        cp=cp,
        fields=_fields(cp),
        pnum=_optional_int(header.get("PNUM")),
        pno=_optional_int(header.get("PNO")),
        deviations=tuple([name for name, _ in found]),
    )
    return packet, found


def _optional_int(text: str | None) -> int | None:
    return None if text is None else int(text)


def _split(payload: bytes) -> tuple[dict[str, str], str, _Found]:
    """The checked header fields, the CP text and the dialects used to frame them.
    decode_hj212 reads these directly: a Packet it would throw away costs it 7 %."""
    segment, found = _frame(payload)
    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("hj212_framing", "the data segment is not UTF-8 text") from None
    cp_at = text.find("CP=&&")
    if cp_at < 0:
        raise _Refused("hj212_fields", "no CP=&&…&& data area")
    if len(text) < cp_at + 7 or not text.endswith("&&"):
        raise _Refused("hj212_fields", "the data segment does not end with the && closing CP")
    if cp_at and text[cp_at - 1] != ";":
        raise _Refused("hj212_fields", 'no ";" before CP=&&')
    return _header(text[: cp_at - 1] if cp_at else ""), text[cp_at + 5 : -2], found


def _frame(payload: bytes) -> tuple[bytes, _Found]:
    """The data segment, once length and CRC check out, and the dialects used to frame it."""
    if not payload:
        raise _Refused("hj212_framing", "empty payload")
    if len(payload) > _MAX_PACKET:
        raise _Refused(
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
        raise _Refused("hj212_length", f"declared length {declared}, actual {actual}")
    segment, crc_text = rest[:actual], rest[actual:].decode("ascii")
    _check_crc(segment, crc_text, found)
    # No `\r\n` is no dialect here: it frames packets on a TCP stream, and on MQTT the
    # message is the frame (the wire contract makes it optional).
    return segment, found


def _refuse_start(payload: bytes) -> NoReturn:
    match = _LENGTH.match(payload)
    if match is None:
        raise _Refused("hj212_framing", f'does not start with "##": "{_show(payload[:8])}"')
    digits = match.group(1)
    if not digits:
        raise _Refused("hj212_framing", 'no data length after "##"')
    if len(digits) > 4:
        raise _Refused("hj212_length", f'data length "{_show(digits)}" is over 4 digits')
    raise _Refused(
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
        raise _Refused(
            "hj212_length",
            f"declared length {declared}, but only {len(rest)} bytes follow: cut short",
        )
    hex_tail = 0
    while hex_tail < 4 and hex_tail < len(rest) and rest[-1 - hex_tail] in _HEX:
        hex_tail += 1
    if hex_tail < 3:
        raise _Refused("hj212_framing", f'no CRC at the end: the packet ends "{_show(rest[-8:])}"')
    if hex_tail == 4 and len(rest) - 3 == declared:
        return 3
    return hex_tail


def _check_crc(segment: bytes, crc_text: str, found: _Found) -> None:
    sent = int(crc_text, 16)
    computed = hj212_crc16(segment)
    if sent != computed:
        if sent != _swap_bytes(modbus_crc16(segment)):
            raise _Refused(
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
    if crc_text != crc_text.upper():
        found.append(("crc_lowercase", f'CRC hex "{crc_text}" is lower case'))


def _swap_bytes(value: int) -> int:
    return (value >> 8) | (value & 0xFF) << 8


def _enforce(found: _Found, lenient: frozenset[str], station: str | None = None) -> None:
    refused = [(name, what) for name, what in found if name not in lenient]
    if refused:
        # Name the whole list the station needs, ready to paste into its config.
        allow = sorted((lenient & HJ212_DIALECTS.keys()) | {name for name, _ in refused})
        listed = ", ".join(f'"{name}"' for name in allow)
        raise _Refused(
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
            raise _Refused("hj212_fields", f'header item "{_clip(item)}" is not name=value')
        if key not in _HEADER_KEYS:
            raise _Refused("hj212_fields", f'unknown header field "{_clip(key)}"')
        if key in header:
            raise _Refused("hj212_fields", f"header field {key} appears twice")
        header[key] = value
    for key in ("ST", "CN", "MN"):  # QN, PW and Flag are missing in 2005-style packets
        if not header.get(key):
            raise _Refused("hj212_fields", f"no {key} in the header")
    cn = header["CN"]
    if len(cn) != 4 or not (cn.isascii() and cn.isdigit()):
        raise _Refused("hj212_fields", f'CN "{_clip(cn)}" is not 4 digits')
    for key, highest in _HEADER_INTS:
        number = header.get(key)
        if number is not None and not (
            0 < len(number) <= 4
            and number.isascii()
            and number.isdigit()
            and int(number) <= highest
        ):
            raise _Refused(
                "hj212_fields", f'{key} "{_clip(number)}" is not an integer 0..{highest}'
            )
    return header


def _fields(cp: str) -> tuple[tuple[str, str], ...]:
    fields = []
    # Items are split by ";" and their pairs by ","; only a stray Flag needs the items
    # (`_stray_flags`), so this hot path splits on both at once.
    for pair in cp.replace(";", ",").split(","):
        name, eq, value = pair.partition("=")
        if not (eq and name):
            if not pair:
                continue  # an empty item: a trailing ";", or the empty CP of a reply
            raise _Refused("hj212_fields", f'CP item "{_clip(pair)}" is not name=value')
        fields.append((name, value))
    return tuple(fields)


def _cp_texts(cp: str) -> tuple[dict[str, str], int]:
    """`dict(_fields(cp))` and how many fields there are, without the tuple of fields
    that decode_hj212 does not need."""
    texts: dict[str, str] = {}
    pairs = cp.replace(";", ",").split(",")
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not (eq and name):  # an empty item, or one _fields refuses
            fields = _fields(cp)
            return dict(fields), len(fields)
        texts[name] = value
    return texts, len(pairs)


# --- data uploads to Readings ---------------------------------------------------------------

_INTERVALS: Final[Mapping[str, Interval]] = MappingProxyType(
    {"2011": Interval.INSTANT, "2051": Interval.MINUTE, "2061": Interval.HOUR, "2031": Interval.DAY}
)

#: Short names of the CNs in reference §1.3 (2017) and §1.8 (2025), for rejection reasons.
_CN_NAMES: Final[Mapping[str, str]] = MappingProxyType({
    "1000": "set timeout and retries", "1001": "data-logger serial", "1002": "set MN",
    "1011": "site clock", "1012": "set site clock", "1013": "clock calibration request",
    "1014": "secret key", "1061": "real-time interval", "1062": "set real-time interval",
    "1063": "minute interval", "1064": "set minute interval", "1072": "set password",
    "2012": "stop real-time data", "2013": "raw monitoring data",
    "2021": "facility run state", "2022": "stop facility run state",
    "2041": "facility run time", "2052": "single noise measurement",
    "2062": "standard-check data", "2081": "data-logger power-on time",
    "2111": "furnace temperature", "3011": "calibrate", "3012": "sample now",
    "3013": "clean or blow back", "3014": "comparison sampling",
    "3015": "overproof sample keeping", "3016": "sampling period", "3017": "sampling period",
    "3018": "sample time", "3019": "instrument SN", "3020": "site information",
    "3021": "set site parameter", "3022": "sample-keeping task", "3024": "start standard check",
    "9011": "request answer", "9012": "execution result", "9013": "notification answer",
    "9014": "data answer", "9015": "heartbeat",
})  # fmt: skip

#: factor code -> Lantian metric. Device units are taken to be Lantian's (µg/m³, CO mg/m³,
#: kPa...); a station whose device differs has `unit_factors` in config.
_METRICS: Final[Mapping[str, str]] = MappingProxyType({
    "a34001": "tsp", "a34002": "pm10", "a34004": "pm25", "a34005": "pm1",
    "a21026": "so2", "a21004": "no2", "a05024": "o3", "O3": "o3", "a21005": "co",
    "LA": "noise", "Leq": "noise", "a01007": "wind_speed", "a01008": "wind_dir",
    "a01001": "temp", "a01002": "rh", "a01006": "pressure",
})  # fmt: skip


class _Factor(NamedTuple):
    """What to do with a mapped factor's value field, for data of one interval."""

    metric: str
    outranked_by: str | None  # a field that, when present, is the value instead of this one
    min: str | None
    max: str | None
    flag: str


def _value_fields(interval: Interval) -> dict[str, _Factor]:
    """Value field name -> _Factor, spelled out once here rather than for every packet."""
    fields = {}
    for code, metric in _METRICS.items():
        if interval is Interval.INSTANT:
            fields[f"{code}-Rtd"] = _Factor(metric, None, None, None, f"{code}-Flag")
            continue
        low, high, flag = f"{code}-Min", f"{code}-Max", f"{code}-Flag"
        fields[f"{code}-Avg"] = _Factor(metric, None, low, high, flag)
        if interval is Interval.MINUTE:  # minute data sent as -Rtd: a known dialect
            fields[f"{code}-Rtd"] = _Factor(metric, f"{code}-Avg", low, high, flag)
    return fields


_VALUE_FIELDS: Final = {interval: _value_fields(interval) for interval in Interval}

# A plain decimal, as the standard's N14.2 types allow: no exponent, nan or inf. Bounded
# digit counts keep float() finite, so overflow fails here too.
_is_decimal: Final = re.compile(r"[+-]?(?:[0-9]{1,18}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})").fullmatch
# The same test at a third of the cost, for text of at most 18 of these characters: the
# only shapes of them that float() reads are _is_decimal's (it raises ValueError for the
# rest: "", "+", "1-2", "1.2."), and 18 characters hold no 19 digits. Longer text, or text
# with any other character, is judged by _is_decimal.
_DECIMAL_CHARS: Final = "+-.0123456789"

#: Measurement(value, flag, min, max) without the Python-level __new__ of a NamedTuple,
#: which costs as much again: decode_hj212 builds one per value.
_new_tuple: Final = tuple.__new__


def decode_hj212(payload: bytes, ctx: DecodeContext) -> DecodeResult:
    """A data upload (CN 2011, 2051, 2061, 2031) from a registered station, as one Reading."""
    try:
        header, cp, found = _split(payload)
        station = ctx.station_by_mn(header["MN"])
        if station is None:
            raise _Refused(
                "unknown_station",
                f'MN "{_clip(header["MN"])}" is not a registered station: give a station '
                'this "mn" in config/stations.geojson',
            )
        settings = ctx.source(station.id)
        texts, count = _cp_texts(cp)
        data_time = texts.pop("DataTime", None)
        if data_time and len(data_time) == 17 and data_time.isascii() and data_time.isdigit():
            found.append(("datatime_ms", f'DataTime "{data_time}" has milliseconds'))
        if found:
            _enforce(found, settings.hj212_lenient, station.id)
        cn = header["CN"]
        interval = _INTERVALS.get(cn)
        if interval is None:
            name = _CN_NAMES.get(cn)
            raise _Refused(
                "hj212_not_data", f"CN {cn}{f' ({name})' if name else ''} is not a data upload"
            )
        if data_time is None:
            raise _Refused("hj212_fields", "no DataTime in CP")
        ts = _data_time(data_time, ctx.tz)
        if len(texts) + 1 < count:
            _refuse_repeats(_fields(cp))
        deviations = [name for name, _ in found] if found else []
        if "Flag" in texts:
            _adopt_stray_flags(cp, texts, deviations)
        values = _measurements(texts, interval, settings, deviations)
    except _Refused as refused:
        return refused.rejection
    if not values and not texts:
        return Rejection("hj212_fields", "no factor values")
    reading = Reading(
        station.id,
        ts,
        MappingProxyType(values),
        interval=interval,
        source="hj212",
        extras=MappingProxyType(texts),
        deviations=tuple(deviations),
    )
    return Decoded((reading,))


def _measurements(
    texts: dict[str, str],
    interval: Interval,
    settings: SourceSettings,
    deviations: list[str],
) -> dict[str, Measurement]:
    """Take the mapped factors' fields out of `texts`; what is left there is extras.
    A metric sent under two codes (a05024 and O3, LA and Leq) takes the first one sent.
    (Only a stray Flag may repeat in CP, so `texts` has the value fields in packet order.)"""
    value_fields = _VALUE_FIELDS[interval]
    unit_factors = settings.unit_factors or None  # most stations have none
    values: dict[str, Measurement] = {}
    for key in list(texts):  # a copy: the loop takes fields out of texts
        factor = value_fields.get(key)
        if factor is None:
            continue
        metric, outranked_by, min_key, max_key, flag_key = factor
        if metric in values or outranked_by in texts:
            continue
        text = texts.pop(key)
        if outranked_by is not None and "minute_rtd" not in deviations:
            deviations.append("minute_rtd")
        unit = unit_factors.get(metric, 1.0) if unit_factors else 1.0
        low = high = None
        if min_key in texts:
            low = _number(min_key, texts.pop(min_key), unit)
        if max_key in texts:
            high = _number(max_key, texts.pop(max_key), unit)
        # _number, inlined: this runs for every value
        if (len(text) > 18 or text.strip(_DECIMAL_CHARS)) and _is_decimal(text) is None:
            _refuse_number(key, text)
        try:
            value = float(text) * unit
        except ValueError:
            _refuse_number(key, text)
        flag = texts.pop(flag_key, VALID_FLAG)
        values[metric] = _new_tuple(Measurement, (value, flag, low, high))
    return values


def _refuse_repeats(fields: tuple[tuple[str, str], ...]) -> None:
    seen = set()
    for key, _ in fields:
        # Only a stray Flag may repeat: a forwarder adds one after each item.
        if key in seen and key != "Flag":
            raise _Refused("hj212_fields", f"{_clip(key)} appears twice in CP")
        seen.add(key)


def _adopt_stray_flags(cp: str, texts: dict[str, str], deviations: list[str]) -> None:
    """Give each `Flag=x` with no factor prefix to the factors of the item before it that
    have no flag: a forwarder's `a34001-Rtd=92;Flag=N` means a34001's flag is N."""
    adopted = False
    for codes, flag in _stray_flags(cp):
        for code in codes:
            if f"{code}-Flag" not in texts:
                texts[f"{code}-Flag"] = flag
                adopted = True
    if adopted:
        del texts["Flag"]
        deviations.append("unprefixed_flag")


def _stray_flags(cp: str) -> list[tuple[list[str], str]]:
    """Each unprefixed flag's value, with the factor codes of the item before it."""
    strays = []
    previous: list[str] = []
    for item in cp.split(";"):
        codes = []
        for pair in item.split(","):
            key, _, value = pair.partition("=")
            if key == "Flag":
                strays.append((previous, value))
            elif "-" in key and (code := key.partition("-")[0]) not in codes:
                codes.append(code)
        previous = codes
    return strays


def _number(key: str, text: str, factor: float) -> float:
    if (len(text) > 18 or text.strip(_DECIMAL_CHARS)) and _is_decimal(text) is None:
        _refuse_number(key, text)
    try:
        return float(text) * factor
    except ValueError:  # made of _DECIMAL_CHARS, but not a decimal: "", "+", "1-2", "1.2."
        _refuse_number(key, text)


def _refuse_number(key: str, text: str) -> NoReturn:
    raise _Refused("hj212_fields", f'{key} value "{_clip(text)}" is not a decimal number')


#: (DataTime, zone) -> its time. A station's packets of one minute, and every station's
#: packets for the same minute, share their DataTime text: most packets find it here.
_DATA_TIMES: Final[dict[tuple[str, tzinfo], datetime]] = {}
_DATA_TIMES_MAX: Final = 1024  # at most; emptied when full, refilled as packets come


def _data_time(text: str, tz: tzinfo) -> datetime:
    """DataTime is local time (the standard names no zone; devices use the site's)."""
    key = (text, tz)
    ts = _DATA_TIMES.get(key)
    if ts is None:
        ts = _parse_data_time(text, tz)  # refuses a bad one, which is not kept
        if len(_DATA_TIMES) >= _DATA_TIMES_MAX:
            _DATA_TIMES.clear()
        _DATA_TIMES[key] = ts
    return ts


def _parse_data_time(text: str, tz: tzinfo) -> datetime:
    if len(text) not in (14, 17) or not (text.isascii() and text.isdigit()):
        raise _Refused("hj212_fields", f'DataTime "{_clip(text)}" is not YYYYMMDDhhmmss')
    try:
        # ISO 8601 basic format, which fromisoformat reads since Python 3.11
        local = datetime.fromisoformat(f"{text[:8]}T{text[8:14]}")
    except ValueError:
        raise _Refused("hj212_fields", f'DataTime "{text}" is not a valid time') from None
    if len(text) == 17:
        return local.replace(microsecond=int(text[14:]) * 1000, tzinfo=tz)
    return local.replace(tzinfo=tz)


# --- reasons --------------------------------------------------------------------------------


def _clip(text: str, limit: int = 32) -> str:
    """Device text quoted in a reason: bounded, so a garbage packet cannot flood the logs."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(raw: bytes) -> str:
    return _clip(raw.decode("ascii", "backslashreplace"))
