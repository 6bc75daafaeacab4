"""Dead letters: every rejected message, kept with its reason and its exact bytes.

They are published on `{prefix}/deadletter` for whoever watches live, and written to a
table in the embedded SQLite store so that nothing is lost when nobody was watching.
"""

from __future__ import annotations

import base64
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

import orjson

#: Larger payloads are stored whole but published cut to this size (MQTT subscribers
#: watching dead letters want the reason, not megabytes of somebody's garbage).
PUBLISH_PAYLOAD_LIMIT: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    code: str
    reason: str
    payload: bytes
    received_at: datetime

    def to_json(self) -> bytes:
        cut = len(self.payload) > PUBLISH_PAYLOAD_LIMIT
        body: dict[str, object] = {
            "topic": self.topic,
            "reason": self.reason,
            "code": self.code,
            "payload_b64": base64.b64encode(self.payload[:PUBLISH_PAYLOAD_LIMIT]).decode(),
            "received_at": self.received_at.isoformat(),
        }
        if cut:
            body["payload_truncated"] = True
            body["payload_size"] = len(self.payload)
        return orjson.dumps(body)


class DeadLetterStore(Protocol):
    def add(self, letter: DeadLetter) -> None: ...


class MemoryDeadLetters:
    """For unit tests and `lantian decode`: keeps them in a list."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def add(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id          INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    topic       TEXT NOT NULL,
    code        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_received_at ON dead_letters (received_at);
"""


class SqliteDeadLetters:
    """One row a dead letter, committed as it comes: in WAL mode with synchronous=NORMAL a
    commit is a write to the log without an fsync, cheap enough per message, and it
    survives a crash of the process."""

    def __init__(self, db: Path | sqlite3.Connection) -> None:
        """On a file of its own, or on a connection the alert store shares (the service
        does that: a dead letter then commits with the burst of messages it came in)."""
        if isinstance(db, sqlite3.Connection):
            self._db = db
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            return
        db.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def add(self, letter: DeadLetter) -> None:
        self._db.execute(
            "INSERT INTO dead_letters (received_at, topic, code, reason, payload)"
            " VALUES (?, ?, ?, ?, ?)",
            (letter.received_at.isoformat(), letter.topic, letter.code, letter.reason,
             letter.payload),
        )

    def recent(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._db.execute(
            "SELECT topic, code, reason, payload, received_at FROM dead_letters"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            DeadLetter(t, c, r, bytes(p), datetime.fromisoformat(at)) for t, c, r, p, at in rows
        ]

    def close(self) -> None:
        self._db.close()
