"""Counting what a receiver got, and when: the only thing a receiver does per message
besides its own work, kept to a few attribute updates."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench._common import percentile


@dataclass(slots=True)
class Tally:
    target: int
    on_complete: Callable[[], None] | None = None
    count: int = 0
    first: float = 0.0  # perf_counter at the first message
    last: float = 0.0  # ... and at the latest
    cpu_first: float = 0.0  # process CPU time at the first message
    cpu_last: float = 0.0  # ... and when the target was reached
    #: seconds from the publisher's `sent_at` to here, in arrival order (paced runs only)
    lags: list[float] = field(default_factory=list)

    def note(self) -> None:
        now = time.perf_counter()
        if not self.count:
            self.first = now
            self.cpu_first = time.process_time()
        self.count += 1
        self.last = now
        if self.count == self.target:
            self.cpu_last = time.process_time()
            if self.on_complete is not None:
                self.on_complete()

    def note_sent_at(self, sent_at: float) -> None:
        self.lags.append(time.time() - sent_at)
        self.note()

    @property
    def span(self) -> float:
        return self.last - self.first

    @property
    def rate(self) -> float:
        """N / span, first message to last, as the brief defines the drain rate."""
        return self.count / self.span if self.span > 0 else 0.0

    @property
    def cpu_us_per_msg(self) -> float:
        """This process's CPU per message over the drain (nan unless it completed)."""
        if not self.cpu_last or self.count < 2:
            return float("nan")
        return (self.cpu_last - self.cpu_first) / (self.count - 1) * 1e6


@dataclass(frozen=True, slots=True)
class LagStats:
    """Latency of a paced run, in milliseconds; `first10`/`last10` are the median lag of
    the first and last 10 % of messages by arrival: a backlog that grows shows as
    last10 well above first10."""

    p50: float
    p99: float
    max: float
    first10: float
    last10: float

    @classmethod
    def of(cls, lags: list[float]) -> LagStats:
        if not lags:
            nan = float("nan")
            return cls(nan, nan, nan, nan, nan)
        tenth = max(1, len(lags) // 10)
        ordered = sorted(lags)
        return cls(
            p50=percentile(ordered, 50) * 1e3,
            p99=percentile(ordered, 99) * 1e3,
            max=ordered[-1] * 1e3,
            first10=statistics.median(lags[:tenth]) * 1e3,
            last10=statistics.median(lags[-tenth:]) * 1e3,
        )

    def backlog_grew(self, limit_ms: float = 100.0) -> bool:
        """The baseline's criterion: the last 10 % lag by a median over 100 ms."""
        return self.last10 > limit_ms
