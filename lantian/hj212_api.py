"""`GET /api/hj212/loggers`: the data loggers connected over TCP now (the registry the
HJ 212 listener keeps), for any caller the API admits (a token, a personal token or a
session). Added to the API's routes only when the listener is configured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from fastapi import APIRouter
from pydantic import BaseModel

from ingest.hj212_tcp import Hj212Server


class Logger(BaseModel):
    """One TCP connection from a data logger. `mn` and `station` are null until its first
    readable packet; times are in the service's time zone."""

    mn: str | None
    station: str | None
    peer: str
    connected_since: str
    last_packet_at: str | None
    packets: int
    rejects: int
    junk_bytes: int
    answers: int


class Loggers(BaseModel):
    connections: int
    loggers: list[Logger]


def loggers_routes(server: Hj212Server, tz: tzinfo) -> Callable[[APIRouter], None]:
    """The route, for `dispatch.api_router(more_routes=...)`: on the API's router, whose
    gate admits the caller before the route runs."""

    def add(router: APIRouter) -> None:
        @router.get("/hj212/loggers", response_model=Loggers, tags=["data loggers"])
        async def loggers() -> Loggers:
            """The data loggers connected now, by MN, with their packet counts."""
            sessions = server.loggers.sessions()
            return Loggers(
                connections=len(sessions),
                loggers=[Logger.model_validate(s.as_dict(tz)) for s in sessions],
            )

    return add
