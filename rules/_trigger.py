"""When a condition starts, changes severity and ends: limits held for a while, and cleared
with hysteresis so that a value hovering at a limit does not flap.

Each severity level is its own small state machine: it becomes active once its limit has
been passed continuously for `for_s` seconds and `for_samples` samples, and inactive once
the value has been back past its (lower) clear level for `clear_for_s` and
`clear_for_samples`. The condition's severity is that of its most severe active level, so
one alert goes major → critical → major → cleared instead of being three alerts.

"Passed" is strict: a PM10 limit of 150 is exceeded by 150.1, not by 150 (regulations say
"超过"). "Back" is inclusive: at the clear level counts as cleared.

A gap in the data longer than `max_gap_s` restarts the hold timers: ten minutes of silence
between two high values is not ten minutes of high values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum


class Direction(StrEnum):
    ABOVE = "above"
    BELOW = "below"


@dataclass(frozen=True, slots=True)
class Level:
    severity: str
    limit: float
    clear: float


@dataclass(frozen=True, slots=True)
class Trigger:
    """Levels from least to most severe, and how long a level must hold to change state."""

    direction: Direction
    levels: tuple[Level, ...]
    for_s: float = 0.0
    for_samples: int = 1
    clear_for_s: float = 0.0
    clear_for_samples: int = 1
    max_gap_s: float = math.inf

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("a trigger needs at least one level")
        sign = 1.0 if self.direction is Direction.ABOVE else -1.0
        for level in self.levels:
            if sign * (level.limit - level.clear) < 0:
                word = "above" if sign > 0 else "below"
                raise ValueError(
                    f"level {level.severity!r}: clear level {level.clear} is {word} its limit "
                    f"{level.limit}; it must be on the near side for hysteresis"
                )
        for a, b in zip(self.levels, self.levels[1:], strict=False):
            if sign * (b.limit - a.limit) <= 0:
                raise ValueError(
                    f"level {b.severity!r} (limit {b.limit}) must be further "
                    f"{self.direction.value} than {a.severity!r} (limit {a.limit})"
                )
        if self.for_samples < 1 or self.clear_for_samples < 1:
            raise ValueError("sample counts must be at least 1")

    def breached(self, level: Level, value: float) -> bool:
        if self.direction is Direction.ABOVE:
            return value > level.limit
        return value < level.limit

    def calm(self, level: Level, value: float) -> bool:
        if self.direction is Direction.ABOVE:
            return value <= level.clear
        return value >= level.clear

    def scaled(self, factor: float) -> Trigger:
        """The same trigger with every limit and clear level multiplied (an area factor:
        key areas at 0.8 × the general limit)."""
        if factor == 1.0:
            return self
        levels = tuple(
            Level(lv.severity, lv.limit * factor, lv.clear * factor) for lv in self.levels
        )
        return replace(self, levels=levels)


@dataclass(slots=True)
class Hold:
    """How long a predicate has held without a break."""

    since: float | None = None
    samples: int = 0
    last: float | None = None

    def step(self, ok: bool, t: float, need_s: float, need_samples: int, max_gap_s: float) -> bool:
        if not ok:
            self.since, self.samples, self.last = None, 0, t
            return False
        if self.since is None or (self.last is not None and t - self.last > max_gap_s):
            self.since, self.samples = t, 0
        self.samples += 1
        self.last = t
        return t - self.since >= need_s and self.samples >= need_samples


@dataclass(slots=True)
class LevelState:
    active: bool = False
    breach: Hold = field(default_factory=Hold)
    calm: Hold = field(default_factory=Hold)


class Transition(Enum):
    QUIET = "quiet"  # not firing before, not firing now
    RAISED = "raised"
    CHANGED = "changed"  # firing before and now, at another severity
    HELD = "held"  # firing before and now, same severity
    CLEARED = "cleared"


@dataclass(slots=True)
class Condition:
    """The state of one (rule, subject): per-level hold timers and the current severity
    (an index into the trigger's levels, -1 when not firing)."""

    levels: list[LevelState]
    severity: int = -1
    raised_at: float | None = None

    @classmethod
    def for_trigger(cls, trigger: Trigger) -> Condition:
        return cls([LevelState() for _ in trigger.levels])

    @property
    def firing(self) -> bool:
        return self.severity >= 0


def step(cond: Condition, trigger: Trigger, value: float, t: float) -> Transition:
    """Advance the condition by one evaluated value at record time `t`."""
    if cond.severity < 0:
        first = cond.levels[0].breach
        if first.since is None and not trigger.breached(trigger.levels[0], value):
            # the common case, quiet and staying quiet: every further level is beyond the
            # first, so none is breached either, and no hold is running to reset
            return Transition.QUIET
    top = -1
    for i, (level, state) in enumerate(zip(trigger.levels, cond.levels, strict=True)):
        if state.active:
            calm = trigger.calm(level, value)
            if state.calm.step(
                calm, t, trigger.clear_for_s, trigger.clear_for_samples, trigger.max_gap_s
            ):
                state.active = False
                state.calm = Hold()
        else:
            if state.breach.step(
                trigger.breached(level, value), t, trigger.for_s, trigger.for_samples,
                trigger.max_gap_s,
            ):
                state.active = True
                state.breach = Hold()
        if state.active:
            top = i
    before, cond.severity = cond.severity, top
    if before < 0 and top < 0:
        return Transition.QUIET
    if before < 0:
        cond.raised_at = t
        return Transition.RAISED
    if top < 0:
        cond.raised_at = None
        return Transition.CLEARED
    return Transition.HELD if top == before else Transition.CHANGED
