"""Silences: which alerts are muted, and by what.

A silence matches an alert when every matcher it has matches (station, zone, rule) and the
alert was raised inside its window. Stations under maintenance or calibration (HJ 212
flags M, C) are silenced automatically while it lasts: the engine says when it starts and
ends, and dispatch keeps that as an ordinary silence authored by the system, so officers
see and can end it like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dispatch._store import Silence

#: The author of silences dispatch opens itself for stations under maintenance.
MAINTENANCE_AUTHOR = "system:maintenance"


def matches(silence: Silence, rule: str, subject: str, zones: Iterable[str], at: datetime) -> bool:
    if not silence.starts_at <= at < silence.ends_at:
        return False
    if silence.rules and rule not in silence.rules:
        return False
    if silence.stations and subject.removeprefix("station:") not in silence.stations:
        return False
    return not silence.zones or any(z in silence.zones for z in zones)


def muting(
    silences: Iterable[Silence], rule: str, subject: str, zones: Iterable[str], at: datetime
) -> Silence | None:
    """The first silence that mutes the alert, if any."""
    zones = tuple(zones)
    return next((s for s in silences if matches(s, rule, subject, zones, at)), None)
