"""The shapes of the API's requests and answers, for `/openapi.json`: what a generated
client is typed by.

Request bodies are parsed into their models (bounded: what the API takes, the store can
keep and read back).

They document; they do not build. Each route still answers the JSON its builder writes
(`Alert.to_json`, `dispatch._metrics.to_json`, `dispatch._report.to_json`, ...), byte
for byte as before: running every answer through a model would reorder an alert's keys
(its description's are spread among them) and cost a model a row on a 1000-alert list.
The fuzz test (tests/integration/test_openapi_fuzz.py) checks every answer against
these shapes, so a builder and its model cannot drift apart unnoticed.

Times are ISO 8601 strings with the service's offset. Models whose producer may add
keys (an alert's description, an event's data) allow extra properties.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from dispatch._lifecycle import Outcome, State


class _Open(BaseModel):
    """A shape whose producer may carry more keys than these."""

    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ----------------------------------------------------------------------------

#: A name: of an officer, a drone, a queue, a station, a zone, a rule; an alert's or a
#: silence's id. A text: a receipt's note, a reason.
Name = Annotated[str, Field(min_length=1, max_length=100)]
Names = Annotated[list[Name], Field(max_length=1000)]
Text = Annotated[str, Field(max_length=2000)]

class ActorBody(BaseModel):
    """A lifecycle step's body. Who did it is always the authenticated caller: `actor` is
    accepted from older clients, and ignored."""

    model_config = ConfigDict(extra="forbid")

    actor: Name | None = Field(None, description="ignored: the actor of every event is the "
                               "authenticated user (or configured token)", deprecated=True)


class VerifyBody(ActorBody):
    drone: Name | None = None  # default: the suggestion


class OnSceneBody(ActorBody):
    drone: Name | None = None


class QueueBody(ActorBody):
    queue: Name


class CloseBody(ActorBody):
    outcome: Outcome
    note: Annotated[str, Field(min_length=1, max_length=2000)]


class CommentBody(ActorBody):
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class ReopenBody(ActorBody):
    reason: Text = ""


class SilenceBody(ActorBody):
    stations: Names = []
    zones: Names = []
    rules: Names = []
    queue: Name | None = None  # an officer's: their queue; an admin's: None for every queue
    starts_at: datetime | None = None
    ends_at: datetime
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


# -- errors ------------------------------------------------------------------------------


class Problem(_Closed):
    """Every refusal: 401, 403, 404, 409, 413, and the API's own 422s."""

    detail: str = Field(examples=["a valid bearer token or session is required"])


class FieldIssue(_Open):
    """One field FastAPI's request validation refused."""

    loc: list[str | int]
    msg: str
    type: str


class Invalid(_Closed):
    """422: a request the API refused, as a sentence (its own checks) or field by field
    (the request's schema)."""

    detail: str | list[FieldIssue]


# -- alerts --------------------------------------------------------------------------------


class ZoneRef(_Open):
    id: str
    name: str | None = None
    kind: str | None = None
    grid: str | None = None


class Point(_Open):
    lat: float
    lon: float


class DroneSuggestion(_Open):
    drone: str
    distance_m: int
    bearing_deg: int
    direction: str
    eta_s: int


class Evidence(_Open):
    readings: list[tuple[str, float | None]] = Field(
        default=[], description="[time, value] of the readings that raised the alert"
    )
    track: list[tuple[str, float, float, float | None]] | None = Field(
        default=None, description="[time, lat, lon, altitude m] of a drone's track"
    )
    media: list[str] | None = None
    note: str | None = None


class Receipt(_Open):
    """The closing receipt (回执)."""

    outcome: Outcome
    note: str
    officer: str | None


class Sla(_Open):
    ack_by: str | None
    close_by: str | None


