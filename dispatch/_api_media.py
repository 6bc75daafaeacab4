"""Photos on an incident: `POST /api/alerts/{id}/photos` takes one image as the request's
body (its `Content-Type` is not trusted: the first bytes say JPEG, PNG or WebP, or it is
refused 415; over `MAX_PHOTO` it is 413), keeps it by its SHA-256 and records a
`commented` event naming it; `GET /api/media/{sha256}?alert={id}` serves it back to whoever
may see that alert, when that alert's timeline names it.

The body is the image itself rather than a multipart form: one photo a request, no form
parser between the network and the bytes, and `fetch(url, {body: file})` in the browser.
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

import asyncio
from datetime import tzinfo
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from dispatch._access import Grants
from dispatch._api_alerts import alert_for, check_may_act, take_step
from dispatch._api_models import StepResult, answers, errors
from dispatch._api_params import NO_NUL, AlertId
from dispatch._dispatcher import Dispatcher, NotFound
from dispatch._guard import Officer
from dispatch._lifecycle import Comment, Event, EventKind
from dispatch._media import MAX_PHOTO, MediaStore, image_type
from dispatch._queries import Queries
from dispatch._turns import Turns

#: How a browser may keep a photo: it never changes under its name.
_CACHE: Final = "private, max-age=86400, immutable"
_IMAGES: Final = ("image/jpeg", "image/png", "image/webp")
Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="the photo's SHA-256")]


def media_routes(router: APIRouter, dispatcher: Dispatcher, read: Queries, tz: tzinfo,
                 media: MediaStore, turns: Turns | None = None) -> None:
    in_turn = turns or Turns.inline()

    def timeline(alert_id: str, token: Grants) -> list[Event]:
        try:
            found, events = read.alert_with_events(alert_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        check_may_act(found, token)
        return events

    @router.post("/alerts/{alert_id}/photos", response_model=None,
                 responses=answers(StepResult, 403, 404, 409, 413, 415, 422, 503),
                 openapi_extra={"requestBody": {"required": True, "content": {
                     kind: {"schema": {"type": "string", "format": "binary"}}
                     for kind in _IMAGES}}})
    async def add_photo(alert_id: AlertId, token: Officer, request: Request) -> dict[str, Any]:
        """One photo (JPEG, PNG or WebP, at most 5 MiB) on the incident's timeline."""
        await in_turn(alert_for, dispatcher, alert_id, token)  # before the photo is read
        data = await request.body()
        if len(data) > MAX_PHOTO:
            raise HTTPException(413, f"a photo is at most {MAX_PHOTO // (1024 * 1024)} MiB; "
                                f"this one is {len(data)} bytes")
        if image_type(data) is None:
            raise HTTPException(415, "not a JPEG, PNG or WebP image (judged by its content, "
                                "not its name or type)")
        try:
            digest = await asyncio.to_thread(media.put, data)
        except OSError as exc:  # the disk is full, or the directory not ours: say so
            raise HTTPException(503, f"the photo could not be kept: {exc.strerror or exc}"
                                ) from exc
        found: dict[str, Any] = await in_turn(  # the alert as it is now, after the write
            take_step, dispatcher, tz, alert_id, token,
            lambda a, who: Comment(who, "", (digest,)))
        return found

    served: dict[int | str, dict[str, Any]] = {200: {"description": "the photo", "content": {
        kind: {"schema": {"type": "string", "format": "binary"}} for kind in _IMAGES}}}

    @router.get("/media/{digest}", response_model=None, response_class=Response,
                responses=served | errors(403, 404, 422))
    async def photo(digest: Digest, token: Officer,
                    alert: Annotated[str, Query(min_length=1, max_length=100, pattern=NO_NUL,
                                                description="the alert whose timeline "
                                                "names the photo")]) -> Response:
        """A photo of an alert's timeline."""
        events = await in_turn(timeline, alert, token)
        named = any(e.kind is EventKind.COMMENTED and digest in e.data.get("photos", ())
                    for e in events)
        kept = await asyncio.to_thread(media.get, digest) if named else None
        if kept is None:
            raise HTTPException(404, f"alert {alert} has no photo {digest}")
        data, kind = kept
        return Response(data, media_type=kind, headers={
            "Cache-Control": _CACHE, "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'"})
