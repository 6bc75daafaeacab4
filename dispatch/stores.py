"""Where the service keeps its state: the store on SQLite (the embedded default) or
PostgreSQL, chosen by URL (`open_store`), what refuses to open one, and the reads made
apart from the event loop on a second connection (`ReadLane`), SQLite's WAL
checkpoints made apart from it too (`WalCheckpointer`), and the writer's turns, in which
the service's work runs with its waits on PostgreSQL off the event loop (`Turns`)."""

from dispatch._pg import PgStore, open_store
from dispatch._read_lane import ReadLane
from dispatch._sql_engine import StoreUnavailable
from dispatch._sqlite import SqliteStore, SqlStore
from dispatch._turns import Turns
from dispatch._wal_checkpoints import WalCheckpointer

__all__ = [
    "PgStore", "ReadLane", "SqlStore", "SqliteStore", "StoreUnavailable", "Turns",
    "WalCheckpointer", "open_store",
]
