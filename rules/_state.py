"""The rule state: everything the rules remember between records, as one plain object
the shell owns and passes back into `evaluate` and `sweep`.

Each part belongs to the module that changes it: `sites` to `rules._sites`, `thresholds`
to `rules._thresholds` (with the window registry of `rules._windows` and the hourly sums
of `rules._background`), `no_data` to `rules._nodata`, `drones` to `rules._drone_state`,
`findings` to `rules._findings`, `maintenance` to `rules._maintenance`. `rules._snapshot`
writes it out as versioned JSON and reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rules._drone_state import DroneBook
from rules._findings import FindingState
from rules._nodata import NoDataState
from rules._sites import Site
from rules._thresholds import ThresholdState

__all__ = ["RuleState"]


@dataclass(slots=True)
class RuleState:
    """Everything the rules remember between records; `rules._snapshot` writes it out
    and reads it back."""

    sites: dict[str, Site] = field(default_factory=dict)  # station -> its resolved site
    thresholds: ThresholdState = field(default_factory=ThresholdState)
    no_data: NoDataState = field(default_factory=NoDataState)
    drones: DroneBook = field(default_factory=DroneBook)
    findings: FindingState = field(default_factory=FindingState)
    maintenance: dict[str, tuple[str, ...]] = field(default_factory=dict)
