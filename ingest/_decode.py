"""One message, start to finish: topic and bytes in, records or a rejection out.

The service and `lantian decode` both call `decode_message`, so what an operator sees
when debugging a device is exactly what the service would do with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from ingest._context import DecodeContext
from ingest._dji import DeviceState, decode_dji_osd
from ingest._hj212 import decode_hj212
from ingest._lantian_json import (
    decode_drone_telemetry,
    decode_finding,
    decode_mission,
    decode_reading,
)
from ingest._result import Decoded, DecodeResult, Rejection
from ingest._topics import InboundTopics, Kind, TopicAddress
from ingest._validate import Marked, validate
from ingest._vendor_json import decode_vendor
from rules.records import Record

_JSON_DECODERS = {
    Kind.READING: decode_reading,
    Kind.TELEMETRY: decode_drone_telemetry,
    Kind.MISSION: decode_mission,
    Kind.FINDING: decode_finding,
}


class Decoding(NamedTuple):
    """What became of one message. A NamedTuple rather than a frozen dataclass: one is
    built for every message, and a frozen dataclass costs twice as much to construct."""

    address: TopicAddress | None
    result: DecodeResult
    #: a DJI device's merged OSD state after this message (None for other topics)
    dji_state: DeviceState | None = None

    @property
    def kind(self) -> str:
        # str() of a StrEnum is its value, at a tenth of the cost of `.value` (a descriptor)
        return str(self.address.kind) if self.address else "unknown"


def decode_message(
    topic: str,
    payload: bytes,
    *,
    ctx: DecodeContext,
    topics: InboundTopics,
    now: datetime,
    dji_previous: DeviceState | None = None,
    address: TopicAddress | None = None,
) -> Decoding:
    """`address` may be passed when the caller has already looked the topic up."""
    address = address or topics.address(topic)
    if address is None:
        return Decoding(None, Rejection("unknown_topic", f"no inbound topic matches {topic!r}"))
    if address.kind not in topics.enabled:
        return Decoding(
            address, Rejection("decoder_off", f"the {address.kind} decoder is off in config")
        )
    if len(payload) > ctx.max_payload_bytes:
        return Decoding(
            address,
            Rejection(
                "too_large",
                f"payload is {len(payload)} bytes, over the limit of {ctx.max_payload_bytes}",
            ),
        )
    state: DeviceState | None = None
    result: DecodeResult
    if address.kind is Kind.HJ212:
        result = decode_hj212(payload, ctx)
    elif address.kind is Kind.DJI_OSD:
        state, result = decode_dji_osd(address.source, payload, ctx, dji_previous)
    elif address.kind is Kind.VENDOR:
        result = decode_vendor(topics.vendor(address.source), topic, payload, ctx)
    else:
        result = _JSON_DECODERS[address.kind](address.source, payload, ctx)
    if isinstance(result, Decoded):
        for record in result.records:
            problem = validate(record, now, ctx.max_future)
            if problem is not None:
                result = _judged(result, now, ctx) if isinstance(problem, Marked) else problem
                break
    return Decoding(address, result, state)


def _judged(decoded: Decoded, now: datetime, ctx: DecodeContext) -> DecodeResult:
    """The records with their implausible values marked, and a note that says what is odd
    about each; or the first record's refusal. The rare path: it validates them again."""
    records: list[Record] = []
    odd: list[str] = []
    for record in decoded.records:
        problem = validate(record, now, ctx.max_future)
        if isinstance(problem, Rejection):
            return problem
        if problem is None:
            records.append(record)
            continue
        records.append(problem.reading)
        odd.extend(problem.odd)
    note = "kept, marked implausible and never counted: " + "; ".join(odd)
    return Decoded(tuple(records), f"{decoded.note}; {note}" if decoded.note else note)
