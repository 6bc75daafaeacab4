"""lantian.toml as a schema: one strict pydantic model per table.

The `[rules]` and `[dispatch]` tables have modules of their own (`_rules`, `_dispatch`),
because they are checked against what else was loaded; these tables are checked by
their types alone, and turned into settings by `_settings`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from ingest import PAYLOAD_CAP, Kind
from lantian.config._dispatch import DispatchSection
from lantian.config._notify import NotifySection
from lantian.config._rules import RulesSection
from lantian.config._scale import ScaleSection
from lantian.config._schema import PositiveFloat, PositiveInt, Section
from lantian.config._vendors import VendorSection


class ServiceSection(Section):
    timezone: str = "Asia/Shanghai"
    http: str = "127.0.0.1:8080"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: the reverse proxies whose X-Forwarded-For names the client (addresses or networks):
    #: sign-in lock-out counts failures per client address, and behind an untrusted proxy
    #: every officer would share the proxy's
    trusted_proxies: Annotated[list[str], Field(max_length=100)] = ["127.0.0.1", "::1"]


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


class AuthSection(Section):
    """Browser sessions and the slow-down of password guessing (`dispatch._sessions`)."""

    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0
    #: Secure cookies even when the request came over http (TLS ends at a proxy)
    secure_cookies: bool = False
    max_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    failure_window_s: PositiveInt = 900
    lockout_s: PositiveInt = 300


class StoreSection(Section):
    url: str = "sqlite:///var/lantian.sqlite"
    #: the incidents' photos, by content hash; empty: `media/` beside the SQLite file
    media_dir: Annotated[str, Field(max_length=4096)] = ""


class InfluxSection(Section):
    url: str = ""  # empty: no time-series output
    token: str = ""
    org: str = "lantian"
    bucket: str = "lantian"
    # InfluxDB's advice (5,000 lines a write); at 1,000 each request's own cost showed:
    # 7 % more CPU a message draining a backlog with victoria-metrics (bench.service)
    batch_size: PositiveInt = 5000
    flush_interval_ms: PositiveInt = 1000
    max_pending_points: PositiveInt = 1_000_000


class DjiFlightSection(Section):
    """`[ingest.dji.flights."DOCK_SN"]`: may "send a drone" fly this dock's aircraft?
    Heights in metres: `height_m` above the WGS-84 ellipsoid (the target), the others
    relative to the dock (DJI's `takeoff_to_point`)."""

    enabled: bool = False
    aircraft: Annotated[str, Field(min_length=1, max_length=64)]
    height_m: Annotated[float, Field(ge=2, le=1500)] = 100.0
    max_speed: Annotated[int, Field(ge=1, le=15)] = 10
    security_takeoff_height: Annotated[float, Field(ge=20, le=1500)] = 30.0
    rth_altitude: Annotated[float, Field(ge=2, le=1500)] = 100.0
    commander_flight_height: Annotated[float, Field(ge=2, le=3000)] = 80.0
    progress_every_s: Annotated[float, Field(ge=1, le=3600)] = 30.0


class DjiSection(Section):
    aircraft: dict[str, Annotated[str, Field(min_length=1)]] = {}
    docks: list[str] = []
    flights: Annotated[dict[str, DjiFlightSection], Field(max_length=100)] = {}


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
    vendors: Annotated[list[VendorSection], Field(max_length=100)] = []

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)  # Kind from str


class BackfillSection(Section):
    cn: Literal["2051", "2061"] = "2051"  # minute or hourly data
    min_gap_s: PositiveInt = 300
    max_span_s: PositiveInt = 86_400


class Hj212TcpSection(Section):
    listen: str = ""  # host:port; empty: no listener
    idle_timeout_s: PositiveFloat = 600.0
    # at most what HJ 212 framing can express: ##, 4 digits, 9999, CRC, CRLF
    max_frame_bytes: Annotated[int, Field(ge=64, le=10_011)] = 10_011
    max_connections: PositiveInt = 5000
    max_bytes_per_s: PositiveFloat = 20_000.0
    burst_bytes: PositiveInt = 1 << 20
    max_junk_bytes: PositiveInt = 1 << 16
    write_timeout_s: PositiveFloat = 30.0
    backfill: dict[str, BackfillSection] = {}


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
    auth: AuthSection = AuthSection()
    influx: InfluxSection = InfluxSection()
    ingest: IngestSection = IngestSection()
    hj212_tcp: Hj212TcpSection = Hj212TcpSection()
    sources: dict[str, SourceSection] = {}
    geo: GeoSection = GeoSection()
    rules: RulesSection = RulesSection()
    dispatch: DispatchSection = DispatchSection()
    notify: NotifySection = NotifySection()
    scale: ScaleSection = ScaleSection()
