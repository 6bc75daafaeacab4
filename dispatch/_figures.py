"""The bureau's figures: the response times the environment bureau audits ("90% of
incidents handled within 30 minutes"). Pure functions over `MetricRow`s, or the same alerts as
`MetricColumns` (what a store hands over a year of without a Python object a row): no
I/O, no clock (`now` is given).

Definitions (all times in seconds):

- **Population**: the rows passed in; the caller selects the alerts raised in
  [since, until). Muted alerts are counted in `muted` and left out of every other figure.
- **count**: alerts in the population that are not muted. **closed**: those whose state is
  `closed` now (a reopened alert that was not closed again is open); **open** = count −
  closed. **open_overdue**: open with close_by < now. **false_alarms**: closed with outcome
  `false_alarm`. **escalated**: escalated at any stage (acknowledge or close).
- **Time to acknowledge** = acknowledged_at − raised_at, over the alerts that have an
  acknowledged_at (the first thing an officer did, closing from the queue included).
- **Time to close** = closed_at − raised_at, over the closed alerts (closed_at is the last
  close of an alert that was reopened and closed again).
- **Percentiles** are nearest-rank: p% of n values is the value at 1-based rank
  ceil(p/100 · n) of the values sorted ascending, i.e. the smallest value such that at least
  p% of the values are ≤ it. The median is p50 (the lower middle value when n is even); max
  is the largest. No interpolation, so every figure is the time of a real incident and can
  be checked by hand against the list of incidents. With n = 10, p90 is the 9th value and
  p95 the 10th; with n = 1 every figure is that one value; with n = 0 they are None.
- **SLA attainment** = sla_met ÷ sla_due, where sla_met = closed alerts with
  closed_at ≤ close_by, and sla_due = closed alerts + open alerts with close_by < now. An
  open alert still within its deadline is in neither. None when sla_due is 0.
- **Grouping**: by queue (the owning queue now), zone, grid (None → "(none)"), or by the
  local date ("2026-06-12") or month ("2026-06") of raised_at in the given timezone; groups
  are sorted by key. A group exists when any alert of the population falls in it (one of
  muted alerts only has count 0). The result always starts with the overall total, group
  "(all)", the only row for `GroupBy.ALL`.

CSV and JSON give seconds rounded to 0.1 and attainment as a fraction to 4 decimals; the
CSV has one row per result under `HEADER`, an empty cell where a figure is None.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from itertools import pairwise
from operator import itemgetter
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt


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


Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Int64s = npt.NDArray[np.int64]
Int32s = npt.NDArray[np.int32]

TOTAL: Final = "(all)"
NONE: Final = "(none)"


class GroupBy(StrEnum):
    ALL = "all"
    QUEUE = "queue"
    ZONE = "zone"
    GRID = "grid"
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Stats:
    """Nearest-rank figures of a set of durations (seconds); None when count is 0."""

    count: int
    median: float | None
    p90: float | None
    p95: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    group: str
    count: int
    muted: int
    open: int
    closed: int
    false_alarms: int
    escalated: int
    time_to_ack: Stats
    time_to_close: Stats
    sla_met: int
    sla_due: int

    @property
    def open_overdue(self) -> int:
        """Open alerts past their close deadline at `now`."""
        return self.sla_due - self.closed

    @property
    def sla_attainment(self) -> float | None:
        return self.sla_met / self.sla_due if self.sla_due else None


def nearest_rank(p: int, n: int) -> int:
    """0-based index of the nearest-rank p-th percentile among n sorted values (n ≥ 1)."""
    # ceil in integers, so no float rounding can ever move a rank by one
    return max(-(-p * n // 100), 1) - 1


def stats(values: Floats) -> Stats:
    """Figures of the values that are not NaN (NaN: not acknowledged, not closed)."""
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return Stats(0, None, None, None, None)
    ranks = [nearest_rank(50, n), nearest_rank(90, n), nearest_rank(95, n), n - 1]
    # partition, not sort: only four ranks are needed, and it is linear time
    part = np.partition(values, sorted(set(ranks)))
    median, p90, p95, top = (float(part[k]) for k in ranks)
    return Stats(n, median, p90, p95, top)


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """What `response_times` needs of n alerts, as columns (entry i is alert i): what a
    store can hand over without making a Python object a row (`AlertStore.metric_columns`)
    and what `metric_columns` makes of `MetricRow`s. Times are epoch seconds, NaN for
    None; queue, zone and grid are indices into `labels`, -1 for None; `flags` holds the
    CLOSED (state is closed), FALSE_ALARM (outcome), ESCALATED (at any stage) and MUTED
    bits."""

    raised_at: Floats
    acknowledged_at: Floats
    closed_at: Floats
    close_by: Floats
    queue: Int32s
    zone: Int32s
    grid: Int32s
    flags: Int32s
    labels: Sequence[str]

    def __len__(self) -> int:
        return len(self.raised_at)


CLOSED: Final = 1
FALSE_ALARM: Final = 2
ESCALATED: Final = 4
MUTED: Final = 8


def status_flags(state: str, outcome: str | None, escalated: str, muted: bool) -> int:
    """The `MetricColumns.flags` of an alert."""
    return ((CLOSED if state == "closed" else 0)
            | (FALSE_ALARM if outcome == "false_alarm" else 0)
            | (ESCALATED if escalated else 0) | (MUTED if muted else 0))


_F = MetricRow._fields
_STATUS: Final = ("state", "outcome", "escalated", "muted")
_LABELS: Final = ("queue", "zone", "grid")
_KEY: Final = {GroupBy.QUEUE: "queue", GroupBy.ZONE: "zone", GroupBy.GRID: "grid"}


class _Codes(dict[Any, int]):
    """Codes each distinct key by order of first appearance, in one pass of C-level lookups."""

    def __missing__(self, key: Any) -> int:
        code = self[key] = len(self)
        return code


def _floats(rows: Sequence[MetricRow], name: str) -> Floats:
    # fromiter turns None into NaN: "not acknowledged" / "not closed"
    return np.fromiter(map(itemgetter(_F.index(name)), rows), np.float64, len(rows))


def metric_columns(rows: Iterable[MetricRow]) -> MetricColumns:
    """The rows as `MetricColumns`; labels are the queues, zones and grids in order of
    first appearance."""
    return _columns(rows, _LABELS)


def _columns(rows: Iterable[MetricRow], keys: Sequence[str]) -> MetricColumns:
    """`metric_columns` with only the label columns in `keys` (the others all -1):
    `response_times` reads one, and each costs a pass over the rows' fields."""
    rows = rows if isinstance(rows, list | tuple) else list(rows)
    # the categorical fields in one pass: few distinct combinations, so a dict codes them
    fields = (*_STATUS, *keys)
    combos = _Codes()
    getter = itemgetter(*(_F.index(f) for f in fields))
    combo = np.fromiter(map(combos.__getitem__, map(getter, rows)), np.intp, len(rows))
    labels = _Codes()
    table = np.array(
        [(status_flags(*c[:4]), *(-1 if v is None else labels[v] for v in c[4:]))
         for c in combos] or [(0, *(-1 for _ in keys))], np.int32,
    )[combo]
    none = np.full(len(rows), -1, np.int32)
    label = {key: table[:, 1 + i] for i, key in enumerate(keys)}
    return MetricColumns(
        raised_at=_floats(rows, "raised_at"), acknowledged_at=_floats(rows, "acknowledged_at"),
        closed_at=_floats(rows, "closed_at"), close_by=_floats(rows, "close_by"),
        queue=label.get("queue", none), zone=label.get("zone", none),
        grid=label.get("grid", none), flags=table[:, 0], labels=list(labels),
    )


