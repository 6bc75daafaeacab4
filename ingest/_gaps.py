"""Data gaps: spans of time in which messages may have been lost before they reached us.

The one Lantian can see is a broker that lost our persistent session (restarted without
persistence, or killed before it saved): the QoS 1 messages it had queued for us are
gone, with no trace. The CONNACK says so (session present: no), and the span from the
last moment we knew we were receiving to the reconnection is recorded here, so that the
bureau's figures can say which hours are incomplete instead of silently counting fewer
readings (`GET /api/reports/data-gaps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter

from ingest._deadletters import Db


@dataclass(frozen=True, slots=True)
class DataGap:
    started_at: datetime
    ended_at: datetime
    reason: str

    @property
    def seconds(self) -> float:
        return max(0.0, (self.ended_at - self.started_at).total_seconds())


class SqliteDataGaps:
    """The `data_gaps` table (the store's migrations make it), on the connection the
    alert store shares."""

    def __init__(self, db: Db, registry: CollectorRegistry | None = None
                 ) -> None:
        self._db = db
        r = registry if registry is not None else CollectorRegistry()
        self._count = Counter("lantian_data_gaps", "Spans in which messages may have been "
                              "lost at the broker (a lost MQTT session)", registry=r)
        self._seconds = Counter("lantian_data_gap_seconds", "Their length", registry=r)

    def add(self, gap: DataGap) -> None:
        self._db.execute(
            "INSERT INTO data_gaps (started_at, ended_at, reason) VALUES (?, ?, ?)",
            (gap.started_at.timestamp(), gap.ended_at.timestamp(), gap.reason),
        )
        self._count.inc()
        self._seconds.inc(gap.seconds)

    def overlapping(self, since: datetime, until: datetime) -> list[DataGap]:
        """The gaps that overlap [since, until), oldest first."""
        rows = self._db.execute(
            "SELECT started_at, ended_at, reason FROM data_gaps"
            " WHERE started_at < ? AND ended_at > ? ORDER BY started_at",
            (until.timestamp(), since.timestamp()),
        ).fetchall()
        return [DataGap(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC), r)
                for a, b, r in rows]
