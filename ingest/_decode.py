"""One message, start to finish: topic and bytes in, records or a rejection out.

The service and `lantian decode` both call `decode_message`, so what an operator sees
when debugging a device is exactly what the service would do with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
from ingest._topics import Kind, Route, Topics
from ingest._validate import validate

_JSON_DECODERS = {
    Kind.READING: decode_reading,
    Kind.TELEMETRY: decode_drone_telemetry,
    Kind.MISSION: decode_mission,
    Kind.FINDING: decode_finding,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    route: Route | None
    result: DecodeResult
    #: a DJI device's merged OSD state after this message (None for other topics)
    dji_state: DeviceState | None = None

    @property
    def kind(self) -> str:
        return self.route.kind.value if self.route else "unknown"


def decode_message(
    topic: str,
    payload: bytes,
    *,
    ctx: DecodeContext,
    topics: Topics,
    now: datetime,
    dji_previous: DeviceState | None = None,
    route: Route | None = None,
) -> Outcome:
    """`route` may be passed when the caller has already looked the topic up."""
    route = route or topics.route(topic)
    if route is None:
        return Outcome(None, Rejection("unknown_topic", f"no inbound topic matches {topic!r}"))
    if route.kind not in topics.enabled:
        return Outcome(
            route, Rejection("decoder_off", f"the {route.kind} decoder is off in config")
        )
    if len(payload) > ctx.max_payload_bytes:
        return Outcome(
            route,
            Rejection(
                "too_large",
                f"payload is {len(payload)} bytes, over the limit of {ctx.max_payload_bytes}",
            ),
        )
    state: DeviceState | None = None
    result: DecodeResult
    if route.kind is Kind.HJ212:
        result = decode_hj212(payload, ctx)
    elif route.kind is Kind.DJI_OSD:
        state, result = decode_dji_osd(route.source, payload, ctx, dji_previous)
    else:
        result = _JSON_DECODERS[route.kind](route.source, payload, ctx)
    if isinstance(result, Decoded):
        for record in result.records:
            problem = validate(record, now, ctx.max_future)
            if problem is not None:
                return Outcome(route, problem, state)
    return Outcome(route, result, state)
