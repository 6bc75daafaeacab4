"""Managing users: what `lantian users` does, checked before anything is kept.

A new user's name, role and queues are checked (`dispatch._users.new_user`) against the
queues the deployment has, their password against the policy and hashed; a personal
token is made here, shown once, and kept only as its digest.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from dispatch._access import token_digest
from dispatch._sqlite import SqlStore
from dispatch._sqlite_users import SqliteUsers
from dispatch._users import (
    Passwords,
    User,
    UserRefused,
    new_personal_token,
    new_user,
    password_problem,
)


class UserAdmin:
    """The users of the store's file; `queues`: those the deployment has."""

    def __init__(self, store: SqlStore, queues: Collection[str],
                 passwords: Passwords | None = None) -> None:
        self._users = SqliteUsers(store)
        self._queues = queues
        self._passwords = passwords or Passwords()

    def add(self, name: str, role: str, queues: Iterable[str], display_name: str,
            password: str, now: datetime) -> User:
        user = new_user(name, role, queues, display_name, known_queues=self._queues)
        problem = password_problem(password)
        if problem is not None:
            raise UserRefused(problem)
        self._users.add(user, self._passwords.hash(password), now)
        return user

    def new_token(self, name: str) -> str:
        """A new personal token for the user, returned once; their previous one stops
        working."""
        token = new_personal_token()
        self._users.set_token(name, token_digest(token))
        return token

    def disable(self, name: str, now: datetime) -> None:
        self._users.disable(name, now)

    def enable(self, name: str) -> None:
        self._users.enable(name)

    def set_password(self, name: str, password: str) -> None:
        """A new password, checked against the policy; the user's sessions end."""
        problem = password_problem(password)
        if problem is not None:
            raise UserRefused(problem)
        self._users.set_password(name, self._passwords.hash(password))

    def users(self) -> list[tuple[User, bool]]:
        """Every user, and whether they have a personal token."""
        return self._users.users()
