"""A burst of journalled MQTT messages packed into one value: the `payload` of one
`inputs` row (`lantian.recovery.Journal`), since a row a message cost more than the rest
of a burst's store work (and a round trip a message on PostgreSQL).

The framing, all integers little-endian:

    header   b"LJ", format version (1 byte, 1), message count (uint32)
    then, for each message in the order received:
             receive time (float64: epoch seconds, as the `at` column keeps them),
             topic length (uint16: bytes; MQTT's own limit is 65,535),
             payload length (uint32), the topic (UTF-8), the payload (bytes as received)

and nothing after the last message. Reading checks every part of that: a value that
does not unpack to exactly its count of messages is a `FrameError` saying where it
broke, never a partial burst.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final, NamedTuple

#: the two bytes every packed burst starts with, and the format version after them
MAGIC: Final = b"LJ"
VERSION: Final = 1
_HEADER: Final = struct.Struct("<2sBI")
_MESSAGE: Final = struct.Struct("<dHI")
_MAX_TOPIC: Final = 0xFFFF
_MAX_PAYLOAD: Final = 0xFFFFFFFF


class FrameError(ValueError):
    """A packed burst that cannot be read whole."""


class Message(NamedTuple):
    at: datetime
    topic: str
    payload: bytes


def pack(messages: Iterable[tuple[float, str, bytes]]) -> bytes:
    """The messages (receive time in epoch seconds, topic, payload) as one value."""
    parts = [b""]  # the header, once the count is known
    count = 0
    frame = _MESSAGE.pack
    for at, topic, payload in messages:
        name = topic.encode()
        if len(name) > _MAX_TOPIC or len(payload) > _MAX_PAYLOAD:
            # MQTT itself bounds both: a broker never delivers such a message
            raise ValueError(f"a message on {topic[:80]!r} is too large to journal")
        parts += (frame(at, len(name), len(payload)), name, payload)
        count += 1
    parts[0] = _HEADER.pack(MAGIC, VERSION, count)
    return b"".join(parts)


def unpack(data: bytes) -> list[Message]:
    """The messages `pack` made `data` of, or `FrameError`."""
    view = memoryview(data)
    if len(view) < _HEADER.size:
        raise FrameError(f"{len(view)} bytes, shorter than the header")
    magic, version, count = _HEADER.unpack_from(view)
    if magic != MAGIC:
        raise FrameError(f"not a packed burst (starts {bytes(magic)!r})")
    if version != VERSION:
        raise FrameError(f"format version {version}; this Lantian reads {VERSION}")
    out: list[Message] = []
    offset = _HEADER.size
    for n in range(count):
        if offset + _MESSAGE.size > len(view):
            raise FrameError(f"message {n + 1} of {count}: its header is cut off")
        at, topic_size, payload_size = _MESSAGE.unpack_from(view, offset)
        offset += _MESSAGE.size
        end = offset + topic_size + payload_size
        if end > len(view):
            raise FrameError(f"message {n + 1} of {count}: {end - len(view)} bytes missing")
        try:
            topic = str(view[offset:offset + topic_size], "utf-8")
            when = datetime.fromtimestamp(at, UTC)
        except (UnicodeDecodeError, ValueError, OverflowError, OSError) as exc:
            raise FrameError(f"message {n + 1} of {count}: {exc}") from None
        out.append(Message(when, topic, bytes(view[offset + topic_size:end])))
        offset = end
    if offset != len(view):
        raise FrameError(f"{len(view) - offset} bytes after the last of {count} messages")
    return out
