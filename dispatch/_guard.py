"""The API's gate: who is asking is settled before what they send is read.

FastAPI reads and parses a route's body before it solves the route's dependencies, so a
token check written as a dependency would let a stranger's body cost memory and event-loop
time before the 401. `authenticated_route` gives the API's route class: it answers 401
from the request's headers alone, and only then lets the route read its body. It leaves
the caller it found on the request, where the role dependencies (`Caller`, `Officer`,
`Bureau`) pick it up: the token is looked up once a request. (How big a body may be at all
is the port's business: `lantian.http.BodyLimit`.)
"""

# No `from __future__ import annotations`: FastAPI reads the dependency aliases at runtime.

from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, Final

from fastapi import Depends, HTTPException
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from dispatch._access import Token, identify

UNAUTHENTICATED: Final = "a valid bearer token is required"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def bearer(tokens: Sequence[Token], authorization: str | None) -> Token | None:
    """The token an `Authorization: Bearer ...` header presents, if it is one of ours."""
    scheme, _, presented = (authorization or "").partition(" ")
    return identify(tokens, presented.strip()) if scheme.lower() == "bearer" else None


def unauthenticated(*, close: bool = False) -> JSONResponse:
    """The 401. `close`: the request's body was not read, so the connection is not
    reusable (and the client need not send the rest)."""
    headers = {"WWW-Authenticate": "Bearer"} | ({"Connection": "close"} if close else {})
    return JSONResponse({"detail": UNAUTHENTICATED}, status_code=401, headers=headers)


def authenticated_route(tokens: Sequence[Token]) -> type[APIRoute]:
    """A route class whose routes answer 401 to a missing or unknown bearer token before
    reading the body, and leave the token found on `request.state.caller`."""

    class AuthenticatedRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def authenticated(request: Request) -> Response:
                token = bearer(tokens, request.headers.get("authorization"))
                if token is None:
                    return unauthenticated(close=True)
                request.state.caller = token
                return await handler(request)

            return authenticated

    return AuthenticatedRoute


async def caller(request: Request) -> Token:
    token: Token | None = getattr(request.state, "caller", None)
    if token is None:  # a route outside the authenticated class: refuse, never guess
        raise HTTPException(401, UNAUTHENTICATED, {"WWW-Authenticate": "Bearer"})
    return token


Caller = Annotated[Token, Depends(caller)]


async def officer(token: Caller) -> Token:
    if not token.may_read_alerts:
        raise HTTPException(403, f"{token.name} may not read or act on alerts")
    return token


async def bureau(token: Caller) -> Token:
    if not token.may_read_metrics:
        raise HTTPException(403, f"{token.name} may not read metrics or reports")
    return token


Officer = Annotated[Token, Depends(officer)]
Bureau = Annotated[Token, Depends(bureau)]
