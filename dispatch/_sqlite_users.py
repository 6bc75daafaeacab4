"""The users, sessions and login failures of the SQL store (`dispatch._users.UserBook`).

They share the store's connection and its transactions, like the outbox: the service and
the `lantian users` commands (another process, on the same file) both write here, which
SQLite's WAL and the store's busy timeout allow. Every read goes to the database: a user
disabled from the command line cannot act once the command has returned.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from dispatch._access import Role
from dispatch._sessions import Session, Strikes
from dispatch._sql_engine import INTEGRITY_ERRORS
from dispatch._sqlite import SqlStore
from dispatch._sqlite_rows import ts, ts_or_none
from dispatch._users import User, UserRefused

_COLS: Final = "username, role, queues, display_name, disabled_at"


class SqliteUsers:
    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._db = store.connection

    # -- managing (the command line) --------------------------------------------------

    def add(self, user: User, password_hash: str | None, now: datetime) -> None:
        try:
            with self._store.transaction() as db:
                db.execute(
                    "INSERT INTO users (username, display_name, role, queues, password_hash,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (user.name, user.display_name, user.role.value,
                     json.dumps(sorted(user.queues)), password_hash, ts(now)),
                )
        except INTEGRITY_ERRORS:
            raise UserRefused(f"user {user.name!r} exists already") from None

    def set_token(self, username: str, digest: str) -> None:
        """Make `digest` the user's personal token's; the one before stops working."""
        with self._store.transaction() as db:
            n = db.execute("UPDATE users SET token_digest = ? WHERE username = ?"
                           " AND disabled_at IS NULL", (digest, username)).rowcount
        if n != 1:
            raise UserRefused(f"no enabled user {username!r}")

    def disable(self, username: str, now: datetime) -> None:
        """The user can no longer sign in nor act; their sessions end now. Their events
        keep their name."""
        with self._store.transaction() as db:
            n = db.execute("UPDATE users SET disabled_at = ?, token_digest = NULL"
                           " WHERE username = ? AND disabled_at IS NULL",
                           (ts(now), username)).rowcount
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
        if n != 1:
            raise UserRefused(f"no enabled user {username!r}")

    def set_password(self, username: str, password_hash: str) -> None:
        """A new password (a reset, or a change): the sessions signed in with the old one
        end, and the name's sign-in lock-out with them."""
        with self._store.transaction() as db:
            n = db.execute("UPDATE users SET password_hash = ? WHERE username = ?"
                           " AND disabled_at IS NULL", (password_hash, username)).rowcount
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            db.execute("DELETE FROM login_failures WHERE key = ?", (f"user:{username}",))
        if n != 1:
            raise UserRefused(f"no enabled user {username!r}")

    def enable(self, username: str) -> None:
        """A disabled user may sign in again, with their password; a personal token they
        need anew (`set_token`): disabling took theirs."""
        with self._store.transaction() as db:
            n = db.execute("UPDATE users SET disabled_at = NULL WHERE username = ?"
                           " AND disabled_at IS NOT NULL", (username,)).rowcount
        if n != 1:
            raise UserRefused(f"no disabled user {username!r}")

    def users(self) -> list[tuple[User, bool]]:
        """Every user, by name, and whether they have a personal token."""
        rows = self._db.execute(
            f"SELECT {_COLS}, token_digest IS NOT NULL FROM users ORDER BY username")
        return [(_user(r), bool(r[5])) for r in rows]

    # -- the UserBook the API reads ----------------------------------------------------

    def by_token(self, digest: str) -> User | None:
        row = self._db.execute(f"SELECT {_COLS} FROM users WHERE token_digest = ?"
                               " AND disabled_at IS NULL", (digest,)).fetchone()
        return None if row is None else _user(row)

    def for_login(self, username: str) -> tuple[User, str | None] | None:
        row = self._db.execute(f"SELECT {_COLS}, password_hash FROM users WHERE username = ?"
                               " AND disabled_at IS NULL", (username,)).fetchone()
        return None if row is None else (_user(row), row[5])

    def session(self, digest: str, now: datetime) -> tuple[Session, User] | None:
        row = self._db.execute(
            f"SELECT s.csrf, s.expires_at, {', '.join('u.' + c.strip() for c in _COLS.split(','))}"
            " FROM sessions AS s JOIN users AS u USING (username)"
            " WHERE s.digest = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
            (digest, ts(now))).fetchone()
        if row is None:
            return None
        user = _user(row[2:])
        return Session(user.name, row[0], datetime.fromtimestamp(row[1], UTC)), user

    def start_session(self, digest: str, session: Session, now: datetime) -> None:
        with self._store.transaction() as db:
            # the expired ones go as new ones come: the table holds the live ones
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (ts(now),))
            db.execute("INSERT INTO sessions (digest, username, csrf, created_at, expires_at)"
                       " VALUES (?, ?, ?, ?, ?)", (digest, session.username, session.csrf,
                                                   ts(now), ts(session.expires_at)))

    def end_session(self, digest: str) -> None:
        with self._store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE digest = ?", (digest,))

    def strikes(self, key: str) -> Strikes:
        row = self._db.execute("SELECT failures, since, locked_until FROM login_failures"
                               " WHERE key = ?", (key,)).fetchone()
        if row is None:
            return Strikes()
        return Strikes(int(row[0]), _time(row[1]), _time(row[2]))

    def set_strikes(self, key: str, strikes: Strikes) -> None:
        with self._store.transaction() as db:
            if strikes == Strikes():
                db.execute("DELETE FROM login_failures WHERE key = ?", (key,))
                return
            db.execute(
                "INSERT INTO login_failures (key, failures, since, locked_until)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " failures = excluded.failures, since = excluded.since,"
                " locked_until = excluded.locked_until",
                (key, strikes.failures, ts_or_none(strikes.since),
                 ts_or_none(strikes.locked_until)))


def _user(row: Any) -> User:
    username, role, queues, display_name, disabled_at = row[:5]
    return User(username, Role(role), frozenset(json.loads(queues)), display_name,
                disabled=disabled_at is not None)


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)

