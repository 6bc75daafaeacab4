"""Partitions: how N instances of Lantian share one broker's stream and one store.

Instance k of N (`LANTIAN_PARTITION=k/N`, `[scale] partition`) **owns** the stations and
drones whose id hashes to k: `zlib.crc32(id) % N`, a hash every process and every Python
version computes alike (Python's `hash()` is salted per process). The owner keeps the
rule windows of what it owns and is the only one that hands their signals to dispatch.

What crosses partitions, and the answer taken here (docs/scale.md explains it):

- **Reference stations** (the background rule's hourly means) and **every drone** (the
  drone suggestion reads every drone's last fix) are *shared*: every instance subscribes
  to their topics and feeds them to its own rules state, and delivers only the signals
  whose subject it owns. They are few: a district has a handful of ambient stations and
  drones, against the hundreds of dust monitors that are split.
- **Topics of unknown stations**: partition 0 keeps today's wide filters (`catch_all`,
  on unless `[scale] catch_all = false`), so a misspelt topic is still dead-lettered, not
  dropped at the broker; it skips, before any decoding, the messages of known stations
  another partition owns (`Partition.skips`). The price: partition 0 receives the whole
  stream.
- **Vendor topics** name the device inside the message: every instance reads them, and
  a record of a station owned elsewhere is not fed to the rules (`Partition.feeds`).

`0/1` is the single instance of before: it owns everything and subscribes as it did.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ingest import InboundTopics, Kind
from rules.records import Reading, Record
from rules.signals import AlertSignal, Maintenance, Signal, ZoneEvent

__all__ = ["MAX_PARTITIONS", "Partition", "owner_of"]

#: More instances than this is a typo, not a deployment (and a subscription list a
#: broker would refuse).
MAX_PARTITIONS = 256

_STATION_KINDS = frozenset({Kind.READING, Kind.HJ212})


def owner_of(source: str, count: int) -> int:
    """The partition owning the station or drone `source` among `count`: stable across
    processes, hosts and Python versions."""
    return zlib.crc32(source.encode("utf-8")) % count


@dataclass(frozen=True, slots=True)
class Partition:
    """This instance's share: partition `index` of `count`. `stations` are the registered
    ones (hashed to their owner; a station nobody registered, a mobile monitor's, is
    partition 0's, the one that reads the wide filters), `shared` those every instance
    watches whoever owns them (the reference stations)."""

    index: int = 0
    count: int = 1
    stations: frozenset[str] = frozenset()
    shared: frozenset[str] = frozenset()
    #: partition 0 subscribes to the wide filters, to dead-letter unknown topics
    catch_all: bool = True

    @staticmethod
    def parse(text: str) -> tuple[int, int]:
        """`"k/N"` with 0 ≤ k < N ≤ MAX_PARTITIONS as (k, N); ValueError saying what is
        wrong."""
        k, sep, n = text.strip().partition("/")
        if not (sep and k.isascii() and k.isdigit() and n.isascii() and n.isdigit()):
            raise ValueError(f"expected k/N (e.g. 0/2), got {text!r}")
        index, count = int(k), int(n)
        if not 1 <= count <= MAX_PARTITIONS:
            raise ValueError(f"N must be 1..{MAX_PARTITIONS}, got {text!r}")
        if index >= count:
            raise ValueError(f"k must be below N (0..{count - 1}), got {text!r}")
        return index, count

    @property
    def single(self) -> bool:
        return self.count == 1

    @property
    def name(self) -> str:
        return f"{self.index}/{self.count}"

    def owns_station(self, station: str) -> bool:
        if self.single:
            return True
        if station not in self.stations:
            return self.index == 0
        return owner_of(station, self.count) == self.index

    def owns_drone(self, drone: str) -> bool:
        return self.single or owner_of(drone, self.count) == self.index

    def watches(self, station: str) -> bool:
        """Whether this instance feeds the station's records to its rules."""
        return self.owns_station(station) or station in self.shared

    def client_id(self, base: str) -> str:
        """The MQTT client id: each partition's persistent session is its own."""
        return base if self.single else f"{base}-{self.index}"

    def subscriptions(self, topics: InboundTopics) -> list[str]:
        """The filters this instance subscribes to: its own and the shared stations'
        topics, every drone's, the vendors'; partition 0 the wide filters instead of the
        stations' (see the module's docstring)."""
        wide = topics.subscriptions()
        if self.single or (self.index == 0 and self.catch_all):
            return wide
        sensors = f"{topics.prefix}/sensors/"
        mine = [f"{sensors}{s}/#" for s in sorted(self.stations) if self.watches(s)]
        # vendor topics under the sensors' prefix were covered by the wide filter
        vendors = [v.topic for v in topics.vendors if v.topic.startswith(sensors)
                   ] if Kind.VENDOR in topics.enabled else []
        return mine + vendors + [f for f in wide if f != f"{sensors}#"]

    def skips(self, topics: InboundTopics, topic: str) -> bool:
        """Whether a message on `topic` is another partition's business: a registered
        station's own topic that this instance neither owns nor shares. Decided from the
        topic alone, so that partition 0's wide filters cost it little."""
        if self.single:
            return False
        address = topics.address(topic)
        return (address is not None and address.kind in _STATION_KINDS
                and address.source in self.stations and not self.watches(address.source))

    def feeds(self, record: Record) -> bool:
        """Whether `record` goes to this instance's rules: a reading of a station it owns
        or shares; every drone's records (the suggestion needs every last fix)."""
        return not isinstance(record, Reading) or self.watches(record.station)

    def delivers(self, signal: Signal) -> bool:
        """Whether this instance hands `signal` to dispatch: it owns its subject."""
        if self.single:
            return True
        kind, source = subject_source(signal)
        if kind == "station":
            return self.owns_station(source)
        if kind == "drone":
            return self.owns_drone(source)
        return self.index == 0  # no subject of today's rules: one instance speaks


def subject_source(signal: Signal) -> tuple[str, str]:
    """Whose owner delivers `signal`, as ("station" | "drone" | "", id): a station's or
    a drone's alert its own; a finding the drone's that made it (its subject is a
    place)."""
    if isinstance(signal, ZoneEvent):
        return "drone", signal.drone
    if isinstance(signal, Maintenance):
        return "station", signal.station
    assert isinstance(signal, AlertSignal)
    if signal.finding:
        drone = signal.detail.get("drone")
        if isinstance(drone, str):
            return "drone", drone
    kind, sep, rest = signal.subject.partition(":")
    if sep and kind in ("station", "drone"):
        return kind, rest.partition("@")[0]  # drone:ID@zone (no-fly) is the drone's
    return "", signal.subject
