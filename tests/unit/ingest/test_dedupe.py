"""The deduplicator's memory, and its round trip through a snapshot."""

from __future__ import annotations

import pytest

from ingest import Deduplicator


def test_it_forgets_the_oldest_first() -> None:
    d = Deduplicator(3)
    assert [d.first_time(k) for k in "abca"] == [True, True, True, False]
    assert d.first_time("d") and d.first_time("a")  # "a" was the oldest: evicted by "d"
    assert d.keys() == ["c", "d", "a"]


@pytest.mark.parametrize(("last", "kept"), [(None, "abcd"), (2, "cd"), (9, "abcd"), (0, "")])
def test_the_most_recent_keys_round_trip(last: int | None, kept: str) -> None:
    d = Deduplicator(10)
    for k in "abcd":
        d.first_time(k)
    again = Deduplicator(10)
    again.restore(d.keys(last))
    assert again.keys() == list(kept)
    assert [again.first_time(k) for k in "abcd"] == [k not in kept for k in "abcd"]


def test_a_restore_larger_than_the_capacity_keeps_the_newest() -> None:
    d = Deduplicator(2)
    d.restore(["a", "b", "c"])
    assert d.keys() == ["b", "c"]
