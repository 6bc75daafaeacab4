"""What a decoder returns: records, or a rejection that says why."""

from __future__ import annotations

from dataclasses import dataclass

from rules.records import Record


@dataclass(frozen=True, slots=True)
class Decoded:
    """A message understood. `records` may be empty (a dock's OSD, an aircraft without a
    GNSS fix): the message was fine, it just says nothing the rules need. `note` says why."""

    records: tuple[Record, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message refused. `code` is a short stable label (metrics, tests);
    `reason` is the sentence an operator reads in the dead letters."""

    code: str
    reason: str


DecodeResult = Decoded | Rejection
