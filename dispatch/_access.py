"""Who may do what: callers with roles, and the bearer tokens configured for machines.

Every caller — a configured token, a named user signed in with a personal token or a
browser session — answers the same questions (`Grants`), from its role and its queues:

- an officer acts on its queues' alerts and on those its queues assist with, sees its
  queues' silences and the global ones, and makes and ends silences of its queues only;
- a supervisor sees and acts on every queue's alerts and silences (the global ones
  excepted, which are the admin's), and reads the bureau's figures;
- the bureau reads figures and reports and nothing else;
- an admin does everything.

Configured tokens are found by the SHA-256 of the presented token (`TokenBook`): one hash
and one dictionary look-up a request however many tokens there are, and what is compared
is a digest, so timing tells a guesser nothing about a token's characters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from dispatch._lifecycle import Incident


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    BUREAU = "bureau"
    ADMIN = "admin"


#: The roles that see and act on every queue.
_EVERY_QUEUE = (Role.SUPERVISOR, Role.ADMIN)


class Grants:
    """The permission questions, answered from `role` and `queues` (which the classes
    using it provide). The caller the API's guard leaves on a request is one of these."""

    __slots__ = ()
    name: str
    role: Role

    @property
    def queues(self) -> frozenset[str]:
        raise NotImplementedError

    @property
    def queue(self) -> str | None:
        """The caller's one queue, if it has exactly one: the default of a silence it
        makes, and what a refusal names."""
        queues = self.queues
        return next(iter(queues)) if len(queues) == 1 else None

    def may_act_on(self, incident: Incident) -> bool:
        if self.role in _EVERY_QUEUE:
            return True
        return self.role is Role.OFFICER and (
            incident.queue in self.queues or not self.queues.isdisjoint(incident.assists)
        )

    def may_see_silence(self, queue: str | None) -> bool:
        """A silence of `queue` (None: of every queue): an officer sees their queues' and
        the global ones."""
        return self.role in _EVERY_QUEUE or (
            self.role is Role.OFFICER and (queue is None or queue in self.queues)
        )

    def may_manage_silence(self, queue: str | None) -> bool:
        """Make or end a silence of `queue`: an officer only their queues', a supervisor
        any queue's, an admin any, global ones (None) included."""
        if self.role is Role.ADMIN:
            return True
        if queue is None:
            return False
        return self.role is Role.SUPERVISOR or (
            self.role is Role.OFFICER and queue in self.queues
        )

    def sees_every_queue(self) -> bool:
        return self.role in _EVERY_QUEUE

    @property
    def may_read_alerts(self) -> bool:
        return self.role in (Role.OFFICER, *_EVERY_QUEUE)

    @property
    def may_read_metrics(self) -> bool:
        return self.role in (Role.BUREAU, *_EVERY_QUEUE)


@dataclass(frozen=True, slots=True)
class Token(Grants):
    """A configured bearer token (for machines and integrations): an officer token has
    one queue."""

    name: str
    secret: str = field(repr=False)
    role: Role
    queue: str | None = None  # a field here; derived from `queues` in Grants

    @property
    def queues(self) -> frozenset[str]:
        return frozenset(() if self.queue is None else (self.queue,))


def token_digest(presented: str) -> str:
    """The SHA-256 of a token, as kept and looked up (hex)."""
    return hashlib.sha256(presented.encode()).hexdigest()


class TokenBook:
    """The configured tokens, by the digest of their secret."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self._by_digest: Mapping[str, Token] = MappingProxyType(
            {token_digest(t.secret): t for t in tokens}
        )

    def find(self, digest: str) -> Token | None:
        return self._by_digest.get(digest)


def identify(tokens: Iterable[Token], presented: str) -> Token | None:
    """The configured token `presented` is, if any."""
    return TokenBook(tokens).find(token_digest(presented))
