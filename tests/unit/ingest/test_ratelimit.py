"""The token bucket that limits the live dead-letter topic."""

from __future__ import annotations

import pytest

from ingest._ratelimit import TokenBucket


def test_a_burst_then_the_rate() -> None:
    b = TokenBucket(rate=2, burst=3)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.take(0.4) is False  # 0.8 of a token
    assert b.take(0.5) is True  # one token back after half a second at 2/s
    assert [b.take(100.0) for _ in range(4)] == [True, True, True, False]  # never over burst


def test_time_going_back_gives_nothing() -> None:
    b = TokenBucket(rate=1, burst=1)
    assert b.take(10.0)
    assert not b.take(5.0)  # a clock stepped back is no reason for more tokens
    assert not b.take(10.5)
    assert b.take(11.0)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (1, 0.5)])
def test_nonsense_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)
