"""The one decode path: whatever arrives on whatever topic, the answer is an Decoding."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import DecodeContext, Decoded, InboundTopics, decode_message
from ingest._dji import DeviceState
from ingest._result import Rejection
from rules.records import Location, Station

NOW = datetime(2026, 6, 12, 3, 0, tzinfo=UTC)
CTX = DecodeContext(
    stations={"S1": Station("S1", "S1", "ambient", Location(30.0, 120.5), mn="MN1")},
    dji_aircraft={"SN1": "UAV1"},
    max_payload_bytes=4096,
)
TOPICS = InboundTopics()

topics = st.sampled_from([
    "lantian/sensors/S1/reading", "lantian/sensors/S1/hj212", "lantian/drones/UAV1/telemetry",
    "lantian/drones/UAV1/mission", "lantian/drones/UAV1/finding", "thing/product/SN1/osd",
    "lantian/sensors/S1/other", "elsewhere",
])


@settings(max_examples=500)
@given(topics, st.binary(max_size=5000))
def test_any_bytes_on_any_topic_give_records_or_a_rejection(topic: str, payload: bytes) -> None:
    outcome = decode_message(topic, payload, ctx=CTX, topics=TOPICS, now=NOW)
    assert isinstance(outcome.result, Decoded | Rejection)
    if isinstance(outcome.result, Rejection):
        assert outcome.result.code and outcome.result.reason
    if outcome.dji_state is not None:
        assert isinstance(outcome.dji_state, DeviceState)


def test_size_limit_applies_before_decoding() -> None:
    outcome = decode_message("lantian/sensors/S1/reading", b" " * 4097, ctx=CTX, topics=TOPICS,
                             now=NOW)
    assert outcome.result == Rejection("too_large",
                                       "payload is 4097 bytes, over the limit of 4096")


def test_a_decoder_switched_off_rejects_its_topic() -> None:
    topics = InboundTopics(enabled=frozenset())
    outcome = decode_message("lantian/sensors/S1/reading", b"{}", ctx=CTX, topics=topics, now=NOW)
    assert outcome.result == Rejection("decoder_off", "the reading decoder is off in config")
