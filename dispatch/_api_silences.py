"""The silence routes: an officer mutes and unmutes their own queue's alerts; an admin any.

The rules of who may do what, and the bounds of a silence, are `dispatch._silences`';
these routes only parse and answer (403, 404, 422 by the reason a command is refused).
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

from collections.abc import Collection
from datetime import tzinfo
from typing import Any, Final

from fastapi import APIRouter, HTTPException
from starlette.responses import Response

from dispatch._api_answer import answer
from dispatch._api_models import SilenceBody, SilenceList, SilenceOut, answers
from dispatch._api_params import SilenceId
from dispatch._dispatcher import Clock
from dispatch._guard import Officer
from dispatch._queries import Queries
from dispatch._silences import (
    Silence,
    SilenceBook,
    SilenceRefused,
    create_silence,
    until_ended,
)
from dispatch._silences import end_silence as end_silence_now

#: The HTTP status of each reason a silence command is refused for.
_REFUSED: Final = {"forbidden": 403, "unknown": 404, "invalid": 422}


def silence_routes(
    router: APIRouter, read: Queries, book: SilenceBook, queues: Collection[str],
    tz: tzinfo, clock: Clock,
) -> None:
    @router.get("/silences", response_model=None, responses=answers(SilenceList, 403, 422))
    def list_silences(token: Officer, active: bool = False) -> Response:
        """The silences an officer's queue is under: its own and the global ones."""
        found = read.silences_for(token, active_at=clock() if active else None)
        return answer({"silences": [_silence_json(s, tz) for s in found]})

    @router.post("/silences", status_code=201, response_model=None,
                 responses=answers(SilenceOut, 400, 403, 413, 422, status=201))
    def add_silence(token: Officer, body: SilenceBody) -> Response:
        """A silence of the officer's queue (`queue` may only name it); an admin's mutes
        every queue's alerts, or the named queue's."""
        try:
            silence = create_silence(
                book, token, queues=queues, now=clock(), tz=tz,
                starts_at=body.starts_at, ends_at=body.ends_at, reason=body.reason,
                author=token.name, queue=body.queue, stations=body.stations,
                zones=body.zones, rules=body.rules,
            )
        except SilenceRefused as exc:
            raise HTTPException(_REFUSED[exc.reason], str(exc)) from exc
        return answer(_silence_json(silence, tz), 201)

    @router.delete("/silences/{silence_id}", response_model=None,
                   responses=answers(SilenceOut, 403, 404, 422))
    def end_silence(silence_id: SilenceId, token: Officer) -> Response:
        """Ends a silence now: an officer their queue's, an admin any."""
        try:
            ended = end_silence_now(book, silence_id, token, clock())
        except SilenceRefused as exc:
            raise HTTPException(_REFUSED[exc.reason], str(exc)) from exc
        return answer(_silence_json(ended, tz))


def _silence_json(s: Silence, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": s.id, "starts_at": s.starts_at.astimezone(tz).isoformat(),
        "ends_at": None if until_ended(s) else s.ends_at.astimezone(tz).isoformat(),
        "author": s.author, "reason": s.reason, "stations": sorted(s.stations),
        "zones": sorted(s.zones), "rules": sorted(s.rules), "ended_by": s.ended_by,
        "queue": s.queue,
    }