def _factorize(values: Int64s) -> tuple[Ints, Int64s]:
    """Each value's index among the distinct values, and those in ascending order."""
    if len(values) == 0:
        return np.zeros(0, np.intp), values
    low = int(values.min())
    span = int(values.max()) - low + 1
    if span > 2 * len(values):  # sparse: a sort is cheaper than a table over the range
        distinct, inverse = np.unique(values, return_inverse=True)
        return inverse.reshape(-1).astype(np.intp), distinct
    seen = np.zeros(span, np.bool_)
    seen[values - low] = True
    return (np.cumsum(seen) - 1)[values - low], np.flatnonzero(seen) + low


def _utc_offsets(t: Floats, tz: tzinfo) -> Floats:
    """tz's UTC offset (s) at each instant, asking tz once per distinct UTC day."""
    days, distinct = _factorize(np.floor(t / 86400).astype(np.int64))
    start = np.array([_offset(d * 86400.0, tz) for d in distinct.tolist()])
    end = np.array([_offset(d * 86400.0 + 86399.999, tz) for d in distinct.tolist()])
    offsets = start[days]
    # a day with a DST transition: ask for each of its instants (two such days a year)
    for i in np.flatnonzero((start != end)[days]).tolist():
        offsets[i] = _offset(float(t[i]), tz)
    return offsets


def _offset(t: float, tz: tzinfo) -> float:
    delta = datetime.fromtimestamp(t, tz).utcoffset()
    return delta.total_seconds() if delta is not None else 0.0


def _by_date(raised: Floats, tz: tzinfo, unit: Literal["D", "M"]) -> tuple[Ints, list[str]]:
    days = np.floor((raised + _utc_offsets(raised, tz)) / 86400).astype(np.int64)
    if unit == "M":
        days = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    group, distinct = _factorize(days)  # ascending dates: chronological = key order
    return group, [str(np.datetime64(d, unit)) for d in distinct.tolist()]


def _by_label(codes: Int32s, labels: Sequence[str]) -> tuple[Ints, list[str]]:
    """Group indices by label (-1: NONE), the groups sorted by name."""
    index, distinct = _factorize(codes.astype(np.int64))
    names = [labels[c] if c >= 0 else NONE for c in distinct.tolist()]
    keys = sorted(set(names))
    where = {name: i for i, name in enumerate(keys)}
    return np.array([where[name] for name in names] or [0], np.intp)[index], keys


