"""The alert store's schema: the migrations that build it, in order, and their applying.

Schema (version 10; `PRAGMA user_version` is the number of `MIGRATIONS` applied):

    alerts       the projection, one row an alert: id (UNIQUE), rule, subject, kind, queue,
                 assists (JSON list), state, severity, zone, grid, raised_at,
                 dispatched_at, acknowledged_at, closed_at, cleared_at, ack_by, close_by
                 (epoch seconds, REAL), outcome, note, officer, drone, muted (0/1),
                 escalated ("ack,close"), seq (of the last event), description (JSON),
                 metric (version 2: the row's metric fields packed, see
                 `dispatch._metric_blob`)
    alert_zones  (alert_id, zone, raised_at): the alert's zone and every zone it lies in
                 (description["zones"]), for `query(zone=...)`; rewritten with the row
    events       (alert_id, seq) PRIMARY KEY, kind, at, actor, data (JSON): the log.
                 Triggers make it append-only and its seq strictly increasing per alert
    silences     id, starts_at, ends_at, author, reason, stations/zones/rules (JSON
                 lists), created_at, ended_by, queue (version 3: the queue whose alerts
                 it mutes, NULL for every queue's)
    snapshots    name PRIMARY KEY, data BLOB, at, position (version 3: the last `inputs`
                 id the state covers): rule-engine state across restarts
    outbox       (version 3) id, topic, payload, created_at, sent_at: every publication,
                 written in the transaction of the change it announces, marked sent
                 when the broker acknowledged it; claimed_by, claimed_until (version 6):
                 which instance publishes it, until when (epoch s of the database's clock)
    inputs       (version 3) id, at, topic, payload: the journal of what was fed to the
                 rules engine since its last snapshot (a message; a sweep when topic is
                 NULL), written in the transaction of its effects; partition (version
                 7: "k/N", the instance whose rules it fed; "0/1" a single instance's,
                 which the partition index leaves out since version 9); messages
                 (version 10): a row a burst, its messages packed in payload
                 (`lantian.journal_frames`) and counted here, topic NULL; NULL in a
                 sweep and in the one-message rows of before
    dead_letters (version 3 here; ingest's before) id, received_at (UTC ISO text),
                 topic, code, reason, payload (up to the cap), payload_size,
                 payload_sha256: every rejected message (`ingest._deadletters`)
    data_gaps    (version 3) id, started_at, ended_at, reason: spans in which messages
                 may have been lost at the broker (`ingest._gaps`)
    notifications (version 5) id, channel, message_id (UNIQUE per channel), alert_id,
                 event, title, text, body, created_at, attempts, next_at, state
                 (pending, sent, dead), done_at, last_error: every notification to a
                 DingTalk/WeCom robot or webhook, written in the transaction of its event
                 (`dispatch._deliveries`); claimed_by, claimed_until (version 6, as
                 in the outbox)
    labels       (version 2) id INTEGER PRIMARY KEY, text UNIQUE: the kinds, queues,
                 zones, grids, states, outcomes and escalations `metric` refers to by id
    users        (version 4) username PRIMARY KEY, display_name, role, queues (JSON
                 list), password_hash (argon2), token_digest (UNIQUE: SHA-256 of the
                 personal token), created_at, disabled_at
    sessions     (version 4) digest (SHA-256 of the session id) PRIMARY KEY, username,
                 csrf, created_at, expires_at: signed-in browsers
    login_failures (version 4) key ("user:NAME" or "addr:ADDRESS") PRIMARY KEY,
                 failures, since, locked_until: the slow-down of password guessing

The partial unique index `alerts_open_rule_subject` on (rule, subject) WHERE state !=
'closed' is what keeps one open alert per condition, whoever writes. The covering indexes
`alerts_raised_at_metric`, `alerts_closed_metric` and `alerts_open_metric` (version 2) are
those the store reads `metric` from (see `dispatch._sqlite`).

PostgreSQL has the same tables and versions, spelled in its words:
`dispatch._pg_schema`. It alone has a trigger (version 8) that notifies the channel
`lantian_changes` when outbox rows commit, so that other instances read them at once.

Existing databases carry their version: a migration, once released, is never changed,
only followed by new ones. `migrate` applies those a database lacks, in order, in one
transaction, and refuses a database newer than the migrations it is given.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from dispatch._sql_engine import SQLITE, Connection, Dialect, StoreUnavailable

MIGRATIONS: Final[tuple[str, ...]] = (
    """
