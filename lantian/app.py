"""The composition root: builds every piece from Settings and runs them on one event loop.

No business logic here: a straight line of construction, then run until told to stop.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest

from dispatch import (
    MAX_PHOTO,
    ROWS_SKIPPED,
    AlertTopics,
    Clock,
    Dispatcher,
    DispatchMetrics,
    IncidentPoints,
    MediaStore,
    Outbox,
    OutboxBacklog,
    Publication,
    Queries,
    SqliteOutbox,
    StreamHub,
    api_router,
)
from dispatch.feed import ChangeFeed, PgWakeup
from dispatch.flights import Flights
from dispatch.notify import DeliveryWorker, Notifier, SqliteDeliveries
from dispatch.stores import (
    PgStore,
    ReadLane,
    SqlStore,
    StoreUnavailable,
    Turns,
    WalCheckpointer,
)
from dispatch.users import SqliteUsers
from ingest import (
    DataGap,
    Deduplicator,
    IngestMetrics,
    Ingestor,
    MqttConnection,
    RecordSink,
    SqliteDataGaps,
    SqliteDeadLetters,
    TimeSeriesWriter,
)
from ingest.hj212_tcp import Hj212Server
from ingest.timeseries import TimeSeriesReader
from lantian.config import Settings
from lantian.console import known_drones, map_view, mount_console
from lantian.hj212_api import loggers_routes
from lantian.http import BoundedRead, create_app
from lantian.names import gazetteer_of
from lantian.pipeline import RulesPipeline
from lantian.recovery import Burst, Checkpoints
from lantian.store import open_configured_store
from rules.records import Record

log = logging.getLogger("lantian")

def system_clock() -> datetime:
    return datetime.now(UTC)


def _log_record(record: Record) -> None:
    log.debug("record %r", record)


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    *,
    clock: Clock = system_clock,
    records: RecordSink = _log_record,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the service until `stop` is set. Every new record goes to the rules engine and
    to `records` (a test's observer); `ready` is set once the HTTP port is listening and
    the MQTT client is subscribed."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: clutter here
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    store = open_configured_store(settings)
    # the work that writes runs in the store writer's turns: on PostgreSQL its waits on
    # the server leave the loop to everything else (dispatch/_turns.py)
    turns = store.turns
    store_reads = CollectorRegistry()  # read at scrape time, in a turn (BoundedRead)
    # one connection, so that a dead letter commits with the burst it came in
    deadletters = SqliteDeadLetters(store.connection, settings.deadletters, registry=registry)
    # on a shared store, rows this instance claimed are its own again after a restart
    instance = settings.broker.client_id
    outbox = Outbox(SqliteOutbox(store, name=instance), clock)
    store_reads.register(OutboxBacklog(outbox))
    registry.register(ROWS_SKIPPED)
    timeseries = None
    reader = None  # the incident page's chart reads the readings back (/query, InfluxQL)
    if settings.influx is not None:
        ix = settings.influx
        timeseries = TimeSeriesWriter(
            url=ix.url, token=ix.token, org=ix.org, bucket=ix.bucket, metrics=metrics,
            batch_size=ix.batch_size, flush_interval_ms=ix.flush_interval_ms,
            max_pending=ix.max_pending_points,
        )
        reader = TimeSeriesReader(url=ix.url, bucket=ix.bucket, token=ix.token)
    # notifications: recorded with their events, delivered by a task of their own
    notify = settings.notify
    deliveries = SqliteDeliveries(store, name=instance)
    worker = DeliveryWorker(
        deliveries, notify.channels, clock, tz=settings.tz, timeout_s=notify.timeout_s,
        retry_first=notify.retry_first, retry_max=notify.retry_max,
        dead_after=notify.dead_after, registry=registry, store_reads=store_reads,
        turns=turns,
    ) if notify.channels else None
    # "send a drone" flies the drones of enabled DJI docks (off unless configured); each
    # dock's replies and events are read by its drone's partition alone
    flights = Flights(settings.flights, store, outbox, clock, registry=registry,
                      owns=settings.partition.owns_drone)
    dispatcher = Dispatcher(
        store=store,
        router=settings.dispatch.router,
        queues=settings.dispatch.queues,
        topics=AlertTopics(settings.topics.prefix),
        clock=clock,
        tz=settings.tz,
        lifecycle=IncidentPoints(timeseries.write_lines) if timeseries is not None else None,
        metrics=DispatchMetrics(registry, store, store_reads),
        outbox=outbox,
        late_after=settings.dispatch.late_after,
        stale_after=settings.dispatch.stale_after,
        notifications=Notifier(deliveries, notify.channels, settings.tz, notify.console_url,
                               clock) if worker is not None else None,
        listeners=[worker.wake] if worker is not None else (),
        flights=flights,
    )
    flights.recorder = dispatcher
    restored = flights.restore()
    if flights.docks:
        log.info("DJI flights enabled for docks %s (replies read here: %s); %d flights of"
                 " open alerts followed", ", ".join(sorted(flights.docks)),
                 ", ".join(sorted(flights.followed)) or "none", restored)
    stream = StreamHub(settings.tz)  # the consoles' live view of every committed change
    dispatcher.listeners.append(stream.tell)
    registry.register(stream)
    part = settings.partition  # which stations and drones this instance speaks for
    # several instances: what the others commit reaches this one's consoles too
    feed = None if part.single else ChangeFeed(store, stream.tell, settings.topics.prefix)
    if feed is not None:
        dispatcher.listeners.append(feed.mine)
    # on PostgreSQL the others' commits wake the feed at once; polling is the fallback
    wakeup = (PgWakeup(settings.store_url, _in_turn(turns, feed.poll, "the change feed"))
              if feed is not None and isinstance(store, PgStore) else None)
    pipeline = RulesPipeline(settings.rules, dispatcher, clock, registry,
                             scope=None if part.single else part)

    def on_record(record: Record) -> None:
        records(record)
        pipeline.on_record(record)

    ingestor = Ingestor(
        ctx=settings.decode,
        topics=settings.topics,
        clock=clock,
        records=on_record,
        deadletters=deadletters,
        timeseries=timeseries,
        metrics=metrics,
        dedupe=Deduplicator(settings.dedupe_capacity),
        deadletter_cap=settings.deadletters.payload_cap_bytes,
    )
    checkpoints = Checkpoints(store, pipeline, ingestor, clock, partition=part.name)
    recovered = checkpoints.restore()
    log.info("rules state: %s, %d journalled inputs replayed",
             "restored from the last snapshot" if recovered.snapshot else "new",
             recovered.replayed)
    ingestor.journal = checkpoints.journal
    burst = Burst(store, outbox, checkpoints)

    # a single instance skips nothing: not asked on every message
    skips = None if part.single else part.skips

    def on_message(topic: str, payload: bytes) -> None:
        if skips is not None and skips(settings.topics, topic):
            return  # partition 0's wide filters: another instance's station (acked)
        burst.begin()
        dock_says = flights.wants(topic)
        try:
            if dock_says:  # a dock's reply or event is dispatch's; its OSD is both's
                flights.handle(topic, payload)
        except Exception:
            log.exception("flights failed on a message from %s", topic)
        if dock_says and not topic.endswith("/osd"):
            return
        try:
            ingestor.handle(topic, payload)
        except Exception:  # a bug must cost one message, not the burst it came in
            log.exception("ingest failed on a message from %s", topic)

    def route_hj212(station: str, topic: str, packet: bytes) -> bool:
        """A logger of a station another partition owns connected here: its packet goes
        to the owner on the station's hj212 topic, through the outbox in this read's
        transaction, so the 9014 answer still waits until the packet is durable."""
        if part.owns_station(station):
            return False
        outbox.add([Publication(topic, packet)])
        return True

    # data loggers over TCP: each read's packets committed like a burst before answered
    hj212 = (
        Hj212Server(settings.hj212_tcp, ingestor, begin=burst.begin, commit=burst.end,
                    clock=clock, registry=registry, newest=pipeline.last_seen,
                    route=None if part.single else route_hj212, turn=turns)
        if settings.hj212_tcp is not None else None
    )

    def sweep_rules() -> None:
        with store.transaction():
            now = clock()
            checkpoints.journal.sweep(now)
            pipeline.sweep(now)
        outbox.flush()

    gaps = SqliteDataGaps(store.connection, registry)
    # since when we may have missed messages, should the broker have lost our session
    receiving_until = [recovered.last_input_at or clock()]

    def connected_change(up: bool) -> None:
        metrics.mqtt_connected.set(1 if up else 0)
        if not up:
            receiving_until[0] = clock()

    def session_lost(_at_connect: bool) -> None:
        gap = DataGap(receiving_until[0], clock(), "the MQTT broker lost the session:"
                      " messages queued for us in that time are gone")
        log.warning("data gap of %.0f s recorded (%s .. %s): %s", gap.seconds,
                    gap.started_at.isoformat(), gap.ended_at.isoformat(), gap.reason)
        # in its turn, which comes before the first burst's on this connection
        _in_turn(turns, functools.partial(gaps.add, gap), "recording a data gap")()

    mqtt = MqttConnection(
        settings.broker,
        part.subscriptions(settings.topics) + flights.subscriptions(),
        on_message=on_message,
        on_connected_change=connected_change,
        registry=registry,
        # a session is expected when an earlier run left state
        expect_session=recovered.last_input_at is not None,
        on_session_lost=session_lost,
        # a message is acknowledged once the transaction holding its effect committed
        manual_ack=True,
        on_published=outbox.acknowledged,
        on_burst_end=burst.end,
        # off the loop where the store waits on a server; a file's is called at once
        turn=turns if turns.off_loop else None,
    )
    ingestor.publisher = mqtt  # the two need each other: the publisher is set after
    outbox.broker = mqtt
    # publishes what an earlier run committed but never saw acknowledged (paho queues it
    # until connected), then starts the no-data clocks of stations never heard from
    outbox.flush()
    sweep_rules()

    scheduler = AsyncIOScheduler(timezone=settings.tz)
    if timeseries is not None:  # the writer's own thread-safe queue: a thread may retry
        scheduler.add_job(timeseries.retry_parked, "interval", seconds=10, id="influx-retry")
    every = functools.partial(_on_loop, scheduler, turns)
    every(sweep_rules, seconds=settings.rules_sweep_s, id="rules-sweep")
    every(dispatcher.sweep, seconds=settings.dispatch.sweep_s, id="sla-sweep")
    every(checkpoints.save, seconds=60, id="rules-snapshot")
    if feed is not None:
        every(functools.partial(_poll_unless_woken, feed, wakeup), seconds=0.25,
              id="shared-changes")
    # marks what the broker acknowledged as sent, hands over what waits; prunes the sent
    every(outbox.flush, seconds=1, id="outbox-flush")
    every(outbox.prune, hours=1, id="outbox-prune")
    every(lambda: deliveries.prune(clock() - timedelta(days=7)), hours=1,
          id="notifications-prune")
    every(functools.partial(_log_quiet_deadletters, ingestor), minutes=1,
          id="deadletters-summary")
    every(lambda: deadletters.prune(clock()), minutes=10, id="deadletters-prune",
          next_run_time=datetime.now(settings.tz))

    queries = Queries(store, settings.tz)
    reports = _reader(store, "the bureau's figures and reports")
    consoles = _reader(store, "the consoles' lists and histories")
    app = create_app(
        registry,
        {"broker_connected": mqtt.connected.is_set,
         "store_writable": BoundedRead(turns, store.writable, _not_in_time)},
        degraded={"raise_path": dispatcher.healthy}
        | ({"timeseries": timeseries.healthy} if timeseries is not None else {})
        | ({"notifications": BoundedRead(turns, worker.healthy, _not_in_time)}
           if worker is not None else {}),
        large_bodies=((r"/api/alerts/[^/]+/photos", MAX_PHOTO),),
        slow_metrics=BoundedRead(turns, functools.partial(generate_latest, store_reads),
                                 _as_last_read),
    )
    app.include_router(api_router(
        dispatcher, settings.dispatch.tokens, settings.tz, clock, coverage=pipeline.coverage,
        data_gaps=lambda since, until: [
            {"started_at": g.started_at.astimezone(settings.tz).isoformat(),
             "ended_at": g.ended_at.astimezone(settings.tz).isoformat(),
             "seconds": round(g.seconds, 3), "reason": g.reason}
            for g in gaps.overlapping(since, until)
        ],
        queries=queries, bureau_reads=_lane(queries, reports, settings.tz, turns),
        console_reads=_lane(queries, consoles, settings.tz, turns),
        silences=store, stream=stream,
        notifications=worker,
        map_view=map_view(
            settings.zones, settings.stations, settings.decode.dji_aircraft.values(),
            settings.dispatch.queues, lambda: pipeline.state, clock, settings.tz),
        drones=known_drones(settings.decode.dji_aircraft.values(), lambda: pipeline.state),
        media=MediaStore(settings.media_dir or settings.store_path.parent / "media"),
        deadletters=deadletters,
        readings=reader,
        # named users: managed with `lantian users`, also while this runs
        users=SqliteUsers(store), sessions=settings.sessions,
        names=gazetteer_of(settings),
        more_routes=[loggers_routes(hj212, settings.tz)] if hj212 is not None else (),
        turns=turns,
    ))
    mount_console(app)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=settings.http_host, port=settings.http_port, log_level="warning",
            # log_config=None: uvicorn's lines go through ours (--log-format json)
            lifespan="off", access_log=False, log_config=None,
            # the client behind a proxy is the one sign-in lock-out counts (config's)
            proxy_headers=True, forwarded_allow_ips=list(settings.trusted_proxies),
        )
    )
    # from here on, the loop uses the store's writer only in a turn (else OutsideTurn)
    turns.own()
    if hj212 is not None:  # listening before /healthz answers
        await hj212.start()
    http_task = asyncio.create_task(server.serve(), name="http")
    # What start-up built (modules, the app, the restored state) lives as long as the
    # process: out of the collector's way, so that a full collection, which a backlog's
    # growing rule windows set off every few seconds, scans only what came since (it
    # held the loop for 100-200 ms a time, the whole p99 of a reading's alert latency).
    # Collected first: garbage frozen would never be freed (a process that serves more
    # than once, as the tests do, would keep each start's).
    gc.collect()
    gc.freeze()
    await mqtt.start()
    scheduler.start()
    # what an earlier run recorded and never delivered goes first
    delivering = asyncio.create_task(worker.run(), name="notifications") if worker else None
    listening = asyncio.create_task(wakeup.run(), name="listen") if wakeup else None
    # a SQLite file's fsyncs: on a thread of their own, not in the middle of a burst
    checkpointer = WalCheckpointer.of(store, registry=registry)
    try:
        if checkpointer is not None:
            checkpointer.start()
        if ready is not None:
            await _wait_ready(server, mqtt, http_task)
            ready.set()
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped, http_task}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if http_task.done():
            http_task.result()  # the HTTP server died on its own: say why
    finally:
        stream.close()  # the server waits for open responses: end the live streams
        scheduler.shutdown(wait=False)
        if hj212 is not None:
            await hj212.stop()
        if listening is not None:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
        if delivering is not None and worker is not None:
            delivering.cancel()
            await asyncio.gather(delivering, return_exceptions=True)
            await worker.close()
        await mqtt.stop()
        await turns(checkpoints.save)
        server.should_exit = True
        await asyncio.gather(http_task, return_exceptions=True)
        if timeseries is not None:
            await asyncio.to_thread(timeseries.close)
        for apart in (reports, consoles):
            if apart is not None:
                apart.close()
        if checkpointer is not None:
            checkpointer.stop()
        await turns.idle()  # a sweep or a notification's mark the scheduler left running
        store.close()


def _reader(store: SqlStore, of: str) -> SqlStore | None:
    """A store for the reads `of` to use apart from the loop; without it they run on
    the loop, which costs the service nothing but their time."""
    try:
        return store.reader()
    except (StoreUnavailable, sqlite3.Error, OSError) as e:
        log.warning("%s will be read on the event loop: no second connection to the"
                    " store: %s", of, e)
        return None


def _lane(queries: Queries, reader: SqlStore | None, tz: tzinfo, turns: Turns) -> ReadLane:
    return ReadLane(queries, None if reader is None else Queries(reader, tz), turns)


def _log_quiet_deadletters(ingestor: Ingestor) -> None:
    quiet = ingestor.quiet_deadletters()
    if quiet:
        log.warning("%d more dead letters in the last minute, stored but not logged one by"
                    " one (see the dead_letters table)", quiet,
                    extra={"event": "deadletter.burst", "count": quiet})


def _poll_unless_woken(feed: ChangeFeed, wakeup: PgWakeup | None) -> None:
    """The change feed's fallback: every tick without notifications, every 2 s with."""
    if wakeup is None or not wakeup.up or time.monotonic() - feed.polled_at > 2.0:
        feed.poll()


