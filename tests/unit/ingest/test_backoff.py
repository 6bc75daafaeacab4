"""Reconnect delays: exponential, fully jittered between the bounds, reset only by a
connection that stayed up."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest._backoff import Backoff


def _delays(b: Backoff, n: int) -> list[float]:
    return [b.next_delay() for _ in range(n)]


def test_the_cap_doubles_from_min_to_max() -> None:
    top = Backoff(0.2, 2.0, 30.0, rng=lambda: 1.0)  # the jitter at its top: the cap itself
    assert _delays(top, 6) == pytest.approx([0.4, 0.8, 1.6, 2.0, 2.0, 2.0])


def test_the_jitter_never_goes_under_min() -> None:
    bottom = Backoff(0.2, 2.0, 30.0, rng=lambda: 0.0)
    assert _delays(bottom, 5) == [0.2] * 5


@given(st.floats(0.01, 10), st.floats(1, 100), st.lists(st.floats(0, 1, exclude_max=True),
                                                       min_size=1, max_size=80))
def test_every_delay_is_within_the_bounds(min_s: float, factor: float,
                                          draws: list[float]) -> None:
    max_s = min_s * factor
    it = iter(draws)
    b = Backoff(min_s, max_s, 30.0, rng=lambda: next(it))
    for _ in draws:
        d = b.next_delay()
        assert min_s <= d <= max_s
        assert math.isfinite(d)


def test_a_few_attempts_reach_a_long_wait_on_average() -> None:
    # the figure behind the integration tests' attempt bound: with 0.2..2 s the delays
    # average 0.3, 0.5, 0.9, 1.1, ... so 5 attempts (the first and 4 retries) fit in 3 s
    mid = Backoff(0.2, 2.0, 30.0, rng=lambda: 0.5)
    delays = _delays(mid, 5)
    assert delays == pytest.approx([0.3, 0.5, 0.9, 1.1, 1.1])
    assert sum(delays[:4]) < 3.0 < sum(delays)


def test_only_a_connection_that_stayed_up_resets_the_backoff() -> None:
    b = Backoff(1.0, 60.0, stable_s=30.0, rng=lambda: 1.0)
    assert _delays(b, 3) == [2.0, 4.0, 8.0]
    b.ended(None)  # refused, or dropped before the CONNACK
    b.ended(0.05)  # accepted, then dropped at once
    b.ended(29.9)
    assert b.next_delay() == 16.0
    b.ended(30.0)
    assert b.next_delay() == 2.0


def test_it_never_gives_up_nor_overflows() -> None:
    b = Backoff(1.0, 60.0, 30.0, rng=lambda: 1.0)
    assert _delays(b, 10_000)[-1] == 60.0


def test_nonsense_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="min_s <= max_s"):
        Backoff(2.0, 1.0, 30.0)
    with pytest.raises(ValueError, match="0 < min_s"):
        Backoff(0.0, 1.0, 30.0)
