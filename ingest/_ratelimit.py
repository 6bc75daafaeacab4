"""A token bucket: at most `rate` a second on average, `burst` at once.

The dead-letter topic is a live view for whoever watches; the table keeps every dead
letter. Under a flood of junk, publishing each one queued every message in the MQTT
client until the broker acknowledged it (50,000 junk messages took the heap from 70 to
350 MB), so the live view is limited and what is over the limit is counted instead.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at: float | None = None

    def take(self, now: float) -> bool:
        """Spend a token at `now` (seconds, any monotonic origin); False if none is left."""
        if self._at is not None and now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        if self._at is None or now > self._at:
            self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
