"""Dead letters: every rejected message, kept with its reason, its size, a hash and up to
`payload_cap_bytes` of its bytes.

They are published on `{prefix}/deadletter` for whoever watches live, and written to a
table in the store (SQLite or PostgreSQL) so that nothing is lost when nobody was watching.

Storage is bounded three ways, because junk is what an attacker (or a broken device)
controls: a payload is kept up to the cap (its full size and SHA-256 beside it, so two
letters can still be told apart and matched against a device's log), and `prune` deletes
the oldest rows past `max_count` and those older than `max_age_days`. Deleted pages are
reused by later inserts, so the file stops growing once retention is reached (it does
not shrink without a VACUUM).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

#: What a dead letter keeps of its payload, stored and published, by default: the reason
#: and a sample of the bytes are what a person debugging a device needs, not megabytes.
PAYLOAD_CAP: Final = 64 << 10
#: The former name of the publishing cap, which is now the same cap.
PUBLISH_PAYLOAD_LIMIT: Final = PAYLOAD_CAP


@dataclass(frozen=True, slots=True)
class DeadLetterLimits:
    """How much of the dead letters is kept (config `[ingest.deadletters]`)."""

    payload_cap_bytes: int = PAYLOAD_CAP
    max_count: int = 100_000
    max_age_days: int = 30


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    code: str
    reason: str
    payload: bytes
    received_at: datetime

    def to_json(self, cap: int = PAYLOAD_CAP) -> bytes:
        """The published form: the contract's fields plus `code`; a payload over `cap`
        is cut to it and marked with its full size and SHA-256."""
        body: dict[str, object] = {
            "topic": self.topic,
            "reason": self.reason,
            "code": self.code,
            "payload_b64": base64.b64encode(self.payload[:cap]).decode(),
            "received_at": self.received_at.isoformat(),
        }
        if len(self.payload) > cap:
            body["payload_truncated"] = True
            body["payload_size"] = len(self.payload)
            body["payload_sha256"] = hashlib.sha256(self.payload).hexdigest()
        return orjson.dumps(body)


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A row of the table: `payload` is what was kept (at most the cap); `payload_size`
    and `payload_sha256` describe the payload as received (the hash is None for rows
    stored before the cap existed, which kept every byte)."""

    topic: str
    code: str
    reason: str
    payload: bytes
    payload_size: int
    payload_sha256: str | None
    received_at: datetime

    @property
    def truncated(self) -> bool:
        return len(self.payload) < self.payload_size


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one `prune` deleted, by reason."""

    count: int = 0  # over max_count
    age: int = 0  # older than max_age_days

    @property
    def total(self) -> int:
        return self.count + self.age


class DeadLetterStore(Protocol):
    def add(self, letter: DeadLetter) -> None: ...


class MemoryDeadLetters:
    """For unit tests and `lantian decode`: keeps them in a list."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def add(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


# All of the table's SQL is here, in one place, for the day it joins the store's
# migrations (dispatch._schema): the table as first released, then the columns added since.
_INSERT: Final = (
    "INSERT INTO dead_letters"
    " (received_at, topic, code, reason, payload, payload_size, payload_sha256)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_RECENT: Final = (
    "SELECT topic, code, reason, payload, coalesce(payload_size, length(payload)),"
    " payload_sha256, received_at FROM dead_letters ORDER BY id DESC LIMIT ?"
)
# One batch: a short write transaction of its own, so that the alert store's writes on
# the same file wait at most one batch for the lock.
_DELETE_BELOW_ID: Final = (
    "DELETE FROM dead_letters WHERE id IN"
    " (SELECT id FROM dead_letters WHERE id < ? ORDER BY id LIMIT ?)"
)
_DELETE_OLDER: Final = (
    "DELETE FROM dead_letters WHERE id IN"
    " (SELECT id FROM dead_letters WHERE received_at < ? ORDER BY received_at LIMIT ?)"
)
_NTH_NEWEST_ID: Final = "SELECT id FROM dead_letters ORDER BY id DESC LIMIT 1 OFFSET ?"
_COUNT: Final = "SELECT count(*) FROM dead_letters"
# the hour is the text's first 13 characters ("2026-12-05T03"): every row's offset is UTC
_PER_HOUR: Final = (
    "SELECT substr(received_at, 1, 13), code, count(*) FROM dead_letters"
    " WHERE received_at >= ? GROUP BY 1, 2"
)


