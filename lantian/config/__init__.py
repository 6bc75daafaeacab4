"""Loading config/ strictly: lantian.toml, stations.geojson and zones.geojson, with the
LANTIAN_* environment variables over them, into one trusted `Settings` value.

    settings = load_settings(config_dir(args.config, os.environ), os.environ)

Every problem stops start-up with the file, the key and what is wrong, and never prints a
credential; after loading nothing downstream re-validates.

The loading itself (`load_settings` and the values it builds) needs pydantic, shapely and
the rules, most of a second of imports, so those names are imported on first use (PEP 562):
`lantian.cli` catches `ConfigError` around every command, and the client commands, which
may never read a config dir, must not wait for the rest.

Modules: `_errors` ConfigError · `_env` the LANTIAN_* overrides and where config/ is ·
`_schema` the strict base of every table · `_toml` lantian.toml's tables · `_rules` and
`_dispatch` the [rules] and [dispatch] tables and what is built from them · `_geo` the
GeoJSON files · `_masking` credentials out of messages · `_settings` all of it into one
`Settings`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lantian.config._env import config_dir
from lantian.config._errors import ConfigError

if TYPE_CHECKING:
    from lantian.config._dispatch import DispatchSettings
    from lantian.config._geo import load_stations, load_zones
    from lantian.config._settings import InfluxSettings, Settings, load_settings

__all__ = [
    "ConfigError",
    "DispatchSettings",
    "InfluxSettings",
    "Settings",
    "config_dir",
    "load_settings",
    "load_stations",
    "load_zones",
]

#: Where each name imported on first use lives.
_LAZY = {
    "DispatchSettings": "lantian.config._dispatch",
    "InfluxSettings": "lantian.config._settings",
    "Settings": "lantian.config._settings",
    "load_settings": "lantian.config._settings",
    "load_stations": "lantian.config._geo",
    "load_zones": "lantian.config._geo",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