def _on_loop(scheduler: AsyncIOScheduler, turns: Turns, job: Callable[[], object],
             **trigger: Any) -> None:
    """Run `job` every interval on the event loop, in the store writer's turn. apscheduler
    runs a plain function on a thread pool, where it raced the loop for the rule state
    and the store's one connection; a coroutine function it runs on the loop."""

    waiting = False  # the last run still waits on the store: this one is skipped, quietly

    async def run() -> None:
        nonlocal waiting
        if waiting:
            return  # (apscheduler would log a warning a tick, through a store's outage)
        waiting = True
        try:
            await turns(job)
        finally:
            waiting = False

    scheduler.add_job(run, "interval", name=trigger.get("id"), **trigger)


def _not_in_time(_last: bool | None) -> bool:
    return False  # a store that cannot answer a check in time fails it


def _as_last_read(last: bytes | None) -> bytes:
    return last or b""  # the figures as last read; none before the store first answered


def _in_turn(turns: Turns, work: Callable[[], object], what: str) -> Callable[[], None]:
    """`work` as a callback that starts it in the store writer's turn (and logs it if it
    fails): for a caller on the loop that cannot await."""
    running: set[asyncio.Task[object]] = set()  # held: the loop keeps weak references

    def done(task: asyncio.Task[object]) -> None:
        running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s failed: %r", what, task.exception())

    def start() -> None:
        if not turns.off_loop:
            work()  # a file's store: the work is microseconds, and done at once
            return
        task = asyncio.get_running_loop().create_task(turns(work))
        running.add(task)
        task.add_done_callback(done)

    return start


async def _wait_ready(
    server: uvicorn.Server, mqtt: MqttConnection, http_task: asyncio.Task[None]
) -> None:
    while not server.started:
        if http_task.done():
            http_task.result()  # surfaces "address already in use" and the like
            raise RuntimeError("HTTP server stopped before it started")
        await asyncio.sleep(0.02)
    await mqtt.connected.wait()
