"""The deduplicator's memory, and its round trip through a snapshot."""

from __future__ import annotations

import pytest

from ingest import Deduplicator


def test_it_forgets_the_oldest_first() -> None:
    d = Deduplicator(3)
    assert [d.first_time(k) for k in "abca"] == [True, True, True, False]
    assert d.first_time("d") and d.first_time("a")  # "a" was the oldest: evicted by "d"
    assert d.keys() == ["c", "d", "a"]


@pytest.mark.parametrize("kept", ["abcd", "cd", ""])
def test_restored_keys_are_known_again(kept: str) -> None:
    again = Deduplicator(10)
    again.restore(list(kept))
    assert again.keys() == list(kept)
    assert [again.first_time(k) for k in "abcd"] == [k not in kept for k in "abcd"]


def test_a_restore_larger_than_the_capacity_keeps_the_newest() -> None:
    d = Deduplicator(2)
    d.restore(["a", "b", "c"])
    assert d.keys() == ["b", "c"]
