"""`GET /api/hj212/loggers`: the data loggers connected over TCP now (the registry the
HJ 212 listener keeps), for any holder of an API token. Mounted only when the listener
is configured."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import tzinfo
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from dispatch import Token
from ingest import Hj212Server

_BEARER = HTTPBearer(auto_error=False, description="An officer's, the bureau's or an admin's.")


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


class Refusal(BaseModel):
    detail: str


def loggers_router(server: Hj212Server, tokens: Sequence[Token], tz: tzinfo) -> APIRouter:
    router = APIRouter(prefix="/api/hj212", tags=["data loggers"])

    def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        presented = credentials.credentials.encode() if credentials is not None else b""
        if not any(hmac.compare_digest(presented, t.secret.encode()) for t in tokens):
            raise HTTPException(401, "a valid bearer token is required",
                                {"WWW-Authenticate": "Bearer"})

    @router.get(
        "/loggers", response_model=Loggers, dependencies=[Depends(caller)],
        responses={401: {"model": Refusal, "description": "no valid bearer token"}},
    )
    async def loggers() -> Loggers:
        """The data loggers connected now, by MN, with their packet counts."""
        sessions = server.loggers.sessions()
        return Loggers(
            connections=len(sessions),
            loggers=[Logger.model_validate(s.as_dict(tz)) for s in sessions],
        )

    return router
