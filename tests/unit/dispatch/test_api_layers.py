"""The API parses, authorises and answers: it reads through the read model and commands
through the dispatcher or the silence commands, never through the store (issue 10)."""

from __future__ import annotations

import ast
from pathlib import Path

import dispatch._api

SOURCE = ast.parse(Path(dispatch._api.__file__).read_text(encoding="utf-8"))


def test_the_api_does_not_import_the_store() -> None:
    imported = {node.module for node in ast.walk(SOURCE) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(SOURCE) if isinstance(node, ast.Import)
                 for a in node.names}
    assert not {m for m in imported if m and m.startswith(("dispatch._store", "dispatch._sqlite"))}


def test_the_api_never_touches_a_store_attribute() -> None:
    touched = [node.lineno for node in ast.walk(SOURCE)
               if isinstance(node, ast.Attribute) and node.attr == "store"]
    assert touched == []
