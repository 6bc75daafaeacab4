"""Which decoder a topic belongs to (DESIGN.md, "Wire contract", inbound)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    READING = "reading"
    HJ212 = "hj212"
    TELEMETRY = "telemetry"
    MISSION = "mission"
    FINDING = "finding"
    DJI_OSD = "dji_osd"


@dataclass(frozen=True, slots=True)
class TopicAddress:
    kind: Kind
    source: str  # station id, drone id, or DJI serial number, as the topic names it


_SENSOR_KINDS = {"reading": Kind.READING, "hj212": Kind.HJ212}
_DRONE_KINDS = {"telemetry": Kind.TELEMETRY, "mission": Kind.MISSION, "finding": Kind.FINDING}


@dataclass(frozen=True, slots=True)
class InboundTopics:
    """The inbound topic space: a prefix (default `lantian`) and the decoders switched on."""

    prefix: str = "lantian"
    enabled: frozenset[Kind] = frozenset(Kind)

    def subscriptions(self) -> list[str]:
        """Wide filters on purpose: a device publishing to a misspelt topic under our prefix
        lands in the dead letters with "unknown topic" instead of vanishing at the broker."""
        filters = [f"{self.prefix}/sensors/#", f"{self.prefix}/drones/#"]
        if Kind.DJI_OSD in self.enabled:
            filters.append("thing/product/+/osd")
        return filters

    def address(self, topic: str) -> TopicAddress | None:
        """The decoder for `topic`, or None when no inbound topic of the contract matches."""
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

    def deadletter(self) -> str:
        return f"{self.prefix}/deadletter"
