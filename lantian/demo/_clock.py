"""The simulated clock: the one time the service, the devices and the officers share.

The service is given this clock (`serve(..., clock=...)`), so its deadlines, raise times
and sweeps run on simulated time. The simulation moves it forward in steps, to the time
of the next thing that happens (a reading, a position, an officer's action), and holds it
there while that happens: an officer's HTTP call made "at 07:03:00" is stamped 07:03:00 by
the service, however long the call takes in real time. Between steps the clock stands
still; it never goes back.

Pacing is separate (`wall_due`): the step to simulated time t is taken no earlier than
`speed` times faster than real time would reach it, and later if the service is busy.

After the day (`--keep-running`) the clock runs on by itself at real-time rate, so a
curious user's own readings and API calls are stamped as they happen.

Thread safety: the service reads the clock on its own thread. The state is one tuple
replaced whole, and reading or replacing an attribute is atomic in CPython, so a reader
sees either the old state or the new one, never half of each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta


class SimClock:
    def __init__(
        self, start: datetime, speed: float, wall: Callable[[], float] = time.monotonic
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs an aware start time")
        if not speed > 0:
            raise ValueError(f"speed must be above 0, got {speed!r}")
        self.start = start
        self.speed = speed
        self._wall = wall
        self._wall0 = wall()
        # (time, None) while stepped; (time at wall0, wall0) while running free
        self._state: tuple[datetime, float | None] = (start, None)

    def __call__(self) -> datetime:
        at, since = self._state
        if since is None:
            return at
        return at + timedelta(seconds=self._wall() - since)

    def begin_pacing(self) -> None:
        """Real time zero: the start time is due now."""
        self._wall0 = self._wall()

    def advance_to(self, t: datetime) -> None:
        """Step forward to t (a time in the past of the clock is ignored: never backwards)."""
        now = self()
        if t > now:
            self._state = (t, None)

    def wall_due(self, t: datetime) -> float:
        """The real (monotonic) time at which simulated time t is due at `speed`."""
        return self._wall0 + (t - self.start).total_seconds() / self.speed

    def run_free(self) -> None:
        """From now on, advance at real-time rate by itself."""
        self._state = (self(), self._wall())