class AlertOut(_Open):
    """An alert as published on MQTT and served (the wire contract, DESIGN.md): its
    identity, the engine's description, and where its incident stands."""

    id: str
    kind: str
    rule: str
    severity: str
    subject: str
    zone: ZoneRef | None = None
    zones: list[str] | None = None
    grid: str | None = None
    location: Point | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    window_s: float | None = None
    evidence: Evidence | None = None
    drone_suggestion: DroneSuggestion | None = None
    detail: dict[str, Any] | None = None
    observed_at: str | None = None
    delay_s: int | None = None
    late: bool | None = None
    raised_at: str
    queue: str
    assists: list[str]
    state: State
    muted: bool
    acknowledged_at: str | None
    closed_at: str | None
    condition_cleared_at: str | None
    drone: str | None
    receipt: Receipt | None
    escalated: list[str]
    sla: Sla


class AlertList(_Closed):
    """Alerts, newest first."""

    alerts: list[AlertOut]


class LoggedEvent(_Open):
    """One entry of an alert's event log."""

    seq: int
    kind: str
    at: str
    actor: str
    data: dict[str, Any]


class AlertWithEvents(AlertOut):
    events: list[LoggedEvent] = Field(description="the alert's log, oldest first")


class StepEvent(LoggedEvent):
    """An event a lifecycle command appended, with where it left the alert."""

    alert_id: str
    state: State
    queue: str


class StepResult(_Closed):
    """A lifecycle command's result: the alert after it and the events it appended."""

    alert: AlertOut
    events: list[StepEvent]


# -- silences ------------------------------------------------------------------------------


class SilenceOut(_Closed):
    """A silence: what it mutes, from when until when, whose, and who ended it."""

    id: str
    starts_at: str
    ends_at: str | None = Field(description="null: until something ends it (maintenance)")
    author: str
    reason: str
    stations: list[str]
    zones: list[str]
    rules: list[str]
    ended_by: str | None
    queue: str | None = Field(description="null: every queue's (global)")


class SilenceList(_Closed):
    """The silences the token may see: its queue's and the global ones."""

    silences: list[SilenceOut]


# -- what a route documents ---------------------------------------------------------------

#: The bearer scheme, as /openapi.json declares it. `auto_error=False`: it never answers
#: by itself (`dispatch._guard` has answered 401 before any dependency runs).
BEARER: Final = HTTPBearer(
    auto_error=False, scheme_name="bearer",
    description="A personal API token (`lantian users token USER`) or one of config's "
    "[[dispatch.tokens]]: an officer's, the bureau's or an admin's. A signed-in browser "
    "sends its session cookie instead (and `X-CSRF-Token` on a change).",
)

#: What each refusal means, for the documentation.
_WHY: Final = {
    400: "a body that cannot be parsed as its content type says",
    401: "no bearer token or session, or not one of ours (or expired)",
    403: "the caller's role or queues do not allow it; or a session's request that"
    " changes state without its CSRF token",
    404: "no such alert, silence or report",
    409: "the lifecycle step does not apply to the alert as it is; the reason says why",
    413: "the request body is over the service's limit",
    415: "the body is not of a type the route takes (a photo: JPEG, PNG or WebP by its "
    "content)",
    503: "the service cannot keep it now (a photo: the media directory is not writable)",
    422: "a malformed request: which field, and why",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Invalid if code == 422 else Problem, "description": _WHY[code]}
            for code in codes}


def formats(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The 200 of a report route answering `model` as JSON, or as CSV, XLSX or HTML
    (`format=`)."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {
        "model": model,
        "description": " ".join((model.__doc__ or "the report").split())
        + " (`format=csv|xlsx|html`: as CSV, an Excel workbook, a printable page)",
        "content": {"text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": binary,
                    "text/html": {"schema": {"type": "string"}}},
    }}


def answers(
    model: type[BaseModel], *refusals: int, status: int = 200
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route answering `model` with `status`, or refusing with one
    of `refusals`."""
    answer = {"model": model, "description": " ".join((model.__doc__ or "the answer").split())}
    return {status: answer} | errors(*refusals)
