"""Process each reading once: QoS 1 redeliveries and stations that re-send the same data."""

from __future__ import annotations

from collections.abc import Hashable


class Deduplicator:
    """Remembers the last `capacity` record keys; evicts the oldest first.

    Keys are the record's own identity (station, interval, time), not the MQTT packet id,
    so a redelivery after a reconnect and a device's re-send are both caught, while a
    station back-filling a gap (older times, new keys) still gets through."""

    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._seen: dict[Hashable, None] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def keys(self) -> list[Hashable]:
        """What it remembers, oldest first."""
        return list(self._seen)

    def restore(self, keys: list[Hashable]) -> None:
        """Remember `keys` (oldest first, as `keys()` gave them) instead."""
        self._seen = dict.fromkeys(keys[-self._capacity:])

    def first_time(self, key: Hashable) -> bool:
        """True the first time `key` is offered (and remembers it), False after."""
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            del self._seen[next(iter(self._seen))]
        return True
