"""HJ 212 packets (2017 and 2025 editions: same framing, same CRC) to Readings.

Devices in the field bend the standard's rules in a few known ways (`HJ212_DIALECTS`);
each one is refused unless the station's `hj212_lenient` names it, and a packet let
through says which rules it bent.

Checks run in this order, so that the first reason given is the most useful one:
integrity (length, CRC: until they pass, not even the MN can be trusted), then the header,
then whose packet it is (MN), then the station's dialects, then what the packet says.
Plausibility of values is `_validate`'s job, after decoding. A data upload none of whose
factors maps to a Lantian metric (water, HJ/T 212-2005 flue-gas or vendor codes) is a
reading with no metrics, its fields kept as extras, and a note that says so.

The parts: `_hj212_crc` (the CRCs), `_hj212_frame` (framing, header and CP fields,
dialects: `parse_packet`), `_hj212_codes` (what CNs and factor codes mean) and this module
(a data upload's values and DataTime: `decode_hj212`). Inside them a refusal raises
`BadPacket`; only the public functions turn it into a `Rejection`.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Final, NoReturn

from ingest._context import DecodeContext, SourceSettings
from ingest._hj212_codes import CN_NAMES, INTERVALS, VALUE_FIELDS
from ingest._hj212_crc import hj212_crc16, modbus_crc16
from ingest._hj212_frame import (
    BadPacket,
    Packet,
    clip,
    cp_fields,
    cp_texts,
    enforce_dialects,
    parse_packet,
    split_packet,
)
from ingest._result import Decoded, DecodeResult, Rejection
from rules.records import VALID_FLAG, Interval, Measurement, Reading

__all__ = ["Packet", "decode_hj212", "hj212_crc16", "modbus_crc16", "parse_packet"]

# --- data uploads to Readings ---------------------------------------------------------------

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
        header, cp, found = split_packet(payload)
        station = ctx.station_by_mn(header["MN"])
        if station is None:
            raise BadPacket(
                "unknown_station",
                f'MN "{clip(header["MN"])}" is not a registered station: give a station '
                'this "mn" in config/stations.geojson',
            )
        settings = ctx.source(station.id)
        texts, count = cp_texts(cp)
        data_time = texts.pop("DataTime", None)
        if data_time and len(data_time) == 17 and data_time.isascii() and data_time.isdigit():
            found.append(("datatime_ms", f'DataTime "{data_time}" has milliseconds'))
        if found:
            enforce_dialects(found, settings.hj212_lenient, station.id)
        cn = header["CN"]
        interval = INTERVALS.get(cn)
        if interval is None:
            name = CN_NAMES.get(cn)
            raise BadPacket(
                "hj212_not_data", f"CN {cn}{f' ({name})' if name else ''} is not a data upload"
            )
        if data_time is None:
            raise BadPacket("hj212_fields", "no DataTime in CP")
        ts = _data_time(data_time, ctx.tz)
        if len(texts) + 1 < count:
            _refuse_repeats(cp_fields(cp))
        deviations = [name for name, _ in found] if found else []
        if "Flag" in texts:
            _adopt_stray_flags(cp, texts, deviations)
        values = _measurements(texts, interval, settings, deviations)
    except BadPacket as refused:
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
    return Decoded((reading,), "" if values else _no_metrics_note(texts))


_CODES_NAMED: Final = 6


def _no_metrics_note(extras: dict[str, str]) -> str:
    """Why a data upload gave a reading with no metric: its factor codes, up to a few."""
    codes = list(dict.fromkeys(key.partition("-")[0] for key in extras))
    named = ", ".join(clip(code, 12) for code in codes[:_CODES_NAMED])
    if len(codes) > _CODES_NAMED:
        named += f" and {len(codes) - _CODES_NAMED} more"
    return (
        f"no factor maps to a Lantian metric ({named}): kept as extras; to the no-data "
        "rule the station sends no data"
    )



def _measurements(
    texts: dict[str, str],
    interval: Interval,
    settings: SourceSettings,
    deviations: list[str],
) -> dict[str, Measurement]:
    """Take the mapped factors' fields out of `texts`; what is left there is extras.
    A metric sent under two codes (a05024 and O3, LA and Leq) takes the first one sent.
    (Only a stray Flag may repeat in CP, so `texts` has the value fields in packet order.)"""
    value_fields = VALUE_FIELDS[interval]
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
            raise BadPacket("hj212_fields", f"{clip(key)} appears twice in CP")
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
    raise BadPacket("hj212_fields", f'{key} value "{clip(text)}" is not a decimal number')


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
        raise BadPacket("hj212_fields", f'DataTime "{clip(text)}" is not YYYYMMDDhhmmss')
    try:
        # ISO 8601 basic format, which fromisoformat reads since Python 3.11
        local = datetime.fromisoformat(f"{text[:8]}T{text[8:14]}")
    except ValueError:
        raise BadPacket("hj212_fields", f'DataTime "{text}" is not a valid time') from None
    if len(text) == 17:
        return local.replace(microsecond=int(text[14:]) * 1000, tzinfo=tz)
    return local.replace(tzinfo=tz)
