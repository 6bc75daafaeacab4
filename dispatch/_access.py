"""Who may do what: bearer tokens with roles.

An officer token acts on its own queue's alerts and on those its queue assists with, and
makes and ends silences of its own queue only; a bureau token reads metrics and reports
and nothing else; an admin token does everything.
Tokens are compared in constant time so that a wrong guess teaches nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from dispatch._lifecycle import Incident


class Role(StrEnum):
    OFFICER = "officer"
    BUREAU = "bureau"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Token:
    name: str
    secret: str = field(repr=False)
    role: Role
    queue: str | None = None

    def may_act_on(self, incident: Incident) -> bool:
        if self.role is Role.ADMIN:
            return True
        return self.role is Role.OFFICER and (
            incident.queue == self.queue or self.queue in incident.assists
        )

    def may_see_silence(self, queue: str | None) -> bool:
        """A silence of `queue` (None: of every queue): an officer sees their queue's and
        the global ones."""
        return self.role is Role.ADMIN or (
            self.role is Role.OFFICER and queue in (None, self.queue)
        )

    def may_manage_silence(self, queue: str | None) -> bool:
        """Make or end a silence of `queue`: an officer only their own queue's, an admin
        any, global ones (None) included."""
        return self.role is Role.ADMIN or (
            self.role is Role.OFFICER and queue is not None and queue == self.queue
        )

    @property
    def may_read_alerts(self) -> bool:
        return self.role in (Role.OFFICER, Role.ADMIN)

    @property
    def may_read_metrics(self) -> bool:
        return self.role in (Role.BUREAU, Role.ADMIN)


def identify(tokens: Iterable[Token], presented: str) -> Token | None:
    found = None
    for token in tokens:  # no early exit: every token costs the same comparison
        if hmac.compare_digest(token.secret.encode(), presented.encode()):
            found = token
    return found
