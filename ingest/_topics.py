"""Which decoder a topic belongs to (DESIGN.md, "Wire contract", inbound)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ingest._vendor_json import VendorMapping


class Kind(StrEnum):
    READING = "reading"
    HJ212 = "hj212"
    TELEMETRY = "telemetry"
    MISSION = "mission"
    FINDING = "finding"
    DJI_OSD = "dji_osd"
    VENDOR = "vendor"


@dataclass(frozen=True, slots=True)
class TopicAddress:
    kind: Kind
    # station id, drone id, or DJI serial number, as the topic names it; for a vendor's
    # topic, the name of its mapping (the device is named in the message)
    source: str


_SENSOR_KINDS = {"reading": Kind.READING, "hj212": Kind.HJ212}
_DRONE_KINDS = {"telemetry": Kind.TELEMETRY, "mission": Kind.MISSION, "finding": Kind.FINDING}


@dataclass(frozen=True, slots=True)
class InboundTopics:
    """The inbound topic space: a prefix (default `lantian`), the decoders switched on,
    and the vendors' topics read through their mappings (`ingest._vendor_json`)."""

    prefix: str = "lantian"
    enabled: frozenset[Kind] = frozenset(Kind)
    vendors: tuple[VendorMapping, ...] = ()

    def subscriptions(self) -> list[str]:
        """Wide filters on purpose: a device publishing to a misspelt topic under our prefix
        lands in the dead letters with "unknown topic" instead of vanishing at the broker."""
        ours = (f"{self.prefix}/sensors/", f"{self.prefix}/drones/")
        filters = [f"{group}#" for group in ours]
        if Kind.DJI_OSD in self.enabled:
            filters.append("thing/product/+/osd")
        if Kind.VENDOR in self.enabled:  # those under our prefix are in the wide filters
            filters += [v.topic for v in self.vendors if not v.topic.startswith(ours)]
        return filters

    def vendor(self, name: str) -> VendorMapping:
        return next(v for v in self.vendors if v.name == name)

    def address(self, topic: str) -> TopicAddress | None:
        """The decoder for `topic`, or None when no inbound topic of the contract matches."""
        return self._contract(topic) or self._vendor(topic)

    def _contract(self, topic: str) -> TopicAddress | None:
        parts = topic.split("/")
        if len(parts) == 4 and parts[:2] == ["thing", "product"] and parts[3] == "osd":
            return TopicAddress(Kind.DJI_OSD, parts[2]) if parts[2] else None
        pre = self.prefix.split("/")
        n = len(pre)
        if len(parts) != n + 3 or parts[:n] != pre or not parts[n + 1]:
            return None
        group, source, leaf = parts[n], parts[n + 1], parts[n + 2]
        table = _SENSOR_KINDS if group == "sensors" else _DRONE_KINDS if group == "drones" else {}
        kind = table.get(leaf)
        return TopicAddress(kind, source) if kind else None

    def _vendor(self, topic: str) -> TopicAddress | None:
        for mapping in self.vendors:  # a handful, in config order: the first match reads it
            if mapping.matches(topic):
                return TopicAddress(Kind.VENDOR, mapping.name)
        return None

    def deadletter(self) -> str:
        return f"{self.prefix}/deadletter"
