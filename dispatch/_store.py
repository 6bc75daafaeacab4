"""Where alerts, their event logs, silences and rule-state snapshots are kept.

`AlertStore` is the interface dispatch needs; `SqliteStore` (dispatch._sqlite) is the
embedded default, and a PostgreSQL store can implement the same protocol for several
instances (where the database's unique index on open (rule, subject) does what the single
process does here).

Every change to an alert is one call that appends its new events and writes its new
projection in one transaction: the log and the row can never disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol

from dispatch._alert import Alert
from dispatch._lifecycle import Event, State

if TYPE_CHECKING:
    from dispatch._metrics import MetricColumns


@dataclass(frozen=True, slots=True)
class Silence:
    """A mute (Alertmanager's silence): alerts matching every non-empty matcher, raised
    from `starts_at` until `ends_at`, are recorded but not dispatched. `queue`: the queue
    whose alerts alone it mutes, None for every queue's (see `dispatch._silences`)."""

    id: str
    starts_at: datetime
    ends_at: datetime
    author: str
    reason: str
    stations: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    created_at: datetime | None = None
    ended_by: str | None = None
    queue: str | None = None


class MetricRow(NamedTuple):
    """What the response-time metrics and reports need of one alert. Times are epoch
    seconds (floats): a year of a city's incidents is a million of these."""

    id: str
    kind: str
    queue: str
    zone: str | None
    grid: str | None
    state: str
    raised_at: float
    acknowledged_at: float | None
    closed_at: float | None
    ack_by: float
    close_by: float
    outcome: str | None
    escalated: str  # comma-separated stages, "" when never escalated
    muted: bool


class AlertStore(Protocol):
    def transaction(self) -> AbstractContextManager[object]:
        """The writes inside succeed or fail together; nested, only the inner undoes
        itself on failure."""

    def create(self, alert: Alert, events: Sequence[Event]) -> None:
        """A new alert with its first events. Raises `Conflict` if an open alert already
        exists for its (rule, subject)."""

    def append(self, alert: Alert, events: Sequence[Event]) -> None:
        """New events of an existing alert and its projection after them."""

    def get(self, alert_id: str) -> Alert | None: ...

    def open_for(self, rule: str, subject: str) -> Alert | None: ...

    def open_alerts(self) -> list[Alert]: ...

    def open_counts(self) -> list[tuple[str, str, bool, int]]:
        """(queue, state, muted, how many) of the open alerts."""

    def events(self, alert_id: str) -> list[Event]: ...

    def query(
        self, *, queues: Collection[str] | None = None, state: State | None = None,
        since: datetime | None = None, until: datetime | None = None, zone: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts newest first; `queues` matches the owning queue or an assisting one,
        `zone` the alert's zone or any zone it lies in, since/until its raise time."""

    def metric_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        """Alerts raised in [since, until)."""

    def metric_columns(self, since: datetime, until: datetime) -> MetricColumns:
        """The same alerts as columns, for `response_times_of`: a year of them without
        a Python object an alert."""

    def open_rows(self, raised_before: datetime) -> list[MetricRow]:
        """Alerts raised before the time and still open, or closed after it."""

    def closed_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        """Alerts closed in [since, until)."""

    def add_silence(self, silence: Silence) -> None: ...

    def end_silence(self, silence_id: str, at: datetime, actor: str) -> Silence | None: ...

    def silences(self, active_at: datetime | None = None) -> list[Silence]: ...

    def save_snapshot(self, name: str, data: bytes, at: datetime) -> None: ...

    def load_snapshot(self, name: str) -> bytes | None: ...

    def writable(self) -> bool: ...

    def close(self) -> None: ...


class Conflict(Exception):
    """The store refused a write that would break one of its invariants."""
