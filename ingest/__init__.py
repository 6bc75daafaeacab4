"""The wire: MQTT messages and HJ 212 data loggers' TCP streams in, typed records (or
dead letters with a reason) out.

Nothing outside this package touches paho or a payload format.
"""

from ingest._context import (
    HJ212_DIALECTS,
    HJ212_RETIRED_DIALECTS,
    DecodeContext,
    SourceSettings,
)
from ingest._deadletters import PAYLOAD_CAP, DeadLetterLimits, SqliteDeadLetters
from ingest._decode import decode_message
from ingest._dedupe import Deduplicator
from ingest._gaps import DataGap, SqliteDataGaps
from ingest._hj212 import hj212_crc16
from ingest._ingestor import Ingestor, RecordSink
from ingest._metrics import IngestMetrics
from ingest._mqtt import BrokerSettings, MqttConnection
from ingest._render import record_as_dict
from ingest._result import Decoded
from ingest._timeseries import TimeSeriesWriter
from ingest._topics import InboundTopics, Kind
from ingest._units import unit_factor

__all__ = [
    "HJ212_DIALECTS",
    "HJ212_RETIRED_DIALECTS",
    "PAYLOAD_CAP",
    "BrokerSettings",
    "DataGap",
    "DeadLetterLimits",
    "DecodeContext",
    "Decoded",
    "Deduplicator",
    "InboundTopics",
    "IngestMetrics",
    "Ingestor",
    "Kind",
    "MqttConnection",
    "RecordSink",
    "SourceSettings",
    "SqliteDataGaps",
    "SqliteDeadLetters",
    "TimeSeriesWriter",
    "decode_message",
    "hj212_crc16",
    "record_as_dict",
    "unit_factor",
]
