"""Geography: zones, the index of which zones a point is in, distances and bearings."""

from rules._geodesy import distance_bearing
from rules._zone_index import ZoneIndex
from rules._zones import ZONE_KINDS, Zone

__all__ = [
    "ZONE_KINDS",
    "Zone",
    "ZoneIndex",
    "distance_bearing",
]
