"""`lantian run --log-format json` (and `LANTIAN_LOG_FORMAT=json`): the service, started
against a real Mosquitto, writes nothing on stderr but JSON objects, one a line, from
start-up through a dead letter to shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import write_config
from tests.support import Broker, free_port, wait_until

pytestmark = pytest.mark.integration

JUNK_TOPIC = "lantian/sensors/KY-AQ-001/reading"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_every_stderr_line_is_a_json_object(tmp_path: Path, broker: Broker, how: str) -> None:
    port = free_port()
    config = write_config(tmp_path / "config", broker_url=broker.url, http_port=port,
                          store=tmp_path / "lantian.sqlite")
    env = {k: v for k, v in os.environ.items() if k != "LANTIAN_LOG_FORMAT"}
    flag = ["--log-format", "json"] if how == "flag" else []
    if how == "env":
        env["LANTIAN_LOG_FORMAT"] = "json"
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lantian", "--config", str(config), "run", *flag],
            stdout=subprocess.DEVNULL, stderr=err, env=env,
        )
    try:
        def up() -> bool:
            assert proc.poll() is None, f"the service exited: {stderr.read_text()[-3000:]}"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=30, what="the service to answer /healthz")
        broker.pub(JUNK_TOPIC, b"\xff not a reading")  # a dead letter: a line about it
        wait_until(lambda: b"dead letter" in stderr.read_bytes(), timeout=10,
                   what="the dead letter's log line")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0

    text = stderr.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()]  # fails on any other line
    assert all(isinstance(r, dict) and {"ts", "level", "logger", "message"} <= r.keys()
               for r in records), text
    messages = [r["message"] for r in records]
    assert any(m.startswith("Lantian listening on http://127.0.0.1:") for m in messages), text
    assert any(m.startswith("dead letter from lantian/sensors/") for m in messages), text


def test_the_http_servers_own_errors_are_json_lines_too(tmp_path: Path, broker: Broker) -> None:
    with socket.socket() as taken:  # the port is in use: uvicorn says so at ERROR
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "config", broker_url=broker.url, http_port=port,
                              store=tmp_path / "lantian.sqlite")
        done = subprocess.run(
            [sys.executable, "-m", "lantian", "--config", str(config), "run",
             "--log-format", "json"],
            capture_output=True, timeout=60,
        )
    lines = done.stderr.decode().splitlines()
    assert done.returncode != 0 and lines
    assert any("address already in use" in line for line in lines), lines
    for line in lines:
        json.loads(line)
