"""The log formatters: one line a record, `extra=` fields carried, tracebacks inside the
line; `configure` replaces the root's handlers and quiets apscheduler."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from lantian import logs


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    root = logging.getLogger()
    before, level = root.handlers[:], root.level
    stream = io.StringIO()
    yield logging.getLogger("dispatch.test"), stream
    root.handlers[:] = before
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.NOTSET)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


ACK = {"event": "alert.acknowledged", "alert_id": "A-1", "queue": "north", "late": False,
       "seconds": 12.5, "stages": ["ack"]}


def test_json_line_has_the_fixed_keys_and_every_extra_field(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = captured
    logs.configure("INFO", "json", stream=stream)
    log.info("alert %s acknowledged", "A-1", extra=ACK)
    [line] = lines(stream)
    out = json.loads(line)
    assert list(out)[:4] == ["ts", "level", "logger", "message"]
    assert out["level"] == "INFO" and out["logger"] == "dispatch.test"
    assert out["message"] == "alert A-1 acknowledged"
    assert {k: out[k] for k in ACK} == ACK
    assert out["ts"][10] == "T" and out["ts"][-6] in "+-"  # ISO 8601 with an offset


def test_json_puts_a_traceback_in_exc_on_the_same_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = captured
    logs.configure("INFO", "json", stream=stream)
    try:
        raise RuntimeError("disk full\nsecond line")
    except RuntimeError:
        log.exception("store write failed", extra={"event": "store.failed"})
    [line] = lines(stream)
    out = json.loads(line)
    assert out["event"] == "store.failed" and out["level"] == "ERROR"
    assert out["exc"].startswith("Traceback") and "RuntimeError: disk full" in out["exc"]


def test_json_writes_values_it_cannot_encode_as_text(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = captured
    logs.configure("INFO", "json", stream=stream)
    log.info("odd", extra={"event": "x", "what": {1, 2} - {2}, "中文": "扬尘"})
    out = json.loads(lines(stream)[0])
    assert out["what"] == "{1}" and out["中文"] == "扬尘"


def test_text_appends_extra_fields_as_key_value(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = captured
    logs.configure("INFO", "text", stream=stream)
    log.info("alert acknowledged", extra=ACK | {"actor": "li si", "note": ""})
    [line] = lines(stream)
    assert line.split(" ", 1)[1] == (
        "INFO dispatch.test: alert acknowledged event=alert.acknowledged alert_id=A-1 "
        'queue=north late=false seconds=12.5 stages=["ack"] actor="li si" note=""'
    )


def test_text_keeps_a_traceback_on_the_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = captured
    logs.configure("INFO", "text", stream=stream)
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("decode failed\nafter a newline")
    [line] = lines(stream)
    assert "decode failed\\nafter a newline | Traceback" in line
    assert line.endswith("ValueError: bad")


def test_configure_replaces_handlers_and_quiets_apscheduler(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = captured
    logs.configure("INFO", "json", stream=io.StringIO())
    logs.configure("INFO", "json", stream=stream)
    log.info("shown")
    logging.getLogger("apscheduler.executors.default").info("Job executed successfully")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    assert [json.loads(x)["message"] for x in lines(stream)] == [
        "shown", "Run time of job was missed",
    ]
    assert len(logging.getLogger().handlers) == 1


def test_configure_sets_the_level(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = captured
    logs.configure("warning", "text", stream=stream)
    log.info("not shown")
    log.warning("shown")
    assert [x.split(": ", 1)[1] for x in lines(stream)] == ["shown"]


def test_configure_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="one of text, json; got 'xml'"):
        logs.configure("INFO", "xml")  # type: ignore[arg-type]
