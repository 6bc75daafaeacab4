"""The read model: every question the HTTP API asks of dispatch's records, one method a
question, so that the API parses, authorises and answers and never reads the store.

`Queries` only reads. The commands go elsewhere: lifecycle steps through the
`Dispatcher`, silences through `dispatch._silences.create_silence`/`end_silence` over
a `SilenceBook` (which the store is).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, tzinfo

from dispatch._access import Grants
from dispatch._alert import Alert
from dispatch._dispatcher import NotFound
from dispatch._figures import GroupBy, ResponseTimes, response_times_of
from dispatch._lifecycle import Event, State
from dispatch._report import MonthlyReport, monthly_report, with_receipts
from dispatch._silences import Silence
from dispatch._store import AlertStore


class Queries:
    """Reads over an `AlertStore`; times in answers are the caller's business (`tz` is
    only what groups by local day and bounds a month)."""

    def __init__(self, store: AlertStore, tz: tzinfo) -> None:
        self._store = store
        self._tz = tz

    def alerts(
        self, *, queues: Collection[str] | None, state: State | None,
        since: datetime | None, until: datetime | None, zone: str | None, limit: int,
    ) -> list[Alert]:
        """The queue list: alerts newest first (see `AlertStore.query`)."""
        return self._store.query(
            queues=queues, state=state, since=since, until=until, zone=zone, limit=limit
        )

    def alert_with_events(self, alert_id: str) -> tuple[Alert, list[Event]]:
        """An alert and its event log, oldest first. Raises `NotFound`."""
        alert = self._store.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id!r}")
        return alert, self._store.events(alert_id)

    def response_times(
        self, since: datetime, until: datetime, group_by: GroupBy, now: datetime
    ) -> list[ResponseTimes]:
        """Response-time figures of the alerts raised in [since, until)."""
        columns = self._store.metric_columns(since, until)
        return response_times_of(columns, group_by=group_by, tz=self._tz, now=now.timestamp())

    def monthly_report(self, month: str, start: datetime, end: datetime) -> MonthlyReport:
        """The report of `month` ("YYYY-MM"), whose bounds are [start, end)."""
        closed, still_open = self._store.closed_rows(start, end), self._store.open_rows(end)
        report = monthly_report(month, closed, still_open, self._tz)
        ids = [i.id for i in (*report.carried_over, *report.closed)]
        return with_receipts(report, self._store.receipts(ids))

    def silences_for(self, token: Grants, active_at: datetime | None = None) -> list[Silence]:
        """The silences `token` may see (its queue's and the global ones), or of those the
        ones in force at `active_at`."""
        return [s for s in self._store.silences(active_at=active_at)
                if token.may_see_silence(s.queue)]
