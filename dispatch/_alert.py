"""An alert as dispatch keeps it: what the rules said about it, and where its incident is.

`description` is what the engine's signal said, kept as JSON-ready data (zone, location,
metric, value, evidence, drone suggestion, ...), replaced when the condition updates; the
`incident` is the fold of the alert's event log. Times are aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from dispatch._lifecycle import Incident
from rules.geo import Zone
from rules.records import Location
from rules.signals import AlertSignal


@dataclass(frozen=True, slots=True)
class Alert:
    incident: Incident
    rule: str
    subject: str
    kind: str
    zone: str | None
    grid: str | None
    ack_by: datetime
    close_by: datetime
    description: Mapping[str, Any]

    @property
    def id(self) -> str:
        return self.incident.id

    def to_json(self, tz: tzinfo) -> dict[str, Any]:
        """The alert JSON of the wire contract (DESIGN.md): published and served."""
        i = self.incident
        out: dict[str, Any] = {
            "id": i.id, "kind": self.kind, "rule": self.rule, "severity": i.severity,
            "subject": self.subject,
        }
        out.update(self.description)
        out.update(
            raised_at=_iso(i.raised_at, tz), queue=i.queue, assists=list(i.assists),
            state=i.state.value, muted=i.muted,
            acknowledged_at=_iso(i.acknowledged_at, tz), closed_at=_iso(i.closed_at, tz),
            condition_cleared_at=_iso(i.cleared_at, tz), drone=i.drone,
            receipt=(
                {"outcome": i.outcome.value, "note": i.note, "officer": i.officer}
                if i.outcome is not None else None
            ),
            escalated=sorted(s.value for s in i.escalated),
            sla={"ack_by": _iso(self.ack_by, tz), "close_by": _iso(self.close_by, tz)},
        )
        return out


def _iso(at: datetime | None, tz: tzinfo) -> str | None:
    return at.astimezone(tz).isoformat() if at is not None else None


def zone_json(zone: Zone | None, grid: str | None) -> dict[str, Any] | None:
    if zone is None:
        return None
    return {"id": zone.id, "name": zone.name, "kind": zone.kind, "grid": zone.grid or grid}


def describe(signal: AlertSignal, tz: tzinfo) -> dict[str, Any]:
    """The JSON-ready description of an alert from the engine's signal."""
    ev = signal.evidence
    evidence: dict[str, Any] = {
        "readings": [[t.astimezone(tz).isoformat(), v] for t, v in ev.readings],
    }
    if ev.track:
        evidence["track"] = [
            [p.ts.astimezone(tz).isoformat(), p.location.lat, p.location.lon, p.alt_m]
            for p in ev.track
        ]
    if ev.media:
        evidence["media"] = list(ev.media)
    if ev.note:
        evidence["note"] = ev.note
    s = signal.drone_suggestion
    return {
        "zone": zone_json(signal.zone, signal.grid),
        "zones": [z.id for z in signal.zones],
        "grid": signal.grid,
        "location": _location(signal.location),
        "metric": signal.metric,
        "value": signal.value,
        "threshold": signal.threshold,
        "window_s": signal.window_s,
        "evidence": evidence,
        "drone_suggestion": None if s is None else {
            "drone": s.drone, "distance_m": round(s.distance_m), "bearing_deg":
            round(s.bearing_deg), "direction": s.direction, "eta_s": round(s.eta_s),
        },
        "detail": dict(signal.detail),
        "observed_at": signal.at.astimezone(tz).isoformat(),
    }


def lateness(observed: datetime, raised: datetime, late_after: timedelta) -> dict[str, Any]:
    """How long the data behind an alert took to reach the service (`delay_s`, from the
    observation to the raise), and whether that makes the alert `late`: a logger's
    buffered or back-filled upload is raised now about a condition of an hour ago, and an
    officer must see that before driving out. Fixed at the raise."""
    delay = max(0.0, (raised - observed).total_seconds())
    return {"delay_s": round(delay), "late": delay > late_after.total_seconds()}


def _location(loc: Location | None) -> dict[str, float] | None:
    return None if loc is None else {"lat": loc.lat, "lon": loc.lon}
