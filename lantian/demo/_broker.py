"""The MQTT broker for the demo: an embedded Mosquitto on a free loopback port, or one the
user names with --broker.

The embedded broker is a child process with its own config and log in the demo's work
directory, the way the integration tests start theirs (tests/support.run_mosquitto). It
queues QoS 1 messages by bytes rather than count (`max_queued_messages 0`), like the
shipped config/mosquitto.conf: a burst of simulated traffic is delayed, never dropped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

INSTALL_HINT = (
    "the demo needs an MQTT broker: install Mosquitto (`sudo apt-get install mosquitto`) "
    "or pass --broker mqtt://host:port"
)


class BrokerUnavailable(RuntimeError):
    """No broker can be had; the message says what to do."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    embedded: bool

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """mqtt://host[:port] (plain TCP; the demo has no credentials to offer)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"--broker: expected mqtt://host:port, got {url!r}")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise ValueError(f"--broker: bad port in {url!r}") from exc
    return BrokerAddress(parts.hostname, port, embedded=False)


def check_reachable(broker: BrokerAddress, timeout_s: float = 3.0) -> None:
    """Fail early and plainly, rather than have every client retry a broker not there."""
    try:
        socket.create_connection((broker.host, broker.port), timeout=timeout_s).close()
    except OSError as exc:
        raise BrokerUnavailable(f"cannot reach the broker at {broker.url}: {exc}") from exc


def find_mosquitto() -> str | None:
    # Debian installs the broker in /usr/sbin, which a non-root PATH often lacks
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def embedded_mosquitto(workdir: Path, timeout_s: float = 10.0) -> Iterator[BrokerAddress]:
    binary = find_mosquitto()
    if binary is None:
        raise BrokerUnavailable(INSTALL_HINT)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_queued_bytes 268435456\n",
        encoding="utf-8",
    )
    log_path = workdir / "mosquitto.log"
    with log_path.open("wb") as log:
        # its own session: Ctrl-C in the terminal reaches the demo, which then stops the
        # service before the broker, instead of the broker dying under the service
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log,
                                start_new_session=True)
    try:
        # readiness: the port accepts connections (or the process has died: say why)
        deadline = time.monotonic() + timeout_s
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log_path.read_text(encoding="utf-8", errors="replace").strip()
                raise BrokerUnavailable(f"Mosquitto did not start: {text[-500:] or 'no output'}")
            time.sleep(0.02)  # poll interval of a deadline wait
        yield BrokerAddress("127.0.0.1", port, embedded=True)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
