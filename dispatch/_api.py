"""The HTTP API for duty officers and the environment bureau (mounted on the service's
one port by the composition root).

Every route names who may call it. A missing or unknown token is 401 (answered before
the request's body is read, `dispatch._guard`), a known token asking for what its role
does not allow is 403, an unknown alert 404, a lifecycle step that does not apply 409 with
the reason, a malformed request 422 saying which field: never a silent success. Every
string, list and time a request carries is bounded (lengths in `dispatch._api_models`,
times in `_time` and `dispatch._silences.window_problem`): what the API takes, the store
can keep and read back. Every answer's shape is documented in `/openapi.json` by the
models of `dispatch._api_models`, with the bearer scheme and the refusals above.
"""

# No `from __future__ import annotations` here: FastAPI resolves the route parameters'
# annotations at runtime, and the role dependencies are local to `api_router`.
# Every route and dependency is `async def`: FastAPI runs plain `def` ones on a thread
# pool, and the store, the dispatcher and the rule state belong to the event loop alone
# (DESIGN.md, "Process model"); two requests on two threads broke each other's
# transactions on the one SQLite connection.


from collections.abc import Callable, Sequence
from datetime import date, datetime, time, tzinfo
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Security
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from dispatch._access import Token
from dispatch._alert import Alert
from dispatch._api_models import (
    BEARER,
    ActorBody,
    AlertList,
    AlertWithEvents,
    CloseBody,
    Coverage,
    DataGapList,
    MonthlyReport,
    OnSceneBody,
    QueueBody,
    ReopenBody,
    ResponseTimes,
    SilenceBody,
    SilenceList,
    SilenceOut,
    StepResult,
    VerifyBody,
    answers,
    errors,
)
from dispatch._dispatcher import Clock, Dispatcher, NotFound
from dispatch._figures import GroupBy
from dispatch._figures import to_csv as metrics_csv
from dispatch._figures import to_json as metrics_json
from dispatch._guard import UNAUTHENTICATED, authenticated_route, bearer
from dispatch._lifecycle import (
    Ack,
    Assist,
    Close,
    Command,
    OnScene,
    Refused,
    Reopen,
    State,
    Transfer,
    Verify,
)
from dispatch._queries import Queries
from dispatch._report import month_bounds
from dispatch._report import to_json as report_json
from dispatch._silences import (
    Silence,
    SilenceBook,
    SilenceRefused,
    create_silence,
    until_ended,
)
from dispatch._silences import end_silence as end_silence_now
from dispatch._wire import event_json, history_json

#: The data gaps overlapping [since, until), as JSON-ready dicts.
DataGaps = Callable[[datetime, datetime], list[dict[str, Any]]]

AlertId = Annotated[str, Path(max_length=100)]
SilenceId = Annotated[str, Path(max_length=200)]
QueryName = Annotated[str | None, Query(max_length=100)]
QueryTime = Annotated[str | None, Query(max_length=40)]

#: What a lifecycle step answers, or why it refuses.
_STEP: Final = answers(StepResult, 400, 403, 404, 409, 413, 422)

#: The years a query's since/until may fall in: a typo such as 0001 or 9999 is refused
#: rather than answered with an empty list or, near datetime's limits, an overflow.
YEARS: Final = (2000, 2100)


