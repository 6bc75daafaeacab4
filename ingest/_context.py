"""What a decoder needs to know about the deployment: who the sources are and how they speak.

Built once from config by the composition root and handed to every decoder; decoders
read it and never change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from rules.records import Station

#: The HJ 212 dialect rules a device may be allowed to bend (`hj212_lenient` in config):
#: each departs from the standard's text (docs/hj212.md has the clauses).
HJ212_DIALECTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "crc_unpadded": "CRC with fewer than 4 hex digits (leading zeros dropped)",
        "crc_modbus_swapped": "CRC-16/MODBUS with its bytes swapped instead of the HJ 212 CRC",
        "length_unpadded": "data length with fewer than 4 digits",
        "datatime_ms": "DataTime with milliseconds (17 digits)",
    }
)

#: Names `hj212_lenient` once needed and no longer does, because what they let through
#: conforms and is accepted from every station: config still takes them, so that a
#: deployment's file keeps loading, and they change nothing.
HJ212_RETIRED_DIALECTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "crc_lowercase": "CRC hex in lower case: HJ 212-2017 Table 2 asks for a 4-digit "
        "hexadecimal integer and names no case, so it is accepted by default",
    }
)


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """How one station or drone speaks, where it differs from the defaults.

    `unit_factors` maps a Lantian metric to the multiplier from the device's unit
    (already validated at config load)."""

    unit_factors: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    hj212_lenient: frozenset[str] = frozenset()
    gcj02: bool = False


DEFAULT_SOURCE: Final = SourceSettings()


@dataclass(frozen=True, slots=True)
class DecodeContext:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    stations: Mapping[str, Station] = field(default_factory=lambda: MappingProxyType({}))
    sources: Mapping[str, SourceSettings] = field(default_factory=lambda: MappingProxyType({}))
    #: DJI aircraft serial number -> Lantian drone id
    dji_aircraft: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: DJI dock serial numbers (their OSD is not a drone position)
    dji_docks: frozenset[str] = frozenset()
    max_payload_bytes: int = 65536
    max_future: timedelta = timedelta(minutes=5)
    _by_mn: Mapping[str, Station] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_mn = {s.mn: s for s in self.stations.values() if s.mn}
        object.__setattr__(self, "_by_mn", MappingProxyType(by_mn))

    def station_by_mn(self, mn: str) -> Station | None:
        return self._by_mn.get(mn)

    def source(self, source_id: str) -> SourceSettings:
        return self.sources.get(source_id, DEFAULT_SOURCE)