CREATE TABLE alerts (
    id TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, subject TEXT NOT NULL, kind TEXT NOT NULL,
    queue TEXT NOT NULL, assists TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL,
    severity TEXT NOT NULL, zone TEXT, grid TEXT, raised_at REAL NOT NULL,
    dispatched_at REAL, acknowledged_at REAL, closed_at REAL, cleared_at REAL,
    ack_by REAL NOT NULL, close_by REAL NOT NULL, outcome TEXT, note TEXT NOT NULL,
    officer TEXT, drone TEXT, muted INTEGER NOT NULL, escalated TEXT NOT NULL,
    seq INTEGER NOT NULL, description TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_open_rule_subject ON alerts (rule, subject)
    WHERE state != 'closed';
CREATE INDEX alerts_raised_at ON alerts (raised_at, muted);
CREATE INDEX alerts_open_raised_at ON alerts (raised_at, muted) WHERE state != 'closed';
CREATE INDEX alerts_closed_at ON alerts (closed_at, raised_at, muted)
    WHERE closed_at IS NOT NULL;
CREATE TABLE alert_zones (
    alert_id TEXT NOT NULL REFERENCES alerts (id), zone TEXT NOT NULL,
    raised_at REAL NOT NULL, PRIMARY KEY (alert_id, zone)
) WITHOUT ROWID;
CREATE INDEX alert_zones_zone ON alert_zones (zone, raised_at);
CREATE TABLE events (
    alert_id TEXT NOT NULL REFERENCES alerts (id), seq INTEGER NOT NULL,
    kind TEXT NOT NULL, at REAL NOT NULL, actor TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (alert_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER events_seq_increases BEFORE INSERT ON events
WHEN NEW.seq <= (SELECT max(seq) FROM events WHERE alert_id = NEW.alert_id)
BEGIN SELECT RAISE(ABORT, 'event seq must increase'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE silences (
    id TEXT PRIMARY KEY, starts_at REAL NOT NULL, ends_at REAL NOT NULL,
    author TEXT NOT NULL, reason TEXT NOT NULL, stations TEXT NOT NULL,
    zones TEXT NOT NULL, rules TEXT NOT NULL, created_at REAL, ended_by TEXT
);
CREATE INDEX silences_ends_at ON silences (ends_at);
CREATE TABLE snapshots (name TEXT PRIMARY KEY, data BLOB NOT NULL, at REAL NOT NULL);
""",
    # the rows already stored get their `metric` from `fill_metric` right after this
    """
ALTER TABLE alerts ADD COLUMN metric BLOB;
CREATE TABLE labels (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
DROP INDEX alerts_open_raised_at;
DROP INDEX alerts_closed_at;
CREATE INDEX alerts_raised_at_metric ON alerts (raised_at, id, metric);
CREATE INDEX alerts_closed_metric ON alerts (closed_at, raised_at, state, id, metric)
    WHERE closed_at IS NOT NULL;
CREATE INDEX alerts_open_metric ON alerts (raised_at, state, id, metric)
    WHERE state != 'closed';
""",
    # the durability of acknowledged input and of publications (see `dispatch._outbox`
    # and `lantian.recovery`); AUTOINCREMENT: ids never go back after the old rows are
    # pruned, since readers keep their place by id. The silences already stored had no
    # queue: they stay global, as they were. Ingest's tables join the one schema: the dead
    # letters (until now made by ingest itself, IF NOT EXISTS: a file from before has
    # them, without the payload's size and hash, NULL in its old rows whose payload is
    # whole) and the data gaps.
    """
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL,
    created_at REAL NOT NULL, sent_at REAL
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE TABLE inputs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, topic TEXT, payload BLOB
);
ALTER TABLE snapshots ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE silences ADD COLUMN queue TEXT;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, topic TEXT NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_received_at ON dead_letters (received_at);
ALTER TABLE dead_letters ADD COLUMN payload_size INTEGER;
ALTER TABLE dead_letters ADD COLUMN payload_sha256 TEXT;
CREATE TABLE data_gaps (
    id INTEGER PRIMARY KEY, started_at REAL NOT NULL, ended_at REAL NOT NULL,
    reason TEXT NOT NULL
);
""",
    # named users (`dispatch._sqlite_users`): only digests of their tokens and session
    # ids are kept, and argon2 hashes of their passwords
    """
CREATE TABLE users (
    username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
    queues TEXT NOT NULL, password_hash TEXT, token_digest TEXT UNIQUE,
    created_at REAL NOT NULL, disabled_at REAL
);
CREATE TABLE sessions (
    digest TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users (username),
    csrf TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY, failures INTEGER NOT NULL, since REAL, locked_until REAL
);
""",
    # notifications to people and platforms (see `dispatch._deliveries`): a row a channel
    # and event, written in the event's transaction; AUTOINCREMENT as for the outbox
    """
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, message_id TEXT NOT NULL,
    alert_id TEXT NOT NULL, event TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL,
    body BLOB NOT NULL, created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sent', 'dead')),
    done_at REAL, last_error TEXT, UNIQUE (channel, message_id)
);
CREATE INDEX notifications_due ON notifications (channel, next_at, id)
    WHERE state = 'pending';
CREATE INDEX notifications_done ON notifications (state, done_at) WHERE state != 'pending';
""",
    # several instances on one (PostgreSQL) store: a row being published or delivered is
    # claimed by one of them until a time (see `dispatch._sqlite_outbox`); on SQLite, one
    # instance a file, they stay NULL
    """
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until REAL;
ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
ALTER TABLE notifications ADD COLUMN claimed_until REAL;
""",
    # several instances on one store: each journals, replays and prunes its own inputs
    """
ALTER TABLE inputs ADD COLUMN partition TEXT NOT NULL DEFAULT '0/1';
CREATE INDEX inputs_partition ON inputs (partition, id);
""",
    # PostgreSQL's migration 8 tells listeners of new outbox rows at commit (LISTEN/NOTIFY,
    # `dispatch._feed`); SQLite has no listeners: nothing to make, the version moves on
    "",
    # a single instance's journal rows ("0/1") leave the partition index: it reads them by
    # id alone, and the index entry cost a fifth of every message's insert
    """
DROP INDEX inputs_partition;
CREATE INDEX inputs_partition ON inputs (partition, id) WHERE partition <> '0/1';
""",
    # a burst of messages is one journal row, its messages packed in `payload`
    # (`lantian.journal_frames`) and counted here; NULL in the rows of before, a message
    # or a sweep each, which replay as they are
    """
ALTER TABLE inputs ADD COLUMN messages INTEGER;
""",
)

#: The schema version that added `metric` (whose rows `fill_metric` completes).
METRIC_VERSION: Final = 2


def migrate(
    db: Connection, where: str, migrations: Sequence[str],
    fill_metric: Callable[[], None], dialect: Dialect = SQLITE,
) -> None:
    """Brings `db` (a connection in autocommit mode) from its version to
    len(`migrations`), calling `fill_metric` right after the migration to
    `METRIC_VERSION`, all in one transaction: on any failure the database is left as it
    was. A database of a newer version than that is refused (`StoreUnavailable`, naming `where`,
    the file or the URL without its password). On PostgreSQL the migrations are
    `dispatch._pg_schema`'s, the version is kept in `lantian_schema`, and instances
    starting together take turns on an advisory lock."""
    latest = len(migrations)
    if not dialect.postgres and version(db, dialect) == latest:
        return
    db.execute(dialect.begin)
    try:
        if dialect.postgres:
            db.execute(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
            db.execute("CREATE TABLE IF NOT EXISTS lantian_schema (version integer NOT NULL)")
        current = version(db, dialect)  # re-read under the lock: another process may race
        if current > latest:
            raise StoreUnavailable(
                f"{where}: the database has schema version {current}, newer than"
                f" the {latest} this version of Lantian knows; upgrade Lantian"
            )
        for n in range(current, latest):
            if dialect.postgres:
                db.execute(migrations[n])  # one script: PostgreSQL runs them as they are
            else:
                for statement in statements(migrations[n]):
                    db.execute(statement)
            if n + 1 == METRIC_VERSION:
                fill_metric()
        if dialect.postgres:
            db.execute("DELETE FROM lantian_schema")
            db.execute(f"INSERT INTO lantian_schema VALUES ({latest})")
        else:
            db.execute(f"PRAGMA user_version = {latest}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


#: The advisory lock key of migrations ("lantian" in ASCII, as a number).
_PG_LOCK: Final = 0x6C616E7469616E


def version(db: Connection, dialect: Dialect = SQLITE) -> int:
    """The database's schema version: the number of migrations applied."""
    if dialect.postgres:
        row = db.execute("SELECT max(version) FROM lantian_schema").fetchone()
        return int(row[0] or 0)
    v: int = db.execute("PRAGMA user_version").fetchone()[0]
    return v


def statements(script: str) -> Iterator[str]:
    """The statements of a migration, each ending a line (triggers hold inner `;`)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {pending!r}")
