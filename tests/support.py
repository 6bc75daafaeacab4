"""Real servers for the integration tests: Mosquitto and an InfluxDB-v2-protocol server
(victoria-metrics), each started on a free loopback port, plus waiting helpers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"  # copied in, with their sources: fixtures/README.md

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)  # poll interval of this deadline wait, not synchronisation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require_binary(name: str) -> str:
    # Debian installs the broker in /usr/sbin, which a non-root PATH often lacks
    for candidate in (shutil.which(name), f"/usr/sbin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(f"{name} is not installed; the integration tests need it (see .ci/run)")


@dataclass
class Broker:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def pub(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish with the real `mosquitto_pub`, payload from stdin (bytes exactly)."""
        subprocess.run(
            [require_binary("mosquitto_pub"), "-h", self.host, "-p", str(self.port),
             "-t", topic, "-q", str(qos), "-s"],
            input=payload, check=True, timeout=10,
        )

    @contextmanager
    def sub(self, topic: str, count: int) -> Iterator[Subscription]:
        """A real `mosquitto_sub` that exits after `count` messages; it is subscribed
        when the block starts."""
        # stdbuf: line-buffered stdout, or the SUBACK line sits in a pipe buffer
        proc = subprocess.Popen(
            [require_binary("stdbuf"), "-oL", require_binary("mosquitto_sub"),
             "-h", self.host, "-p", str(self.port),
             "-t", topic, "-q", "1", "-C", str(count), "-d"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        stdout = proc.stdout
        try:
            # -d prints the SUBACK once subscribed; wait for it rather than guessing
            while b"SUBACK" not in (line := stdout.readline()):
                if not line:
                    raise RuntimeError("mosquitto_sub exited before subscribing")
            yield Subscription(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            stdout.close()


@dataclass
class Subscription:
    proc: subprocess.Popen[bytes]

    def messages(self, timeout: float = 10.0) -> list[bytes]:
        """The payloads received, once `mosquitto_sub` has its count (fails after
        `timeout`); its own debug lines (-d) are left out."""
        out, _ = self.proc.communicate(timeout=timeout)
        debug = (b"Client ", b"Subscribed (")
        return [line for line in out.splitlines() if line and not line.startswith(debug)]


@contextmanager
def run_mosquitto(workdir: Path, extra: str = "", port: int | None = None) -> Iterator[Broker]:
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"max_queued_messages 0\n{extra}\n"
    )
    with (workdir / "mosquitto.log").open("wb") as log:
        proc = subprocess.Popen(
            [require_binary("mosquitto"), "-c", str(conf)], stdout=log, stderr=log
        )
    try:
        wait_until(lambda: _port_open(port) or proc.poll() is not None, what="mosquitto")
        if proc.poll() is not None:
            raise RuntimeError((workdir / "mosquitto.log").read_text())
        yield Broker("127.0.0.1", port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Victoria:
    url: str

    def export(self, match: str) -> list[dict[str, object]]:
        """Raw samples of the series matching `match` (one JSON object a series)."""
        import json

        r = httpx.post(f"{self.url}/api/v1/export", data={"match[]": match}, timeout=5)
        r.raise_for_status()
        return [json.loads(line) for line in r.text.splitlines() if line.strip()]


@contextmanager
def run_victoria(workdir: Path, port: int | None = None) -> Iterator[Victoria]:
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / "victoria.log").open("wb") as log:
        proc = subprocess.Popen(
            [require_binary("victoria-metrics"), f"-httpListenAddr=127.0.0.1:{port}",
             f"-storageDataPath={workdir / 'vm-data'}", "-retentionPeriod=100y",
             "-search.latencyOffset=0s"],
            stdout=log, stderr=log,
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError((workdir / "victoria.log").read_text()[-2000:])
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout=30, what="victoria-metrics")
        yield Victoria(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
