"""The house rules of `rules/`: one concept per module, each findable from the map in
`rules/__init__.py`, each saying what it is, none grown past ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rules

PACKAGE = Path(rules.__file__).parent
MODULES = sorted(p for p in PACKAGE.glob("_*.py") if p.name != "__init__.py")
MAX_LINES = 400


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_each_module_is_on_the_map_says_what_it_is_and_stays_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert ast.get_docstring(ast.parse(text)), f"{path.name} has no docstring"
    assert len(text.splitlines()) <= MAX_LINES, f"{path.name}: split it"
    assert rules.__doc__ is not None
    assert f"\n      {path.stem} " in rules.__doc__, f"{path.stem} is not in the module map"


def test_the_map_names_no_module_that_is_not_there() -> None:
    assert rules.__doc__ is not None
    mapped = {line.split()[0] for line in rules.__doc__.splitlines()
              if line.startswith("      _")}
    assert mapped == {p.stem for p in MODULES}


def test_the_public_surface_is_pinned() -> None:
    assert set(rules.__all__) == {
        "AQI_METRIC", "METRIC_UNITS", "MOBILE", "VALID_FLAG", "ZONE_KINDS", "Action",
        "Aggregate", "AlertSignal", "AqiEdition", "AqiResult", "DailyLimit", "Direction",
        "DronePosition", "DroneRules", "DroneSuggestion", "Evidence", "Finding",
        "FindingRules", "Interval", "Level", "Location", "Maintenance", "Measurement",
        "Mission", "NoDataRule", "Reading", "Record", "RuleState", "Ruleset", "Selector",
        "Signal", "SnapshotError", "Station", "ThresholdRule", "Trigger", "Waypoint", "Zone",
        "ZoneEvent", "ZoneIndex", "coverage", "daily_aqi", "distance_bearing", "dump_state",
        "evaluate",
        "load_state", "realtime_aqi", "sweep",
    }
    assert all(hasattr(rules, name) for name in rules.__all__)
