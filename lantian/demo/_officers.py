"""The duty officers: they learn of an alert when it lands in their queue, look at it in
the API, and act on it through the API with their own tokens, following the story's plan
for that incident (or a plain default for one the story did not foresee).

What to do next is a pure function of the plan, the alert as the API shows it, and the
time (`next_move`): the officers keep no memory of their own beyond the plan, so an alert
that moved on without them (the drone put it on scene, the other office closed it) is
simply seen to have moved on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from lantian.demo import _story as story
from lantian.demo._devices import DroneSim, response_plan
from lantian.demo._sim import Scheduler

log = logging.getLogger("lantian.demo")

STATES = ("raised", "dispatched", "acknowledged", "verifying", "on_scene", "closed")
#: How often an officer waiting for something (the drone on scene) looks again.
RECHECK_S = 30.0

Alert = Mapping[str, Any]


def reached(alert: Alert, state: str) -> bool:
    return STATES.index(str(alert["state"])) >= STATES.index(state)


def taken(step: story.Step, alert: Alert) -> bool:
    """Whether the alert already shows the step done (by anyone)."""
    if step.command == "ack":
        return alert.get("acknowledged_at") is not None
    if step.command == "verify":
        return alert.get("drone") is not None or reached(alert, "verifying")
    if step.command == "on_scene":
        return reached(alert, "on_scene")
    if step.command == "assist":
        assists: list[str] = alert.get("assists") or []
        return bool(step.queue == alert.get("queue")) or step.queue in assists
    return str(alert["state"]) == "closed"


@dataclass(frozen=True, slots=True)
class Do:
    index: int
    step: story.Step


@dataclass(frozen=True, slots=True)
class LookAt:
    at: datetime


@dataclass(frozen=True, slots=True)
class Done:
    pass


Move = Do | LookAt | Done


def next_move(steps: Sequence[story.Step], alert: Alert, now: datetime,
              skipped: frozenset[int] = frozenset()) -> Move:
    """The officer's next move on `alert` at `now`: do a step, look again later, or
    nothing more. Steps go in order; one already taken is passed over; one waiting for a
    state (`needs`) is put off until that state or until its wait runs out."""
    if alert["state"] == "closed":
        return Done()
    raised = datetime.fromisoformat(str(alert["raised_at"]))
    for i, step in enumerate(steps):
        if i in skipped or taken(step, alert):
            continue
        due = raised + timedelta(seconds=step.after_s)
        if now < due:
            return LookAt(due)
        give_up = due + timedelta(seconds=step.wait_s)
        if step.needs is not None and not reached(alert, step.needs) and now < give_up:
            return LookAt(min(now + timedelta(seconds=RECHECK_S), give_up))
        return Do(i, step)
    return Done()


def request_for(step: story.Step, drone: str | None = None) -> tuple[str, dict[str, Any]]:
    """The API call for a step: the path after /api/alerts/{id}/ and the JSON body. The
    officer names the drone to verify with: the suggestion they saw when the alert
    landed."""
    body: dict[str, Any] = {"actor": story.NAMES[step.officer]}
    if step.command == "verify":
        body["drone"] = drone or story.DRONE
    elif step.command == "assist":
        body["queue"] = step.queue
    elif step.command == "close":
        body.update(outcome=step.outcome or "resolved", note=step.note or "处置完毕")
    return step.command.replace("_", "-"), body


@dataclass(slots=True)
class Case:
    alert_id: str
    queue: str  # the queue it landed in: whose officer reads it
    plan: story.IncidentPlan | None
    steps: tuple[story.Step, ...]
    #: the drone the alert suggested when it landed (what the officer saw then)
    suggested: str | None = None
    skipped: set[int] = field(default_factory=set)


class DutyDesk:
    """Both offices' duty officers, acting through the HTTP API."""

    def __init__(self, sim: Scheduler, http: httpx.AsyncClient, tokens: Mapping[str, str],
                 drone: DroneSim, say: Callable[[str], None]) -> None:
        self.sim, self.http, self.tokens, self.drone, self.say = sim, http, tokens, drone, say
        self.cases: dict[str, Case] = {}
        self.claimed: set[str] = set()
        #: each alert as it first landed in a queue, by id
        self.landed: dict[str, Alert] = {}
        self.failures: list[str] = []

    def notified(self, alert: Alert) -> None:
        """An alert entered a queue (the MQTT queue topic). A second notice of the same
        alert (it was transferred, or another office called in) changes nothing here."""
        aid = str(alert["id"])
        if aid in self.cases:
            return
        raised = datetime.fromisoformat(str(alert["raised_at"]))
        queue = str(alert["queue"])
        plan = story.plan_for(str(alert["rule"]), str(alert["subject"]), raised,
                              frozenset(self.claimed))
        if plan is not None:
            self.claimed.add(plan.key)
            steps = plan.steps
        else:
            steps = story.default_plan(queue)
            self.say(f"unscripted alert {alert['rule']} {alert['subject']}: "
                     "handled by the default plan")
        suggestion = alert.get("drone_suggestion")
        suggested = suggestion.get("drone") if isinstance(suggestion, dict) else None
        self.cases[aid] = Case(aid, queue, plan, steps, suggested)
        self.landed[aid] = alert
        first = raised + timedelta(seconds=min(s.after_s for s in steps))
        self.sim.at(first, lambda: self.look(aid))

    def token(self, officer: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[officer]}"}

    async def look(self, aid: str) -> None:
        case = self.cases[aid]
        r = await self.http.get(f"/api/alerts/{aid}", headers=self.token(case.queue))
        if r.status_code != 200:
            self._failed(f"GET alert {aid}: {r.status_code} {r.text[:200]}")
            return
        alert = r.json()
        move = next_move(case.steps, alert, self.sim.now(), frozenset(case.skipped))
        if isinstance(move, LookAt):
            self.sim.at(move.at, lambda: self.look(aid))
        elif isinstance(move, Do):
            await self._do(case, move, alert)
            self.sim.at(self.sim.now(), lambda: self.look(aid))

    async def _do(self, case: Case, move: Do, alert: Alert) -> None:
        path, body = request_for(move.step, case.suggested)
        r = await self.http.post(f"/api/alerts/{case.alert_id}/{path}", json=body,
                                 headers=self.token(move.step.officer))
        if r.status_code == 409:  # the alert moved on in a way the plan did not expect
            self.say(f"{body['actor']}: {path} refused: {r.json().get('detail')}")
            case.skipped.add(move.index)
            return
        if r.status_code != 200:
            case.skipped.add(move.index)
            self._failed(f"POST {path} on {case.alert_id}: {r.status_code} {r.text[:200]}")
            return
        if move.step.command == "verify":
            self._send_drone(case, r.json()["alert"])

    def _send_drone(self, case: Case, alert: Alert) -> None:
        where = alert.get("location") or {}
        if "lat" not in where:
            self._failed(f"alert {case.alert_id} has no location to send the drone to")
            return
        now = self.sim.now().astimezone(story.TZ)
        sees = case.plan.drone_sees if case.plan is not None else None
        self.drone.request(response_plan(f"respond-{now:%m%d-%H%M}", float(where["lon"]),
                                         float(where["lat"]), sees))

    def _failed(self, what: str) -> None:
        self.failures.append(what)
        self.say(f"officer action failed: {what}")
        log.warning("officer action failed: %s", what)
