"""Loading config/: lantian.toml, stations.geojson, zones.geojson — strictly.

Every problem stops start-up with the file, the key and what is wrong
(`config/lantian.toml: mqtt.keepalive_s: Input should be a valid integer`), and an
unknown key is a problem: a misspelt option silently ignored is how a deployment ends up
running on defaults nobody chose. Environment variables (LANTIAN_*) override the parts
that differ per deployment and are named in errors the same way.

After loading, the settings are trusted: nothing downstream re-validates them.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely
from pydantic import ConfigDict, Field, ValidationError
from shapely.geometry import shape

from ingest import (
    HJ212_DIALECTS,
    PAYLOAD_CAP,
    BrokerSettings,
    DeadLetterLimits,
    DecodeContext,
    Kind,
    SourceSettings,
    Topics,
    unit_factor,
)
from lantian.config._dispatch import DispatchSection, DispatchSettings, build_dispatch
from lantian.config._errors import ConfigError
from lantian.config._masking import SECRET_KEY, mask, secrets_in
from lantian.config._rules import RulesSection, build_ruleset
from lantian.config._schema import PositiveFloat, PositiveInt, Section
from rules import ZONE_KINDS, Location, Ruleset, Station, Zone

ENV_VARS = (
    "LANTIAN_MQTT_URL", "LANTIAN_STORE_URL", "LANTIAN_INFLUX_URL", "LANTIAN_INFLUX_TOKEN",
    "LANTIAN_INFLUX_ORG", "LANTIAN_INFLUX_BUCKET", "LANTIAN_HTTP", "LANTIAN_ADMIN_TOKEN",
)


# -- lantian.toml, as a schema ---------------------------------------------------------


class ServiceSection(Section):
    timezone: str = "Asia/Shanghai"
    http: str = "127.0.0.1:8080"
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class MqttSection(Section):
    url: str = "mqtt://127.0.0.1:1883"
    client_id: Annotated[str, Field(min_length=1, max_length=64)] = "lantian"
    topic_prefix: Annotated[str, Field(pattern=r"^[^#+/]([^#+]*[^#+/])?$")] = "lantian"
    keepalive_s: PositiveInt = 30
    session_expiry_s: Annotated[int, Field(ge=0)] = 86_400
    receive_maximum: Annotated[int, Field(ge=1, le=65535)] = 100
    ca_file: str | None = None
    reconnect_min_s: PositiveFloat = 1.0
    reconnect_max_s: PositiveFloat = 60.0


class StoreSection(Section):
    url: str = "sqlite:///var/lantian.sqlite"


class InfluxSection(Section):
    url: str = ""  # empty: no time-series output
    token: str = ""
    org: str = "lantian"
    bucket: str = "lantian"
    batch_size: PositiveInt = 1000
    flush_interval_ms: PositiveInt = 1000
    max_pending_points: PositiveInt = 1_000_000


class DjiSection(Section):
    aircraft: dict[str, Annotated[str, Field(min_length=1)]] = {}
    docks: list[str] = []


class DeadLettersSection(Section):
    payload_cap_bytes: Annotated[int, Field(ge=0, le=16 << 20)] = PAYLOAD_CAP
    max_count: PositiveInt = 100_000
    max_age_days: PositiveInt = 30


class IngestSection(Section):
    decoders: list[Kind] = [k for k in Kind]
    max_payload_bytes: Annotated[int, Field(ge=256, le=16 << 20)] = 65536
    max_future_s: Annotated[int, Field(ge=0)] = 300
    dedupe_capacity: PositiveInt = 200_000
    dji: DjiSection = DjiSection()
    deadletters: DeadLettersSection = DeadLettersSection()

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)  # Kind from str


class SourceSection(Section):
    units: dict[str, str] = {}
    hj212_lenient: list[str] = []
    crs: Literal["wgs84", "gcj02"] = "wgs84"


class GeoSection(Section):
    stations: str = "stations.geojson"
    zones: str = "zones.geojson"


class LantianToml(Section):
    service: ServiceSection = ServiceSection()
    mqtt: MqttSection = MqttSection()
    store: StoreSection = StoreSection()
    influx: InfluxSection = InfluxSection()
    ingest: IngestSection = IngestSection()
    sources: dict[str, SourceSection] = {}
    geo: GeoSection = GeoSection()
    rules: RulesSection = RulesSection()
    dispatch: DispatchSection = DispatchSection()


# -- the loaded result ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    url: str
    token: str
    org: str
    bucket: str
    batch_size: int
    flush_interval_ms: int
    max_pending_points: int


@dataclass(frozen=True, slots=True)
class Settings:
    config_dir: Path
    tz: ZoneInfo
    http_host: str
    http_port: int
    log_level: str
    broker: BrokerSettings
    topics: Topics
    store_path: Path
    influx: InfluxSettings | None
    decode: DecodeContext
    dedupe_capacity: int
    stations: Mapping[str, Station]
    zones: Mapping[str, Zone]
    rules: Ruleset
    rules_sweep_s: float
    dispatch: DispatchSettings
    admin_token: str | None
    deadletters: DeadLetterLimits


def _parse_broker_url(url: str, mqtt: MqttSection, where: str) -> BrokerSettings:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ConfigError(where, "url", f"scheme must be mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ConfigError(where, "url", f"no host in {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigError(where, "url", f"bad port in {url!r}") from exc
    return BrokerSettings(
        host=parts.hostname,
        port=port,
        tls=tls,
        ca_file=mqtt.ca_file,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        client_id=mqtt.client_id,
        keepalive_s=mqtt.keepalive_s,
        session_expiry_s=mqtt.session_expiry_s,
        receive_maximum=mqtt.receive_maximum,
        reconnect_min_s=mqtt.reconnect_min_s,
        reconnect_max_s=mqtt.reconnect_max_s,
    )


def _parse_hostport(value: str, where: str, key: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(where, key, f"expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


def _store_path(url: str, where: str) -> Path:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(where, "url", "the PostgreSQL store is not available yet; use sqlite:///")
    raise ConfigError(where, "url", f"expected sqlite:///path, got {url!r}")


def _validation_error(where: str, exc: ValidationError) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    problem = err["msg"]
    if err["type"] == "extra_forbidden":
        problem = "unknown key"
    elif SECRET_KEY.search(key):
        pass  # the value is a credential: the key and the problem say enough
    elif "input" in err and not isinstance(err["input"], dict | list):
        problem += f" (got {err['input']!r})"
    more = len(exc.errors()) - 1
    return ConfigError(where, key, problem + (f" (and {more} more problems)" if more else ""))


def _sources(toml: LantianToml, where: str) -> dict[str, SourceSettings]:
    out = {}
    for sid, src in toml.sources.items():
        factors = {}
        for metric, unit in src.units.items():
            try:
                factors[metric] = unit_factor(metric, unit)
            except ValueError as exc:
                raise ConfigError(where, f"sources.{sid}.units.{metric}", str(exc)) from exc
        for dialect in src.hj212_lenient:
            if dialect not in HJ212_DIALECTS:
                raise ConfigError(
                    where, f"sources.{sid}.hj212_lenient",
                    f"unknown dialect {dialect!r}; known: {', '.join(HJ212_DIALECTS)}",
                )
        out[sid] = SourceSettings(
            unit_factors=MappingProxyType(factors),
            hj212_lenient=frozenset(src.hj212_lenient),
            gcj02=src.crs == "gcj02",
        )
    return out


# -- GeoJSON ---------------------------------------------------------------------------


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


# -- all together ----------------------------------------------------------------------


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    targets = {
        "LANTIAN_MQTT_URL": ("mqtt", "url"),
        "LANTIAN_STORE_URL": ("store", "url"),
        "LANTIAN_INFLUX_URL": ("influx", "url"),
        "LANTIAN_INFLUX_TOKEN": ("influx", "token"),
        "LANTIAN_INFLUX_ORG": ("influx", "org"),
        "LANTIAN_INFLUX_BUCKET": ("influx", "bucket"),
        "LANTIAN_HTTP": ("service", "http"),
    }
    for var, (section, key) in targets.items():
        if env.get(var):
            table = raw.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError("lantian.toml", section, "expected a table")
            table[key] = env[var]
    return raw


def load_settings(config_dir: Path, env: Mapping[str, str] | None = None) -> Settings:
    """The settings in `config_dir`, with `env` over them; a problem raises ConfigError,
    whose message never holds a credential (see `lantian.config._masking`)."""
    env = env if env is not None else {}
    try:
        return _load_settings(config_dir, env)
    except ConfigError as exc:
        secrets = [*secrets_in(_raw_or_nothing(config_dir / "lantian.toml")),
                   *secrets_in({k: env[k] for k in ENV_VARS if k in env})]
        # `from None`: the original, unmasked message must not ride along as the cause
        raise ConfigError(
            mask(exc.where, secrets), mask(exc.key, secrets), mask(exc.problem, secrets)
        ) from None


def _raw_or_nothing(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _load_settings(config_dir: Path, env: Mapping[str, str]) -> Settings:
    toml_path = config_dir / "lantian.toml"
    where = str(toml_path)
    try:
        raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(where, "", "file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, "", f"not valid TOML: {exc}") from exc
    try:
        toml = LantianToml.model_validate(_apply_env(raw, env))
    except ValidationError as exc:
        raise _validation_error(where, exc) from exc

    try:
        tz = ZoneInfo(toml.service.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            where, "service.timezone", f"unknown time zone {toml.service.timezone!r}"
        ) from exc
    http_where = "LANTIAN_HTTP" if env.get("LANTIAN_HTTP") else where
    host, port = _parse_hostport(toml.service.http, http_where, "service.http")
    mqtt_where = "LANTIAN_MQTT_URL" if env.get("LANTIAN_MQTT_URL") else f"{where}: mqtt"
    broker = _parse_broker_url(toml.mqtt.url, toml.mqtt, mqtt_where)
    store_where = "LANTIAN_STORE_URL" if env.get("LANTIAN_STORE_URL") else f"{where}: store"
    store_path = _store_path(toml.store.url, store_where)

    zones = load_zones(config_dir / toml.geo.zones)
    stations = load_stations(config_dir / toml.geo.stations, zones)
    dji = toml.ingest.dji
    decode = DecodeContext(
        tz=tz,
        stations=MappingProxyType(stations),
        sources=MappingProxyType(_sources(toml, where)),
        dji_aircraft=MappingProxyType(dict(dji.aircraft)),
        dji_docks=frozenset(dji.docks),
        max_payload_bytes=toml.ingest.max_payload_bytes,
        max_future=timedelta(seconds=toml.ingest.max_future_s),
    )
    dl = toml.ingest.deadletters
    ix = toml.influx
    influx = (
        InfluxSettings(ix.url, ix.token, ix.org, ix.bucket, ix.batch_size, ix.flush_interval_ms,
                       ix.max_pending_points)
        if ix.url else None
    )
    return Settings(
        config_dir=config_dir,
        tz=tz,
        http_host=host,
        http_port=port,
        log_level=toml.service.log_level,
        broker=broker,
        topics=Topics(toml.mqtt.topic_prefix, frozenset(toml.ingest.decoders)),
        store_path=store_path,
        influx=influx,
        decode=decode,
        dedupe_capacity=toml.ingest.dedupe_capacity,
        stations=MappingProxyType(stations),
        zones=MappingProxyType(zones),
        rules=build_ruleset(toml.rules, where, tz, MappingProxyType(stations), zones),
        rules_sweep_s=toml.rules.sweep_s,
        dispatch=build_dispatch(toml.dispatch, where, env.get("LANTIAN_ADMIN_TOKEN") or None),
        admin_token=env.get("LANTIAN_ADMIN_TOKEN") or None,
        deadletters=DeadLetterLimits(
            payload_cap_bytes=dl.payload_cap_bytes, max_count=dl.max_count,
            max_age_days=dl.max_age_days,
        ),
    )
