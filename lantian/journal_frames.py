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


class FrameError(ValueError):
    """A packed burst that cannot be read whole."""


class Message(NamedTuple):
    at: datetime
    topic: str
    payload: bytes


def pack(messages: Iterable[tuple[float, str, bytes]]) -> bytes:
    """The messages (receive time in epoch seconds, topic, payload) as one value."""
    parts = [b""]  # the header, once the count is known
    add, frame = parts.append, _MESSAGE.pack
    try:
        for at, topic, payload in messages:
            name = topic.encode()
            add(frame(at, len(name), len(payload)))
            add(name)
            add(payload)
    except struct.error:  # MQTT itself bounds both sizes: a broker never delivers such
        raise ValueError(f"a message on {topic[:80]!r} is too large to journal"
                         f" ({len(name)} bytes of topic, {len(payload)} of payload)") from None
    parts[0] = _HEADER.pack(MAGIC, VERSION, len(parts) // 3)
    return b"".join(parts)


def unpack(data: bytes) -> list[Message]:
    """The messages `pack` made `data` of, or `FrameError`."""
    size = len(data)
    if size < _HEADER.size:
        raise FrameError(f"{size} bytes, shorter than the header")
    magic, version, count = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise FrameError(f"not a packed burst (starts {magic!r})")
    if version != VERSION:
        raise FrameError(f"format version {version}; this Lantian reads {VERSION}")
    out: list[Message] = []
    add, frame, stamp = out.append, _MESSAGE.unpack_from, datetime.fromtimestamp
    offset, header = _HEADER.size, _MESSAGE.size
    try:
        for _ in range(count):
            at, topic_size, payload_size = frame(data, offset)
            topic_at = offset + header
            payload_at = topic_at + topic_size
            offset = payload_at + payload_size
            if offset > size:
                raise FrameError(f"{offset - size} bytes missing")
            add(Message(stamp(at, UTC), data[topic_at:payload_at].decode(),
                        data[payload_at:offset]))
    except FrameError as exc:
        raise FrameError(f"message {len(out) + 1} of {count}: {exc}") from None
    except (struct.error, UnicodeDecodeError, ValueError, OverflowError, OSError) as exc:
        # a header cut off, a topic that is not UTF-8, a time that is no time
        raise FrameError(f"message {len(out) + 1} of {count}: {exc}") from None
    if offset != size:
        raise FrameError(f"{size - offset} bytes after the last of {count} messages")
    return out
