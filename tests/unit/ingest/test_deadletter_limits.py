"""Dead letters are bounded: the payload kept up to the cap (with its size and hash),
retention by count and by age, pruned in batches and counted."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from dispatch import SqliteStore
from dispatch.stores import open_store
from ingest import DeadLetterLimits, SqliteDeadLetters
from ingest._deadletters import DeadLetter, Pruned

T0 = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)


def _letter(i: int, at: datetime, payload: bytes = b"x") -> DeadLetter:
    return DeadLetter(f"t/{i}", "bad", "why", payload, at)


def _open(where: Path | str, limits: DeadLetterLimits | None = None, **kw: object
          ) -> SqliteDeadLetters:
    """As the service opens them: on the store's connection, whose migrations made the
    table (a path: SQLite; a URL: either engine)."""
    store = open_store(where) if isinstance(where, str) else SqliteStore(where)
    return SqliteDeadLetters(store.connection, limits, **kw)  # type: ignore[arg-type]


def _pruned(reg: CollectorRegistry, why: str) -> float | None:
    return reg.get_sample_value("lantian_deadletters_pruned_total", {"why": why})


def test_a_big_payload_is_kept_up_to_the_cap_with_its_size_and_hash(tmp_path: Path) -> None:
    store = _open(tmp_path / "l.sqlite", DeadLetterLimits(payload_cap_bytes=1024))
    junk = bytes(range(256)) * 4096  # 1 MiB
    store.add(_letter(1, T0, junk))
    store.add(_letter(2, T0, b"small"))
    small, big = store.recent()
    assert (big.payload, big.payload_size) == (junk[:1024], len(junk))
    assert big.payload_sha256 == hashlib.sha256(junk).hexdigest() and big.truncated
    assert (small.payload, small.payload_size, small.truncated) == (b"small", 5, False)
    assert big.received_at == T0
    store.close()
    # the file holds the cap, not the megabyte
    db = sqlite3.connect(tmp_path / "l.sqlite")
    assert db.execute("SELECT max(length(payload)) FROM dead_letters").fetchone() == (1024,)
    db.close()


def test_the_published_letter_carries_the_same_cap() -> None:
    junk = b"y" * 70_000
    body = json.loads(_letter(1, T0, junk).to_json())  # default cap: 64 KiB
    assert len(base64.b64decode(body["payload_b64"])) == 64 << 10
    assert body["payload_truncated"] is True and body["payload_size"] == 70_000
    assert body["payload_sha256"] == hashlib.sha256(junk).hexdigest()
    body = json.loads(_letter(1, T0, junk).to_json(cap=100))
    assert len(base64.b64decode(body["payload_b64"])) == 100
    whole = json.loads(_letter(1, T0, b"ok").to_json())
    assert base64.b64decode(whole["payload_b64"]) == b"ok" and "payload_truncated" not in whole


def test_a_file_from_before_the_cap_gains_the_columns_through_the_store_migrations(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL,
            topic TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
            payload BLOB NOT NULL);
        INSERT INTO dead_letters (received_at, topic, code, reason, payload)
            VALUES ('2026-06-01T00:00:00+00:00', 'old', 'bad', 'why', x'00ff00');
    """)
    db.close()
    store = _open(path)
    store.add(_letter(1, T0, b"new"))
    new, old = store.recent()
    assert (old.topic, old.payload, old.payload_size, old.payload_sha256) == (
        "old", b"\x00\xff\x00", 3, None)
    assert new.payload_sha256 == hashlib.sha256(b"new").hexdigest()
    store.close()
    reg = CollectorRegistry()
    _open(path, registry=reg).close()  # opening it again changes nothing
    assert reg.get_sample_value("lantian_deadletters_kept") == 2.0  # counted on opening


def test_prune_by_age_then_count_oldest_first_in_batches(tmp_path: Path) -> None:
    reg = CollectorRegistry()
    store = _open(tmp_path / "l.sqlite",
                  DeadLetterLimits(max_count=5, max_age_days=30),
                              registry=reg, batch=2)
    for i in range(4):  # 40, 39, 38, 37 days old: past the 30-day retention
        store.add(_letter(i, T0 - timedelta(days=40 - i)))
    for i in range(4, 12):  # 8 recent ones, 3 over the count
        store.add(_letter(i, T0 - timedelta(hours=12 - i)))
    assert _pruned(reg, "age") == 0.0 and _pruned(reg, "count") == 0.0
    assert reg.get_sample_value("lantian_deadletters_kept") == 12.0  # live, before a prune
    assert store.prune(T0) == Pruned(count=3, age=4)
    assert [d.topic for d in store.recent()] == [f"t/{i}" for i in range(11, 6, -1)]
    assert (_pruned(reg, "age"), _pruned(reg, "count")) == (4.0, 3.0)
    assert reg.get_sample_value("lantian_deadletters_kept") == 5.0
    assert store.prune(T0) == Pruned()  # nothing more to do
    assert store.prune(T0 + timedelta(days=31)).age == 5
    assert store.count() == 0 and reg.get_sample_value("lantian_deadletters_kept") == 0.0
    store.close()


def test_age_compares_instants_whatever_the_clock_zone(store_url: str) -> None:
    store = _open(store_url, DeadLetterLimits(max_age_days=1))
    shanghai = T0.astimezone(ZoneInfo("Asia/Shanghai"))
    store.add(_letter(1, shanghai - timedelta(hours=23)))  # 23 h old, offset +08:00
    store.add(_letter(2, T0 - timedelta(hours=25)))
    assert store.prune(T0) == Pruned(age=1)
    assert [d.topic for d in store.recent()] == ["t/1"]
    store.close()


def test_the_letters_are_counted_per_utc_hour_and_code(tmp_path: Path) -> None:
    store = _open(tmp_path / "l.sqlite")
    for i, minutes in enumerate((0, 10, 59, 60, 125)):
        store.add(DeadLetter(f"t/{i}", "bad" if i % 2 else "junk", "why", b"x",
                             T0 + timedelta(minutes=minutes)))
    assert sorted(store.per_hour(T0 + timedelta(minutes=30))) == [  # from 02:00 on
        (T0, "bad", 1), (T0, "junk", 2),
        (T0 + timedelta(hours=1), "bad", 1), (T0 + timedelta(hours=2), "junk", 1)]
    # a time in another zone means the same instant
    assert store.per_hour((T0 + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai"))) == [
        (T0 + timedelta(hours=2), "junk", 1)]
    store.close()
