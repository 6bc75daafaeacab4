"""Readings without metrics: a station that talks but measures nothing Lantian knows.

A data upload whose every factor code maps to no Lantian metric (water codes, HJ/T
212-2005 flue-gas codes, a vendor's own) decodes to a reading with no values: the
station looks alive on the wire and gives the rules nothing. So each such reading is
counted per station (`lantian_readings_without_metrics_total{station}`), and the first
one from a station is logged, once per station per process, with the codes it sent.

Both are bounded. Readings come only from registered stations, so there are as many
labels as the config has stations; should that pass `limit`, further stations are counted
under `station="other"` and logged no more, so that neither the metric's series nor the
set of stations already logged can grow without end.
"""

from __future__ import annotations

import logging
from typing import Final

from ingest._metrics import IngestMetrics

log = logging.getLogger(__name__)

STATIONS_TRACKED: Final = 1000
OTHER: Final = "other"


class ReadingsWithoutMetrics:
    def __init__(self, metrics: IngestMetrics, limit: int = STATIONS_TRACKED) -> None:
        self._metrics = metrics
        self._limit = limit
        self._seen: set[str] = set()  # stations counted (and logged) under their own label

    def saw(self, station: str, why: str) -> None:
        """Count one reading with no metrics from `station`; `why` (the decoder's note)
        is logged the first time the station sends one."""
        m = self._metrics
        if station not in self._seen:
            if len(self._seen) >= self._limit:
                m.count(m.readings_without_metrics, OTHER)
                return
            self._seen.add(station)
            log.warning(
                "station %s sends readings with no Lantian metric (logged once): %s",
                station, why,
                extra={"event": "readings_without_metrics", "station": station},
            )
        m.count(m.readings_without_metrics, station)
