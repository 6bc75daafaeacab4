"""The composition root's packages name what they offer: `lantian.config`, `lantian.client`
and `lantian.demo` each have a curated `__all__`, pinned here, so a name leaves or joins a
public surface only on purpose (httpx's tests/test_exported_members.py does the same)."""

from __future__ import annotations

import ast
import subprocess
import sys
from types import ModuleType

import pytest

import lantian.client
import lantian.config
import lantian.demo
from tests.support import REPO

PUBLIC = {
    lantian.config: [
        "ConfigError",
        "DispatchSettings",
        "InfluxSettings",
        "Settings",
        "config_dir",
        "load_settings",
        "load_stations",
        "load_zones",
    ],
    lantian.client: [
        "GROUP_BY",
        "OUTCOMES",
        "STATES",
        "ApiClient",
        "ServiceError",
        "UsageError",
        "add_client_commands",
    ],
    lantian.demo: ["add_arguments", "main", "run"],
}


@pytest.mark.parametrize("module", PUBLIC, ids=lambda m: m.__name__)
def test_all_is_the_public_surface(module: ModuleType) -> None:
    assert module.__all__ == PUBLIC[module]


@pytest.mark.parametrize("module", PUBLIC, ids=lambda m: m.__name__)
def test_every_exported_name_resolves(module: ModuleType) -> None:
    # lantian.config imports most of its names on first use: each must still be there
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_an_unknown_config_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"'lantian\.config' has no attribute 'Setings'"):
        _ = lantian.config.Setings


def _modules_after_import(*modules: str) -> set[str]:
    """The modules a fresh interpreter holds after importing `modules`."""
    done = subprocess.run(
        [sys.executable, "-c",
         f"import sys, {', '.join(modules)}; print('\\n'.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    return set(done.stdout.split())


def test_the_cli_starts_without_the_service() -> None:
    # `lantian alerts list --url ...` must not wait a second for the service's own modules
    loaded = _modules_after_import("lantian.cli")
    heavy = {"ingest", "rules", "dispatch", "pydantic", "shapely", "numpy", "fastapi"}
    assert not {m.split(".")[0] for m in loaded} & heavy
    assert "lantian.demo" not in loaded


def _imported_modules(path: str) -> set[str]:
    """Every module `path` imports, at its top or inside a function, with each name it
    takes from one (`from a import b` gives `a` and `a.b`)."""
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def _sources(package: str) -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in (REPO / package).rglob("*.py"))


@pytest.mark.parametrize("path", _sources("lantian/config") + _sources("lantian/client"))
def test_config_and_client_never_import_the_cli(path: str) -> None:
    """The cycle issue 10 ended: the client read the config dir through `lantian.cli`
    (in a function, so only a look at the source finds it), which imported the client."""
    assert not {m for m in _imported_modules(path) if m.split(".")[:2] == ["lantian", "cli"]}


@pytest.mark.parametrize("path", [
    p for p in _sources("lantian") if not p.startswith("lantian/demo/")
])
def test_only_the_demo_entry_point_is_imported_from_outside_it(path: str) -> None:
    reached = {m for m in _imported_modules(path) if m.startswith("lantian.demo.")}
    assert reached <= {"lantian.demo.main"}
