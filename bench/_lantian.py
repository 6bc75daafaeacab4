"""Lantian's real ingest path, as the service wires it (lantian.app.serve) minus the HTTP
server and InfluxDB: MqttConnection on an asyncio loop feeding Ingestor.handle, which
decodes, validates and dedupes, then hands records to a counting sink."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import _publisher
from bench._common import bench_context
from bench._session import RECEIVE_MAXIMUM, SESSION_EXPIRY_S
from bench._tally import Tally
from dispatch._sqlite import SqliteStore
from ingest import BrokerSettings, DecodeContext, InboundTopics, Ingestor, MqttConnection
from ingest._deadletters import MemoryDeadLetters
from lantian.recovery import Journal
from rules.records import Reading, Record
from tests.support import Broker


@dataclass(frozen=True, slots=True)
class IngestRun:
    tally: Tally
    dead_letters: Counter[str]  # reason code -> count
    published: _publisher.PublishResult | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)  # what lantian.app.system_clock does


async def _run(
    broker: Broker,
    client_id: str,
    n: int,
    publisher: list[str] | None,
    wait: float,
    connection: type[MqttConnection] = MqttConnection,
    ingest: bool = True,
    durable: Path | None = None,
    ctx: DecodeContext | None = None,
) -> IngestRun:
    """`ctx`: the stations to decode against (default: the bench's 1000 synthetic
    ones). `connection` and `ingest=False` (count raw messages, no Ingestor) exist for
    bench.variants, which takes the path apart; the harness uses the defaults.
    `durable`: a SQLite store file there, and the service's durability on top of
    ingest: each message that brings a record journalled in one transaction a read
    burst, committed before the burst's manual acknowledgements (`lantian.recovery`)."""
    loop = asyncio.get_running_loop()
    complete = asyncio.Event()
    tally = Tally(n, on_complete=complete.set)
    topics = InboundTopics()
    deadletters = MemoryDeadLetters()

    def count(_record: Record) -> None:
        tally.note()

    def count_with_lag(record: Record) -> None:
        assert isinstance(record, Reading)
        tally.note_sent_at(float(record.extras["sent_at"]))

    ingestor = Ingestor(
        ctx=ctx or bench_context(), topics=topics, clock=_utc_now, deadletters=deadletters,
        records=count if publisher is None else count_with_lag,
    )
    settings = BrokerSettings(
        host=broker.host, port=broker.port, client_id=client_id,
        session_expiry_s=SESSION_EXPIRY_S, receive_maximum=RECEIVE_MAXIMUM,
    )
    def count_raw(_topic: str, _payload: bytes) -> None:
        tally.note()

    store = None
    if durable is not None:
        store = SqliteStore(durable)
        journal = ingestor.journal = Journal(store)
        begin = store.begin

        def journalled(topic: str, payload: bytes) -> None:
            begin()
            journal.hold()
            ingestor.handle(topic, payload)

        def commit() -> None:  # what lantian.recovery.Burst.end does
            store.commit(journal.take())

        mqtt = MqttConnection(settings, topics.subscriptions(), on_message=journalled,
                              manual_ack=True, on_burst_end=commit)
    else:
        mqtt = connection(settings, topics.subscriptions(),
                          on_message=ingestor.handle if ingest else count_raw)
    published = None
    await mqtt.start()
    try:
        await asyncio.wait_for(mqtt.connected.wait(), 10)
        if publisher is not None:
            proc = await asyncio.create_subprocess_exec(
                *publisher, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            out, err = await proc.communicate()  # the loop keeps ingesting meanwhile
            if proc.returncode != 0:
                raise RuntimeError(f"publisher failed: {err.decode()[-2000:]}")
            published = _publisher.parse(out)
        waiter = loop.create_task(complete.wait())
        await asyncio.wait({waiter}, timeout=wait)
        waiter.cancel()
    finally:
        await mqtt.stop()
        if store is not None:
            store.close()
    codes = Counter(letter.code for letter in deadletters.letters)
    return IngestRun(tally, codes, published)


def drain(
    broker: Broker,
    client_id: str,
    n: int,
    timeout: float,
    connection: type[MqttConnection] = MqttConnection,
    ingest: bool = True,
    durable: Path | None = None,
    ctx: DecodeContext | None = None,
) -> IngestRun:
    """Resume the session holding the backlog and ingest until all `n` are records."""
    return asyncio.run(
        _run(broker, client_id, n, None, timeout, connection, ingest, durable, ctx)
    )


def paced(broker: Broker, client_id: str, publisher: list[str], n: int, grace: float) -> IngestRun:
    """Ingest while a publisher process sends `n` at its pace; stop when all are in, or
    `grace` seconds after the publisher is done."""
    return asyncio.run(_run(broker, client_id, n, publisher, grace))
