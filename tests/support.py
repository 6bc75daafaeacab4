"""Real servers for the integration tests: Mosquitto and an InfluxDB-v2-protocol server
(victoria-metrics), each started on a free loopback port, plus waiting helpers."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    #: the running process and its log, for tests that signal the broker or read its log
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    log_path: Path | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def pub(self, topic: str, payload: bytes, qos: int = 1,
            auth: tuple[str, str] | None = None) -> None:
        """Publish with the real `mosquitto_pub`, payload from stdin (bytes exactly);
        `auth` (user, password) for a broker with a password file."""
        login = ["-u", auth[0], "-P", auth[1]] if auth is not None else []
        subprocess.run(
            [require_binary("mosquitto_pub"), "-h", self.host, "-p", str(self.port),
             "-t", topic, "-q", str(qos), "-s", *login],
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
    """A Mosquitto on 127.0.0.1 without persistence; `extra` lines come last, so they may
    override the defaults (e.g. `persistence true`, see `persistence_conf`)."""
    port = port or free_port()
    with run_mosquitto_conf(
        workdir,
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"max_queued_messages 0\n{extra}\n",
        port,
    ) as broker:
        yield broker


@contextmanager
def run_mosquitto_conf(workdir: Path, conf_text: str, port: int) -> Iterator[Broker]:
    """A Mosquitto with this whole config, which must listen on 127.0.0.1:`port`."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    conf.write_text(conf_text)
    log_path = workdir / "mosquitto.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [require_binary("mosquitto"), "-c", str(conf)], stdout=log, stderr=log
        )
    try:
        wait_until(lambda: _port_open(port) or proc.poll() is not None, what="mosquitto")
        if proc.poll() is not None:
            raise RuntimeError(log_path.read_text())
        yield Broker("127.0.0.1", port, proc, log_path)
    finally:
        # SIGTERM: a clean stop, which is when a persistent broker saves its state
        proc.terminate()
        proc.wait(timeout=10)


def reload_mosquitto(broker: Broker) -> None:
    """SIGHUP: Mosquitto re-reads its config, password file and ACL."""
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGHUP)


def mosquitto_log(broker: Broker) -> str:
    assert broker.log_path is not None
    return broker.log_path.read_text(errors="replace")


@contextmanager
def broker_dir() -> Iterator[Path]:
    """A directory the broker may read and write. Started as root, Mosquitto drops to the
    `mosquitto` user, which can neither enter pytest's 0700 tmp dirs nor write a root-owned
    directory (it then fails to save with only "Permission denied"): so the directory is
    made directly under /tmp and, when we are root, handed to that user -- the `chown`
    config/mosquitto.conf asks of a deployment."""
    path = Path(tempfile.mkdtemp(prefix="lantian-mosquitto-"))
    try:
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("mosquitto")
            except KeyError:
                pass  # no such user: Mosquitto keeps running as root
            else:
                os.chown(path, user.pw_uid, user.pw_gid)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def persistence_conf(directory: Path, autosave_s: int = 1) -> str:
    """`run_mosquitto` extra lines for a broker that keeps sessions and queued messages
    in `directory` (a `broker_dir()`) across a clean restart."""
    return (f"persistence true\npersistence_location {directory}/\n"
            f"autosave_interval {autosave_s}\n")


def password_conf(directory: Path, users: dict[str, str]) -> str:
    """`run_mosquitto` extra lines for a broker that wants a user name and password;
    writes the password file (user -> password) in `directory` (a `broker_dir()`)."""
    write_password_file(directory, users)
    return f"allow_anonymous false\npassword_file {directory / 'passwd'}\n"


def write_password_file(directory: Path, users: dict[str, str]) -> None:
    """(Re)write it with the broker's own tool, so the hash is one this broker reads;
    a running broker reads it again on `reload_mosquitto`."""
    passwd, new = directory / "passwd", directory / "passwd.new"
    new.unlink(missing_ok=True)
    new.touch()
    for user, password in users.items():
        subprocess.run([require_binary("mosquitto_passwd"), "-b", str(new), user, password],
                       check=True, timeout=10, capture_output=True)
    new.chmod(0o644)  # readable by the `mosquitto` user a root-started broker becomes
    new.replace(passwd)


def tls_listener_conf(directory: Path, port: int) -> str:
    """`run_mosquitto` extra lines for a second listener, MQTT over TLS on `port`, with a
    self-signed certificate made in `directory` (a `broker_dir()`)."""
    key, cert = directory / "server.key", directory / "server.crt"
    subprocess.run(
        [require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"],
        check=True, timeout=60, capture_output=True,
    )
    key.chmod(0o644)  # a throwaway key, readable by the `mosquitto` user
    return f"listener {port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n"


@dataclass
class ClosingListener:
    """A TCP server that accepts connections and closes each at once, like a broker port
    that drops us right after connect; it counts the connections it accepted."""

    port: int
    accepted_at: list[float] = field(default_factory=list)


@contextmanager
def accepting(on_accept: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback TCP port whose connections `on_accept` is handed, on a thread that
    ends with the block; the port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)  # so the thread notices the end of the test
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            on_accept(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        done.set()
        thread.join(5)
        server.close()


@contextmanager
def run_closing_listener() -> Iterator[ClosingListener]:
    accepted_at: list[float] = []

    def close(conn: socket.socket) -> None:
        accepted_at.append(time.monotonic())
        conn.close()

    with accepting(close) as port:
        yield ClosingListener(port, accepted_at)


@dataclass
class Victoria:
    url: str
    proc: subprocess.Popen[bytes] | None = None  # for a test that stops or kills it

    def export(self, match: str) -> list[dict[str, object]]:
        """Raw samples of the series matching `match` (one JSON object a series)."""
        import json

        r = httpx.post(f"{self.url}/api/v1/export", data={"match[]": match}, timeout=5)
        r.raise_for_status()
        return [json.loads(line) for line in r.text.splitlines() if line.strip()]


@contextmanager
def run_victoria(workdir: Path, port: int | None = None, *flags: str) -> Iterator[Victoria]:
    """victoria-metrics on 127.0.0.1 (an InfluxDB v2 write API), with extra `flags`; the
    same `workdir` and port again is the same server restarted, data kept."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / "victoria.log").open("ab") as log:
        proc = subprocess.Popen(
            [require_binary("victoria-metrics"), f"-httpListenAddr=127.0.0.1:{port}",
             f"-storageDataPath={workdir / 'vm-data'}", "-retentionPeriod=100y",
             "-search.latencyOffset=0s", *flags],
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
        yield Victoria(url, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            proc.terminate()
        proc.wait(timeout=10)
