"""Maintenance: a station's HJ 212 data flags say it is being worked on (M maintenance,
C calibration), or have stopped saying it; dispatch mutes the station meanwhile.

Judged on the station's newest reading only (a late one says nothing about now), and
only as a change: one `Maintenance` signal when it starts, one when it ends.
"""

from __future__ import annotations

from typing import Final

from rules._records import VALID_FLAG, Reading
from rules._signals import Maintenance

__all__ = ["MAINTENANCE_FLAGS", "maintenance"]

#: HJ 212 data flags meaning the instrument is being worked on: maintenance, calibration.
MAINTENANCE_FLAGS: Final = frozenset({"M", "C"})


def maintenance(flagged: dict[str, tuple[str, ...]], reading: Reading) -> Maintenance | None:
    """Whether the station's newest reading starts or ends maintenance/calibration;
    `flagged` (station -> its flags) is updated."""
    before = flagged.get(reading.station)
    if before is None:
        for m in reading.values.values():  # a loop, not all() over a generator: half the cost
            if m.flag != VALID_FLAG:
                break
        else:
            return None  # the common case, cheaply
    flags = tuple(sorted({m.flag for m in reading.values.values()} & MAINTENANCE_FLAGS))
    if flags and before is None:
        flagged[reading.station] = flags
        return Maintenance(reading.station, True, reading.ts, flags)
    if not flags and before is not None and reading.values:
        del flagged[reading.station]
        return Maintenance(reading.station, False, reading.ts, before)
    return None
