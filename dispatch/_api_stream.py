"""`GET /api/stream`: the live changes an officer may see, as Server-Sent Events.

Served with Starlette's own `StreamingResponse` rather than a Server-Sent Events library:
the framing is four lines (`dispatch._stream.frame`), and what such a library adds is
what the service must own itself. It needs its streams ended when it stops (uvicorn waits
for open responses; sse-starlette learns of a stop from signal handlers, which a service
run on a thread, as in the tests, does not install) and a slow client dropped rather
than waited for (the hub's bounded queues). The heartbeat is a comment line every
`heartbeat_s`, so that proxies keep an idle stream open.

The stream is not in `/openapi.json`: an endless response is no operation a generated
client can call (docs/dispatch.md describes it).
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Header
from starlette.responses import StreamingResponse

from dispatch._guard import Officer
from dispatch._stream import StreamHub, Subscription

#: Tells the browser how soon to reconnect after the stream ends (milliseconds).
_RETRY: Final = b"retry: 1000\n\n"


def stream_routes(router: APIRouter, hub: StreamHub, heartbeat_s: float = 15.0) -> None:
    @router.get("/stream", include_in_schema=False)
    async def stream(
        token: Officer,
        last_event_id: Annotated[str | None, Header(max_length=100)] = None,
    ) -> StreamingResponse:
        """Every committed change to an alert the caller may act on: `event: alert`,
        data `{"alert": ..., "events": [...]}`; `gone` when one left their queue;
        `hello` first on a fresh connection, `reset` when changes were missed."""
        sub = hub.subscribe(token, last_event_id)
        return StreamingResponse(
            _frames(hub, sub, heartbeat_s), media_type="text/event-stream",
            # no-transform / X-Accel-Buffering: a proxy must pass each event on at once
            headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
        )


async def _frames(hub: StreamHub, sub: Subscription, heartbeat_s: float
                  ) -> AsyncIterator[bytes]:
    try:
        yield _RETRY
        while True:
            try:
                data = await asyncio.wait_for(sub.frames.get(), heartbeat_s)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if data is None:
                return
            yield data
    finally:  # the client went away (Starlette cancels us), or the stream ended
        hub.unsubscribe(sub)
