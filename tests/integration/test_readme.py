"""The README's shell examples work when pasted, against a live service.

Convention: a ```sh block of README.md whose first line is `# test: live` is meant to be
pasted into a shell while `scripts/run` runs the service with the shipped `config/`. This
test finds those blocks and runs each one, in README order, with `bash -euo pipefail`, so
any command that fails fails the test. Blocks without the marker are not run here (the
set-up commands, docker compose). A ```sh block that starts with `$ ` is a transcript:
the command (its `$ ` line and the lines continuing it with a trailing backslash) run in
the repository with the venv's `lantian` on PATH must print the JSON shown after it.

The service is the real one: `python -m lantian --config config run` with the shipped
`config/` on the real clock (the README stamps readings with `date`), against a Mosquitto
of its own. Only where it listens differs, through the environment variables the README
documents: `LANTIAN_MQTT_URL`, `LANTIAN_HTTP` (free ports) and `LANTIAN_STORE_URL` (a
temporary file). The README's commands run byte for byte as written; what points them at
those ports instead of localhost:1883 and localhost:8080 is environment too:
`XDG_CONFIG_HOME` names a folder with `mosquitto_pub` and `mosquitto_sub` option files
(`-h 127.0.0.1 -p PORT`), and `CURL_HOME` one with a `.curlrc` that maps localhost:8080 to
the service's port (`connect-to`) and turns HTTP errors into a failing exit status
(`fail-with-body`), so a 422 is a failure rather than a printed body.

Between the two blocks the reader waits for the alert to arrive; so does the test, on a
subscription of its own made before the first block runs. It then checks that the
README's own subscriptions showed the alert and the dead letter, and that the alert ended
up acknowledged by the caller the README's token names.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import orjson
import pytest

from tests.support import REPO, Broker, free_port, run_mosquitto, wait_until

pytestmark = pytest.mark.integration

MARKER: Final = "# test: live"
BLUE_SKY: Final = {"Authorization": "Bearer demo-blue-sky-officer-token"}


def live_blocks(readme: str) -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```$", readme, re.MULTILINE | re.DOTALL)
    return [b for b in blocks if b.startswith(MARKER + "\n")]


def test_the_marker_finds_the_two_examples() -> None:
    blocks = live_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 2
    assert "mosquitto_pub" in blocks[0] and "/ack" in blocks[1]


@dataclass
class Live:
    broker: Broker
    url: str
    shell_env: dict[str, str]
    workdir: Path


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with run_mosquitto(tmp_path / "mosquitto") as broker:
        http_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANTIAN_")}
        env.update(
            LANTIAN_MQTT_URL=broker.url, LANTIAN_HTTP=f"127.0.0.1:{http_port}",
            LANTIAN_STORE_URL=f"sqlite:///{tmp_path / 'lantian.sqlite'}",
        )
        log_path = tmp_path / "lantian.log"
        with log_path.open("wb") as log:
            service = subprocess.Popen(
                [sys.executable, "-m", "lantian", "--config", str(REPO / "config"), "run"],
                env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{http_port}"

        def healthy() -> bool:
            if service.poll() is not None:
                raise AssertionError(f"the service exited:\n{log_path.read_text()[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, timeout=60, what="the service's /healthz")
            clients = tmp_path / "clients"
            clients.mkdir()
            for tool in ("mosquitto_pub", "mosquitto_sub"):
                (clients / tool).write_text(f"-h {broker.host}\n-p {broker.port}\n")
            (clients / ".curlrc").write_text(
                f"connect-to = localhost:8080:127.0.0.1:{http_port}\nfail-with-body\n"
            )
            shell_env = {**env, "XDG_CONFIG_HOME": str(clients), "CURL_HOME": str(clients)}
            yield Live(broker, url, shell_env, tmp_path)
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)


@dataclass
class Ran:
    status: int
    output: Path

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def shell(live: Live) -> Iterator[Any]:
    """Runs a block as pasted; background jobs it leaves (the README's subscriptions)
    are stopped with its process group at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []

    def run(block: str, name: str) -> Ran:
        output = live.workdir / f"{name}.out"
        with output.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", block], env=live.shell_env,
                cwd=live.workdir, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(proc)
        return Ran(proc.wait(timeout=60), output)

    yield run
    for proc in started:
        with contextlib.suppress(ProcessLookupError):  # all of them gone already
            os.killpg(proc.pid, signal.SIGTERM)  # the group this test started, by its id


def test_the_readme_examples_run_against_a_live_service(live: Live, shell: Any) -> None:
    first, second = live_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    with live.broker.sub("lantian/queues/+/alerts", 1) as alerts, \
            live.broker.sub("lantian/deadletter", 1) as deadletters:
        ran = shell(first, "first")
        assert ran.status == 0, ran.text()
        alert = orjson.loads(alerts.messages(timeout=30)[0])
        letter = orjson.loads(deadletters.messages(timeout=30)[0])
    assert (alert["subject"], alert["queue"], alert["zone"]["id"], alert["state"]) == (
        "station:KY-CS-001", "blue_sky", "cs-01", "dispatched")
    assert (letter["code"], letter["reason"]) == ("missing_field", 'field "ts" is missing')

    ran = shell(second, "second")
    assert ran.status == 0, ran.text()
    assert f'"id":"{alert["id"]}"' in ran.text()  # the queue, as listed

    shown = httpx.get(f"{live.url}/api/alerts/{alert['id']}", headers=BLUE_SKY).json()
    assert shown["state"] == "acknowledged"
    assert [(e["kind"], e["actor"]) for e in shown["events"]][-1] == (
        "acknowledged", "blue-sky duty officer (demo)")  # the token's: a body's actor is not

    # the README's own subscriptions (started with &) saw what it says they show
    first_output = (live.workdir / "first.out").read_text(encoding="utf-8")
    assert f"lantian/queues/blue_sky/alerts {{\"id\":\"{alert['id']}\"" in first_output
    assert "lantian/deadletter {" in first_output


def transcripts(readme: str) -> list[tuple[str, str]]:
    """(command, output shown) of each ```sh block written as a `$ ` transcript."""
    found = []
    for block in re.findall(r"^```sh\n(\$ .*?)^```$", readme, re.MULTILINE | re.DOTALL):
        lines = block.splitlines()
        n = 1
        while lines[n - 1].endswith("\\"):
            n += 1
        found.append(("\n".join(lines[:n])[2:], "\n".join(lines[n:])))
    return found


def test_the_transcripts_print_what_they_show() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = transcripts(readme)
    assert len(found) == 1  # the HJ 212 decode
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTIAN_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for command, shown in found:
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", command], env=env, cwd=REPO,
                             capture_output=True, timeout=60)
        assert ran.returncode == 0, ran.stderr.decode()
        assert orjson.loads(ran.stdout) == orjson.loads(shown)

    # "Change one digit of the packet and the answer is ..." (the text after the block)
    command = found[0][0].replace("a34002-Rtd=0.187", "a34002-Rtd=0.188")
    ran = subprocess.run(["bash", "-uo", "pipefail", "-c", command], env=env, cwd=REPO,
                         capture_output=True, timeout=60)
    answer = orjson.loads(ran.stdout)
    assert (ran.returncode, answer["rejected"]) == (1, "hj212_crc")
    assert answer["reason"].startswith("CRC mismatch: packet says 5F00, computed ")
    assert '"rejected": "hj212_crc", "reason": "CRC mismatch: packet says 5F00, computed' \
        in readme
