"""The HTTP API for duty officers and the environment bureau (mounted on the service's
one port by the composition root).

Every route names who may call it. A missing or unknown token is 401 (answered before
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

# Every route and dependency is `async def`: FastAPI runs plain `def` ones on a thread
# pool, and the store, the dispatcher and the rule state belong to the event loop alone
# (docs/architecture.md, "One process, one event loop"); two requests on two threads
# broke each other's transactions on the one SQLite connection.
from collections.abc import Sequence
from datetime import tzinfo

from fastapi import APIRouter, Security

from dispatch._access import Token
from dispatch._api_alerts import alert_routes
from dispatch._api_models import BEARER, errors
from dispatch._api_reports import CoverageReport, DataGaps, report_routes
from dispatch._api_silences import silence_routes
from dispatch._dispatcher import Clock, Dispatcher
from dispatch._gazetteer import NO_NAMES, Gazetteer
from dispatch._guard import authenticated_route
from dispatch._queries import Queries
from dispatch._silences import SilenceBook


def api_router(
    dispatcher: Dispatcher, tokens: Sequence[Token], tz: tzinfo, clock: Clock,
    coverage: CoverageReport | None = None,
    data_gaps: DataGaps | None = None, *, queries: Queries, silences: SilenceBook,
    names: Gazetteer = NO_NAMES,
) -> APIRouter:
    """The API's routes. `coverage` gives the daily patrol coverage report (the rules'
    state, which dispatch does not hold); `data_gaps` the spans in which messages may
    have been lost before they reached the service (ingest's). `queries` answers the
    reads and `silences` keeps the silences (the store, in the service). `names` are
    config's names of zones, grids and stations, which the bureau's reports print."""
    router = APIRouter(
        prefix="/api", route_class=authenticated_route(tokens),
        # declares the scheme on every operation for /docs and generated clients; the
        # check itself is the route class's, from the headers, before the body is read
        dependencies=[Security(BEARER)], responses=errors(401),
    )
    alert_routes(router, dispatcher, queries, tz)
    report_routes(router, queries, tz, clock, coverage, data_gaps, names)
    silence_routes(router, queries, silences, dispatcher.queues, tz, clock)
    return router
