"""The store the configuration names, opened for `lantian run` and `lantian users` alike:
a store that cannot be opened (unreachable, or newer than this Lantian) stops them as a
configuration error naming the setting, never a traceback."""

from __future__ import annotations

from dispatch.stores import SqlStore, StoreUnavailable, open_store
from lantian.config import ConfigError, Settings


def open_configured_store(settings: Settings) -> SqlStore:
    # Settings built by hand (tests) name only the SQLite file
    url = settings.store_url or f"sqlite:///{settings.store_path}"
    try:
        return open_store(url, tz=settings.tz)
    except StoreUnavailable as e:
        raise ConfigError("LANTIAN_STORE_URL or [store]", "url", str(e)) from None
