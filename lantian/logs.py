"""The service's log: one line a happening, readable by a person (`text`) or a log
shipper (`json`).

The convention for a structured line: a short human message and the facts as `extra`,
with an `event` naming what happened, dotted from general to specific::

    log.info("alert acknowledged", extra={
        "event": "alert.acknowledged", "alert_id": alert.id, "queue": "north",
        "actor": "li",
    })

- `event` is stable, for filters and dashboards (`alert.raised`, `alert.escalated`,
  `deadletter.burst`, `broker.connected`, ...); the message may be reworded.
- Values are JSON-ready: str, int, float, bool, None, or lists and dicts of them (any
  other value is written as its `str`). A key must not be one of `logging.LogRecord`'s
  own attributes (`message`, `name`, `msg`, `args`, ...): `logging` refuses those.
- One call, one line: no multi-line messages. A traceback (`log.exception`) goes to the
  `exc` field of the JSON line, and after ` | ` on the text line, with its line breaks
  escaped, so that a shipper never sees half a record.

`text`: `2026-06-12T10:00:00.123+08:00 INFO dispatch: alert acknowledged
event=alert.acknowledged alert_id=A1 queue=north actor=li`.
`json`: `{"ts": "...", "level": "INFO", "logger": "dispatch", "message": "alert
acknowledged", "event": "alert.acknowledged", "alert_id": "A1", ...}`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from typing import IO, Any, Final, Literal

Format = Literal["text", "json"]
FORMATS: Final[tuple[Format, ...]] = ("text", "json")

#: What every `LogRecord` has: anything else on a record came from `extra=`.
_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record, in the order they were given."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


def _timestamp(record: logging.LogRecord) -> str:
    # local time with its offset: what an operator reads and a shipper parses exactly
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts) or None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, every `extra=` field, and
    `exc` for a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record), "level": record.levelname, "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(fields(record))
        exc = _traceback(self, record)
        if exc is not None:
            out["exc"] = exc
        # default=str: a value that is not JSON (a datetime, a Path) is written, not lost
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger: message key=value ...`, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        pairs = " ".join(f"{k}={_text(v)}" for k, v in fields(record).items())
        if pairs:
            line = f"{line} {pairs}"
        exc = _traceback(self, record)
        if exc is not None:
            line = f"{line} | {exc}"
        return _one_line(line)


def _text(value: Any) -> str:
    if isinstance(value, str):
        # quoted only when it would not read back as one token
        return json.dumps(value, ensure_ascii=False) if not value or " " in value else value
    return json.dumps(value, ensure_ascii=False, default=str)


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def configure(
    level: str | int = "INFO", fmt: Format = "text", *, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's lines at `level` and above to `stream` (stderr) in `fmt`,
    replacing the root logger's handlers; returns the handler. Quiets apscheduler,
    whose INFO is a line a job run."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # its INFO is a line a job run ("executed successfully"), a hundred a minute: noise
    # that buried every line an operator needs; its warnings (a missed run) still show
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return handler
