"""`lantian demo`: the Keyan blue-sky story of DESIGN.md, end to end, in one command.

Real components, simulated time: an MQTT broker (an embedded Mosquitto unless --broker
names one), the service itself (`lantian.app.serve` with the shipped config/ and a few
demo overrides), simulated monitors and a drone publishing over MQTT as real devices do,
and duty officers acting through the HTTP API with the demo tokens. All share one
simulated clock (the service's injected clock), stepped through 06:00-20:00 of
2026-06-12 at --speed times real time. At the end the bureau's response-time report is
fetched from the API, shown, and written as an HTML page.

Modules: `_story` the day as data · `_clock` simulated time · `_sim` stepping it in
lockstep with the service · `_broker` the embedded broker · `_config` the demo's
deployment · `_service` the service on its thread · `_wire` the demo's MQTT clients ·
`_devices` simulated monitors and drone · `_officers` the duty officers · `_console` the
live view · `_report` the report and the story's check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
from rich.live import Live

from dispatch import Role
from lantian.config import ConfigError, Settings, load_settings
from lantian.demo import _story as story
from lantian.demo._broker import (
    INSTALL_HINT,
    BrokerAddress,
    BrokerUnavailable,
    check_reachable,
    embedded_mosquitto,
    find_mosquitto,
    free_port,
    parse_broker_url,
)
from lantian.demo._clock import SimClock
from lantian.demo._config import shipped_config_dir, write_demo_config
from lantian.demo._console import DayView, new_console
from lantian.demo._devices import DroneSim, StationSim
from lantian.demo._officers import DutyDesk
from lantian.demo._report import fetch_report, metrics_table, story_verdict, write_report
from lantian.demo._service import ServiceThread
from lantian.demo._sim import Ledger, Scheduler
from lantian.demo._wire import DeviceLink, Observer

__all__ = ["add_arguments", "main", "run"]

#: A simulated day (06:00-20:00) in about a minute.
DEFAULT_SPEED = (story.DAY_END - story.DAY_START).total_seconds() / 60
DEFAULT_OUT = "lantian-demo-report"
DESCRIPTION = ("The Keyan blue-sky story end to end: broker, service, simulated monitors, "
               "drone and duty officers, on simulated time; then the day's response-time "
               "report.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed", type=float, default=DEFAULT_SPEED,
        help=f"simulated seconds per real second (default {DEFAULT_SPEED:g}: the day "
        "06:00-20:00 in about a minute)")
    parser.add_argument("--seed", type=int, default=612,
                        help="seed of the measurement noise (default 612): same seed, same day")
    parser.add_argument("--headless", action="store_true",
                        help="plain log lines instead of the live view")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the service and its API up after the day, until Ctrl-C")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"where to write the HTML report (default ./{DEFAULT_OUT}/)")
    parser.add_argument("--broker", metavar="mqtt://HOST:PORT",
                        help="use this MQTT broker instead of starting Mosquitto; topics then "
                        "go under lantian-demo/ so a deployment on it is not disturbed")
    parser.add_argument("--workdir", help="keep the demo's config, store and broker log here "
                        "(default: a temporary directory, removed afterwards)")
    # SUPPRESS: when `lantian --config DIR demo` set it already, this does not reset it
    parser.add_argument("--config", default=argparse.SUPPRESS,
                        help="the deployment to start from (default: the shipped config/, "
                        "whose geography the story is written for)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lantian demo", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """The demo for parsed arguments (`add_arguments`); the process exit status."""
    if not args.speed > 0:
        print("lantian demo: --speed must be above 0", file=sys.stderr)
        return 2
    try:
        broker = parse_broker_url(args.broker) if args.broker else None
    except ValueError as exc:
        print(f"lantian demo: {exc}", file=sys.stderr)
        return 2
    if broker is None and find_mosquitto() is None:
        print(f"lantian demo: {INSTALL_HINT}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # At high speed the sweeps are due more often than a busy service gets to them, and
    # apscheduler warns of every one it skips; the next one does the same job.
    scheduler_log = logging.getLogger("apscheduler")
    level = scheduler_log.level
    scheduler_log.setLevel(logging.ERROR)
    try:
        with _workdir(args.workdir) as workdir:
            return asyncio.run(_demo(args, workdir, broker))
    except (BrokerUnavailable, ConnectionError) as exc:  # no broker, or not the one named
        print(f"lantian demo: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"lantian demo: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lantian demo: interrupted", file=sys.stderr)
        return 130
    finally:
        scheduler_log.setLevel(level)


@contextlib.contextmanager
def _workdir(path: str | None) -> Iterator[Path]:
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="lantian-demo-") as tmp:
        yield Path(tmp)


async def _demo(args: argparse.Namespace, workdir: Path, broker: BrokerAddress | None) -> int:
    if broker is not None:
        check_reachable(broker)
        return await _with_broker(args, workdir, broker, "lantian-demo")
    with embedded_mosquitto(workdir / "mosquitto") as embedded:
        return await _with_broker(args, workdir, embedded, "lantian")


@dataclass(frozen=True, slots=True)
class Tokens:
    blue_sky: str
    law_enforcement: str
    bureau: str
    admin: str


def _tokens(settings: Settings, admin: str) -> Tokens:
    by = {(t.role, t.queue): t.secret for t in settings.dispatch.tokens}
    try:
        return Tokens(by[Role.OFFICER, "blue_sky"], by[Role.OFFICER, "law_enforcement"],
                      by[Role.BUREAU, None], admin)
    except KeyError as exc:
        raise ConfigError(str(settings.config_dir / "lantian.toml"), "dispatch.tokens",
                          f"the demo needs the officer and bureau tokens; missing {exc}") \
            from exc


def _deployment(args: argparse.Namespace, workdir: Path, broker: BrokerAddress,
                prefix: str, admin_token: str) -> Settings:
    source = Path(getattr(args, "config", None) or shipped_config_dir())
    # SLA and no-data sweeps every ~15 simulated seconds, as the shipped 15 s would be
    # in real time; no faster than 20 times a second (each is a store query)
    sweep_s = round(max(15.0 / args.speed, 0.05), 3)
    config = write_demo_config(source, workdir / "config", {
        ("service", "http"): f"127.0.0.1:{free_port()}",
        ("service", "log_level"): "warning",
        ("mqtt", "url"): broker.url,
        # its own session, forgotten when it disconnects: nothing from an earlier run
        ("mqtt", "client_id"): f"lantian-demo-{secrets.token_hex(4)}",
        ("mqtt", "session_expiry_s"): 0,
        ("mqtt", "topic_prefix"): prefix,
        ("mqtt", "reconnect_min_s"): 0.2,
        ("mqtt", "reconnect_max_s"): 2.0,
        ("store", "url"): f"sqlite:///{(workdir / 'lantian.sqlite').resolve()}",
        ("influx", "url"): "",
        ("dispatch", "sweep_s"): sweep_s,
        ("rules", "sweep_s"): sweep_s,
    })
    settings = load_settings(config, {"LANTIAN_ADMIN_TOKEN": admin_token})
    missing = [s.id for s in story.STATIONS if s.id not in settings.stations]
    if missing:
        raise ConfigError(str(config / "stations.geojson"), "features",
                          f"the demo's stations are missing: {', '.join(missing)}")
    return settings


async def _with_broker(args: argparse.Namespace, workdir: Path, broker: BrokerAddress,
                       prefix: str) -> int:
    admin_token = secrets.token_urlsafe(24)  # this run's, for the report and for exploring
    settings = _deployment(args, workdir, broker, prefix, admin_token)
    tokens = _tokens(settings, admin_token)
    clock = SimClock(story.DAY_START, args.speed)
    ledger = Ledger(asyncio.get_running_loop())
    service = ServiceThread(settings, clock, ledger.record_taken)
    console = new_console()
    say = (lambda line: print(line, flush=True)) if args.headless else None
    view = DayView(clock, story.DAY_START, story.DAY_END, ledger, prefix, args.speed, say)
    if args.headless:
        print(f"lantian demo: broker {broker.url}, service {service.base_url}, "
              f"{story.DAY_START:%Y-%m-%d %H:%M}-{story.DAY_END:%H:%M} at ×{args.speed:g}",
              flush=True)
    try:
        service.start()
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30.0) as http:
            with _Day(args, settings, broker, prefix, clock, ledger, view, http, tokens) as day:
                clock.begin_pacing()
                if args.headless:
                    await day.sim.run_until(story.DAY_END)
                else:
                    await _live(day.sim, view)
                await ledger.caught_up(10.0)  # the last readings, taken before the report
                report = await fetch_report(http, tokens.bureau, tokens.admin, story.DAY)
                verdict = story_verdict(report, day.desk.landed)
                failures = [*verdict.problems, *day.desk.failures]
            page = write_report(report, Path(args.out), settings.config_dir, verdict.summary)
            console.print()
            console.print(metrics_table(report))
            console.print(verdict.summary)
            for problem in failures:
                console.print(f"[red]problem:[/] {problem}")
            console.print(f"Report: {page.resolve()}")
            if args.keep_running:
                await _keep_running(clock, service, broker, prefix, tokens)
            return 1 if failures else 0
    finally:
        service.stop()


class _Day:
    """The simulated world around the service: devices, the officers, the observer that
    feeds them and the console; connected on entry, disconnected on exit."""

    def __init__(self, args: argparse.Namespace, settings: Settings, broker: BrokerAddress,
                 prefix: str, clock: SimClock, ledger: Ledger, view: DayView,
                 http: httpx.AsyncClient, tokens: Tokens) -> None:
        self.args, self.settings, self.broker, self.prefix = args, settings, broker, prefix
        self.ledger, self.view = ledger, view
        self.sim = Scheduler(clock, ledger)
        self.links: list[DeviceLink] = []
        self.observer: Observer | None = None
        self.drone = DroneSim(story.DRONE, prefix, self._link(story.DRONE).send, self.sim,
                              view.note)
        self.desk = DutyDesk(self.sim, http, {"blue_sky": tokens.blue_sky,
                                              "law_enforcement": tokens.law_enforcement},
                             self.drone, view.note)
        view.status[story.DRONE] = self.drone.describe

    def _link(self, device: str) -> DeviceLink:
        # a fresh client id per run: a broker keeps sessions by id
        self.links.append(DeviceLink(f"{device}-{secrets.token_hex(3)}", self.broker,
                                     self.ledger))
        return self.links[-1]

    def __enter__(self) -> _Day:
        try:
            p = self.prefix
            self.observer = Observer(
                self.broker,
                [f"{p}/queues/+/alerts", f"{p}/alerts/+/events", f"{p}/escalations",
                 f"{p}/deadletter"],
                asyncio.get_running_loop(), self._on_wire, self._on_any_thread,
                f"demo-observer-{secrets.token_hex(3)}",
            )
            for spec in story.STATIONS:
                StationSim(spec, self.settings.stations[spec.id].mn, p, self._link(spec.id).send,
                           self.sim, self.args.seed).start(story.DAY_START)
            self.drone.start(story.DAY_START, story.PATROLS)
            if self.args.headless:
                _hourly(self.sim, self.view)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.observer is not None:
            self.observer.close()
        for device in self.links:
            device.close()

    def _on_wire(self, topic: str, payload: bytes) -> None:
        self.view.on_message(topic, payload)
        if topic.startswith(f"{self.prefix}/queues/"):
            self.desk.notified(orjson.loads(payload))

    def _on_any_thread(self, topic: str, _payload: bytes) -> None:
        if topic == f"{self.prefix}/deadletter":
            self.ledger.dead_letter()  # a message taken, if not as a record


def _hourly(sim: Scheduler, view: DayView) -> None:
    """Headless: a line on the hour, so a log shows the day passing."""
    t = story.DAY_START + timedelta(hours=1)
    while t < story.DAY_END:
        def tick(t: str = f"{t:%H:%M}") -> None:
            queues = ", ".join(f"{q} {n}" for q, n in view.open_by_queue().items())
            view.note(f"── {t} ── {view.ledger.settled:,} messages taken; open: {queues}")
        sim.at(t, tick)
        t += timedelta(hours=1)


async def _live(sim: Scheduler, view: DayView) -> None:
    with Live(view.render(), console=new_console(), auto_refresh=False,
              redirect_stderr=True, redirect_stdout=True) as live:
        day = asyncio.create_task(sim.run_until(story.DAY_END))
        try:
            # redraw from this loop, which owns the view's state: no locks needed
            while not day.done():
                live.update(view.render(), refresh=True)
                await asyncio.wait({day}, timeout=0.1)
            live.update(view.render(), refresh=True)
        finally:
            if not day.done():
                day.cancel()
        await day


async def _keep_running(clock: SimClock, service: ServiceThread, broker: BrokerAddress,
                        prefix: str, tokens: Tokens) -> None:
    clock.run_free()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    url = service.base_url
    until = story.DAY + timedelta(days=1)
    print(f"""
The service is still running (simulated time now runs at real-time rate).
  API        {url}
             curl -H 'Authorization: Bearer {tokens.blue_sky}' {url}/api/alerts
  metrics    {url}/api/metrics/response-times?since={story.DAY}&until={until}
  broker     {broker.url}   (topics under {prefix}/)
             mosquitto_sub -p {broker.port} -t '{prefix}/#' -v
  tokens     blue-sky officer      {tokens.blue_sky}
             law-enforcement       {tokens.law_enforcement}
             environment bureau    {tokens.bureau}
             admin (this run)      {tokens.admin}
The simulated devices have stopped: in 10 minutes the service raises no-data alerts for
the stations, as it should. Ctrl-C to stop.""", flush=True)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
