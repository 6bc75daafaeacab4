"""What the deployment keeps and lets through: dead letters in a running service, kept
up to the cap; the shipped Mosquitto ACL with per-device accounts made by
`deploy/mosquitto/add-device`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest import PAYLOAD_CAP
from tests.conftest import RunningService
from tests.support import REPO, Broker, require_binary, run_mosquitto, wait_until

pytestmark = pytest.mark.integration

ACL = REPO / "deploy" / "mosquitto" / "acl"
ADD_DEVICE = REPO / "deploy" / "mosquitto" / "add-device"


def test_a_megabyte_of_junk_costs_the_cap(broker: Broker, service: RunningService) -> None:
    junk = os.urandom(1 << 20)
    topic = "lantian/sensors/KY-CS-001/reading"
    with broker.sub("lantian/deadletter", count=1) as sub:
        broker.pub(topic, junk)
        (published,) = sub.messages()
    body = json.loads(published)
    assert len(base64.b64decode(body["payload_b64"])) == PAYLOAD_CAP
    assert (body["payload_size"], body["payload_sha256"]) == (
        len(junk), hashlib.sha256(junk).hexdigest())

    def stored() -> list[tuple[str, str, bytes, int, str]]:
        db = sqlite3.connect(service.settings.store_path)
        try:
            return db.execute("SELECT topic, code, payload, payload_size, payload_sha256"
                              " FROM dead_letters").fetchall()
        finally:
            db.close()

    ((t, code, payload, size, sha),) = wait_until(stored, what="the stored dead letter")
    assert (t, code, payload, size, sha) == (
        topic, "too_large", junk[:PAYLOAD_CAP], len(junk), hashlib.sha256(junk).hexdigest())
    assert stat.S_IMODE(service.settings.store_path.stat().st_mode) == 0o600


def _add_device(passwd: Path, device: str) -> str:
    done = subprocess.run([str(ADD_DEVICE), "--passwd", str(passwd), device],
                          capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


@contextmanager
def _subscriber(broker: Broker, user: str, password: str, topic: str,
                count: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [require_binary("stdbuf"), "-oL", require_binary("mosquitto_sub"),
         "-h", broker.host, "-p", str(broker.port), "-u", user, "-P", password,
         "-t", topic, "-q", "1", "-C", str(count), "-d", "-F", "%t %p"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        while b"SUBACK" not in (line := proc.stdout.readline()):
            assert line, "mosquitto_sub exited before subscribing"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def _pub(broker: Broker, user: str, password: str, topic: str, payload: str) -> None:
    subprocess.run(
        [require_binary("mosquitto_pub"), "-h", broker.host, "-p", str(broker.port),
         "-u", user, "-P", password, "-t", topic, "-q", "1", "-m", payload],
        check=True, timeout=10, capture_output=True,
    )


def _secured(passwd: Path) -> str:
    # started as root, Mosquitto drops to the `mosquitto` user, which cannot read the 0600
    # password file of the test's user: then keep root, as the entrypoint's chown would
    keep = "user root\n" if os.geteuid() == 0 else ""
    return f"{keep}allow_anonymous false\npassword_file {passwd}\nacl_file {ACL}\n"


def test_a_device_publishes_under_its_own_id_only(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    secret = {d: _add_device(passwd, d) for d in ("KY-CS-001", "KY-CS-002")}
    secret["lantian"] = "lantian-test-password"
    subprocess.run([require_binary("mosquitto_passwd"), "-b", str(passwd), "lantian",
                    secret["lantian"]], check=True, timeout=10)
    assert oct(passwd.stat().st_mode & 0o777) == "0o600"
    extra = _secured(passwd)
    with run_mosquitto(tmp_path / "mosquitto", extra=extra) as broker, \
            _subscriber(broker, "lantian", secret["lantian"], "lantian/sensors/#", 2) as sub:
        _pub(broker, "KY-CS-001", secret["KY-CS-001"], "lantian/sensors/KY-CS-001/reading",
             "own")
        # denied: MQTT 3.1.1 gives no error, the broker drops it
        _pub(broker, "KY-CS-001", secret["KY-CS-001"], "lantian/sensors/KY-CS-002/reading",
             "forged")
        _pub(broker, "KY-CS-001", secret["KY-CS-001"], "lantian/drones/KY-CS-002/telemetry",
             "forged")
        # the marker comes after the forgeries on the same path: had they been let
        # through, the subscriber's two messages would include one
        _pub(broker, "KY-CS-001", secret["KY-CS-001"], "lantian/sensors/KY-CS-001/reading",
             "marker")
        out, _ = sub.communicate(timeout=10)
    got = [line for line in out.decode().splitlines()
           if line.startswith("lantian/")]
    assert got == ["lantian/sensors/KY-CS-001/reading own",
                   "lantian/sensors/KY-CS-001/reading marker"]


def test_the_console_account_hears_escalations_only_the_service_writes(
    tmp_path: Path,
) -> None:
    passwd = tmp_path / "passwd"
    secret = {"KY-CS-001": _add_device(passwd, "KY-CS-001")}
    for user in ("lantian", "officer-console"):
        secret[user] = f"{user}-test-password"
        subprocess.run([require_binary("mosquitto_passwd"), "-b", str(passwd), user,
                        secret[user]], check=True, timeout=10)
    with run_mosquitto(tmp_path / "mosquitto", extra=_secured(passwd)) as broker, \
            _subscriber(broker, "officer-console", secret["officer-console"],
                        "lantian/escalations", 1) as sub:
        # a device may not raise an escalation (dropped); the service's own comes through
        _pub(broker, "KY-CS-001", secret["KY-CS-001"], "lantian/escalations", "forged")
        _pub(broker, "lantian", secret["lantian"], "lantian/escalations", "real")
        out, _ = sub.communicate(timeout=10)
    assert [line for line in out.decode().splitlines() if line.startswith("lantian/")] == [
        "lantian/escalations real"]
    assert b"(128)" not in out  # the SUBACK granted the subscription (0x80 refuses it)


def test_a_wrong_password_is_refused(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    _add_device(passwd, "KY-CS-001")
    extra = _secured(passwd)
    with run_mosquitto(tmp_path / "mosquitto", extra=extra) as broker:
        done = subprocess.run(
            [require_binary("mosquitto_pub"), "-h", broker.host, "-p", str(broker.port),
             "-u", "KY-CS-001", "-P", "not-the-password", "-t",
             "lantian/sensors/KY-CS-001/reading", "-q", "1", "-m", "x"],
            capture_output=True, text=True, timeout=10,
        )
    assert done.returncode != 0 and "not authorised" in (done.stderr + done.stdout).lower()


def test_add_device_refuses_ids_that_would_widen_the_acl(tmp_path: Path) -> None:
    for bad in ("KY/CS", "+", "#", "a:b", "lantian", "-x"):
        done = subprocess.run([str(ADD_DEVICE), "--passwd", str(tmp_path / "p"), bad],
                              capture_output=True, text=True, timeout=10)
        assert done.returncode == 2, bad
    assert not (tmp_path / "p").exists()
