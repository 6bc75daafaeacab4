"""The house rules of `rules/`: one concept per module, each findable from the map in
`rules/__init__.py`, each saying what it is, none grown past ~400 lines."""

from __future__ import annotations

import ast
import importlib
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


#: The public surface: the engine at the top, its vocabulary in one module a concept.
SURFACE = {
    "rules": {"RuleState", "SnapshotError", "coverage", "dump_state", "evaluate",
              "load_state", "sweep"},
    "rules.records": {"METRIC_UNITS", "VALID_FLAG", "DronePosition", "Finding", "Interval",
                      "Location", "Measurement", "Mission", "Reading", "Record", "Station",
                      "Waypoint"},
    "rules.signals": {"Action", "AlertSignal", "DroneSuggestion", "Evidence", "Maintenance",
                      "Signal", "ZoneEvent"},
    "rules.settings": {"AQI_METRIC", "MOBILE", "Aggregate", "DailyLimit", "Direction",
                       "DroneRules", "FindingRules", "Level", "NoDataRule", "Ruleset",
                       "Selector", "ThresholdRule", "Trigger"},
    "rules.geo": {"ZONE_KINDS", "Zone", "ZoneIndex", "distance_bearing"},
    "rules.aqi": {"AqiEdition", "AqiResult", "daily_aqi", "realtime_aqi"},
}


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_the_public_surface_is_pinned_small_and_true(module: str) -> None:
    public = importlib.import_module(module)
    assert set(public.__all__) == SURFACE[module]
    assert len(public.__all__) <= 20
    assert all(hasattr(public, name) for name in public.__all__)


def test_each_public_name_has_one_home() -> None:
    homes = [name for names in SURFACE.values() for name in names]
    assert len(homes) == len(set(homes))


def test_the_public_modules_are_on_the_map() -> None:
    assert rules.__doc__ is not None
    for module in SURFACE.keys() - {"rules"}:
        assert f"\n    {module} " in rules.__doc__
