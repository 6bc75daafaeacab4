"""The alert routes: the officers' queue and the lifecycle steps they take.

A step the incident's state does not allow is a 409 with the lifecycle's reason; an alert
of another queue (that this one does not assist) a 403; an unknown one a 404. A drone sent
to verify must be one the service knows (registered in config or heard from: the
composition root's `KnownDrones`), else a 422 naming those it knows: a mistyped drone
would otherwise never arrive on scene.
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.
# Every route is `async def`: the dispatcher and the store belong to the event loop alone,
# and a step runs in the store writer's turn (`dispatch._turns`); the lists and histories
# are read through a `ReadLane`, off the loop where the store waits on the network
# (PostgreSQL).

from collections.abc import Callable, Collection
from datetime import tzinfo
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query
from starlette.responses import Response

from dispatch._access import Grants
from dispatch._alert import Alert
from dispatch._api_answer import answer
from dispatch._api_models import (
    ActorBody,
    AlertList,
    AlertWithEvents,
    CloseBody,
    CommentBody,
    OnSceneBody,
    QueueBody,
    ReopenBody,
    StepResult,
    VerifyBody,
    answers,
)
from dispatch._api_params import AlertId, QueryName, QueryTime, parse_time
from dispatch._dispatcher import Dispatcher, NotFound
from dispatch._guard import Officer
from dispatch._lifecycle import (
    Ack,
    Assist,
    Close,
    Command,
    Comment,
    OnScene,
    Refused,
    Reopen,
    State,
    Transfer,
    Verify,
)
from dispatch._read_lane import ReadLane
from dispatch._turns import Turns
from dispatch._wire import event_json, history_json

#: The drones a verify step may send, asked at each step (drones are heard at any time);
#: None: any name is taken.
KnownDrones = Callable[[], Collection[str]]

#: What a lifecycle step answers, or why it refuses.
_STEP: Final = answers(StepResult, 400, 403, 404, 409, 413, 422)


def unknown_drone(drone: str, known: Collection[str]) -> str | None:
    """Why `drone` may not be sent, or None when it may."""
    if drone in known:
        return None
    names = ", ".join(sorted(known)[:50]) or "none"
    return f"unknown drone {drone!r}; the known drones are: {names}"


def alert_for(dispatcher: Dispatcher, alert_id: str, token: Grants) -> Alert:
    """The alert, if `token` may act on it (404, 403 otherwise)."""
    try:
        alert = dispatcher.get(alert_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    check_may_act(alert, token)
    return alert


def take_step(dispatcher: Dispatcher, tz: tzinfo, alert_id: str, token: Grants,
              make: Callable[[Alert, str], Command]) -> dict[str, Any]:
    """A lifecycle step on the alert as it is now (in the writer's turn): the alert and
    the events it made, or 409 with the lifecycle's reason."""
    alert = alert_for(dispatcher, alert_id, token)
    try:
        alert, events = dispatcher.act(alert, make(alert, token.name))
    except Refused as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"alert": alert.to_json(tz), "events": [
        event_json(e, alert.incident.state.value, alert.incident.queue, tz) for e in events
    ]}


