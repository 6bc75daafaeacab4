"""The window registry: which `Window` holds a subject's samples of one series.

Windows are shared by every rule (and the AQI) that reads the same series over the same
span: a station's PM10 15-minute window is one array however many rules read it. A
window is keyed by (subject, metric, interval, span in seconds, only valid values), and
created on first use; the registry is a plain dict in the rule state.
"""

from __future__ import annotations

from rules._records import Interval
from rules._window import Window

__all__ = ["WindowKey", "Windows", "shared_window"]

#: (subject, metric, interval, span_s, only_valid)
WindowKey = tuple[str, str, Interval, float, bool]
Windows = dict[WindowKey, Window]


def shared_window(
    windows: Windows, subject: str, metric: str, interval: Interval, span_s: float,
    only_valid: bool,
) -> Window:
    """The subject's window of that span over that series, created on first use."""
    key = (subject, metric, interval, span_s, only_valid)
    found = windows.get(key)
    if found is None:
        found = windows[key] = Window(span_s)
    return found
