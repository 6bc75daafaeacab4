"""Where alerts, their event logs, silences and rule-state snapshots are kept: the
interfaces, each as small as what uses it.

- `AlertLog`: alerts with their append-only event logs (the dispatcher, the API's reads).
- `SilenceBook`: silences (muting, the API).
- `FiguresSource`: the alerts as the bureau's figures and reports read them (`dispatch._figures`,
  `dispatch._report`).
- `Snapshots`: opaque state kept across restarts (the rules engine's).
- `DispatchStore`: the first two, which the dispatcher needs.
- `AlertStore`: all of them, and what the service needs to run one (`SqlStore` in
  `dispatch._sqlite`, on SQLite, the embedded default, or on PostgreSQL, `dispatch._pg`).

Every change to an alert is one call that appends its new events and writes its new
projection in one transaction: the log and the row can never disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from dispatch._alert import Alert
from dispatch._figures import MetricColumns, MetricRow
from dispatch._lifecycle import Event, State
from dispatch._report import Receipt
from dispatch._silences import SilenceBook


class AlertLog(Protocol):
    def transaction(self) -> AbstractContextManager[object]:
        """The writes inside succeed or fail together; nested, only the inner undoes
        itself on failure."""

    def create(self, alert: Alert, events: Sequence[Event]) -> None:
        """A new alert with its first events. Raises `Conflict` if an open alert already
        exists for its (rule, subject)."""

    def append(self, alert: Alert, events: Sequence[Event]) -> None:
        """New events of an existing alert and its projection after them."""

    def get(self, alert_id: str) -> Alert | None: ...

    def claim(self, alert_id: str) -> Alert | None:
        """Inside `transaction()`: the alert as committed, held against every other
        writer (another instance's sweep) until the transaction ends; None if it does
        not exist or another holds it."""

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


class FiguresSource(Protocol):
    def metric_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        """Alerts raised in [since, until)."""

    def metric_columns(self, since: datetime, until: datetime) -> MetricColumns:
        """The same alerts as columns, for `response_times_of`: a year of them without
        a Python object an alert."""

    def open_rows(self, raised_before: datetime) -> list[MetricRow]:
        """Alerts raised before the time and still open, or closed after it."""

    def closed_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        """Alerts closed in [since, until)."""

    def receipts(self, ids: Sequence[str]) -> dict[str, Receipt]:
        """The subject and receipt of each of these alerts that exists, by id."""


class Snapshots(Protocol):
    def save_snapshot(self, name: str, data: bytes, at: datetime, position: int = 0
                      ) -> None: ...

    def load_snapshot(self, name: str) -> bytes | None: ...


class DispatchStore(AlertLog, SilenceBook, Protocol):
    """What the dispatcher reads and writes."""


class AlertStore(AlertLog, SilenceBook, FiguresSource, Snapshots, Protocol):
    def writable(self) -> bool: ...

    def close(self) -> None: ...


class Conflict(Exception):
    """The store refused a write that would break one of its invariants."""
