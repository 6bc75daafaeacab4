"""A real InfluxDB for the tests of reading the time series back: Debian's `influxdb`
package (InfluxDB 1.6, `influxd`), the only InfluxDB there is here. It serves the
v1 `/query` (InfluxQL) and `/write` endpoints the reader and the tests use; it has no
`/api/v2/write`, so the service's own writer cannot write to it (victoria-metrics, used for
the writer's tests, takes writes but answers no InfluxQL).

Started on free loopback ports with a generated config in a temporary directory (its
meta, data and WAL there; reporting, the monitor's own database, continuous queries,
subscriptions and every listener but HTTP off), one database created, stopped at the end.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, require_binary, wait_until

DATABASE = "lantian"


@dataclass
class InfluxDB:
    url: str
    database: str
    proc: subprocess.Popen[bytes]
    log: Path

    def write(self, lines: list[str]) -> None:
        """Line protocol at millisecond precision, through v1 `/write`."""
        r = httpx.post(f"{self.url}/write", params={"db": self.database, "precision": "ms"},
                       content="\n".join(lines).encode(), timeout=5)
        assert r.status_code == 204, r.text

    def query(self, q: str) -> httpx.Response:
        return httpx.post(f"{self.url}/query", params={"db": self.database, "q": q},
                          timeout=5)


def config_text(workdir: Path, http_port: int, rpc_port: int) -> str:
    return f"""
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{workdir / 'meta'}"

[data]
  dir = "{workdir / 'data'}"
  wal-dir = "{workdir / 'wal'}"
  query-log-enabled = false

[coordinator]
  query-timeout = "10s"

[retention]
  enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  flux-enabled = false

[subscriber]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false

[continuous_queries]
  enabled = false
"""


@contextmanager
def run_influxdb(workdir: Path) -> Iterator[InfluxDB]:
    """influxd on 127.0.0.1 with database `lantian` created; stopped when the block ends
    (killed if it will not stop)."""
    binary = require_binary("influxd")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(config_text(workdir, port, free_port()))
    log = workdir / "influxd.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([binary, "run", "-config", str(conf)], stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        try:
            return httpx.get(f"{url}/ping", timeout=1).status_code == 204
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=30, what="influxd")
        r = httpx.post(f"{url}/query", params={"q": f'CREATE DATABASE "{DATABASE}"'}, timeout=5)
        assert r.status_code == 200 and "error" not in r.text, r.text
        yield InfluxDB(url, DATABASE, proc, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    with run_influxdb(tmp_path_factory.mktemp("influxdb")) as server:
        yield server
