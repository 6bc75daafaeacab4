"""`alerts.metric` (schema version 2): a row's `MetricRow` fields but the id, packed.

The bureau's figures read up to a year of alerts at once, and Python's sqlite3 makes an
object of every value of every row (1.9 s for a million rows of 14 columns). So each row
also keeps, in `metric`, the little-endian packing of all its `MetricRow` fields but the
id (`PACKED`: the times as doubles, NaN for NULL; kind, queue, zone, grid, state, outcome
and escalated as ids of the `labels` table, -1 for NULL; muted and the other bits of
`dispatch._figures.status_flags`). `pack_metric` writes one; the `metric`s of many rows
end to end are one buffer that numpy reads in place, which `metric_columns_of` hands out
as `MetricColumns` and `metric_rows_of` turns into `MetricRow`s column by column, in C.
How the store writes and reads them: `dispatch._sqlite`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from functools import partial
from typing import Any, Final

import numpy as np

from dispatch._figures import MUTED, MetricColumns, MetricRow, status_flags
from dispatch._gcpause import gc_paused

#: `metric` of a row, see the module docstring: `pack_metric` writes it, numpy reads it.
PACKED: Final = np.dtype([
    ("raised_at", "<f8"), ("acknowledged_at", "<f8"), ("closed_at", "<f8"),
    ("ack_by", "<f8"), ("close_by", "<f8"), ("queue", "<i4"), ("zone", "<i4"),
    ("grid", "<i4"), ("flags", "<i4"), ("kind", "<i4"), ("state", "<i4"), ("outcome", "<i4"),
    ("escalated", "<i4"),
])
_pack: Final = struct.Struct("<5d8i").pack
assert struct.calcsize("<5d8i") == PACKED.itemsize

#: tuple.__new__ in C: no Python frame a row, unlike MetricRow._make.
metric_row: Final = partial(tuple.__new__, MetricRow)


def pack_metric(
    label: Callable[[str | None], int], kind: str, queue: str, zone: str | None,
    grid: str | None, state: str, raised_at: float, acknowledged_at: float | None,
    closed_at: float | None, ack_by: float, close_by: float, outcome: str | None,
    escalated: str, muted: bool,
) -> bytes:
    """`metric`: a MetricRow's fields but the id (in its order), packed; `label` gives
    the id in `labels` of a kind, queue, zone, grid, state, outcome or escalated (-1 for
    None), adding it if new."""
    return _pack(
        raised_at, _nan_if_none(acknowledged_at), _nan_if_none(closed_at), ack_by,
        close_by, label(queue), label(zone), label(grid),
        status_flags(state, outcome, escalated, muted), label(kind), label(state),
        label(outcome), label(escalated),
    )


def metric_columns_of(packed: bytes, labels: list[str]) -> MetricColumns:
    """`MetricColumns` of rows' `metric`s end to end, `labels` being labels.text by id."""
    arr = np.frombuffer(packed, PACKED)
    return MetricColumns(
        # copies: contiguous and writable, like any array handed out
        raised_at=arr["raised_at"].copy(), acknowledged_at=arr["acknowledged_at"].copy(),
        closed_at=arr["closed_at"].copy(), close_by=arr["close_by"].copy(),
        queue=arr["queue"].copy(), zone=arr["zone"].copy(), grid=arr["grid"].copy(),
        flags=arr["flags"].copy(), labels=labels,
    )


def metric_rows_of(ids: list[str], packed: bytes, labels: list[str]) -> list[MetricRow]:
    """MetricRows of ids and their `metric`s end to end (`labels` being labels.text by
    id), a column at a time and then a row at a time in C: numpy makes each column's
    Python objects (the labels' strings shared, not copied), zip and tuple.__new__ the
    rows."""
    arr = np.frombuffer(packed, PACKED)
    text = np.array([*labels, None], dtype=object)  # -1, no label: None

    def texts(field: str) -> list[Any]:
        return text[arr[field]].tolist()  # type: ignore[no-any-return]

    def times(field: str, nullable: bool = False) -> list[Any]:
        values = arr[field]
        if not nullable:
            return values.tolist()  # type: ignore[no-any-return]
        objects = values.astype(object)
        objects[np.isnan(values)] = None
        return objects.tolist()  # type: ignore[no-any-return]

    with gc_paused():
        columns = (
            ids, texts("kind"), texts("queue"), texts("zone"), texts("grid"), texts("state"),
            times("raised_at"), times("acknowledged_at", True), times("closed_at", True),
            times("ack_by"), times("close_by"), texts("outcome"), texts("escalated"),
            ((arr["flags"] & MUTED) != 0).tolist(),
        )
        return list(map(metric_row, zip(*columns, strict=True)))


def _nan_if_none(ts: float | None) -> float:
    return math.nan if ts is None else ts
