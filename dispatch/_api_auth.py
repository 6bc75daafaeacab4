"""Signing in and out of the console, and who one is: `/auth/login`, `/auth/logout`,
`/api/me` (the contract with the console: docs/dispatch.md, "Sign-in").

`POST /auth/login` takes a user name and password (JSON, or an HTML form's fields),
checks the password against its argon2 hash and, if right, starts a server-side session:
the `lantian_session` cookie (HttpOnly) carries its id, the `lantian_csrf` cookie (read by
the page's script) its CSRF token; both SameSite=Strict, Secure over https. A wrong
password and an unknown user get the same 401, at the same cost; repeated failures of a
name or an address a 429 with `Retry-After` (`dispatch._sessions`).

Password checks run one at a time, on a worker thread: the event loop stays free for the
officers' work, and the failures a guesser has had are always counted before the next
guess is checked.
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dispatch._access import token_digest
from dispatch._api_models import Problem
from dispatch._guard import Caller
from dispatch._sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    SessionPolicy,
    Strikes,
    after_failure,
    locked_for,
    retry_after_s,
)
from dispatch._turns import Turns
from dispatch._users import MAX_PASSWORD, Passwords, User, UserBook, new_secret

WRONG: Final = "wrong user name or password"


class LoginBody(BaseModel):
    # a login form may carry more fields (its button, where to go next): not refused
    model_config = ConfigDict(extra="ignore")

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)]


class Me(BaseModel):
    """Who is signed in (or whose token this is), and what they may see."""

    model_config = ConfigDict(extra="forbid")

    username: str
    display_name: str
    role: str = Field(description="officer, supervisor, bureau or admin")
    queues: list[str] = Field(description="an officer's queues; empty for the other roles, "
                              "which see every queue or none")


class SignedIn(BaseModel):
    """Signed in: the session and CSRF cookies are set."""

    model_config = ConfigDict(extra="forbid")

    user: Me


_LOGIN_SCHEMA: Final = LoginBody.model_json_schema()
_PROBLEMS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "wrong user name or password (the same for an "
          "unknown user)"},
    422: {"model": Problem, "description": "a body without a user name and password"},
    429: {"model": Problem, "description": "too many failed logins of this user name or from "
          "this address: try again after `Retry-After` seconds"},
}


def me_of(who: Any) -> dict[str, Any]:
    """`/api/me`'s answer for any caller: a user, or a configured token."""
    if isinstance(who, User):
        return who.me()
    return {"username": who.name, "display_name": who.name, "role": who.role.value,
            "queues": sorted(who.queues)}


def me_route(router: APIRouter) -> None:
    @router.get("/me", response_model=None, responses={200: {"model": Me,
                "description": "who the caller is"}})
    async def me(who: Caller) -> dict[str, Any]:
        """Who is asking (the console calls it first, and goes to `/login` on a 401)."""
        return me_of(who)


def auth_router(
    users: UserBook, passwords: Passwords, clock: Callable[[], datetime],
    policy: SessionPolicy, turns: Turns | None = None,
) -> APIRouter:
    """`/auth/login`. The users are the store's: read and written in the writer's turn
    (`turns`), the password checked outside it, on a thread."""
    in_turn = turns or Turns.inline()
    router = APIRouter(prefix="/auth", tags=["sign-in"])
    one_at_a_time = asyncio.Lock()

    signed_in: dict[int | str, dict[str, Any]] = {
        200: {"model": SignedIn, "description": "signed in; the cookies are set"}}

    @router.post("/login", response_model=None, responses=signed_in | _PROBLEMS,
                 openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": _LOGIN_SCHEMA},
        "application/x-www-form-urlencoded": {"schema": _LOGIN_SCHEMA},
    }}})
    async def login(request: Request) -> Response:
        """Sign in with a user name and password (JSON or an HTML form)."""
        try:
            given = LoginBody.model_validate(await _fields(request))
        except (ValidationError, ValueError):
            return _problem(422, "a user name and a password are required")
        address = request.client.host if request.client else "unknown"
        keys = (f"user:{given.username}", f"addr:{address}")

        def locked(now: datetime) -> list[timedelta]:
            return [w for k in keys if (w := locked_for(users.strikes(k), now)) is not None]

        def strike() -> None:
            for k in keys:
                users.set_strikes(k, after_failure(users.strikes(k), clock(), policy))

        async with one_at_a_time:
            now = clock()
            waits = await in_turn(locked, now)
            if waits:
                return _problem(429, "too many failed logins; try again later",
                                {"Retry-After": str(retry_after_s(max(waits)))})
            found = await in_turn(users.for_login, given.username)
            right = await asyncio.to_thread(
                passwords.check, found[1] if found else None, given.password)
            if not right or found is None:
                await in_turn(strike)
                return _problem(401, WRONG)
            await in_turn(users.set_strikes, keys[0], Strikes())
        user = found[0]
        session_id, csrf = new_secret(), new_secret()
        session = Session(user.name, csrf, now + policy.lifetime)
        await in_turn(users.start_session, token_digest(session_id), session, now)
        response = JSONResponse({"user": user.me()})
        secure = policy.secure_cookies or request.url.scheme == "https"
        max_age = int(policy.lifetime.total_seconds())
        response.set_cookie(SESSION_COOKIE, session_id, max_age=max_age, path="/",
                            secure=secure, httponly=True, samesite="strict")
        response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=secure,
                            httponly=False, samesite="strict")
        return response

    return router


def logout_route(router: APIRouter, users: UserBook) -> None:
    """`/auth/logout`, on a router of the authenticated route class (a session's request
    that changes state: the CSRF header is checked before this runs)."""

    @router.post("/logout", status_code=204, response_model=None, responses={
        204: {"description": "signed out; the cookies are cleared"},
        401: {"model": Problem, "description": "not signed in"},
        403: {"model": Problem, "description": "CSRF token missing or wrong"},
    })
    def logout(request: Request, who: Caller) -> Response:  # in the writer's turn
        """End this browser's session."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            users.end_session(token_digest(session_id))
        response = Response(status_code=204)
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", samesite="strict")
        return response


async def _fields(request: Request) -> dict[str, Any]:
    """The login's fields, from JSON or a urlencoded form (the port bounds the body)."""
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8", errors="strict"), max_num_fields=8)
        return {k: v[0] for k, v in form.items() if v}
    loaded = json.loads(body)
    if not isinstance(loaded, dict):
        raise ValueError("not an object")
    return loaded


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)
