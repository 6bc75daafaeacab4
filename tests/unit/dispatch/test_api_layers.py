"""The API parses, authorises and answers: it reads through the read model and commands
through the dispatcher or the silence commands, never through the store (issue 10)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dispatch

API_MODULES = sorted(Path(dispatch.__file__).parent.glob("_api*.py"))
SOURCES = {p.name: ast.parse(p.read_text(encoding="utf-8")) for p in API_MODULES}


def test_the_api_modules_are_found() -> None:
    assert {"_api.py", "_api_alerts.py", "_api_reports.py", "_api_silences.py"} <= set(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_api_does_not_import_the_store(name: str) -> None:
    source = SOURCES[name]
    imported = {node.module for node in ast.walk(source) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(source) if isinstance(node, ast.Import)
                 for a in node.names}
    assert not {m for m in imported if m and m.startswith(("dispatch._store", "dispatch._sqlite"))}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_api_never_touches_a_store_attribute(name: str) -> None:
    touched = [node.lineno for node in ast.walk(SOURCES[name])
               if isinstance(node, ast.Attribute) and node.attr == "store"]
    assert touched == []
