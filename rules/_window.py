"""A time window over one series (a station's metric): the samples of the last `span_s`
seconds of *record* time, with their mean, extremes and the samples themselves as evidence.

The window is by time, not by count: a station that skips a minute has fewer samples in
its 15 minutes, not an older sample pulled in. Samples live in two `array("d")`, times
and values (8 bytes a sample each, no object per sample), live from `_lo` to the end;
expired samples are left before `_lo` and deleted in one go once they are half as many
as the live ones, so appending is amortised O(1), every query is one contiguous slice (a
ring that wraps would need two) and a 15-minute window of minute data holds a few hundred
bytes. Plain arrays rather than one numpy array: an append or a read is a C call, where
writing a numpy row cost more than the rest of a push; numpy still reads them in place
(`np.frombuffer`) for the block means and extremes, which it computes as before.

Times are epoch seconds as floats (microsecond resolution for this century). The running
sum makes the mean O(1); it is recomputed from the samples every `_RESUM` appends so that
floating-point drift cannot accumulate. The lowest and highest values are kept as they
come and forgotten when the sample holding one leaves (recomputed on the next ask): a
rise or fall rule asks on every sample, and a numpy `min` over the array cost more than
the rest of the rule.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left
from typing import Final

import numpy as np
import numpy.typing as npt

_RESUM: Final = 256
#: expired samples are deleted once they are this many, and half as many as the live ones
_COMPACT_AT: Final = 8
_EMPTY_ARRAY_BYTES: Final = sys.getsizeof(array("d"))

Sample = tuple[float, float]  # (epoch seconds, value)


class Window:
    __slots__ = (
        "_high", "_lo", "_low", "_newest", "_oldest", "_since_resum", "_sum", "_times",
        "_values", "span_s",
    )

    def __init__(self, span_s: float) -> None:
        if not span_s > 0:
            raise ValueError(f"window span must be positive, got {span_s!r}")
        self.span_s = float(span_s)
        self._times = array("d")
        self._values = array("d")
        self._lo = 0  # the first live sample; those before it have expired
        # the newest and oldest live times, kept as floats for the comparisons of a push
        self._newest = -math.inf
        self._oldest = math.inf
        self._sum = 0.0
        self._since_resum = 0
        # the live values' extremes, None when not known (then recomputed when asked)
        self._low: float | None = None
        self._high: float | None = None

    def __len__(self) -> int:
        return len(self._times) - self._lo

    @property
    def newest(self) -> float | None:
        return self._newest if len(self._times) > self._lo else None

    @property
    def oldest(self) -> float | None:
        return self._oldest if len(self._times) > self._lo else None

    def push(self, t: float, value: float) -> bool:
        """Add a sample. Returns False, changing nothing, for a sample already outside the
        window (older than the newest by `span_s` or more).

        A sample with the time of one already held replaces it: a station that re-sends a
        corrected value for the same minute means the new one. A late sample (older than
        the newest but inside the window) is inserted in time order.
        """
        if not math.isfinite(value):
            raise ValueError(f"sample value {value!r} is not finite")
        times = self._times
        if len(times) == self._lo or t > self._newest:
            # the path of nearly every sample, so written out rather than in helpers
            cutoff = t - self.span_s
            if self._oldest <= cutoff:
                self._expire(cutoff)
            if len(times) == self._lo:
                self._oldest = t
            times.append(t)
            self._values.append(value)
            self._newest = t
            self._sum += value
            self._since_resum += 1
            if self._since_resum >= _RESUM:
                self._resum()
            low, high = self._low, self._high
            if low is not None and value < low:
                self._low = value
            if high is not None and value > high:
                self._high = value
            return True
        if t <= self._newest - self.span_s:
            return False
        return self._insert_late(t, value)

    def mean(self) -> float | None:
        n = len(self._times) - self._lo
        return self._sum / n if n else None

    def extremes(self) -> tuple[float, float] | None:
        low, high = self.low(), self.high()
        return None if low is None or high is None else (low, high)

    def low(self) -> float | None:
        if len(self._times) == self._lo:
            return None
        if self._low is None:
            self._low = float(np.frombuffer(self._values)[self._lo :].min())
        return self._low

    def high(self) -> float | None:
        if len(self._times) == self._lo:
            return None
        if self._high is None:
            self._high = float(np.frombuffer(self._values)[self._lo :].max())
        return self._high

    def mean_between(self, start: float, end: float) -> tuple[float, int] | None:
        """Mean and count of the samples with start <= t < end (a clock-aligned block)."""
        a = bisect_left(self._times, start, self._lo)
        b = bisect_left(self._times, end, a)
        if a == b:
            return None
        return float(np.frombuffer(self._values)[a:b].mean()), b - a

    def samples(self, start: float | None = None, end: float | None = None) -> list[Sample]:
        """(time, value) pairs, oldest first, optionally only start <= t < end."""
        times, lo = self._times, self._lo
        a = lo if start is None else bisect_left(times, start, lo)
        b = len(times) if end is None else max(a, bisect_left(times, end, lo))
        return list(zip(times[a:b], self._values[a:b], strict=True))

    def parts(self) -> tuple[npt.NDArray[np.float64], float, int]:
        """What a snapshot keeps (`rules._snapshot`): the live (time, value) rows as an
        n × 2 array, the running sum and the appends since it was last recomputed. The sum
        is kept as it is, drift and all, so a restored window's means are the same floats."""
        lo = self._lo
        rows = np.column_stack(
            (np.frombuffer(self._times)[lo:], np.frombuffer(self._values)[lo:])
        )
        return rows, self._sum, self._since_resum

    @classmethod
    def restore(
        cls, span_s: float, rows: npt.NDArray[np.float64], running_sum: float, since_resum: int
    ) -> Window:
        """The window `parts` described. ValueError unless the rows could be a window's:
        n × 2, finite, times strictly increasing and within `span_s` of the newest."""
        window = cls(span_s)
        if rows.ndim != 2 or rows.shape[1] != 2 or not np.isfinite(rows).all():
            raise ValueError(f"window rows must be finite (time, value) pairs, got {rows.shape}")
        n = len(rows)
        times = rows[:, 0]
        if n and (bool((np.diff(times) <= 0).any()) or times[0] <= times[-1] - window.span_s):
            raise ValueError("window rows must be in time order, within the span")
        values = rows[:, 1]
        # the running sum drifts from the samples' sum by rounding only: far below 1e-6
        if not (0 <= since_resum < _RESUM and math.isfinite(running_sum)
                and abs(running_sum - float(values.sum()))
                <= 1e-6 * (float(np.abs(values).sum()) + 1.0)):
            raise ValueError(f"running sum {running_sum!r} ({since_resum!r} appends) is not "
                             "the sum of the window's values")
        window._times = array("d", times.tolist())
        window._values = array("d", values.tolist())
        window._newest = float(times[-1]) if n else -math.inf
        window._oldest = float(times[0]) if n else math.inf
        window._sum, window._since_resum = float(running_sum), int(since_resum)
        return window

    def nbytes(self) -> int:
        """Memory held by the samples (the arrays' buffers; the object is a few slots)."""
        return sys.getsizeof(self._times) + sys.getsizeof(self._values) - 2 * _EMPTY_ARRAY_BYTES

    # -- internals -----------------------------------------------------------------------

    def _add(self, value: float) -> None:
        self._sum += value
        self._since_resum += 1
        if self._since_resum >= _RESUM:
            self._resum()

    def _extend(self, value: float) -> None:
        """Note a value that joined the live ones in the known extremes."""
        low, high = self._low, self._high
        if low is not None and value < low:
            self._low = value
        if high is not None and value > high:
            self._high = value

    def _forget(self, value: float) -> None:
        """A value left the live ones: an extreme it was is no longer known."""
        if value == self._low:
            self._low = None
        if value == self._high:
            self._high = None

    def _resum(self) -> None:
        self._sum = math.fsum(self._values[self._lo :])
        self._since_resum = 0

    def _expire(self, cutoff: float) -> None:
        # window is (newest - span, newest]: a sample exactly `span` old has left it
        times, values, lo = self._times, self._values, self._lo
        hi = len(times)
        oldest = math.inf
        while lo < hi:
            oldest = times[lo]
            if oldest > cutoff:
                break
            value = values[lo]
            self._sum -= value
            self._forget(value)
            lo += 1
        if lo < hi:
            self._oldest = oldest
        else:
            self._oldest = math.inf
            self._sum = 0.0
            self._since_resum = 0
            self._low = self._high = None
        if lo >= _COMPACT_AT and 2 * lo >= hi - lo:
            del times[:lo]
            del values[:lo]
            lo = 0
        self._lo = lo

    def _insert_late(self, t: float, value: float) -> bool:
        times, values = self._times, self._values
        i = bisect_left(times, t, self._lo)
        if i < len(times) and times[i] == t:
            old = values[i]
            self._sum += value - old
            values[i] = value
            self._forget(old)
            self._extend(value)
            return True
        times.insert(i, t)
        values.insert(i, value)
        if i == self._lo:
            self._oldest = t
        self._add(value)
        self._extend(value)
        return True
