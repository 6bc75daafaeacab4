"""The service's one HTTP port: health, metrics, the API's documentation and a cap on
request bodies; `dispatch` mounts its API here.

`/docs` (Swagger UI) is served with its script, style and icon from the
`fastapi-offline` package under `/static`, not from a CDN: government networks are often
isolated, and there a CDN-backed page is blank."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Generic, Literal, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("lantian.http")

#: A check of `/healthz`: True when it passes; one that must wait for something (the
#: store writer's turn) returns an awaitable of that, bounded by `BoundedRead`.
#: Seconds `/healthz` and `/metrics` wait for what they read in the store writer's turn.
STORE_WAIT_S: Final = 2.0

T = TypeVar("T")

HealthCheck = Callable[[], bool | Awaitable[bool]]

#: The largest request body the port accepts. The API's largest legitimate body, a
#: silence naming a thousand stations, is about 20 KiB.
MAX_BODY: Final = 64 * 1024

#: Where the documentation pages' scripts, styles and icon are served from.
STATIC: Final = "/static"


class Health(BaseModel):
    """The service's health (see `create_app`)."""

    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, bool]


def create_app(
    registry: CollectorRegistry,
    checks: Mapping[str, HealthCheck],
    *,
    degraded: Mapping[str, HealthCheck] | None = None,
    max_body: int = MAX_BODY,
    large_bodies: tuple[tuple[str, int], ...] = (),
    slow_metrics: Callable[[], Awaitable[bytes]] | None = None,
) -> FastAPI:
    """The app behind the port: `/healthz`, `/metrics`, every request body capped at
    `max_body` bytes (413, see `BodyLimit`; `large_bodies`: a path matching a pattern
    has that cap instead, e.g. a photo's upload), every error answered as
    `{"detail": ...}`.

    `/healthz` runs every check (a check that raises counts as failing) and answers:

    - 503 `{"status": "unavailable", "checks": {...}}` when one of `checks` fails: the
      service cannot do its job (broker gone, store not writable); restart or page;
    - 200 `{"status": "degraded", "checks": {...}}` when all `checks` pass but one of
      `degraded` fails: a dependency the service works on without (the time-series
      server) is down. Liveness holds, so an orchestrator does not restart the service
      for a fault a restart cannot fix; the status says it for whoever watches;
    - 200 `{"status": "ok", "checks": {...}}` otherwise.

    `checks` names every check of both kinds with its result.

    `/metrics` is `registry`'s, followed by `slow_metrics`' (the figures read from the
    store, in the writer's turn: a `BoundedRead` of them).
    """
    app = FastAPIOffline(
        title="Lantian", version="0.1.0", static_url=STATIC,
        # one documentation page: ReDoc's sidebar logo still comes from its CDN
        redoc_url=None,
        # Swagger UI would otherwise fetch a validity badge from validator.swagger.io
        swagger_ui_parameters={"validatorUrl": None},
    )
    required, optional = dict(checks), dict(degraded or {})

    # async: run on the event loop, which owns the store the checks touch (not a thread)
    @app.get("/healthz", response_model=None, responses={
        200: {"model": Health, "description": "ok, or degraded: a dependency the service "
              "works without is down"},
        503: {"model": Health, "description": "unavailable: the service cannot do its job"},
    })
    async def healthz() -> JSONResponse:
        results = {name: await _passes(name, check)
                   for name, check in {**required, **optional}.items()}
        status, code = health_status(
            all(results[n] for n in required), all(results[n] for n in optional)
        )
        return JSONResponse({"status": status, "checks": results}, status_code=code)

    @app.get("/metrics", response_class=PlainTextResponse, responses={200: {
        "description": "Prometheus text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }})
    async def metrics() -> Response:
        text = generate_latest(registry)
        if slow_metrics is not None:
            text += await slow_metrics()
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(BodyLimit, max_body=max_body, large_bodies=large_bodies)
    # every answer is `{"detail": ...}` JSON, a crash's too (Starlette's is plain text);
    # the exception is still raised on to the server, which logs it
    app.add_exception_handler(Exception, _internal_error)
    return app


async def _internal_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": "internal error; the service's log has it"}, status_code=500)


def health_status(required_ok: bool, optional_ok: bool) -> tuple[str, int]:
    """/healthz's status and HTTP code, from whether the required and the optional
    checks all pass."""
    if not required_ok:
        return "unavailable", 503
    return ("ok", 200) if optional_ok else ("degraded", 200)


async def _passes(name: str, check: HealthCheck) -> bool:
    try:
        found = check()
        return bool(await found if inspect.isawaitable(found) else found)
    except Exception:  # a check that cannot tell says "not healthy", it does not 500
        log.exception("health check %s failed", name)
        return False


class BoundedRead(Generic[T]):
    """`read` run in the store writer's turn (`turns`) for a caller that must answer
    soon whatever the store does (`/healthz`, `/metrics`): one such read at a time, and
    a caller waits for it at most `wait_s`, then takes `late(last)` instead (as when
    the read failed), `last` being what the read gave the last time it ran (None before
    it ever ran). A store
    slow or away holds the read, never the caller; the read still runs when its turn
    comes, and what it gives is the next caller's."""

    def __init__(self, turns: Callable[[Callable[[], T]], Awaitable[T]],
                 read: Callable[[], T], late: Callable[[T | None], T], *,
                 wait_s: float = STORE_WAIT_S) -> None:
        self._turns, self._read, self._late, self._wait_s = turns, read, late, wait_s
        self._running: asyncio.Future[T] | None = None
        self._last: T | None = None

    async def __call__(self) -> T:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._turns(self._read))
            self._running.add_done_callback(self._ran)
        done, _ = await asyncio.wait({self._running}, timeout=self._wait_s)
        if not done:
            return self._late(self._last)
        failure = self._running.exception()
        if failure is not None:  # a read that failed is late for good: say it, go on
            log.warning("a read for %s failed: %r", getattr(self._read, "__name__", "?"),
                        failure)
            return self._late(self._last)
        return self._running.result()

    def _ran(self, running: asyncio.Future[T]) -> None:
        if not running.cancelled() and running.exception() is None:
            self._last = running.result()


class BodyLimit:
    """Pure ASGI middleware: a request body over `max_body` bytes is answered 413 with
    `{"detail": ...}` and the connection closed.

    A declared Content-Length over the limit is refused before the app runs and before a
    byte of the body is read. A body without one (chunked) is counted as the app reads
    it: once over, the 413 is sent from here, the app is told the client went away, and
    whatever it answers after that is dropped. So no route can buffer more than
    `max_body` bytes, whatever it does with its body.
    """

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY,
                 large_bodies: tuple[tuple[str, int], ...] = ()) -> None:
        self.app = app
        self.max_body = max_body
        self._large = [(re.compile(pattern), cap) for pattern, cap in large_bodies]

    def cap(self, path: str) -> int:
        """The largest body a request to `path` may send."""
        return next((cap for pattern, cap in self._large if pattern.fullmatch(path)),
                    self.max_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.cap(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        read, answered, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal read, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    answered = True
                    if not started:
                        await _too_large(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # we answered 413 already; the app's late answer has no one to go to
            started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one before we see it
    return None


async def _too_large(send: Send, limit: int) -> None:
    await send_json(send, 413, {"detail": f"request body over {limit} bytes"})


async def send_json(
    send: Send, status: int, body: object, headers: Mapping[str, str] | None = None
) -> None:
    """A whole JSON response sent on a raw ASGI `send`, asking the server to close the
    connection: the request body may be unread, so the connection cannot be reused."""
    payload = json.dumps(body, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload)),
           (b"connection", b"close")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
