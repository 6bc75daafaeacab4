"""The API's gate: who is asking is settled before what they send is read.

FastAPI reads and parses a route's body before it solves the route's dependencies, so a
credential check written as a dependency would let a stranger's body cost memory and
event-loop time before the 401. `authenticated_route` gives the API's route class: it
answers from the request's headers alone (`Gate.admit`), and only then lets the route
read its body. It leaves the caller it found on `request.state.caller`, where the role
dependencies (`Caller`, `Officer`, `Bureau`) pick it up: the credential is looked up once
a request. (How big a body may be at all is the port's business: `lantian.http.BodyLimit`.)

A caller is found by, in this order:

1. `Authorization: Bearer ...`: a configured token (machines, `LANTIAN_ADMIN_TOKEN`), else
   a user's personal token, both by the token's SHA-256: one hash, one dictionary look-up
   and at most one indexed read a request;
2. the `lantian_session` cookie of a signed-in browser: a live session of an enabled
   user. A request that changes state must then repeat the `lantian_csrf` cookie in the
   `X-CSRF-Token` header (403 otherwise, `dispatch._sessions`).
"""

# No `from __future__ import annotations`: FastAPI reads the dependency aliases at runtime.

import functools
import inspect
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import Depends, HTTPException
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from dispatch._access import Grants, Token, TokenBook, identify, token_digest
from dispatch._sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, UNSAFE_METHODS, csrf_ok
from dispatch._turns import Turns
from dispatch._users import UserBook

UNAUTHENTICATED: Final = "a valid bearer token or session is required"
CSRF_REFUSED: Final = "CSRF token missing or wrong"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def presented_bearer(authorization: str | None) -> str | None:
    """The token an `Authorization: Bearer ...` header presents."""
    scheme, _, presented = (authorization or "").partition(" ")
    return presented.strip() if scheme.lower() == "bearer" else None


def bearer(tokens: Sequence[Token], authorization: str | None) -> Token | None:
    """The configured token an `Authorization: Bearer ...` header presents, if any."""
    presented = presented_bearer(authorization)
    return None if presented is None else identify(tokens, presented)


def unauthenticated(*, close: bool = False) -> JSONResponse:
    """The 401. `close`: the request's body was not read, so the connection is not
    reusable (and the client need not send the rest)."""
    headers = {"WWW-Authenticate": "Bearer"} | ({"Connection": "close"} if close else {})
    return JSONResponse({"detail": UNAUTHENTICATED}, status_code=401, headers=headers)


class Gate:
    """Finds the caller of a request: configured tokens, then (with `users`) personal
    tokens and browser sessions, whose expiry `clock` judges."""

    def __init__(self, tokens: Iterable[Token], users: UserBook | None = None,
                 clock: Callable[[], datetime] | None = None, turns: Turns | None = None
                 ) -> None:
        if users is not None and clock is None:
            raise ValueError("sessions need a clock")
        #: the users and sessions are the store's: read in the writer's turn
        self.turns = turns or Turns.inline()
        self._tokens = TokenBook(tokens)
        self._users = users
        self._clock = clock

    def configured(self, request: Request) -> Grants | None:
        """The caller of a configured token: found in memory, without the store's turn
        (a machine's request is answered while the store is slow or away)."""
        presented = presented_bearer(request.headers.get("authorization"))
        return None if presented is None else self._tokens.find(token_digest(presented))

    def admit(self, request: Request) -> Grants | JSONResponse:
        """The caller, or the refusal to answer with (401, or 403 for a missing CSRF
        header)."""
        presented = presented_bearer(request.headers.get("authorization"))
        if presented is not None:
            digest = token_digest(presented)
            found: Grants | None = self._tokens.find(digest)
            if found is None and self._users is not None:
                found = self._users.by_token(digest)
            return unauthenticated(close=True) if found is None else found
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or self._users is None or self._clock is None:
            return unauthenticated(close=True)
        live = self._users.session(token_digest(cookie), self._clock())
        if live is None:
            return unauthenticated(close=True)
        session, user = live
        if request.method in UNSAFE_METHODS and not csrf_ok(
            session, request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)
        ):
            return JSONResponse({"detail": CSRF_REFUSED}, status_code=403,
                                headers={"Connection": "close"})
        return user


def authenticated_route(gate: Gate | Sequence[Token]) -> type[APIRoute]:
    """A route class whose routes answer 401 (or the CSRF 403) before reading the body,
    and leave the caller found on `request.state.caller`. Given tokens, only they admit.
    Its plain `def` routes run in the store writer's turn (`turn_route`)."""
    the_gate = gate if isinstance(gate, Gate) else Gate(gate)

    class AuthenticatedRoute(turn_route(the_gate.turns)):  # type: ignore[misc]
        def get_route_handler(self) -> Handler:
            handler: Handler = super().get_route_handler()

            async def authenticated(request: Request) -> Response:
                found: Grants | Response | None = the_gate.configured(request)
                if found is None:
                    found = await the_gate.turns(the_gate.admit, request)
                if isinstance(found, Response):
                    return found
                request.state.caller = found
                return await handler(request)

            return authenticated

    return AuthenticatedRoute


def turn_route(turns: Turns) -> type[APIRoute]:
    """A route class whose plain `def` routes run in the store writer's turn
    (`dispatch._turns`), where FastAPI would run them on its thread pool: the store and
    the dispatcher are the event loop's. An `async def` route runs on the loop, and
    hands its store work to the turn itself."""

    class TurnRoute(APIRoute):
        def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
            if not inspect.iscoroutinefunction(endpoint):
                endpoint = _in_turn(endpoint, turns)
            super().__init__(path, endpoint, **kwargs)

    return TurnRoute


def _in_turn(endpoint: Callable[..., Any], turns: Turns) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the parameters through the wrapper
    async def in_turn(*args: Any, **kwargs: Any) -> Any:
        return await turns(endpoint, *args, **kwargs)

    return in_turn


async def caller(request: Request) -> Grants:
    found: Grants | None = getattr(request.state, "caller", None)
    if found is None:  # a route outside the authenticated class: refuse, never guess
        raise HTTPException(401, UNAUTHENTICATED, {"WWW-Authenticate": "Bearer"})
    return found


Caller = Annotated[Grants, Depends(caller)]


async def officer(who: Caller) -> Grants:
    if not who.may_read_alerts:
        raise HTTPException(403, f"{who.name} may not read or act on alerts")
    return who


async def bureau(who: Caller) -> Grants:
    if not who.may_read_metrics:
        raise HTTPException(403, f"{who.name} may not read metrics or reports")
    return who


Officer = Annotated[Grants, Depends(officer)]
Bureau = Annotated[Grants, Depends(bureau)]
