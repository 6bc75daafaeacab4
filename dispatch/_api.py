"""The HTTP API for duty officers and the environment bureau (mounted on the service's
one port by the composition root).

Every route names who may call it: a configured token, a named user's personal token
or a signed-in browser (`dispatch._guard`; signing in: `dispatch._api_auth`). A missing
or unknown credential is 401 (answered before
the request's body is read, `dispatch._guard`), a known token asking for what its role
does not allow is 403, an unknown alert 404, a lifecycle step that does not apply 409 with
the reason, a malformed request 422 saying which field: never a silent success. Every
string, list and time a request carries is bounded (lengths in `dispatch._api_models`
and `dispatch._api_params`, a silence's times in `dispatch._silences.window_problem`):
what the API takes, the store can keep and read back. Every answer's shape is documented
in `/openapi.json` by the models of `dispatch._api_models`, with the bearer scheme and the
refusals above.

The routes live by concept: alerts and their lifecycle (`dispatch._api_alerts`), the
bureau's figures and reports (`dispatch._api_reports`), silences (`dispatch._api_silences`).
They read through the read model and command through the dispatcher or the silence
commands, never through the store.
"""

from __future__ import annotations

# FastAPI runs a plain `def` route on a thread pool, but the store, the dispatcher and the
# rule state belong to the event loop alone (docs/architecture.md, "One process, one
# event loop"): two requests on two threads broke each other's transactions on the one
# SQLite connection. So every dependency is `async def`, and a route is either `async
# def`, handing its store work to the writer's turn itself (`dispatch._turns`), or a
# plain `def` that uses only the store, which the route class runs in a turn
# (`dispatch._guard.turn_route`).
from collections.abc import Callable, Sequence
from datetime import tzinfo

from fastapi import APIRouter, Security

from dispatch._access import Token
from dispatch._api_alerts import KnownDrones, alert_routes
from dispatch._api_auth import auth_router, logout_route, me_route
from dispatch._api_deadletters import DeadLetterLog, deadletter_routes
from dispatch._api_map import MapView, map_routes
from dispatch._api_media import media_routes
from dispatch._api_models import BEARER, errors
from dispatch._api_notify import NotificationView, notification_routes
from dispatch._api_readings import ReadingSource, readings_routes
from dispatch._api_reports import CoverageReport, DataGaps, report_routes
from dispatch._api_silences import silence_routes
from dispatch._api_stream import stream_routes
from dispatch._api_users import UserList, user_routes
from dispatch._dispatcher import Clock, Dispatcher
from dispatch._gazetteer import NO_NAMES, Gazetteer
from dispatch._guard import Gate, authenticated_route
from dispatch._media import MediaStore
from dispatch._queries import Queries
from dispatch._read_lane import ReadLane
from dispatch._sessions import SessionPolicy
from dispatch._silences import SilenceBook
from dispatch._stream import StreamHub
from dispatch._turns import Turns
from dispatch._users import Passwords, UserBook


def api_router(
    dispatcher: Dispatcher, tokens: Sequence[Token], tz: tzinfo, clock: Clock,
    coverage: CoverageReport | None = None,
    data_gaps: DataGaps | None = None, *, queries: Queries, silences: SilenceBook,
    stream: StreamHub | None = None, map_view: MapView | None = None,
    users: UserBook | None = None, passwords: Passwords | None = None,
    sessions: SessionPolicy | None = None,
    notifications: NotificationView | None = None,
    names: Gazetteer = NO_NAMES,
    drones: KnownDrones | None = None,
    media: MediaStore | None = None,
    deadletters: DeadLetterLog | None = None,
    readings: ReadingSource | None = None,
    bureau_reads: ReadLane | None = None,
    console_reads: ReadLane | None = None,
    more_routes: Sequence[Callable[[APIRouter], None]] = (),
    turns: Turns | None = None,
) -> APIRouter:
    """The API's routes. `coverage` gives the daily patrol coverage report (the rules'
    state, which dispatch does not hold); `data_gaps` the spans in which messages may
    have been lost before they reached the service (ingest's). `queries` answers the
    reads and `silences` keeps the silences (the store, in the service); `stream` (the
    dispatcher's listener) serves the live changes at `/api/stream`; `map_view` builds
    the console's map (`/api/map`). With `users` (the store's), named users sign in with
    personal tokens and browser sessions (`/auth/login`, `/auth/logout`), under
    `sessions`' rules; without, only `tokens`. `names` are config's names of zones, grids
    and stations, which the bureau's reports print. `drones` gives the drones a verify step
    may send (the others are refused 422; without it, any); `media` keeps the incidents'
    photos (`/api/alerts/{id}/photos`, `/api/media/{sha256}`); `deadletters` are ingest's
    refused messages, counted per hour for the admin page (`/api/deadletters`);
    `readings` the stored time series (InfluxDB), charted around an alert
    (`/api/alerts/{id}/readings`; without it, the rule window of its evidence).
    `bureau_reads` runs the bureau's figures and monthly report off the event loop, and
    `console_reads` the consoles' alert lists and histories (without them, `queries`
    answers on the loop).
    `more_routes` add the composition root's own reads (another package's state) behind
    the same gate. `turns` are the store writer's (`dispatch._turns`): every use of the
    store, the dispatcher and the users outside a lane runs in one."""
    turns = turns or Turns.inline()
    gate = Gate(tokens, users, clock, turns)
    on_loop = ReadLane(queries, turns=turns)  # the reads no lane of their own was given
    api = APIRouter(
        prefix="/api", route_class=authenticated_route(gate),
        # declares the scheme on every operation for /docs and generated clients; the
        # check itself is the route class's, from the headers, before the body is read
        dependencies=[Security(BEARER)], responses=errors(401),
    )
    me_route(api)
    alert_routes(api, dispatcher, console_reads or on_loop, tz, drones, turns)
    readings_routes(api, lambda alert_id: dispatcher.get(alert_id), tz, clock, readings,
                    turns)
    if media is not None:
        media_routes(api, dispatcher, queries, tz, media, turns)
    report_routes(api, bureau_reads or on_loop, tz, clock, coverage, data_gaps, names,
                  turns)
    silence_routes(api, queries, silences, dispatcher.queues, tz, clock)
    if stream is not None:
        stream_routes(api, stream)
    if map_view is not None:
        map_routes(api, map_view)
    notification_routes(api, notifications, tz)
    if deadletters is not None:
        deadletter_routes(api, deadletters, tz, clock)
    if isinstance(users, UserList):  # the store's book lists them: the admin page's read
        user_routes(api, users)
    for add in more_routes:
        add(api)
    routers = [api]
    if users is not None:
        routers.append(auth_router(
            users, passwords or Passwords(), clock, sessions or SessionPolicy(), turns))
        signed_in = APIRouter(prefix="/auth", route_class=authenticated_route(gate),
                              tags=["sign-in"])
        logout_route(signed_in, users)
        routers.append(signed_in)
    return _flat(routers)


def _flat(routers: Sequence[APIRouter]) -> APIRouter:
    """One router holding the routes of `routers`, each route as it was made (with its
    router's prefix and gate). Not `include_router`: FastAPI matches an included router
    as a nested one, on every request, and an acknowledgement paid for the nesting in
    some 200 calls (a sixth of its cost)."""
    flat = APIRouter()
    for router in routers:
        flat.routes.extend(router.routes)
    return flat
