"""The bureau's figures read from the SQL store: `FiguresReads`, which `SqlStore` has (the
`FiguresSource` half of it).

Each alert row also keeps its metric fields packed in `metric` (`dispatch._metric_blob`),
written with the row by `create` and `append`. `metric_columns`, `metric_rows`,
`open_rows` and `closed_rows` read it in one statement: `group_concat(metric, '')` hands
the rows over as one blob (the bytes of a blob go through it unchanged) that numpy reads
in place, and `group_concat(id, char(0))` their ids in the same order (on PostgreSQL
`string_agg(metric, '')` and `array_agg(id)`, each ordered). `metric_columns`
is then columns as they are; the others build `MetricRow`s column by column, in C
(`metric_rows_of`). Each reads a covering index: `alerts_raised_at_metric` (raised_at,
id, metric), `alerts_closed_metric` (closed_at, raised_at, state, id, metric) WHERE
closed_at IS NOT NULL, and `alerts_open_metric` (raised_at, state, id, metric) WHERE
state != 'closed' (state too: SQLite reads from an index only the columns it holds,
whatever the WHERE of a partial one). Should a row lack `metric` (none can, once
migrated) or an id hold a NUL, the rows are read value by value instead (`_metric`), as
before version 2.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from itertools import repeat
from operator import add
from typing import Final

from dispatch._figures import MetricColumns, MetricRow, metric_columns
from dispatch._gcpause import gc_paused
from dispatch._metric_blob import PACKED, metric_columns_of, metric_row, metric_rows_of
from dispatch._report import Receipt
from dispatch._sql_engine import SQLITE, Connection, Dialect
from dispatch._sqlite_rows import ts

#: MetricRow's fields but `muted`, which SQLite can only give as an int (see `_metric`).
METRIC_COLS: Final = (
    "id, kind, queue, zone, grid, state, raised_at, acknowledged_at, closed_at, ack_by,"
    " close_by, outcome, escalated"
)
OPEN: Final = "state != 'closed'"  # spelled as in the partial indexes, so they are used
_CHUNK: Final = 500  # ids a statement: under SQLite's limit of bound parameters


class FiguresReads:
    """Reads of `metric` over the store's connection `_db`."""

    _dialect: Dialect

    @property
    def _db(self) -> Connection:
        raise NotImplementedError  # the store's (`SqlStore._db`)

    def metric_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        return self._rows(
            "alerts_raised_at_metric", "raised_at >= ? AND raised_at < ?",
            (ts(since), ts(until)), "raised_at",
        )

    def open_rows(self, raised_before: datetime) -> list[MetricRow]:
        t = ts(raised_before)
        # two disjoint halves, each on its own index: still open; closed since t
        return self._rows(
            "alerts_open_metric", f"{OPEN} AND raised_at < ?", (t,), "raised_at"
        ) + self._rows(
            "alerts_closed_metric", "state = 'closed' AND closed_at >= ? AND raised_at < ?",
            (t, t), "closed_at",
        )

    def closed_rows(self, since: datetime, until: datetime) -> list[MetricRow]:
        return self._rows(
            "alerts_closed_metric", "closed_at >= ? AND closed_at < ?",
            (ts(since), ts(until)), "closed_at",
        )

    def metric_columns(self, since: datetime, until: datetime) -> MetricColumns:
        """`metric_rows(since, until)` as `MetricColumns`, in no particular order."""
        lo, hi = ts(since), ts(until)
        packed = self._packed(lo, hi)
        if packed is None:  # rows without `metric`: cannot happen once migrated, but be right
            return metric_columns(self.metric_rows(since, until))
        # the labels after the rows: every id those hold is committed
        return metric_columns_of(packed, self._labels_by_id())

    def _packed(self, lo: float, hi: float) -> bytes | None:
        """The `metric` of the rows raised in [lo, hi) end to end; None if one has none."""
        try:
            n, packed = self._db.execute(
                "SELECT count(*), string_agg(metric, ''::bytea) FROM alerts"
                " WHERE raised_at >= ? AND raised_at < ?" if self._dialect.postgres else
                "SELECT count(*), CAST(group_concat(metric, '') AS BLOB)"
                " FROM alerts INDEXED BY alerts_raised_at_metric"
                " WHERE raised_at >= ? AND raised_at < ?",
                (lo, hi),
            ).fetchone()
        except sqlite3.DataError:  # over SQLITE_MAX_LENGTH (a billion bytes): halves
            mid = lo + (hi - lo) / 2
            if not lo < mid < hi:
                raise
            first, second = self._packed(lo, mid), self._packed(mid, hi)
            return None if first is None or second is None else first + second
        packed = b"" if packed is None else bytes(packed)
        return packed if len(packed) == n * PACKED.itemsize else None

    def receipts(self, ids: Sequence[str]) -> dict[str, Receipt]:
        """The subject and receipt of each alert of `ids` that exists, by id."""
        out: dict[str, Receipt] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            rows = self._db.execute(
                "SELECT id, subject, officer, note FROM alerts"
                f" WHERE id IN ({','.join('?' * len(chunk))})", chunk,
            )
            out.update((id_, Receipt(subject, officer, note or None))
                       for id_, subject, officer, note in rows)
        return out

    def _labels_by_id(self) -> list[str]:
        """labels.text by id ("" for an id not in use)."""
        rows = self._db.execute("SELECT id, text FROM labels").fetchall()
        out = [""] * (1 + max((id_ for id_, _ in rows), default=0))
        for id_, text in rows:
            out[id_] = text
        return out

    def _rows(self, index: str, where: str, params: Sequence[float], order: str
              ) -> list[MetricRow]:
        """The rows matching `where`, ordered by `order` (the column `index` begins with,
        so at no cost: a report that sorts them by it finds them sorted). See the module
        docstring."""
        try:
            n, ids, packed = self._db.execute(
                _rows_sql(index, where, order, self._dialect), params).fetchone()
        except sqlite3.DataError:  # over SQLITE_MAX_LENGTH (a billion bytes)
            return self._metric(where, params, order)
        if n == 0:
            return []
        id_list = ids if isinstance(ids, list) else ids.split("\0")
        if len(id_list) != n or packed is None or len(packed) != n * PACKED.itemsize:
            return self._metric(where, params, order)  # an id with a NUL, or no metric
        return metric_rows_of(id_list, packed, self._labels_by_id())

    def _metric(self, where: str, params: Sequence[float], order: str) -> list[MetricRow]:
        """`_rows` value by value, as version 1 read them (no `metric` needed): SQLite has
        no booleans, so the muted and the unmuted are read apart and get their `muted` by
        tuple concatenation."""
        out: list[MetricRow] = []
        with gc_paused():
            for muted in (False, True):
                cur = self._db.execute(
                    f"SELECT {METRIC_COLS} FROM alerts WHERE {where} AND muted = {int(muted)}"
                    f" ORDER BY {order}",
                    params,
                )
                out += map(metric_row, map(add, cur, repeat((muted,))))
        return out


def _rows_sql(index: str, where: str, order: str, dialect: Dialect = SQLITE) -> str:
    if dialect.postgres:  # ids as an array (text cannot hold a NUL), metric as bytea
        return (
            f"SELECT count(*), array_agg(id ORDER BY {order}),"
            f" string_agg(metric, ''::bytea ORDER BY {order}) FROM alerts WHERE {where}"
        )
    return (
        "SELECT count(*), group_concat(id, char(0)), CAST(group_concat(metric, '') AS BLOB)"
        f" FROM (SELECT id, metric FROM alerts INDEXED BY {index} WHERE {where}"
        f" ORDER BY {order})"
    )