def api_router(
    dispatcher: Dispatcher, tokens: Sequence[Token], tz: tzinfo, clock: Clock,
    coverage: Callable[[date], dict[str, Any]] | None = None,
    data_gaps: DataGaps | None = None, *, queries: Queries, silences: SilenceBook,
) -> APIRouter:
    """The API's routes. `coverage` gives the daily patrol coverage report (the rules'
    state, which dispatch does not hold); `data_gaps` the spans in which messages may
    have been lost before they reached the service (ingest's). `queries` answers the
    reads and `silences` keeps the silences (the store, in the service)."""
    read, book = queries, silences
    router = APIRouter(
        prefix="/api", route_class=authenticated_route(tokens),
        # declares the scheme on every operation for /docs and generated clients; the
        # check itself is the route class's, from the headers, before the body is read
        dependencies=[Security(BEARER)], responses=errors(401),
    )

    async def caller(request: Request) -> Token:
        token = bearer(tokens, request.headers.get("authorization"))
        if token is None:  # the route class has answered 401 already; here for safety
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

    def alert_for(alert_id: str, token: Token) -> Alert:
        try:
            alert = dispatcher.get(alert_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        _check_may_act(alert, token)
        return alert

    def run(alert_id: str, token: Token, make: Callable[[Alert, str], Command]) -> dict[str, Any]:
        alert = alert_for(alert_id, token)
        try:
            alert, events = dispatcher.act(alert, make(alert, token.name))
        except Refused as exc:
            raise HTTPException(409, str(exc)) from exc
        return {"alert": alert.to_json(tz), "events": [
            event_json(e, alert.incident.state.value, alert.incident.queue, tz) for e in events
        ]}

    @router.get("/alerts", response_model=None, responses=answers(AlertList, 403, 422))
    async def list_alerts(
        token: Officer,
        queue: QueryName = None,
        state: State | None = None,
        since: QueryTime = None,
        until: QueryTime = None,
        zone: QueryName = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Alerts newest first. An officer sees their own queue's (and those it assists)."""
        if token.queue is not None and queue not in (None, token.queue):
            raise HTTPException(403, f"{token.name} may only list queue {token.queue!r}")
        queues = [q for q in (queue or token.queue,) if q is not None] or None
        found = read.alerts(
            queues=queues, state=state, since=_time(since, tz, "since"),
            until=_time(until, tz, "until"), zone=zone, limit=limit,
        )
        return {"alerts": [a.to_json(tz) for a in found]}

    @router.get("/alerts/{alert_id}", response_model=None,
                responses=answers(AlertWithEvents, 403, 404, 422))
    async def show_alert(alert_id: AlertId, token: Officer) -> dict[str, Any]:
        try:
            alert, events = read.alert_with_events(alert_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        _check_may_act(alert, token)
        out = alert.to_json(tz)
        out["events"] = history_json(alert, events, tz)  # each as it was published
        return out

    @router.post("/alerts/{alert_id}/ack", response_model=None, responses=_STEP)
    async def ack(
        alert_id: AlertId, token: Officer, body: ActorBody | None = None
    ) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: Ack(_actor(body, who)))

    @router.post("/alerts/{alert_id}/verify", response_model=None, responses=_STEP)
    async def verify(
        alert_id: AlertId, token: Officer, body: VerifyBody | None = None
    ) -> dict[str, Any]:
        def make(alert: Alert, who: str) -> Command:
            drone = body.drone if body and body.drone else _suggested(alert)
            if drone is None:
                raise HTTPException(422, "no drone given and none was suggested for this alert")
            return Verify(_actor(body, who), drone)
        return run(alert_id, token, make)

    @router.post("/alerts/{alert_id}/on-scene", response_model=None, responses=_STEP)
    async def on_scene(
        alert_id: AlertId, token: Officer, body: OnSceneBody | None = None
    ) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: OnScene(_actor(body, who),
                                                           body.drone if body else None))

    @router.post("/alerts/{alert_id}/transfer", response_model=None, responses=_STEP)
    async def transfer(alert_id: AlertId, token: Officer, body: QueueBody) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: Transfer(_actor(body, who), body.queue))

    @router.post("/alerts/{alert_id}/assist", response_model=None, responses=_STEP)
    async def assist(alert_id: AlertId, token: Officer, body: QueueBody) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: Assist(_actor(body, who), body.queue))

    @router.post("/alerts/{alert_id}/close", response_model=None, responses=_STEP)
    async def close(alert_id: AlertId, token: Officer, body: CloseBody) -> dict[str, Any]:
        """Close with a receipt (回执): outcome, note and the officer (`actor`)."""
        return run(alert_id, token, lambda a, who: Close(_actor(body, who), body.outcome,
                                                         body.note))

    @router.post("/alerts/{alert_id}/reopen", response_model=None, responses=_STEP)
    async def reopen(
        alert_id: AlertId, token: Officer, body: ReopenBody | None = None
    ) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: Reopen(_actor(body, who),
                                                          body.reason if body else ""))

    @router.get(
        "/metrics/response-times", response_model=None,
        responses=answers(ResponseTimes, 403, 422) | {200: {
            "model": ResponseTimes, "description": "the figures (`format=csv`: as CSV)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }},
    )
    async def metrics(
        token: Bureau,
        since: Annotated[str, Query(max_length=40)],
        until: Annotated[str, Query(max_length=40)],
        group_by: GroupBy = GroupBy.QUEUE,
        format: Literal["json", "csv"] = "json",
    ) -> Response | dict[str, Any]:
        """Response times of the alerts raised in [since, until), by the definitions in
        the README ("Response-time metrics")."""
        start, end = _time(since, tz, "since"), _time(until, tz, "until")
        assert start is not None and end is not None
        if end <= start:
            raise HTTPException(422, "until must be after since")
        results = read.response_times(start, end, group_by, now=clock())
        if format == "csv":
            return PlainTextResponse(metrics_csv(results), media_type="text/csv")
        return {"since": start.isoformat(), "until": end.isoformat(),
                "group_by": group_by.value, "groups": metrics_json(results)}

    @router.get("/reports/monthly", response_model=None,
                responses=answers(MonthlyReport, 403, 422))
    async def monthly(
        token: Bureau, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
    ) -> dict[str, Any]:
        try:
            start, end = month_bounds(month, tz)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        _check_year(start.year, "month")
        out = report_json(read.monthly_report(month, start, end))
        if data_gaps is not None:  # the hours whose figures may be incomplete
            out["data_gaps"] = data_gaps(start, end)
        return out

    @router.get("/reports/data-gaps", response_model=None,
                responses=answers(DataGapList, 403, 422))
    async def gaps(
        token: Bureau,
        since: Annotated[str, Query(max_length=40)],
        until: Annotated[str, Query(max_length=40)],
    ) -> dict[str, Any]:
        """Spans in which messages may have been lost at the broker (it lost the
        service's session), overlapping [since, until)."""
        start, end = _time(since, tz, "since"), _time(until, tz, "until")
        assert start is not None and end is not None
        if end <= start:
            raise HTTPException(422, "until must be after since")
        return {"data_gaps": [] if data_gaps is None else data_gaps(start, end)}

    @router.get("/reports/coverage", response_model=None,
                responses=answers(Coverage, 403, 404, 422))
    async def patrol_coverage(
        token: Bureau, day: Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    ) -> dict[str, Any]:
        """Which patrol areas, communities and land-use plots each drone visited on a
        local day (kept for `rules.drones.coverage_days` days)."""
        if coverage is None:
            raise HTTPException(404, "patrol coverage is not available in this deployment")
        try:
            when = date.fromisoformat(day)
        except ValueError as exc:
            raise HTTPException(422, f"day: not a date: {day!r}") from exc
        _check_year(when.year, "day")
        return coverage(when)

    @router.get("/silences", response_model=None, responses=answers(SilenceList, 403, 422))
    async def list_silences(token: Officer, active: bool = False) -> dict[str, Any]:
        """The silences an officer's queue is under: its own and the global ones."""
        found = read.silences_for(token, active_at=clock() if active else None)
        return {"silences": [_silence_json(s, tz) for s in found]}

    @router.post("/silences", status_code=201, response_model=None,
                 responses=answers(SilenceOut, 400, 403, 413, 422, status=201))
    async def add_silence(token: Officer, body: SilenceBody) -> dict[str, Any]:
        """A silence of the officer's queue (`queue` may only name it); an admin's mutes
        every queue's alerts, or the named queue's."""
        try:
            silence = create_silence(
                book, token, queues=dispatcher.queues, now=clock(), tz=tz,
                starts_at=body.starts_at, ends_at=body.ends_at, reason=body.reason,
                author=_actor(body, token.name), queue=body.queue, stations=body.stations,
                zones=body.zones, rules=body.rules,
            )
        except SilenceRefused as exc:
            raise HTTPException(_REFUSED[exc.reason], str(exc)) from exc
        return _silence_json(silence, tz)

    @router.delete("/silences/{silence_id}", response_model=None,
                   responses=answers(SilenceOut, 403, 404, 422))
    async def end_silence(silence_id: SilenceId, token: Officer) -> dict[str, Any]:
        """Ends a silence now: an officer their queue's, an admin any."""
        try:
            ended = end_silence_now(book, silence_id, token, clock())
        except SilenceRefused as exc:
            raise HTTPException(_REFUSED[exc.reason], str(exc)) from exc
        return _silence_json(ended, tz)

    return router


def _actor(body: ActorBody | None, default: str) -> str:
    return body.actor if body is not None and body.actor else default


def _suggested(alert: Alert) -> str | None:
    suggestion = alert.description.get("drone_suggestion")
    return suggestion.get("drone") if isinstance(suggestion, dict) else None


#: The HTTP status of each reason a silence command is refused for.
_REFUSED: Final = {"forbidden": 403, "unknown": 404, "invalid": 422}


def _check_may_act(alert: Alert, token: Token) -> None:
    if not token.may_act_on(alert.incident):
        raise HTTPException(
            403, f"alert {alert.id} is in queue {alert.incident.queue!r}; "
            f"{token.name} acts on {token.queue!r}"
        )


def _aware(at: datetime, tz: tzinfo) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def _time(text: str | None, tz: tzinfo, name: str) -> datetime | None:
    """ISO 8601 date or time; without an offset it is local time (a date: local midnight).
    Its year is within `YEARS`."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None:
        raise HTTPException(422, f"{name}: expected an ISO 8601 date or time, got {text!r}")
    if len(text) == 10:
        at = datetime.combine(at.date(), time(), tz)
    _check_year(at.year, name)
    return _aware(at, tz)


def _check_year(year: int, name: str) -> None:
    if not YEARS[0] <= year < YEARS[1]:
        raise HTTPException(422, f"{name}: must be in the years {YEARS[0]}-{YEARS[1] - 1}")


def _silence_json(s: Silence, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": s.id, "starts_at": s.starts_at.astimezone(tz).isoformat(),
        "ends_at": None if until_ended(s) else s.ends_at.astimezone(tz).isoformat(),
        "author": s.author, "reason": s.reason, "stations": sorted(s.stations),
        "zones": sorted(s.zones), "rules": sorted(s.rules), "ended_by": s.ended_by,
        "queue": s.queue,
    }


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)
