"""The wire: MQTT bytes in, typed records (or dead letters with a reason) out.

Nothing outside this package touches paho or a payload format.
"""

from ingest._context import DEFAULT_SOURCE, HJ212_DIALECTS, DecodeContext, SourceSettings
from ingest._deadletters import (
    PAYLOAD_CAP,
    DeadLetter,
    DeadLetterLimits,
    MemoryDeadLetters,
    Pruned,
    SqliteDeadLetters,
    StoredDeadLetter,
)
from ingest._decode import Outcome, decode_message
from ingest._dedupe import Deduplicator
from ingest._gaps import DataGap, SqliteDataGaps
from ingest._gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from ingest._hj212 import hj212_crc16
from ingest._ingestor import Ingestor, IngestState, Journal, Publisher, RecordSink
from ingest._metrics import IngestMetrics
from ingest._mqtt import BrokerSettings, MqttConnection
from ingest._mqtt_metrics import MqttMetrics
from ingest._result import Decoded, DecodeResult, Rejection
from ingest._timeseries import TimeSeriesWriter, to_lines
from ingest._topics import Kind, Route, Topics
from ingest._units import unit_factor

__all__ = [
    "DEFAULT_SOURCE",
    "HJ212_DIALECTS",
    "PAYLOAD_CAP",
    "BrokerSettings",
    "DataGap",
    "DeadLetter",
    "DeadLetterLimits",
    "DecodeContext",
    "DecodeResult",
    "Decoded",
    "Deduplicator",
    "IngestMetrics",
    "IngestState",
    "Ingestor",
    "Journal",
    "Kind",
    "MemoryDeadLetters",
    "MqttConnection",
    "MqttMetrics",
    "Outcome",
    "Pruned",
    "Publisher",
    "RecordSink",
    "Rejection",
    "Route",
    "SourceSettings",
    "SqliteDataGaps",
    "SqliteDeadLetters",
    "StoredDeadLetter",
    "TimeSeriesWriter",
    "Topics",
    "decode_message",
    "gcj02_to_wgs84",
    "hj212_crc16",
    "to_lines",
    "unit_factor",
    "wgs84_to_gcj02",
]
