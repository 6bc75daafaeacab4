"""A time window over one series (a station's metric): the samples of the last `span_s`
seconds of *record* time, with their mean, extremes and the samples themselves as evidence.

The window is by time, not by count: a station that skips a minute has fewer samples in
its 15 minutes, not an older sample pulled in. Samples live in one numpy array of
(time, value) rows, contiguous between `_lo` and `_hi`; expired rows are left behind and
the live ones moved back to the start when the array's end is reached, so appending is
amortised O(1) and every query is one contiguous slice (a ring that wraps would need two).
The array starts small and doubles only while the window really holds that many samples,
which keeps a 15-minute window of minute data at a few hundred bytes.

Times are epoch seconds as floats (microsecond resolution for this century). The running
sum makes the mean O(1); it is recomputed from the samples every `_RESUM` appends so that
floating-point drift cannot accumulate. The lowest and highest values are kept as they
come and forgotten when the sample holding one leaves (recomputed on the next ask): a
rise or fall rule asks on every sample, and a numpy `min` over the array cost more than
the rest of the rule.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

_INITIAL: Final = 8
_RESUM: Final = 256

Sample = tuple[float, float]  # (epoch seconds, value)


class Window:
    __slots__ = (
        "_buf", "_capacity", "_hi", "_high", "_lo", "_low", "_newest", "_oldest", "_since_resum",
        "_sum", "span_s",
    )

    def __init__(self, span_s: float) -> None:
        if not span_s > 0:
            raise ValueError(f"window span must be positive, got {span_s!r}")
        self.span_s = float(span_s)
        self._buf: npt.NDArray[np.float64] = np.empty((_INITIAL, 2))
        self._capacity = _INITIAL
        # the newest and oldest live times, kept as floats: reading the array costs more
        self._newest = -math.inf
        self._oldest = math.inf
        self._lo = 0
        self._hi = 0
        self._sum = 0.0
        self._since_resum = 0
        # the live values' extremes, None when not known (then recomputed when asked)
        self._low: float | None = None
        self._high: float | None = None

    def __len__(self) -> int:
        return self._hi - self._lo

    @property
    def newest(self) -> float | None:
        return float(self._buf[self._hi - 1, 0]) if self._hi > self._lo else None

    @property
    def oldest(self) -> float | None:
        return self._oldest if self._hi > self._lo else None

    def push(self, t: float, value: float) -> bool:
        """Add a sample. Returns False, changing nothing, for a sample already outside the
        window (older than the newest by `span_s` or more).

        A sample with the time of one already held replaces it: a station that re-sends a
        corrected value for the same minute means the new one. A late sample (older than
        the newest but inside the window) is inserted in time order.
        """
        if not math.isfinite(value):
            raise ValueError(f"sample value {value!r} is not finite")
        hi = self._hi
        if hi == self._lo or t > self._newest:
            # the path of nearly every sample, so written out rather than in helpers
            cutoff = t - self.span_s
            if self._oldest <= cutoff:
                self._expire(cutoff)
            if self._hi == self._lo:
                self._oldest = t
            if self._hi == self._capacity:
                self._make_room()
            hi = self._hi
            buf = self._buf
            buf[hi, 0] = t
            buf[hi, 1] = value
            self._hi = hi + 1
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
        newest = float(self._buf[hi - 1, 0])
        if t <= newest - self.span_s:
            return False
        return self._insert_late(t, value)

    def mean(self) -> float | None:
        n = self._hi - self._lo
        return self._sum / n if n else None

    def extremes(self) -> tuple[float, float] | None:
        low, high = self.low(), self.high()
        return None if low is None or high is None else (low, high)

    def low(self) -> float | None:
        if self._hi == self._lo:
            return None
        if self._low is None:
            self._low = float(self._buf[self._lo : self._hi, 1].min())
        return self._low

    def high(self) -> float | None:
        if self._hi == self._lo:
            return None
        if self._high is None:
            self._high = float(self._buf[self._lo : self._hi, 1].max())
        return self._high

    def mean_between(self, start: float, end: float) -> tuple[float, int] | None:
        """Mean and count of the samples with start <= t < end (a clock-aligned block)."""
        live = self._buf[self._lo : self._hi]
        a, b = np.searchsorted(live[:, 0], (start, end), side="left")
        if a == b:
            return None
        return float(live[a:b, 1].mean()), int(b - a)

    def samples(self, start: float | None = None, end: float | None = None) -> list[Sample]:
        """(time, value) pairs, oldest first, optionally only start <= t < end."""
        live = self._buf[self._lo : self._hi]
        if start is not None or end is not None:
            lo = 0 if start is None else int(np.searchsorted(live[:, 0], start, side="left"))
            hi = len(live) if end is None else int(np.searchsorted(live[:, 0], end, "left"))
            live = live[lo:hi]
        return [(float(t), float(v)) for t, v in live]

    def parts(self) -> tuple[npt.NDArray[np.float64], float, int]:
        """What a snapshot keeps (`rules._snapshot`): the live (time, value) rows as an
        n × 2 copy, the running sum and the appends since it was last recomputed. The sum
        is kept as it is, drift and all, so a restored window's means are the same floats."""
        return self._buf[self._lo : self._hi].copy(), self._sum, self._since_resum

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
        # the capacity a window of n samples settles at, so it does not regrow at once
        capacity = _INITIAL
        while capacity < 2 * n:
            capacity *= 2
        window._buf = np.empty((capacity, 2))
        window._buf[:n] = rows
        window._capacity, window._hi = capacity, n
        window._newest = float(times[-1]) if n else -math.inf
        window._oldest = float(times[0]) if n else math.inf
        window._sum, window._since_resum = float(running_sum), int(since_resum)
        return window

    def nbytes(self) -> int:
        """Memory held by the samples (the array; the object itself is a few slots)."""
        return int(self._buf.nbytes)

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
        self._sum = math.fsum(self._buf[self._lo : self._hi, 1].tolist())
        self._since_resum = 0

    def _expire(self, cutoff: float) -> None:
        # window is (newest - span, newest]: a sample exactly `span` old has left it
        item, lo, hi = self._buf.item, self._lo, self._hi  # item(): a float, no numpy scalar
        oldest = math.inf
        while lo < hi:
            oldest = item(lo, 0)
            if oldest > cutoff:
                break
            value = item(lo, 1)
            self._sum -= value
            self._forget(value)
            lo += 1
        self._lo = lo
        if lo < hi:
            self._oldest = oldest
        else:
            self._oldest = math.inf
            self._sum = 0.0
            self._since_resum = 0
            self._low = self._high = None

    def _make_room(self) -> None:
        n = self._hi - self._lo
        buf = self._buf
        if n * 2 <= buf.shape[0]:
            buf[:n] = buf[self._lo : self._hi]  # at least half is expired: compact in place
        else:
            grown = np.empty((buf.shape[0] * 2, 2))
            grown[:n] = buf[self._lo : self._hi]
            self._buf = grown
            self._capacity = grown.shape[0]
        self._lo, self._hi = 0, n

    def _insert_late(self, t: float, value: float) -> bool:
        live = self._buf[self._lo : self._hi]
        i = int(np.searchsorted(live[:, 0], t, side="left"))
        if i < len(live) and live[i, 0] == t:
            old = float(live[i, 1])
            self._sum += value - old
            live[i, 1] = value
            self._forget(old)
            self._extend(value)
            return True
        if self._hi == self._buf.shape[0]:
            self._make_room()
        at = self._lo + i
        self._buf[at + 1 : self._hi + 1] = self._buf[at : self._hi].copy()
        self._buf[at] = (t, value)
        if i == 0:
            self._oldest = t
        self._hi += 1
        self._add(value)
        self._extend(value)
        return True
