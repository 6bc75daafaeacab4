"""Reconnect delays: exponential backoff with full jitter, reset only by a connection that
stayed up. Pure (the clock and the random source are the caller's), so it is unit-tested
on its own; MqttConnection's reconnect loop is its one user."""

from __future__ import annotations

import random
from collections.abc import Callable

#: 2 ** 32 times the minimum is past any sensible maximum; stops the exponent growing
_MAX_DOUBLINGS = 32


class Backoff:
    """The n-th delay since the last reset is uniform in [min_s, min(max_s, min_s * 2**n)]
    ("full jitter", n from 1): a fleet of clients that lost the same broker spreads out
    instead of knocking together, and one that keeps failing settles at about one attempt
    every max_s / 2 seconds on average, never more often than one per min_s."""

    def __init__(
        self,
        min_s: float,
        max_s: float,
        stable_s: float,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError(f"need 0 < min_s <= max_s, got {min_s}, {max_s}")
        self.min_s = min_s
        self.max_s = max_s
        self.stable_s = stable_s
        self._rng = rng
        self._failures = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; each call backs off further."""
        self._failures = min(self._failures + 1, _MAX_DOUBLINGS)
        cap = min(self.max_s, self.min_s * 2.0**self._failures)
        return self.min_s + self._rng() * (cap - self.min_s)

    def ended(self, up_for_s: float | None) -> None:
        """An attempt is over. `up_for_s`: how long the connection was up (from a
        successful CONNACK to its loss), None if it never got there. Only a connection
        that lasted `stable_s` starts the backoff afresh: one refused, or dropped right
        after the CONNACK (a broker kicking us, a session taken over), must not turn the
        backoff into a tight loop."""
        if up_for_s is not None and up_for_s >= self.stable_s:
            self._failures = 0
