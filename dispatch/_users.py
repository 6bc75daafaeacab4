"""Named users: who they are, what their role lets them do, and how they prove it.

A `User` is a person with a role (`dispatch._access.Role`) and, for an officer, the queues
they work; they answer the same permission questions as a configured token
(`dispatch._access.Grants`), and their `name` is the actor of every event they cause.

They prove who they are with a password (hashed with argon2id by `Passwords`; never kept
nor logged in clear), or with a personal API token for the command line and integrations.
A token, like a browser session's id, is 256 random bits: the store keeps only its SHA-256
(a digest of a high-entropy secret cannot be reversed, and needs no slow hash), so whoever
reads the database cannot act as anyone.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dispatch._access import Grants, Role
from dispatch._sessions import Session, Strikes

#: A user name: what they type at the login page and what the event log shows.
USERNAME: Final = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
#: A queue's name, as the config allows it.
QUEUE: Final = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_DISPLAY_NAME: Final = 64
MIN_PASSWORD: Final = 10
#: argon2 hashes what it is given whole: a bound keeps a login's cost bounded.
MAX_PASSWORD: Final = 256
#: What a personal token starts with: recognisable in a leaked log or a secret scanner.
TOKEN_PREFIX: Final = "lt_"


@dataclass(frozen=True, slots=True)
class User(Grants):
    name: str
    role: Role
    queues: frozenset[str] = frozenset()  # a field here; a property in Grants
    display_name: str = ""
    disabled: bool = False

    def me(self) -> dict[str, object]:
        """What `/api/me` says of them."""
        return {"username": self.name, "display_name": self.display_name or self.name,
                "role": self.role.value, "queues": sorted(self.queues)}


class UserRefused(Exception):
    """A user, or a change to one, that cannot be: the message says why."""


def new_user(
    name: str, role: str, queues: Iterable[str] = (), display_name: str = "",
    known_queues: Iterable[str] | None = None,
) -> User:
    """A checked user: a valid name and role, and queues for an officer (only for one)."""
    if not USERNAME.match(name):
        raise UserRefused(f"user name {name!r}: 1 to 32 of a-z 0-9 _ . -, starting with a"
                          " letter")
    try:
        the_role = Role(role)
    except ValueError:
        raise UserRefused(f"role {role!r}: one of {', '.join(r.value for r in Role)}") from None
    wanted = frozenset(queues)
    if the_role is Role.OFFICER and not wanted:
        raise UserRefused("an officer works at least one queue (--queue)")
    if the_role is not Role.OFFICER and wanted:
        raise UserRefused(f"a {the_role.value} sees every queue or none: no --queue")
    for q in sorted(wanted):
        if not QUEUE.match(q):
            raise UserRefused(f"queue {q!r}: 1 to 32 of a-z 0-9 _")
    if known_queues is not None:
        unknown = sorted(wanted - frozenset(known_queues))
        if unknown:
            raise UserRefused(f"no queue {unknown[0]!r}; queues: "
                              f"{', '.join(sorted(known_queues))}")
    if len(display_name) > MAX_DISPLAY_NAME or any(not c.isprintable() for c in display_name):
        raise UserRefused(f"display name: up to {MAX_DISPLAY_NAME} printable characters")
    return User(name, the_role, wanted, display_name.strip())


def password_problem(password: str) -> str | None:
    """Why a new password will not do, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    if len(set(password)) < 4:
        return "a password of fewer than 4 different characters is too easy to guess"
    return None


class Passwords:
    """argon2id hashing and checking (argon2-cffi's defaults, RFC 9106's second choice:
    64 MiB, 3 passes; about 0.15 s here). `hasher` may be a cheaper one in tests."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        # checked against when the user is unknown, so that an unknown name costs what a
        # wrong password does, and timing does not tell which names exist (made on first
        # need: `lantian users` never checks a password)
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def check(self, stored: str | None, password: str) -> bool:
        """Whether `password` is the one `stored` hashes (None: no such user, or one
        without a password: always False, at the same cost)."""
        if stored is None and self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        try:
            return self._hasher.verify(stored or self._decoy or "", password) and (
                stored is not None)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def new_secret() -> str:
    """256 random bits, URL-safe: a session id or a CSRF token."""
    return secrets.token_urlsafe(32)


def new_personal_token() -> str:
    return TOKEN_PREFIX + new_secret()



class UserBook(Protocol):
    """Where users, their sessions and the login failures are kept (the store's
    `dispatch._sqlite_users.SqliteUsers`). Every look-up answers for an enabled user only:
    nothing is cached, so a disabled user's token and sessions stop at once."""

    def by_token(self, digest: str) -> User | None:
        """The enabled user whose personal token has this SHA-256."""

    def for_login(self, username: str) -> tuple[User, str | None] | None:
        """The enabled user of that name and their password hash."""

    def session(self, digest: str, now: datetime) -> tuple[Session, User] | None:
        """The live session whose id has this SHA-256, and its (enabled) user."""

    def start_session(self, digest: str, session: Session, now: datetime) -> None: ...

    def end_session(self, digest: str) -> None: ...

    def strikes(self, key: str) -> Strikes: ...

    def set_strikes(self, key: str, strikes: Strikes) -> None:
        """Keep them (the default `Strikes()`: forget the key)."""
