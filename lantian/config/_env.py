"""What the environment says: the LANTIAN_* variables that override lantian.toml for the
parts that differ per deployment (addresses, credentials), and where config/ is.

An override is written into the parsed TOML before validation, so a bad value is reported
like one in the file; `_settings` then names the variable instead of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lantian.config._errors import ConfigError

ENV_VARS = (
    "LANTIAN_MQTT_URL", "LANTIAN_STORE_URL", "LANTIAN_INFLUX_URL", "LANTIAN_INFLUX_TOKEN",
    "LANTIAN_INFLUX_ORG", "LANTIAN_INFLUX_BUCKET", "LANTIAN_HTTP", "LANTIAN_ADMIN_TOKEN",
    "LANTIAN_HJ212_LISTEN", "LANTIAN_PARTITION",
)


def config_dir(arg: str | None, env: Mapping[str, str]) -> Path:
    """The config directory: --config if given, else $LANTIAN_CONFIG, else ./config."""
    return Path(arg or env.get("LANTIAN_CONFIG") or "config")


def apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """`raw`, the parsed lantian.toml, with the overrides in `env` written into it."""
    targets = {
        "LANTIAN_MQTT_URL": ("mqtt", "url"),
        "LANTIAN_STORE_URL": ("store", "url"),
        "LANTIAN_INFLUX_URL": ("influx", "url"),
        "LANTIAN_INFLUX_TOKEN": ("influx", "token"),
        "LANTIAN_INFLUX_ORG": ("influx", "org"),
        "LANTIAN_INFLUX_BUCKET": ("influx", "bucket"),
        "LANTIAN_HTTP": ("service", "http"),
        "LANTIAN_HJ212_LISTEN": ("hj212_tcp", "listen"),
        "LANTIAN_PARTITION": ("scale", "partition"),
    }
    for var, (section, key) in targets.items():
        if env.get(var):
            table = raw.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError("lantian.toml", section, "expected a table")
            table[key] = env[var]
    apply_notify_env(raw, env)  # LANTIAN_NOTIFY_<CHANNEL>_URL / _SECRET
    return raw


def env_name(channel: str, what: str) -> str:
    """The variable holding a notification channel's URL or SECRET."""
    return f"LANTIAN_NOTIFY_{channel.upper().replace('-', '_')}_{what}"


def apply_notify_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """Write LANTIAN_NOTIFY_<NAME>_URL / _SECRET into the channels of `raw`."""
    notify = raw.get("notify")
    channels = notify.get("channels") if isinstance(notify, dict) else None
    if not isinstance(channels, list):
        return
    for ch in channels:
        if isinstance(ch, dict) and isinstance(ch.get("name"), str):
            for what, key in (("URL", "url"), ("SECRET", "secret")):
                value = env.get(env_name(ch["name"], what))
                if value:
                    ch[key] = value
