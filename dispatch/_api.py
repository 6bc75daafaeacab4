"""The HTTP API for duty officers and the environment bureau (mounted on the service's
one port by the composition root).

Every route names who may call it. A missing or unknown token is 401, a known token
asking for what its role does not allow is 403, an unknown alert 404, a lifecycle step
that does not apply 409 with the reason, a malformed request 422 saying which field:
never a silent success.
"""

# No `from __future__ import annotations` here: FastAPI resolves the route parameters'
# annotations at runtime, and the role dependencies are local to `api_router`.
# Every route and dependency is `async def`: FastAPI runs plain `def` ones on a thread
# pool, and the store, the dispatcher and the rule state belong to the event loop alone
# (DESIGN.md, "Process model"); two requests on two threads broke each other's
# transactions on the one SQLite connection.


import os
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, tzinfo
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from dispatch._access import Token, identify
from dispatch._alert import Alert
from dispatch._dispatcher import Dispatcher, NotFound, event_json
from dispatch._lifecycle import (
    Ack,
    Assist,
    Close,
    Command,
    OnScene,
    Outcome,
    Refused,
    Reopen,
    State,
    Transfer,
    Verify,
)
from dispatch._metrics import GroupBy, response_times_of
from dispatch._metrics import to_csv as metrics_csv
from dispatch._metrics import to_json as metrics_json
from dispatch._report import month_bounds, monthly_report
from dispatch._report import to_json as report_json
from dispatch._store import Silence

Clock = Callable[[], datetime]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class VerifyBody(_Body):
    drone: Annotated[str, Field(min_length=1)] | None = None  # default: the suggestion


class OnSceneBody(_Body):
    drone: str | None = None


class QueueBody(_Body):
    queue: Annotated[str, Field(min_length=1)]


class CloseBody(_Body):
    outcome: Outcome
    note: Annotated[str, Field(min_length=1, max_length=2000)]


class ReopenBody(_Body):
    reason: str = ""


class SilenceBody(_Body):
    stations: list[str] = []
    zones: list[str] = []
    rules: list[str] = []
    starts_at: datetime | None = None
    ends_at: datetime
    reason: Annotated[str, Field(min_length=1)]