def response_times(
    rows: Iterable[MetricRow], *, group_by: GroupBy, tz: tzinfo, now: float
) -> list[ResponseTimes]:
    """The total ("(all)") then each group sorted by key; see the module docstring."""
    key = _KEY.get(group_by)
    columns = _columns(rows, () if key is None else (key,))
    return response_times_of(columns, group_by=group_by, tz=tz, now=now)


def response_times_of(
    columns: MetricColumns, *, group_by: GroupBy, tz: tzinfo, now: float
) -> list[ResponseTimes]:
    """`response_times` of alerts given as columns (`AlertStore.metric_columns`)."""
    c = columns
    flags = c.flags
    muted = (flags & MUTED) != 0
    live = ~muted
    raised, closed_at, close_by = c.raised_at, c.closed_at, c.close_by
    closed = live & ((flags & CLOSED) != 0) & ~np.isnan(closed_at)
    to_ack = np.where(live, c.acknowledged_at - raised, np.nan)
    to_close = np.where(closed, closed_at - raised, np.nan)
    masks = {
        "count": live, "muted": muted, "closed": closed,
        "false_alarms": closed & ((flags & FALSE_ALARM) != 0),
        "escalated": live & ((flags & ESCALATED) != 0),
        "sla_met": closed & (closed_at <= close_by),
        "sla_due": closed | (live & (close_by < now)),
    }

    labels: list[str]
    key = _KEY.get(group_by)
    if key is not None:
        group, labels = _by_label(getattr(c, key), c.labels)
    elif group_by in (GroupBy.DAY, GroupBy.MONTH):
        group, labels = _by_date(raised, tz, "D" if group_by is GroupBy.DAY else "M")
    else:
        group, labels = np.zeros(len(raised), np.intp), []

    results = [_result(TOTAL, {f: int(m.sum()) for f, m in masks.items()},
                       stats(to_ack), stats(to_close))]
    if labels:
        n = len(labels)
        # weights, not group[mask]: no copy of the selected rows, a third of the time
        counts = {f: np.bincount(group, weights=m, minlength=n).astype(np.int64).tolist()
                  for f, m in masks.items()}
        acks, closes = _grouped_stats(group, n, to_ack, to_close)
        results += [
            _result(label, {f: c[i] for f, c in counts.items()}, acks[i], closes[i])
            for i, label in enumerate(labels)
        ]
    return results


def _result(group: str, n: dict[str, int], to_ack: Stats, to_close: Stats) -> ResponseTimes:
    return ResponseTimes(
        group=group, count=n["count"], muted=n["muted"], open=n["count"] - n["closed"],
        closed=n["closed"], false_alarms=n["false_alarms"], escalated=n["escalated"],
        time_to_ack=to_ack, time_to_close=to_close, sla_met=n["sla_met"], sla_due=n["sla_due"],
    )


def _grouped_stats(group: Ints, n: int, *columns: Floats) -> list[list[Stats]]:
    """`stats` of each group's values, per column, ordering the rows by group once."""
    # a stable sort of small integer codes is a radix sort in numpy: a few ms for 1M rows
    order = np.argsort(group.astype(np.uint16) if n <= 1 << 16 else group, kind="stable")
    bounds = list(pairwise([0, *np.cumsum(np.bincount(group, minlength=n)).tolist()]))
    out = []
    for values in columns:
        ordered = values[order]
        out.append([stats(ordered[start:end]) for start, end in bounds])
    return out


_SECONDS: Final = ("count", "median", "p90", "p95", "max")
HEADER: Final = (
    "group", "count", "muted", "open", "open_overdue", "closed", "false_alarms", "escalated",
    *(f"ack_{f}" for f in _SECONDS), *(f"close_{f}" for f in _SECONDS),
    "sla_met", "sla_due", "sla_attainment",
)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _stats_json(s: Stats) -> dict[str, Any]:
    return {"count": s.count, "median": _seconds(s.median), "p90": _seconds(s.p90),
            "p95": _seconds(s.p95), "max": _seconds(s.max)}


def to_json(results: Sequence[ResponseTimes]) -> list[dict[str, Any]]:
    return [
        {
            "group": r.group, "count": r.count, "muted": r.muted, "open": r.open,
            "open_overdue": r.open_overdue, "closed": r.closed, "false_alarms": r.false_alarms,
            "escalated": r.escalated, "time_to_ack": _stats_json(r.time_to_ack),
            "time_to_close": _stats_json(r.time_to_close), "sla_met": r.sla_met,
            "sla_due": r.sla_due,
            "sla_attainment": None if r.sla_attainment is None else round(r.sla_attainment, 4),
        }
        for r in results
    ]


def to_csv(results: Sequence[ResponseTimes]) -> str:
    """RFC 4180 text (CRLF line ends); the HTTP layer adds a UTF-8 BOM if Excel needs it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for item in to_json(results):
        ack, close = item.pop("time_to_ack"), item.pop("time_to_close")
        item.update({f"ack_{f}": ack[f] for f in _SECONDS})
        item.update({f"close_{f}": close[f] for f in _SECONDS})
        writer.writerow([_cell(item[h], h) for h in HEADER])
    return out.getvalue()


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if column == "sla_attainment" else f"{value:.1f}"
    return str(value)
