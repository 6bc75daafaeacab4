"""The repository stands alone: a clone with nothing beside it has everything its code,
tests, benches and documents need. (`.ci/run` proves it for real by running the suite in a
copy in an empty temporary folder; these checks name the culprit quickly.)"""

from __future__ import annotations

import os
import re
from fnmatch import fnmatch
from pathlib import Path
from typing import Final

import pytest

from tests.support import FIXTURES, REPO

#: Not the repository's own files: environments, caches, run-time output.
_SKIP_DIRS: Final = frozenset({
    ".git", ".venv", "var", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    ".hypothesis", "build", "lantian-demo-report",
})  # fmt: skip

#: Ways code has reached for the design pack beside the repository.
_OUTSIDE: Final = re.compile(
    r"""\.\./shared\b"""                              # ../shared/...
    r"""|parents?(?:\[\d+\])?\s*/\s*["']shared["']"""  # REPO.parent / "shared"
    r"""|["']shared["']\s*/\s*["']fixtures["']"""      # "shared" / "fixtures"
)


def _files(*patterns: str) -> list[Path]:
    """The repository's files matching any of `patterns` (relative paths, globs), without
    walking into the skipped folders (a .venv holds thousands of files)."""
    found = []
    for root, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        for name in names:
            path = Path(root, name)
            relative = path.relative_to(REPO)
            if any(relative.match(p) or fnmatch(name, p) for p in patterns):
                found.append(path)
    return sorted(found)


def _shell_scripts() -> list[Path]:
    """Shell files with or without the .sh suffix (scripts/test, .ci/run)."""
    candidates = _files("*.sh", "scripts/*", ".ci/*")
    return [p for p in candidates if p.suffix == ".sh" or p.read_bytes().startswith(b"#!")]


def test_fixtures_are_inside_the_repository() -> None:
    assert FIXTURES.resolve().is_relative_to(REPO.resolve()), FIXTURES
    assert (FIXTURES / "README.md").is_file()
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == ["dji", "geo", "hj212"]


def test_the_file_lists_find_what_they_must() -> None:
    # guard against the checks below passing vacuously
    assert REPO / "tests" / "support.py" in _files("*.py")
    assert {REPO / "scripts" / "test", REPO / ".ci" / "run"} <= set(_shell_scripts())


@pytest.mark.parametrize("kind", ["python", "shell"])
def test_no_code_reads_beside_the_repository(kind: str) -> None:
    files = _files("*.py") if kind == "python" else _shell_scripts()
    offenders = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in files
        if path != Path(__file__)  # the patterns themselves, and the lines that test them
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert offenders == []


def test_the_pattern_catches_what_it_is_for() -> None:
    for line in ('SHARED = REPO.parent / "shared"', "FIX = Path(__file__).parents[4] / 'shared'",
                 'p = root / "shared" / "fixtures"', "cat ../shared/DESIGN.md"):
        assert _OUTSIDE.search(line), line
    assert not _OUTSIDE.search("# windows are shared by the rules that need them")


_LINK: Final = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize(
    "document",
    [p.relative_to(REPO).as_posix() for p in _files("*.md")],
)
def test_documents_link_only_to_files_in_the_repository(document: str) -> None:
    path = REPO / document
    text = path.read_text(encoding="utf-8")
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        resolved = (path.parent / target.split("#")[0]).resolve()
        if not resolved.is_relative_to(REPO.resolve()) or not resolved.exists():
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("document", ["README.md", "docs/wire.md", "docs/architecture.md"])
def test_the_contract_is_told_here_not_beside_the_repository(document: str) -> None:
    """The README once sent readers to ../shared/DESIGN.md for the wire contract."""
    text = (REPO / document).read_text(encoding="utf-8")
    assert re.findall(r"\.\./shared/(?!reference/)\S*", text) == []
