"""Loading config/: lantian.toml, stations.geojson, zones.geojson — strictly.

Every problem stops start-up with the file, the key and what is wrong
(`config/lantian.toml: mqtt.keepalive_s: Input should be a valid integer`), and an
unknown key is a problem: a misspelt option silently ignored is how a deployment ends up
running on defaults nobody chose. Environment variables (LANTIAN_*) override the parts
that differ per deployment and are named in errors the same way.

After loading, the settings are trusted: nothing downstream re-validates them.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from dispatch.flights import DockFlight
from dispatch.users import SessionPolicy
from ingest import (
    HJ212_DIALECTS,
    HJ212_RETIRED_DIALECTS,
    BrokerSettings,
    DeadLetterLimits,
    DecodeContext,
    InboundTopics,
    Kind,
    SourceSettings,
    unit_factor,
)
from ingest.hj212_tcp import Hj212TcpSettings
from lantian.config._dispatch import DispatchSettings, build_dispatch
from lantian.config._env import ENV_VARS, apply_env
from lantian.config._errors import ConfigError
from lantian.config._geo import load_stations, load_zones
from lantian.config._masking import SECRET_KEY, mask, secrets_in
from lantian.config._notify import NotifySettings, build_notify, notify_secrets
from lantian.config._rules import build_ruleset
from lantian.config._scale import build_partition
from lantian.config._toml import DjiSection, Hj212TcpSection, LantianToml, MqttSection
from lantian.config._vendors import build_vendors
from lantian.partition import Partition
from rules.geo import Zone
from rules.records import Station
from rules.settings import Ruleset


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
    topics: InboundTopics
    #: the SQLite file; on PostgreSQL only where `media/` defaults to (the working
    #: directory's `data/`)
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
    sessions: SessionPolicy
    notify: NotifySettings = field(default_factory=NotifySettings)
    #: the TCP listener for HJ 212 data loggers; None: off
    hj212_tcp: Hj212TcpSettings | None = None
    #: DJI docks whose drone "send a drone" flies, by dock serial number
    flights: Mapping[str, DockFlight] = field(default_factory=lambda: MappingProxyType({}))
    #: where the incidents' photos are kept; None: `media/` beside the store
    media_dir: Path | None = None
    #: the proxies whose X-Forwarded-For is believed (addresses or networks)
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    #: this instance's share of the stations and drones (`[scale]`); 0/1: all of them
    partition: Partition = field(default_factory=Partition)
    #: the store's URL as configured (sqlite:///... or postgresql://...); "" for tests
    #: that build Settings by hand: `store_path` as SQLite then
    store_url: str = ""


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


def _trusted_proxies(values: list[str], where: str) -> tuple[str, ...]:
    for n, value in enumerate(values):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(where, f"service.trusted_proxies[{n}]",
                              f"expected an IP address or network, got {value!r}") from None
    return tuple(values)


def _hj212_tcp(
    section: Hj212TcpSection, stations: Mapping[str, Station], where: str, listen_where: str
) -> Hj212TcpSettings | None:
    if not section.listen:
        return None
    host, port = _parse_hostport(section.listen, listen_where, "hj212_tcp.listen")
    backfill = {}
    for sid, bf in section.backfill.items():
        station = stations.get(sid)
        if station is None:
            raise ConfigError(where, f"hj212_tcp.backfill.{sid}", "no such station")
        if not station.mn:
            raise ConfigError(where, f"hj212_tcp.backfill.{sid}",
                              "the station has no HJ 212 \"mn\" in the stations file")
        backfill[sid] = Hj212TcpSettings.Backfill(
            bf.cn, timedelta(seconds=bf.min_gap_s), timedelta(seconds=bf.max_span_s)
        )
    return Hj212TcpSettings(
        host=host, port=port, idle_timeout_s=section.idle_timeout_s,
        max_frame_bytes=section.max_frame_bytes, max_connections=section.max_connections,
        max_bytes_per_s=section.max_bytes_per_s, burst_bytes=section.burst_bytes,
        max_junk_bytes=section.max_junk_bytes, write_timeout_s=section.write_timeout_s,
        backfill=MappingProxyType(backfill),
    )


def _store_path(url: str, where: str) -> Path:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        _check_pg_url(url, where)
        return Path("data") / "postgresql"  # nothing is kept there; media/ goes beside it
    raise ConfigError(where, "url", "expected sqlite:///path or"
                      f" postgresql://user:password@host:port/database, got {_redact(url)!r}")


def _check_pg_url(url: str, where: str) -> None:
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ConfigError(where, "url", f"{_redact(url)!r}: {e}") from None
    if not parts.hostname or not parts.path.strip("/"):
        raise ConfigError(where, "url", f"{_redact(url)!r} names no host or no database;"
                          " expected postgresql://user:password@host:port/database")
    del port


def _redact(url: str) -> str:
    import re
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


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
            if dialect not in HJ212_DIALECTS and dialect not in HJ212_RETIRED_DIALECTS:
                raise ConfigError(
                    where, f"sources.{sid}.hj212_lenient",
                    f"unknown dialect {dialect!r}; known: {', '.join(HJ212_DIALECTS)}",
                )
        out[sid] = SourceSettings(
            unit_factors=MappingProxyType(factors),
            hj212_lenient=frozenset(src.hj212_lenient).difference(HJ212_RETIRED_DIALECTS),
            gcj02=src.crs == "gcj02",
        )
    return out


def load_settings(config_dir: Path, env: Mapping[str, str] | None = None) -> Settings:
    """The settings in `config_dir`, with `env` over them; a problem raises ConfigError,
    whose message never holds a credential (see `lantian.config._masking`)."""
    env = env if env is not None else {}
    try:
        return _load_settings(config_dir, env)
    except ConfigError as exc:
        raw = _raw_or_nothing(config_dir / "lantian.toml")
        secrets = [*secrets_in(raw), *notify_secrets(raw),
                   *secrets_in({k: env[k] for k in ENV_VARS if k in env}),
                   *(v for k, v in env.items() if k.startswith("LANTIAN_NOTIFY_"))]
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
        toml = LantianToml.model_validate(apply_env(raw, env))
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
    dispatch = build_dispatch(toml.dispatch, where, env.get("LANTIAN_ADMIN_TOKEN") or None)
    ruleset = build_ruleset(toml.rules, where, tz, MappingProxyType(stations), zones)
    partition = build_partition(
        toml.scale, "LANTIAN_PARTITION" if env.get("LANTIAN_PARTITION") else where,
        stations, ruleset.background_stations)
    # each partition's persistent session is its own, from one shared config
    broker = replace(broker, client_id=partition.client_id(broker.client_id))
    return Settings(
        config_dir=config_dir,
        tz=tz,
        http_host=host,
        http_port=port,
        log_level=toml.service.log_level,
        broker=broker,
        topics=InboundTopics(
            toml.mqtt.topic_prefix, frozenset(toml.ingest.decoders),
            build_vendors(list(toml.ingest.vendors), where, stations,
                          Kind.VENDOR in toml.ingest.decoders),
        ),
        store_path=store_path,
        trusted_proxies=_trusted_proxies(toml.service.trusted_proxies, where),
        store_url=toml.store.url,
        media_dir=Path(toml.store.media_dir) if toml.store.media_dir
        else store_path.parent / "media",
        influx=influx,
        decode=decode,
        dedupe_capacity=toml.ingest.dedupe_capacity,
        stations=MappingProxyType(stations),
        zones=MappingProxyType(zones),
        rules=ruleset,
        rules_sweep_s=toml.rules.sweep_s,
        dispatch=dispatch,
        admin_token=env.get("LANTIAN_ADMIN_TOKEN") or None,
        deadletters=DeadLetterLimits(
            payload_cap_bytes=dl.payload_cap_bytes, max_count=dl.max_count,
            max_age_days=dl.max_age_days,
        ),
        sessions=SessionPolicy(
            lifetime=timedelta(hours=toml.auth.session_hours),
            max_failures=toml.auth.max_failures,
            window=timedelta(seconds=toml.auth.failure_window_s),
            lockout=timedelta(seconds=toml.auth.lockout_s),
            secure_cookies=toml.auth.secure_cookies,
        ),
        notify=build_notify(toml.notify, where, dispatch.queues),
        hj212_tcp=_hj212_tcp(
            toml.hj212_tcp, stations, where,
            "LANTIAN_HJ212_LISTEN" if env.get("LANTIAN_HJ212_LISTEN") else where,
        ),
        flights=_flights(dji, where),
        partition=partition,
    )


def _flights(dji: DjiSection, where: str) -> Mapping[str, DockFlight]:
    """The docks "send a drone" may fly: each a configured dock with a configured aircraft."""
    out = {}
    for sn, f in dji.flights.items():
        key = f'ingest.dji.flights."{sn}"'
        if sn not in dji.docks:
            raise ConfigError(where, key, f"{sn!r} is not in [ingest.dji] docks")
        drone = dji.aircraft.get(f.aircraft)
        if drone is None:
            raise ConfigError(where, f"{key}.aircraft",
                              f"{f.aircraft!r} is not in [ingest.dji] aircraft")
        out[sn] = DockFlight(
            dock=sn, drone=drone, enabled=f.enabled, height_m=f.height_m,
            max_speed=f.max_speed, security_takeoff_height=f.security_takeoff_height,
            rth_altitude=f.rth_altitude, commander_flight_height=f.commander_flight_height,
            progress_every_s=f.progress_every_s)
    drones = [d.drone for d in out.values() if d.enabled]
    if len(drones) != len(set(drones)):
        raise ConfigError(where, "ingest.dji.flights",
                          "two enabled docks name the same aircraft")
    return MappingProxyType(out)
