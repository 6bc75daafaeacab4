"""No data: a station silent for longer than its limit is its own alert.

A sweep, not a per-message check: silence produces no messages, so the shell calls
`sweep` with its clock and the engine compares that time with each station's newest
record. The first current reading ends it. "Current" matters: a station back-filling last
night's data after an outage is still not reporting now, so a record older than the limit
at the last sweep does not end the alert (it would be raised again at the next sweep).
No data neither raises nor clears pollution alerts; their windows simply see no samples.

Data means a metric: a reading that carries none (a station whose every factor code maps
to no Lantian metric: water codes, HJ/T 212-2005 flue-gas codes, a vendor's own) shows the
station talking but measuring nothing the rules watch, so it neither resets the clock nor
ends the alert (`rules._readings` does not call `seen` for it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from rules._ruleset import Ruleset
from rules._signals import Action, AlertSignal
from rules._sites import Site


@dataclass(slots=True)
class NoDataState:
    last_seen: dict[str, float] = field(default_factory=dict)
    open: dict[str, float] = field(default_factory=dict)  # station -> silent since
    started: float | None = None
    last_sweep: float = -math.inf


def seen(st: NoDataState, site: Site, t: float, rs: Ruleset) -> AlertSignal | None:
    """Note a reading; the CLEAR for the station's no-data alert if this ends it."""
    station = site.id
    if t > st.last_seen.get(station, -math.inf):
        st.last_seen[station] = t
    if station not in st.open or rs.no_data is None:
        return None
    registered = rs.stations.get(station)
    limit = rs.no_data.limit_for(registered) if registered else None
    if limit is not None and t < st.last_sweep - limit:
        return None
    since = st.open.pop(station)
    return _signal(Action.CLEAR, site, t, since, limit, rs)


def sweep(
    st: NoDataState, now: float, rs: Ruleset, site_for: dict[str, Site]
) -> list[AlertSignal]:
    """Raise no-data for every registered station silent past its limit at `now`."""
    rule = rs.no_data
    if st.started is None:
        st.started = now
    st.last_sweep = max(st.last_sweep, now)
    if rule is None:
        return []
    out = []
    for station in rs.stations.values():
        limit = rule.limit_for(station)
        if limit is None or station.id in st.open:
            continue
        last = st.last_seen.get(station.id, st.started)
        if now - last > limit:
            st.open[station.id] = last
            out.append(_signal(Action.RAISE, site_for[station.id], now, last, limit, rs))
    return out


def _signal(
    action: Action, site: Site, t: float, since: float, limit: float | None, rs: Ruleset
) -> AlertSignal:
    rule = rs.no_data
    assert rule is not None
    return AlertSignal(
        action=action, rule=rule.rule, kind=rule.kind, subject=site.subject,
        at=datetime.fromtimestamp(t, rs.tz), severity=rule.severity,
        location=site.location, zone=site.zone, zones=site.zones, grid=site.grid,
        value=round(t - since, 3), threshold=limit,
        detail={"silent_since": datetime.fromtimestamp(since, rs.tz).isoformat()},
    )
