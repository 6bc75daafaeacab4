"""Records as plain JSON-ready dicts: what `lantian decode` prints and the API shows."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from rules.records import Record


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a NamedTuple
        return {k: _plain(v) for k, v in value._asdict().items() if v is not None}
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def record_as_dict(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(record).__name__}
    out.update(_plain(record))
    return out
