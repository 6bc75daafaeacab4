"""Several instances on one store: the changes the others commit, read from the shared
store for this instance's live stream (`dispatch._feed`), at once when PostgreSQL
notifies (`dispatch._pg_listen`)."""

from dispatch._feed import ChangeFeed
from dispatch._pg_listen import PgWakeup

__all__ = ["ChangeFeed", "PgWakeup"]
