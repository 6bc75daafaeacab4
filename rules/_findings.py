"""Drone findings: what a patrol saw becomes an alert at the place it saw it.

The subject is the place, not the drone: a dust plume over construction site cs-01 is
about cs-01, whichever drone filmed it, so a second finding there within `merge_s` updates
the same alert. Outside any zone the place is a cell of about 100 m. Whether a finding
also verifies an incident already open at that zone is for `dispatch` to decide: only it
knows which incidents officers still have open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rules._records import Finding
from rules._ruleset import Ruleset
from rules._signals import Action, AlertSignal, Evidence


@dataclass(slots=True)
class FindingState:
    last: dict[tuple[str, str], float] = field(default_factory=dict)


def on_finding(st: FindingState, finding: Finding, rs: Ruleset) -> list[AlertSignal]:
    rules = rs.findings
    if finding.confidence < rules.threshold(finding.kind):
        return []
    where = finding.location
    primary, zones, grid = rs.index.attribution(where.lon, where.lat)
    if primary is not None and primary.kind != "grid":
        subject = f"zone:{primary.id}"
    else:
        subject = f"at:{where.lat:.3f},{where.lon:.3f}"
    rule = f"finding-{finding.kind}"
    t = finding.ts.timestamp()
    key = (rule, subject)
    last = st.last.get(key)
    if last is not None and t < last:
        return []  # an older finding arriving late adds nothing to the newer one
    action = Action.UPDATE if last is not None and t - last <= rules.merge_s else Action.RAISE
    st.last[key] = t
    return [
        AlertSignal(
            action=action, rule=rule, kind=rules.alert_kinds.get(finding.kind, finding.kind),
            subject=subject, at=finding.ts, severity=rules.severity, location=where,
            zone=primary, zones=zones, grid=grid, metric="confidence",
            value=finding.confidence, threshold=rules.threshold(finding.kind),
            evidence=Evidence(media=finding.media, note=finding.note),
            detail={"drone": finding.drone, "finding": finding.kind,
                    "observed_at": datetime.isoformat(finding.ts)},
            finding=True,
        )
    ]
