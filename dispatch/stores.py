"""Where the service keeps its state: the store on SQLite (the embedded default) or
PostgreSQL, chosen by URL (`open_store`), and what refuses to open one."""

from dispatch._pg import PgStore, open_store
from dispatch._sql_engine import StoreUnavailable
from dispatch._sqlite import SqliteStore, SqlStore

__all__ = ["PgStore", "SqlStore", "SqliteStore", "StoreUnavailable", "open_store"]
