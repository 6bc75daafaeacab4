"""The API's gate: who is asking is settled before what they send is read.

FastAPI reads and parses a route's body before it solves the route's dependencies, the
token check among them, so a stranger's body cost memory and event-loop time before the
401. `authenticated_route` gives the API's route class: it answers 401 from the request's
headers alone, and only then lets the route read its body. (How big a body may be at
all is the port's business: `lantian.http.BodyLimit`.)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final

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
    reading the body (the routes still resolve the token as a dependency, for its role)."""

    class AuthenticatedRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def authenticated(request: Request) -> Response:
                if bearer(tokens, request.headers.get("authorization")) is None:
                    return unauthenticated(close=True)
                return await handler(request)

            return authenticated

    return AuthenticatedRoute