def alert_routes(router: APIRouter, dispatcher: Dispatcher, read: ReadLane, tz: tzinfo,
                 drones: KnownDrones | None = None, turns: Turns | None = None) -> None:
    in_turn = turns or Turns.inline()

    def step(alert_id: str, token: Grants, make: Callable[[Alert, str], Command]) -> Response:
        return answer(take_step(dispatcher, tz, alert_id, token, make))

    async def run(alert_id: str, token: Grants, make: Callable[[Alert, str], Command]
                  ) -> Response:
        return await in_turn(step, alert_id, token, make)

    @router.get("/alerts", response_model=None, responses=answers(AlertList, 403, 422))
    async def list_alerts(
        token: Officer,
        queue: QueryName = None,
        state: State | None = None,
        since: QueryTime = None,
        until: QueryTime = None,
        zone: QueryName = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        """Alerts newest first. An officer sees their own queues' (and those they assist);
        a supervisor and an admin every queue's."""
        queues: list[str] | None = [queue] if queue is not None else None
        if not token.sees_every_queue():
            if queue is not None and queue not in token.queues:
                raise HTTPException(403, f"{token.name} may only list queues "
                                    f"{', '.join(sorted(token.queues))}")
            queues = queues or sorted(token.queues)
        start, end = parse_time(since, tz, "since"), parse_time(until, tz, "until")
        found = await read(lambda q: q.alerts(
            queues=queues, state=state, since=start, until=end, zone=zone, limit=limit))
        return answer({"alerts": [a.to_json(tz) for a in found]})

    @router.get("/alerts/{alert_id}", response_model=None,
                responses=answers(AlertWithEvents, 403, 404, 422))
    async def show_alert(alert_id: AlertId, token: Officer) -> Response:
        try:
            alert, events = await read(lambda q: q.alert_with_events(alert_id))
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        check_may_act(alert, token)
        out = alert.to_json(tz)
        out["events"] = history_json(alert, events, tz)  # each as it was published
        return answer(out)

    @router.post("/alerts/{alert_id}/ack", response_model=None, responses=_STEP)
    async def ack(
        alert_id: AlertId, token: Officer, body: ActorBody | None = None
    ) -> Response:
        return await run(alert_id, token, lambda a, who: Ack(who))

    @router.post("/alerts/{alert_id}/verify", response_model=None, responses=_STEP)
    async def verify(
        alert_id: AlertId, token: Officer, body: VerifyBody | None = None
    ) -> Response:
        def make(alert: Alert, who: str) -> Command:
            drone = body.drone if body and body.drone else _suggested(alert)
            if drone is None:
                raise HTTPException(422, "no drone given and none was suggested for this alert")
            refused = None if drones is None else unknown_drone(drone, drones())
            if refused is not None:
                raise HTTPException(422, refused)
            return Verify(who, drone)
        return await run(alert_id, token, make)

    @router.post("/alerts/{alert_id}/on-scene", response_model=None, responses=_STEP)
    async def on_scene(
        alert_id: AlertId, token: Officer, body: OnSceneBody | None = None
    ) -> Response:
        def make(alert: Alert, who: str) -> Command:
            drone = body.drone if body else None
            refused = None if drone is None or drones is None else unknown_drone(
                drone, drones())
            if refused is not None:  # an officer on foot names none; a drone must exist
                raise HTTPException(422, refused)
            return OnScene(who, drone)
        return await run(alert_id, token, make)

    @router.post("/alerts/{alert_id}/transfer", response_model=None, responses=_STEP)
    async def transfer(alert_id: AlertId, token: Officer, body: QueueBody) -> Response:
        return await run(alert_id, token, lambda a, who: Transfer(who, body.queue))

    @router.post("/alerts/{alert_id}/assist", response_model=None, responses=_STEP)
    async def assist(alert_id: AlertId, token: Officer, body: QueueBody) -> Response:
        return await run(alert_id, token, lambda a, who: Assist(who, body.queue))

    @router.post("/alerts/{alert_id}/close", response_model=None, responses=_STEP)
    async def close(alert_id: AlertId, token: Officer, body: CloseBody) -> Response:
        """Close with a receipt (回执): outcome, note and the officer (the caller)."""
        return await run(alert_id, token, lambda a, who: Close(who, body.outcome,
                                                         body.note))

    @router.post("/alerts/{alert_id}/comments", response_model=None, responses=_STEP)
    async def comment(alert_id: AlertId, token: Officer, body: CommentBody) -> Response:
        """A note on the incident's timeline, in any state (a closed one's too)."""
        return await run(alert_id, token, lambda a, who: Comment(who, body.text))

    @router.post("/alerts/{alert_id}/reopen", response_model=None, responses=_STEP)
    async def reopen(
        alert_id: AlertId, token: Officer, body: ReopenBody | None = None
    ) -> Response:
        return await run(alert_id, token, lambda a, who: Reopen(who,
                                                          body.reason if body else ""))


def _suggested(alert: Alert) -> str | None:
    suggestion = alert.description.get("drone_suggestion")
    return suggestion.get("drone") if isinstance(suggestion, dict) else None


def check_may_act(alert: Alert, token: Grants) -> None:
    if not token.may_act_on(alert.incident):
        raise HTTPException(
            403, f"alert {alert.id} is in queue {alert.incident.queue!r}; "
            f"{token.name} acts on {', '.join(map(repr, sorted(token.queues))) or 'no queue'}"
        )
