"""The geography: stations.geojson and zones.geojson, read strictly.

A feature with an unknown property, a zone that is not a valid WGS-84 polygon, a station
in a zone the zones file does not have: each stops start-up with the file, the feature
(and its id, once known) and what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from lantian.config._errors import ConfigError
from rules.geo import ZONE_KINDS, Zone
from rules.records import Location, Station


def _features(path: Path) -> list[dict[str, Any]]:
    where = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(where, "", "file not found") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(where, "", f"not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ConfigError(where, "type", "expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ConfigError(where, "features", "expected a list")
    for i, f in enumerate(features):
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise ConfigError(where, f"features[{i}]", "expected a Feature")
        if not isinstance(f.get("properties"), dict):
            raise ConfigError(where, f"features[{i}].properties", "expected an object")
    return features


def _prop(
    f: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str, key: str,
    required: bool = False,
) -> Any:
    value = f["properties"].get(name)
    if value is None:
        if required:
            raise ConfigError(where, f"{key}.properties.{name}", "missing")
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(where, f"{key}.properties.{name}", f"wrong type: {value!r}")
    return value


def _prop_time(f: dict[str, Any], name: str, where: str, key: str) -> datetime | None:
    text = _prop(f, name, str, where, key)
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(where, f"{key}.properties.{name}", f"not a time: {text!r}") from exc
    if at.tzinfo is None:
        raise ConfigError(where, f"{key}.properties.{name}", f"{text!r} has no UTC offset")
    return at


def _check_keys(f: dict[str, Any], allowed: set[str], where: str, key: str) -> None:
    for name in f["properties"]:
        if name not in allowed:
            raise ConfigError(where, f"{key}.properties.{name}", "unknown key")


def load_zones(path: Path) -> dict[str, Zone]:
    where = str(path)
    zones: dict[str, Zone] = {}
    keys: dict[str, str] = {}
    for i, f in enumerate(_features(path)):
        key = f"features[{i}]"
        _check_keys(
            f,
            {"id", "name", "kind", "grid", "min_alt_m", "max_alt_m", "area_class",
             "active_from", "active_until"},
            where, key,
        )
        zid = _prop(f, "id", str, where, key, required=True)
        key = f"features[{i}] ({zid})"
        if zid in zones:
            raise ConfigError(where, key, f"duplicate zone id {zid!r}")
        kind = _prop(f, "kind", str, where, key, required=True)
        if kind not in ZONE_KINDS:
            raise ConfigError(
                where, f"{key}.properties.kind",
                f"unknown kind {kind!r}; known: {', '.join(sorted(ZONE_KINDS))}",
            )
        lo = _prop(f, "min_alt_m", (int, float), where, key)
        hi = _prop(f, "max_alt_m", (int, float), where, key)
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(where, key, f"min_alt_m {lo} is above max_alt_m {hi}")
        active_from = _prop_time(f, "active_from", where, key)
        active_until = _prop_time(f, "active_until", where, key)
        if active_from and active_until and active_from >= active_until:
            raise ConfigError(where, key, "active_from is not before active_until")
        try:
            geom = shape(f.get("geometry"))
        except Exception as exc:  # shapely raises several types for malformed GeoJSON
            raise ConfigError(where, f"{key}.geometry", f"not a geometry: {exc}") from exc
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ConfigError(where, f"{key}.geometry", f"expected a Polygon, got {geom.geom_type}")
        if not geom.is_valid:
            raise ConfigError(
                where, f"{key}.geometry", f"invalid polygon: {shapely.is_valid_reason(geom)}"
            )
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ConfigError(
                where, f"{key}.geometry", "coordinates out of range: expected [lon, lat] in WGS-84"
            )
        keys[zid] = key
        zones[zid] = Zone(
            id=zid, name=_prop(f, "name", str, where, key) or zid, kind=kind,
            geometry=geom, grid=_prop(f, "grid", str, where, key),
            min_alt_m=None if lo is None else float(lo),
            max_alt_m=None if hi is None else float(hi),
            area_class=_prop(f, "area_class", str, where, key),
            active_from=active_from, active_until=active_until,
        )
    for zid, z in zones.items():
        if z.grid is not None and (z.grid not in zones or zones[z.grid].kind != "grid"):
            raise ConfigError(
                where, f"{keys[zid]}.properties.grid", f"{z.grid!r} is not a grid zone"
            )
    return zones


def load_stations(path: Path, zones: Mapping[str, Zone]) -> dict[str, Station]:
    where = str(path)
    stations: dict[str, Station] = {}
    mns: dict[str, str] = {}
    for i, f in enumerate(_features(path)):
        key = f"features[{i}]"
        _check_keys(f, {"id", "name", "kind", "mn", "zone"}, where, key)
        sid = _prop(f, "id", str, where, key, required=True)
        key = f"features[{i}] ({sid})"
        if sid in stations:
            raise ConfigError(where, key, f"duplicate station id {sid!r}")
        mn = _prop(f, "mn", str, where, key)
        if mn is not None:
            if mn in mns:
                raise ConfigError(where, key, f"MN {mn!r} is also station {mns[mn]!r}")
            mns[mn] = sid
        zone = _prop(f, "zone", str, where, key)
        if zone is not None and zone not in zones:
            raise ConfigError(where, f"{key}.properties.zone", f"no zone {zone!r} in zones file")
        geom = f.get("geometry")
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        if (
            not isinstance(geom, dict) or geom.get("type") != "Point"
            or not isinstance(coords, list) or len(coords) not in (2, 3)
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
        ):
            raise ConfigError(where, f"{key}.geometry", "expected a Point [lon, lat]")
        try:
            location = Location(lat=float(coords[1]), lon=float(coords[0]))
        except ValueError as exc:
            raise ConfigError(where, f"{key}.geometry", str(exc)) from exc
        stations[sid] = Station(
            id=sid, name=_prop(f, "name", str, where, key) or sid,
            kind=_prop(f, "kind", str, where, key) or "unknown",
            location=location, mn=mn, zone=zone,
        )
    return stations
