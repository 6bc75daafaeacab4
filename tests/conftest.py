from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from lantian.app import serve, system_clock
from lantian.config import Settings, load_settings
from rules.records import Record
from tests.postgres import pg_server, pg_url, store_url  # noqa: F401  (fixtures: a real PostgreSQL)
from tests.support import REPO, Broker, Victoria, free_port, run_mosquitto, run_victoria

# a real InfluxDB 1.6 (influxd) for reading the time series back: the `influxdb` fixture
pytest_plugins = ["tests.influxdb"]

#: Stations for the public HJ 212 fixtures, whose MNs are not in the demo geography.
FIXTURE_STATIONS = [
    ("FX-AMBIENT", "JLYP01_AIR01_0001", 120.50, 30.04),
    ("FX-DUST", "0507A010003242", 120.51, 30.03),
    ("FX-GASES", "Y80110010000010", 120.49, 30.05),
    ("FX-STD", "010000A8900016F000169DC0", 120.48, 30.03),
    ("FX-OLD", "LD130133000015", 120.47, 30.04),
    ("FX-NOISE-LA", "ZX00001", 120.46, 30.05),
    ("FX-NOISE-LEQ", "010AQMS01000GD0201804060", 120.45, 30.04),
    ("FX-WATER", "81733553213013", 120.44, 30.03),
]

# No fixture station needs a [sources] entry: FX-GASES's lower-case CRC hex conforms.
FIXTURE_SOURCES = ""


def write_config(
    directory: Path, *, broker_url: str, http_port: int, store: Path, influx_url: str = "",
    extra: str = "",
) -> Path:
    """A config dir: the shipped geography plus the fixture stations, local servers."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "zones.geojson", directory / "zones.geojson")
    stations = json.loads((REPO / "config" / "stations.geojson").read_text())
    for sid, mn, lon, lat in FIXTURE_STATIONS:
        stations["features"].append(
            {"type": "Feature", "properties": {"id": sid, "mn": mn, "kind": "test"},
             "geometry": {"type": "Point", "coordinates": [lon, lat]}}
        )
    (directory / "stations.geojson").write_text(json.dumps(stations))
    (directory / "lantian.toml").write_text(
        f"""
[service]
http = "127.0.0.1:{http_port}"
[mqtt]
url = "{broker_url}"
client_id = "lantian-test-{http_port}-{os.urandom(4).hex()}"
reconnect_min_s = 0.2
reconnect_max_s = 1.0
[store]
url = "sqlite:///{store}"
[influx]
url = "{influx_url}"
token = "test-token"
flush_interval_ms = 200
[ingest.dji]
aircraft = {{ "1581F5BKD225D00BP891" = "KY-UAV-01" }}
docks = ["7CTDM3D00BVY4B"]
{FIXTURE_SOURCES}
{extra}
"""
    )
    return directory


def shipped_rules() -> str:
    """The [rules] and [dispatch] sections of the shipped config, for tests of the
    behaviour a deployment gets out of the box."""
    text = (REPO / "config" / "lantian.toml").read_text(encoding="utf-8")
    return text[text.index("\n[rules]\n"):]


class RunningService:
    """`lantian.app.serve` on its own thread and event loop, as the CLI would run it;
    records handed to the rules are collected in `records`."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = system_clock):
        self.settings = settings
        self.records: list[Record] = []
        self._clock = clock
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}"

    def start(self) -> RunningService:
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError("service did not become ready in 30 s")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            task = asyncio.create_task(
                serve(self.settings, self._stop, clock=self._clock,
                      records=self.records.append, ready=ready)
            )
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the test by start() / stop()
            self._error = exc
            self._ready.set()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self._error is not None:
            raise self._error


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with run_mosquitto(tmp_path_factory.mktemp("mosquitto")) as b:
        yield b


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Victoria]:
    with run_victoria(tmp_path_factory.mktemp("victoria")) as v:
        yield v


@pytest.fixture
def config_dir(tmp_path: Path, broker: Broker) -> Path:
    return write_config(
        tmp_path / "config", broker_url=broker.url, http_port=free_port(),
        store=tmp_path / "lantian.sqlite",
    )


@pytest.fixture
def service(config_dir: Path) -> Iterator[RunningService]:
    svc = RunningService(load_settings(config_dir)).start()
    yield svc
    svc.stop()


#: The folder of the running test's service logs (`service_logs`), for its report.
SERVICE_LOGS = pytest.StashKey[Path]()
#: How much of each service log a failure report shows.
LOG_TAIL = 4000


@pytest.fixture
def service_logs(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this test's service processes write their logs: the run's artefacts
    ($LANTIAN_TEST_ARTEFACTS, else `artefacts/` in pytest's base temporary folder), one
    folder a test, so that they outlive pytest's clean-up of its temporary folders; the
    tail of each is shown in the report of a test that fails."""
    where = os.environ.get("LANTIAN_TEST_ARTEFACTS")
    root = (Path(where) if where else tmp_path_factory.getbasetemp() / "artefacts")
    base = root / "service-logs" / re.sub(r"[^\w.=-]+", "_", request.node.nodeid)
    folder, n = base, 1
    while folder.exists():  # the same test again in a later run: keep both
        n += 1
        folder = base.with_name(f"{base.name}.{n}")
    folder.mkdir(parents=True)
    request.node.stash[SERVICE_LOGS] = folder
    return folder


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    folder = item.stash.get(SERVICE_LOGS, None)
    if report.failed and folder is not None:
        for log in sorted(folder.glob("*.log")):
            text = log.read_text(errors="replace")
            report.sections.append((f"{log.name}, last {LOG_TAIL} characters (all: {log})",
                                    text[-LOG_TAIL:]))
    return report
