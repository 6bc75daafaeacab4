"""The composition root: builds every piece from Settings and runs them on one event loop.

No business logic here: a straight line of construction, then run until told to stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry, disable_created_metrics

from dispatch import Dispatcher, Topics
from dispatch._api import api_router
from dispatch._monitoring import DispatchMetrics
from dispatch._points import IncidentPoints
from dispatch._sqlite import SqliteStore
from ingest import (
    Deduplicator,
    IngestMetrics,
    Ingestor,
    MqttConnection,
    RecordSink,
    SqliteDeadLetters,
    TimeSeriesWriter,
)
from lantian.http import create_app
from lantian.pipeline import RulesPipeline
from lantian.settings import Settings
from rules import Record

log = logging.getLogger("lantian")

Clock = Callable[[], datetime]


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
    deadletters = SqliteDeadLetters(settings.store_path)
    store = SqliteStore(settings.store_path, tz=settings.tz)
    timeseries = None
    if settings.influx is not None:
        ix = settings.influx
        timeseries = TimeSeriesWriter(
            url=ix.url, token=ix.token, org=ix.org, bucket=ix.bucket, metrics=metrics,
            batch_size=ix.batch_size, flush_interval_ms=ix.flush_interval_ms,
            max_pending=ix.max_pending_points,
        )
    dispatcher = Dispatcher(
        store=store,
        router=settings.dispatch.router,
        queues=settings.dispatch.queues,
        topics=Topics(settings.topics.prefix),
        clock=clock,
        tz=settings.tz,
        lifecycle=IncidentPoints(timeseries.write_lines) if timeseries is not None else None,
        metrics=DispatchMetrics(registry, store),
    )
    pipeline = RulesPipeline(settings.rules, dispatcher, clock, registry)
    if pipeline.restore(store):
        log.info("rules state restored from the last snapshot")

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
    )
    mqtt = MqttConnection(
        settings.broker,
        settings.topics.subscriptions(),
        on_message=ingestor.handle,
        on_connected_change=lambda up: metrics.mqtt_connected.set(1 if up else 0),
    )
    ingestor.publisher = mqtt  # the two need each other: the publisher is set after
    dispatcher.publisher = mqtt
    # starts the no-data clocks of stations never heard from; after the publisher is set,
    # so that what a restored state finds silent is published (paho queues it until up)
    pipeline.sweep()

    scheduler = AsyncIOScheduler(timezone=settings.tz)
    if timeseries is not None:
        scheduler.add_job(timeseries.retry_parked, "interval", seconds=10, id="influx-retry")
    scheduler.add_job(pipeline.sweep, "interval", seconds=settings.rules_sweep_s,
                      id="rules-sweep")
    scheduler.add_job(dispatcher.sweep, "interval", seconds=settings.dispatch.sweep_s,
                      id="sla-sweep")
    scheduler.add_job(pipeline.save, "interval", args=(store,), seconds=60,
                      id="rules-snapshot")

    app = create_app(
        registry,
        {"broker_connected": mqtt.connected.is_set, "store_writable": store.writable},
    )
    app.include_router(api_router(
        dispatcher, settings.dispatch.tokens, settings.tz, clock, coverage=pipeline.coverage
    ))
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=settings.http_host, port=settings.http_port, log_level="warning",
            lifespan="off", access_log=False,
        )
    )
    http_task = asyncio.create_task(server.serve(), name="http")
    await mqtt.start()
    scheduler.start()
    try:
        if ready is not None:
            await _wait_ready(server, mqtt, http_task)
            ready.set()
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped, http_task}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if http_task.done():
            http_task.result()  # the HTTP server died on its own: say why
    finally:
        scheduler.shutdown(wait=False)
        await mqtt.stop()
        pipeline.save(store)
        server.should_exit = True
        await asyncio.gather(http_task, return_exceptions=True)
        if timeseries is not None:
            await asyncio.to_thread(timeseries.close)
        deadletters.close()
        store.close()


async def _wait_ready(
    server: uvicorn.Server, mqtt: MqttConnection, http_task: asyncio.Task[None]
) -> None:
    while not server.started:
        if http_task.done():
            http_task.result()  # surfaces "address already in use" and the like
            raise RuntimeError("HTTP server stopped before it started")
        await asyncio.sleep(0.02)
    await mqtt.connected.wait()
