"""Levels, holds and hysteresis: one alert whose severity moves, no flapping at a limit."""

from __future__ import annotations

import math

import pytest

from rules._trigger import Condition, Direction, Level, Transition, Trigger, step

Q, R, C, H, X = (
    Transition.QUIET, Transition.RAISED, Transition.CHANGED, Transition.HELD, Transition.CLEARED
)

PM10 = Trigger(
    Direction.ABOVE,
    (Level("major", 150, 130), Level("critical", 250, 220)),
)


Step = tuple[Transition, str | None]


def run(trigger: Trigger, samples: list[tuple[float, float]]) -> list[Step]:
    cond = Condition.for_trigger(trigger)
    out = []
    for t, v in samples:
        tr = step(cond, trigger, v, t)
        out.append((tr, trigger.levels[cond.severity].severity if cond.firing else None))
    return out


@pytest.mark.parametrize(
    ("trigger", "values", "expected"),
    [
        pytest.param(PM10, [150], [(Q, None)], id="exactly at the limit does not exceed"),
        pytest.param(PM10, [150.01], [(R, "major")], id="just above raises"),
        pytest.param(
            PM10, [160, 140, 135, 131], [(R, "major"), (H, "major"), (H, "major"), (H, "major")],
            id="between clear and limit stays raised",
        ),
        pytest.param(PM10, [160, 130], [(R, "major"), (X, None)], id="at the clear level clears"),
        pytest.param(
            PM10, [160, 149, 151, 149, 151], [(R, "major")] + [(H, "major")] * 4,
            id="hovering at the limit does not flap",
        ),
        pytest.param(
            PM10, [160, 260, 230, 219, 100],
            [(R, "major"), (C, "critical"), (H, "critical"), (C, "major"), (X, None)],
            id="one alert whose severity moves",
        ),
        pytest.param(PM10, [300], [(R, "critical")], id="straight to the top level"),
        pytest.param(PM10, [300, 100], [(R, "critical"), (X, None)], id="straight down clears"),
        pytest.param(
            Trigger(Direction.BELOW, (Level("low", 10, 12),)), [11, 9.9, 11, 12],
            [(Q, None), (R, "low"), (H, "low"), (X, None)], id="below with hysteresis",
        ),
    ],
)
def test_levels(trigger: Trigger, values: list[float], expected: list[Step]) -> None:
    assert run(trigger, [(60.0 * i, v) for i, v in enumerate(values)]) == expected


@pytest.mark.parametrize(
    ("for_s", "for_samples", "times", "expected"),
    [
        pytest.param(300, 1, [0, 240, 300], [Q, Q, R], id="held 5 minutes by time"),
        pytest.param(300, 1, [0, 299], [Q, Q], id="one second short"),
        pytest.param(0, 3, [0, 1, 2], [Q, Q, R], id="held 3 samples"),
        pytest.param(300, 3, [0, 400], [Q, Q], id="time without the samples is not enough"),
    ],
)
def test_hold_before_raising(
    for_s: float, for_samples: int, times: list[float], expected: list[Transition]
) -> None:
    trigger = Trigger(Direction.ABOVE, (Level("major", 150, 150),), for_s=for_s,
                      for_samples=for_samples)
    assert [tr for tr, _ in run(trigger, [(t, 200) for t in times])] == expected


def test_a_dip_restarts_the_hold() -> None:
    trigger = Trigger(Direction.ABOVE, (Level("major", 150, 150),), for_s=300)
    got = run(trigger, [(0, 200), (200, 100), (300, 200), (500, 200), (600, 200)])
    assert [tr for tr, _ in got] == [Q, Q, Q, Q, R]


def test_a_gap_in_the_data_restarts_the_hold() -> None:
    trigger = Trigger(Direction.ABOVE, (Level("major", 150, 150),), for_s=300, max_gap_s=120)
    # 0 and 400 are both high, but nothing was heard in between: not five minutes high
    got = run(trigger, [(0, 200), (400, 200), (500, 200), (600, 200), (700, 200)])
    assert [tr for tr, _ in got] == [Q, Q, Q, Q, R]


def test_clearing_needs_its_own_hold() -> None:
    trigger = Trigger(Direction.ABOVE, (Level("major", 150, 130),), clear_for_s=300)
    got = run(trigger, [(0, 200), (60, 100), (200, 140), (260, 100), (500, 100), (560, 100)])
    assert [tr for tr, _ in got] == [R, H, H, H, H, X]


@pytest.mark.parametrize(
    ("levels", "direction", "message"),
    [
        pytest.param((), Direction.ABOVE, "at least one level", id="no levels"),
        pytest.param((Level("a", 100, 120),), Direction.ABOVE, "clear level 120 is above",
                     id="clear beyond limit"),
        pytest.param((Level("a", 100, 90), Level("b", 100, 90)), Direction.ABOVE,
                     "must be further above", id="levels not increasing"),
        pytest.param((Level("a", 10, 12), Level("b", 20, 22)), Direction.BELOW,
                     "must be further below", id="below levels not decreasing"),
    ],
)
def test_bad_triggers_are_refused(
    levels: tuple[Level, ...], direction: Direction, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Trigger(direction, levels)


def test_area_factor_scales_limits_and_clear_levels() -> None:
    scaled = PM10.scaled(0.8)
    assert [(lv.limit, lv.clear) for lv in scaled.levels] == [
        pytest.approx((120, 104)), pytest.approx((200, 176))
    ]
    assert PM10.scaled(1.0) is PM10
    assert math.isinf(scaled.max_gap_s)
