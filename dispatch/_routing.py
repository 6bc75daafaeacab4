"""Which queue an alert goes to: an ordered list of routes, first match wins.

A route matches on the alert's kind, the kinds of the zones it lies in, its severity and
the local time of day it was raised; an empty criterion matches anything. When no route
matches, the default queue takes the alert, so nothing is ever left unrouted.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, time


@dataclass(frozen=True, slots=True)
class Route:
    queue: str
    kinds: frozenset[str] = frozenset()
    zone_kinds: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    start: time | None = None  # local time of day, inclusive
    end: time | None = None  # exclusive; before `start` means the span wraps midnight

    def matches(self, kind: str, zone_kinds: Collection[str], severity: str, local: time) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.zone_kinds and not any(k in self.zone_kinds for k in zone_kinds):
            return False
        if self.severities and severity not in self.severities:
            return False
        return self.start is None or self.end is None or _within(local, self.start, self.end)


def _within(t: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= t < end
    return t >= start or t < end  # e.g. 22:00-06:00, the night shift


@dataclass(frozen=True, slots=True)
class Router:
    routes: Sequence[Route]
    default: str

    def queue_for(
        self, kind: str, zone_kinds: Collection[str], severity: str, raised_at: datetime
    ) -> str:
        """`raised_at` must be in the deployment's time zone: routes speak local time."""
        local = raised_at.timetz().replace(tzinfo=None)
        for route in self.routes:
            if route.matches(kind, zone_kinds, severity, local):
                return route.queue
        return self.default