def api_router(
    dispatcher: Dispatcher, tokens: Sequence[Token], tz: tzinfo, clock: Clock,
    coverage: Callable[[date], dict[str, Any]] | None = None,
) -> APIRouter:
    """The API's routes. `coverage` gives the daily patrol coverage report (the rules'
    state, which dispatch does not hold)."""
    router = APIRouter(prefix="/api")

    async def caller(authorization: Annotated[str | None, Header()] = None) -> Token:
        scheme, _, presented = (authorization or "").partition(" ")
        token = identify(tokens, presented.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise HTTPException(
                401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )
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
        if not token.may_act_on(alert.incident):
            raise HTTPException(
                403, f"alert {alert_id} is in queue {alert.incident.queue!r}; "
                f"{token.name} acts on {token.queue!r}"
            )
        return alert

    def run(alert_id: str, token: Token, make: Callable[[Alert, str], Command]) -> dict[str, Any]:
        alert = alert_for(alert_id, token)
        try:
            alert, events = dispatcher.act(alert, make(alert, token.name))
        except Refused as exc:
            raise HTTPException(409, str(exc)) from exc
        return {"alert": alert.to_json(tz), "events": [
            event_json(e, alert.incident.state.value, alert, tz) for e in events
        ]}

    @router.get("/alerts")
    async def list_alerts(
        token: Officer,
        queue: str | None = None,
        state: State | None = None,
        since: str | None = None,
        until: str | None = None,
        zone: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Alerts newest first. An officer sees their own queue's (and those it assists)."""
        if token.queue is not None and queue not in (None, token.queue):
            raise HTTPException(403, f"{token.name} may only list queue {token.queue!r}")
        queues = [q for q in (queue or token.queue,) if q is not None] or None
        found = dispatcher.store.query(
            queues=queues, state=state, since=_time(since, tz, "since"),
            until=_time(until, tz, "until"), zone=zone, limit=limit,
        )
        return {"alerts": [a.to_json(tz) for a in found]}

    @router.get("/alerts/{alert_id}")
    async def show_alert(alert_id: str, token: Officer) -> dict[str, Any]:
        alert = alert_for(alert_id, token)
        events = dispatcher.store.events(alert_id)
        out = alert.to_json(tz)
        out["events"] = [
            {"seq": e.seq, "kind": e.kind, "at": e.at.astimezone(tz).isoformat(),
             "actor": e.actor, "data": dict(e.data)} for e in events
        ]
        return out

    @router.post("/alerts/{alert_id}/ack")
    async def ack(alert_id: str, token: Officer, body: _Body | None = None) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: Ack(_actor(body, who)))

    @router.post("/alerts/{alert_id}/verify")
    async def verify(
        alert_id: str, token: Officer, body: VerifyBody | None = None
    ) -> dict[str, Any]:
        def make(alert: Alert, who: str) -> Command:
            drone = body.drone if body and body.drone else _suggested(alert)
            if drone is None:
                raise HTTPException(422, "no drone given and none was suggested for this alert")
            return Verify(_actor(body, who), drone)
        return run(alert_id, token, make)

    @router.post("/alerts/{alert_id}/on-scene")
    async def on_scene(
        alert_id: str, token: Officer, body: OnSceneBody | None = None
    ) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: OnScene(_actor(body, who),
                                                           body.drone if body else None))

    @router.post("/alerts/{alert_id}/transfer")
    async def transfer(alert_id: str, token: Officer, body: QueueBody) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: Transfer(_actor(body, who), body.queue))

    @router.post("/alerts/{alert_id}/assist")
    async def assist(alert_id: str, token: Officer, body: QueueBody) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: Assist(_actor(body, who), body.queue))

    @router.post("/alerts/{alert_id}/close")
    async def close(alert_id: str, token: Officer, body: CloseBody) -> dict[str, Any]:
        """Close with a receipt (回执): outcome, note and the officer (`actor`)."""
        return run(alert_id, token, lambda a, who: Close(_actor(body, who), body.outcome,
                                                         body.note))

    @router.post("/alerts/{alert_id}/reopen")
    async def reopen(
        alert_id: str, token: Officer, body: ReopenBody | None = None
    ) -> dict[str, Any]:
        return run(alert_id, token, lambda a, who: Reopen(_actor(body, who),
                                                          body.reason if body else ""))

    @router.get("/metrics/response-times", response_model=None)
    async def metrics(
        token: Bureau,
        since: str,
        until: str,
        group_by: GroupBy = GroupBy.QUEUE,
        format: Literal["json", "csv"] = "json",
    ) -> Response | dict[str, Any]:
        """Response times of the alerts raised in [since, until), by the definitions in
        the README ("Response-time metrics")."""
        start, end = _time(since, tz, "since"), _time(until, tz, "until")
        assert start is not None and end is not None
        if end <= start:
            raise HTTPException(422, "until must be after since")
        columns = dispatcher.store.metric_columns(start, end)
        results = response_times_of(columns, group_by=group_by, tz=tz, now=clock().timestamp())
        if format == "csv":
            return PlainTextResponse(metrics_csv(results), media_type="text/csv")
        return {"since": start.isoformat(), "until": end.isoformat(),
                "group_by": group_by.value, "groups": metrics_json(results)}

    @router.get("/reports/monthly")
    async def monthly(
        token: Bureau, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
    ) -> dict[str, Any]:
        try:
            start, end = month_bounds(month, tz)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        report = monthly_report(
            month, dispatcher.store.closed_rows(start, end), dispatcher.store.open_rows(end), tz
        )
        return report_json(report)

    @router.get("/reports/coverage")
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
        return coverage(when)

    @router.get("/silences")
    async def list_silences(token: Officer, active: bool = False) -> dict[str, Any]:
        found = dispatcher.store.silences(active_at=clock() if active else None)
        return {"silences": [_silence_json(s, tz) for s in found]}

    @router.post("/silences", status_code=201)
    async def add_silence(token: Officer, body: SilenceBody) -> dict[str, Any]:
        now = clock()
        starts = _aware(body.starts_at, tz) if body.starts_at else now
        ends = _aware(body.ends_at, tz)
        if ends <= starts:
            raise HTTPException(422, "ends_at must be after starts_at")
        if not (body.stations or body.zones or body.rules):
            raise HTTPException(422, "a silence needs at least one station, zone or rule")
        silence = Silence(
            # the time orders them; the random part keeps two in the same instant apart
            id=f"silence-{int(now.timestamp() * 1000):x}-{os.urandom(3).hex()}",
            starts_at=starts, ends_at=ends,
            author=_actor(body, token.name), reason=body.reason,
            stations=frozenset(body.stations), zones=frozenset(body.zones),
            rules=frozenset(body.rules), created_at=now,
        )
        dispatcher.store.add_silence(silence)
        return _silence_json(silence, tz)

    @router.delete("/silences/{silence_id}")
    async def end_silence(silence_id: str, token: Officer) -> dict[str, Any]:
        ended = dispatcher.store.end_silence(silence_id, clock(), token.name)
        if ended is None:
            raise HTTPException(404, f"no silence {silence_id!r}")
        return _silence_json(ended, tz)

    return router


def _actor(body: _Body | None, default: str) -> str:
    return body.actor if body is not None and body.actor else default


def _suggested(alert: Alert) -> str | None:
    suggestion = alert.description.get("drone_suggestion")
    return suggestion.get("drone") if isinstance(suggestion, dict) else None


def _aware(at: datetime, tz: tzinfo) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def _time(text: str | None, tz: tzinfo, name: str) -> datetime | None:
    """ISO 8601 date or time; without an offset it is local time (a date: local midnight)."""
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
    return _aware(at, tz)


def _silence_json(s: Silence, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": s.id, "starts_at": s.starts_at.astimezone(tz).isoformat(),
        "ends_at": s.ends_at.astimezone(tz).isoformat() if s.ends_at.year < 9999 else None,
        "author": s.author, "reason": s.reason, "stations": sorted(s.stations),
        "zones": sorted(s.zones), "rules": sorted(s.rules), "ended_by": s.ended_by,
    }


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)
