"""The notification routes: what waits to reach the officers' groups and the platforms,
and what was given up on, per channel (the console's admin page reads this).

Admins and the bureau (supervisors) only: a channel's backlog tells who is not being
told, which is theirs to act on.
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, Protocol

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from dispatch._api_models import answers
from dispatch._guard import Bureau
from dispatch._notify import ChannelBacklog


class NotificationView(Protocol):
    """The channels and their backlog (`dispatch._deliveries.DeliveryWorker`)."""

    @property
    def channels(self) -> Mapping[str, object]: ...

    def backlog(self) -> list[ChannelBacklog]: ...


class ChannelState(BaseModel):
    """One channel: its undelivered notifications, the oldest's age, those given up on
    in the last day, and the last error it answered."""

    model_config = ConfigDict(extra="forbid")
    channel: str
    pending: int
    oldest_pending_at: str | None
    dead: int
    last_error: str | None


class NotificationState(BaseModel):
    """Every configured channel's notifications."""

    model_config = ConfigDict(extra="forbid")
    channels: list[ChannelState]


def notification_routes(router: APIRouter, view: NotificationView | None, tz: tzinfo) -> None:
    """GET /notifications; without a view (no channels configured) it lists none."""

    @router.get("/notifications", response_model=None,
                responses=answers(NotificationState, 403))
    def notifications(token: Bureau) -> dict[str, Any]:
        """Pending and dead notifications per channel (admins and the bureau)."""
        if view is None:
            return {"channels": []}
        found = {b.channel: b for b in view.backlog()}
        out = []
        for name in view.channels:
            b = found.get(name)
            oldest = None if b is None or b.oldest_pending is None else (
                datetime.fromtimestamp(b.oldest_pending, tz).isoformat())
            out.append({"channel": name, "pending": b.pending if b else 0,
                        "oldest_pending_at": oldest, "dead": b.dead if b else 0,
                        "last_error": b.last_error if b else None})
        return {"channels": out}
