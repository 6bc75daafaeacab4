"""Device units to Lantian units (rules.METRIC_UNITS).

Dust monitors send µg/m³ or mg/m³, pressure arrives in kPa or hPa: which one a device
uses is configured per source, never guessed from the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from rules.records import METRIC_UNITS

# Spellings devices and config files use, folded to one canonical name.
_ALIASES: Final = {
    "µg/m³": "ug/m3", "μg/m³": "ug/m3", "ug/m3": "ug/m3", "µg/m3": "ug/m3", "μg/m3": "ug/m3",
    "mg/m³": "mg/m3", "mg/m3": "mg/m3",
    "ng/m³": "ng/m3", "ng/m3": "ng/m3",
    "db(a)": "dB", "dba": "dB", "db": "dB",
    "m/s": "m/s", "°": "deg", "deg": "deg", "°c": "degC", "degc": "degC", "c": "degC",
    "%": "%", "%rh": "%", "kpa": "kPa", "hpa": "hPa", "pa": "Pa",
}

# canonical Lantian unit per metric, and the factor from each accepted device unit to it
_MASS: Final = {"ug/m3": 1.0, "mg/m3": 1000.0, "ng/m3": 0.001}
_FACTORS: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        **{m: _MASS for m in ("tsp", "pm10", "pm25", "pm1", "so2", "no2", "o3")},
        "co": {"mg/m3": 1.0, "ug/m3": 0.001},
        "noise": {"dB": 1.0},
        "wind_speed": {"m/s": 1.0},
        "wind_dir": {"deg": 1.0},
        "temp": {"degC": 1.0},
        "rh": {"%": 1.0},
        "pressure": {"kPa": 1.0, "hPa": 0.1, "Pa": 0.001},
    }
)
assert set(_FACTORS) == set(METRIC_UNITS)


def canonical_unit(unit: str) -> str | None:
    return _ALIASES.get(unit.strip().lower())


def accepted_units(metric: str) -> tuple[str, ...]:
    return tuple(_FACTORS[metric])


def unit_factor(metric: str, unit: str) -> float:
    """Multiplier from `unit` to the Lantian unit of `metric`.

    Raises ValueError naming the accepted units: config loading turns that into a
    start-up error, so a bad unit never reaches the hot path."""
    if metric not in _FACTORS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(sorted(_FACTORS))}")
    canon = canonical_unit(unit)
    factors = _FACTORS[metric]
    if canon is None or canon not in factors:
        raise ValueError(
            f"unit {unit!r} is not accepted for {metric}; use one of {', '.join(factors)}"
        )
    return factors[canon]
