"""The time window: by time not count, late and repeated samples, growth and compaction."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules._window import Window

Samples = list[tuple[float, float]]


def filled(span: float, samples: list[tuple[float, float]]) -> Window:
    w = Window(span)
    for t, v in samples:
        w.push(t, v)
    return w


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        pytest.param([(0, 10)], [(0, 10)], id="one sample"),
        pytest.param([(0, 10), (60, 20), (120, 30)], [(0, 10), (60, 20), (120, 30)], id="within"),
        # the window is (newest - span, newest]: a sample exactly span old has left it
        pytest.param([(0, 10), (900, 20)], [(900, 20)], id="exactly span old leaves"),
        pytest.param([(1, 10), (900, 20)], [(1, 10), (900, 20)], id="just inside stays"),
        pytest.param([(0, 10), (5000, 20)], [(5000, 20)], id="gap empties the window"),
        pytest.param([(0, 10), (60, 20), (60, 25)], [(0, 10), (60, 25)], id="same time replaces"),
        pytest.param([(0, 10), (120, 30), (60, 20)], [(0, 10), (60, 20), (120, 30)], id="late"),
        pytest.param([(0, 10), (120, 30), (0, 99)], [(0, 99), (120, 30)], id="late replaces"),
        pytest.param([(1000, 10), (100, 30)], [(1000, 10)], id="too late is dropped"),
    ],
)
def test_samples_held(samples: Samples, expected: Samples) -> None:
    w = filled(900, samples)
    assert w.samples() == expected
    assert len(w) == len(expected)
    assert w.mean() == pytest.approx(sum(v for _, v in expected) / len(expected))


def test_push_reports_a_sample_too_old_for_the_window() -> None:
    w = filled(900, [(1000, 10)])
    assert w.push(100, 30) is False
    assert w.push(101, 30) is True


def test_empty_window_has_no_statistics() -> None:
    w = Window(60)
    assert (w.mean(), w.extremes(), w.newest, w.oldest, len(w)) == (None, None, None, None, 0)


def test_extremes_and_blocks() -> None:
    w = filled(1800, [(0, 5), (300, 50), (600, 20), (900, 40), (1200, 10)])
    assert w.extremes() == (5, 50)
    assert w.mean_between(0, 900) == (25.0, 3)
    assert w.mean_between(900, 1800) == (25.0, 2)
    assert w.mean_between(1300, 1800) is None
    assert w.samples(300, 900) == [(300, 50), (600, 20)]


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError, match="not finite"):
        Window(60).push(0, math.nan)


def test_span_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Window(0)


def test_memory_stays_with_what_the_window_holds() -> None:
    # a 15-minute window of minute data, fed for a day, holds ~15 samples, not a day's 1440
    w = Window(900)
    for i in range(1440):
        w.push(i * 60.0, float(i))
    assert len(w) == 15
    assert w.nbytes() <= 32 * 16


@given(
    st.lists(
        st.tuples(st.integers(0, 5000), st.floats(-1e4, 1e4, allow_nan=False)),
        max_size=300,
    )
)
def test_agrees_with_a_plain_list(samples: list[tuple[int, float]]) -> None:
    span = 600.0
    w = Window(span)
    model: dict[float, float] = {}
    for t, v in samples:
        newest = max(model) if model else None
        if newest is None or t > newest - span:
            model[t] = v
            newest = max(model)
            model = {k: x for k, x in model.items() if k > newest - span}
        w.push(float(t), v)
    expected = sorted(model.items())
    assert w.samples() == [(float(t), v) for t, v in expected]
    assert (w.oldest, w.newest) == ((expected[0][0], expected[-1][0]) if expected else (None, None))
    if expected:
        mean = w.mean()
        assert mean is not None
        assert mean == pytest.approx(math.fsum(v for _, v in expected) / len(expected), abs=1e-6)


# -- the kept extremes ------------------------------------------------------------------

#: a push of (time, value), or None: ask the window for its extremes now
Step = tuple[int, float] | None


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.tuples(st.integers(0, 3000), st.sampled_from([math.nan, math.inf])),
            st.tuples(st.integers(0, 3000), st.floats(-1e4, 1e4, allow_nan=False)),
            # few distinct values: ties between the extreme and the sample that leaves
            st.tuples(st.integers(0, 3000), st.sampled_from([0.0, -0.0, 1.0, 2.0])),
        ),
        max_size=300,
    ),
    st.integers(0, 300),
)
def test_kept_extremes_equal_the_recomputed_ones(steps: list[Step], restore_at: int) -> None:
    """Pushes in order, late ones, repeats, gaps that empty the window, refused non-finite
    values, asks in between or not at all, and a restore from `parts` midway: low and high
    are always the live values' min and max."""
    span = 600.0
    w = Window(span)
    for i, step in enumerate(steps):
        if i == restore_at:
            rows, running_sum, since_resum = w.parts()
            w = Window.restore(span, rows, running_sum, since_resum)
        if step is None:
            held = w.samples()
            assert (w.oldest, w.newest) == ((held[0][0], held[-1][0]) if held else (None, None))
            values = [v for _, v in held]
            assert w.low() == (min(values) if values else None)
            assert w.high() == (max(values) if values else None)
            continue
        t, v = step
        if not math.isfinite(v):
            with pytest.raises(ValueError, match="not finite"):
                w.push(float(t), v)
        else:
            w.push(float(t), v)
    values = [v for _, v in w.samples()]
    assert w.extremes() == ((min(values), max(values)) if values else None)


def test_extremes_follow_the_samples_that_leave() -> None:
    # minute data in a 10-minute window: the low leaves, then the high, then all of it
    w = filled(600, [(0, 5), (60, 50), (120, 20)])
    assert w.extremes() == (5, 50)
    w.push(600, 30)  # (0, 5) leaves
    assert w.extremes() == (20, 50)
    w.push(660, 25)  # (60, 50) leaves
    assert w.extremes() == (20, 30)
    w.push(5000, 7)  # a gap: only the new sample is left
    assert w.extremes() == (7, 7)
    w.push(5000, 9)  # a correction of it
    assert w.extremes() == (9, 9)
