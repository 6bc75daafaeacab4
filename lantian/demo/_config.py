"""The demo's deployment: the shipped `config/` with a few keys overridden.

The service runs exactly as `lantian run` would with the shipped rules, routes, queues,
sources and tokens; only where it differs per run is changed: the broker, a free HTTP
port, a store in the work directory, no InfluxDB, and sweeps often enough that SLA
deadlines and silent stations are noticed within seconds of *simulated* time. The TOML
is edited as text (key lines replaced in place, missing ones inserted under their table)
so the copy keeps the shipped comments, and the result is read back to check each edit.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")

TomlValue = str | int | float | bool


def shipped_config_dir() -> Path:
    """The repository's config/ (the demo geography), beside the installed package."""
    return Path(__file__).resolve().parents[2] / "config"


def toml_literal(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # a JSON string is a valid TOML basic string (same escapes, \uXXXX included)
    return json.dumps(value, ensure_ascii=False)


def override_toml(text: str, overrides: Mapping[tuple[str, str], TomlValue]) -> str:
    """`text` with each (table, key) set to its value: the key's line in that table
    replaced, or a line inserted under the table's header (the table appended if absent).
    Only simple `[table]` headers are targets; `[[array]]` tables end a table's lines."""
    lines = text.splitlines()
    for (table, key), value in overrides.items():
        line = f"{key} = {toml_literal(value)}"
        header = next((i for i, s in enumerate(lines)
                       if (m := _HEADER.match(s)) and not s.lstrip().startswith("[[")
                       and m.group(1) == table), None)
        if header is None:
            lines += ["", f"[{table}]", line]
            continue
        end = next((i for i in range(header + 1, len(lines)) if _ANY_HEADER.match(lines[i])),
                   len(lines))
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        found = next((i for i in range(header + 1, end) if pattern.match(lines[i])), None)
        if found is None:
            lines.insert(header + 1, line)
        else:
            lines[found] = line
    return "\n".join(lines) + "\n"


def _get(doc: Mapping[str, Any], table: str, key: str) -> Any:
    node: Any = doc
    for part in table.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node.get(key) if isinstance(node, dict) else None


def write_demo_config(
    source: Path, target: Path, overrides: Mapping[tuple[str, str], TomlValue]
) -> Path:
    """Copy `source` (lantian.toml and its GeoJSON) to `target` with `overrides` applied."""
    target.mkdir(parents=True, exist_ok=True)
    for geo in source.glob("*.geojson"):
        shutil.copy(geo, target / geo.name)
    text = override_toml((source / "lantian.toml").read_text(encoding="utf-8"), overrides)
    doc = tomllib.loads(text)
    for (table, key), value in overrides.items():
        if _get(doc, table, key) != value:  # an edit the TOML did not take as meant
            raise RuntimeError(f"demo config: could not set {table}.{key} in {source}")
    (target / "lantian.toml").write_text(text, encoding="utf-8")
    return target