class Db(Protocol):
    """What dead letters and data gaps use of the store's connection (a
    `sqlite3.Connection`, or the store's PostgreSQL one, which takes the same `?` marks)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def close(self) -> None: ...


def _utc_text(at: datetime) -> str:
    # one offset for every row, so that comparing the text compares the instants
    return at.astimezone(UTC).isoformat()


class SqliteDeadLetters:
    """One row a dead letter, committed as it comes: in WAL mode with synchronous=NORMAL a
    commit is a write to the log without an fsync, cheap enough per message, and it
    survives a crash of the process."""

    def __init__(
        self,
        db: Db,
        limits: DeadLetterLimits | None = None,
        *,
        registry: CollectorRegistry | None = None,
        batch: int = 1000,
    ) -> None:
        """On the connection of the store whose schema has `dead_letters` (the store's
        migrations make it): a dead letter then commits with the burst of messages it
        came in."""
        self.limits = limits or DeadLetterLimits()
        self._batch = batch
        self._db = db
        r = registry if registry is not None else CollectorRegistry()
        self._pruned = Counter(
            "lantian_deadletters_pruned", "Dead letters deleted by retention, by why",
            ["why"], registry=r,
        )
        self._kept = Gauge("lantian_deadletters_kept", "Dead letters in the store", registry=r)
        for why in ("count", "age"):
            self._pruned.labels(why)  # both series exist from the start, at 0
        self._kept.set(self.count())  # a count of the smallest index: ms for 100,000 rows

    def add(self, letter: DeadLetter) -> None:
        cap = self.limits.payload_cap_bytes
        payload = letter.payload
        self._db.execute(
            _INSERT,
            (_utc_text(letter.received_at), letter.topic, letter.code, letter.reason,
             payload[:cap], len(payload), hashlib.sha256(payload).hexdigest()),
        )
        self._kept.inc()

    def prune(self, now: datetime) -> Pruned:
        """Delete the dead letters older than `max_age_days` before `now`, then the
        oldest past `max_count`, in batches of `batch` rows (one short transaction each);
        returns how many went, counts them in `lantian_deadletters_pruned_total{why}` and
        sets `lantian_deadletters_kept`."""
        cutoff = _utc_text(now - timedelta(days=self.limits.max_age_days))
        age = self._delete_batches(_DELETE_OLDER, cutoff)
        count = 0
        row = self._db.execute(_NTH_NEWEST_ID, (self.limits.max_count - 1,)).fetchone()
        if row is not None:  # the max_count-th newest: everything older goes
            count = self._delete_batches(_DELETE_BELOW_ID, row[0])
        self._pruned.labels("age").inc(age)
        self._pruned.labels("count").inc(count)
        self._kept.set(self.count())
        return Pruned(count=count, age=age)

    def _delete_batches(self, sql: str, bound: object) -> int:
        total = 0
        while True:
            n: int = self._db.execute(sql, (bound, self._batch)).rowcount
            total += n
            if n < self._batch:
                return total

    def count(self) -> int:
        return int(self._db.execute(_COUNT).fetchone()[0])

    def recent(self, limit: int = 100) -> list[StoredDeadLetter]:
        return [
            StoredDeadLetter(t, c, r, bytes(p), size, sha, datetime.fromisoformat(at))
            for t, c, r, p, size, sha, at in self._db.execute(_SELECT_RECENT, (limit,))
        ]

    def per_hour(self, since: datetime) -> list[tuple[datetime, str, int]]:
        """(hour's start in UTC, code, how many) of the dead letters received since the
        start of `since`'s hour (UTC); hours without any are not listed."""
        start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return [
            (datetime.fromisoformat(f"{hour}:00:00+00:00"), code, int(n))
            for hour, code, n in self._db.execute(_PER_HOUR, (_utc_text(start),))
        ]

    def close(self) -> None:
        self._db.close()
