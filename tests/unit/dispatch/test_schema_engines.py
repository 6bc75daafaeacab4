"""One migration system for both engines: PostgreSQL's migrations make, version for
version, the tables and columns SQLite's make; a PostgreSQL database records its version,
gets only the migrations it lacks, keeps its version when one fails, and refuses to be
opened by an older Lantian, naming the URL without its password."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from dispatch import _pg
from dispatch._pg_schema import PG_MIGRATIONS
from dispatch._schema import MIGRATIONS
from dispatch.stores import PgStore, SqliteStore, StoreUnavailable, open_store

pytestmark = pytest.mark.postgres


def sqlite_columns(path: Path) -> dict[str, set[str]]:
    db = sqlite3.connect(path)
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence'")]
    out = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}
    db.close()
    return out


def pg_columns(url: str) -> dict[str, set[str]]:
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT table_name, column_name FROM information_schema.columns"
                          " WHERE table_schema = 'public'").fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def pg_version(url: str) -> int:
    with psycopg.connect(url) as db:
        row = db.execute("SELECT version FROM lantian_schema").fetchall()
    assert len(row) == 1
    return int(row[0][0])


def test_both_engines_have_the_same_versions_tables_and_columns(
    tmp_path: Path, pg_url: str
) -> None:
    assert len(PG_MIGRATIONS) == len(MIGRATIONS)
    SqliteStore(tmp_path / "l.db").close()
    open_store(pg_url).close()
    lite, pg = sqlite_columns(tmp_path / "l.db"), pg_columns(pg_url)
    # PostgreSQL's alerts name SQLite's implicit rowid; it keeps its version in a table
    pg["alerts"].discard("rowid")
    assert pg.pop("lantian_schema") == {"version"}
    assert pg == lite
    assert pg_version(pg_url) == len(MIGRATIONS)


def test_only_missing_migrations_are_applied(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(pg_url).close()
    monkeypatch.setattr(_pg, "PG_MIGRATIONS", (*PG_MIGRATIONS, "CREATE TABLE extra (x int);"))
    open_store(pg_url).close()  # the first migration again would fail: no IF NOT EXISTS
    assert pg_version(pg_url) == len(PG_MIGRATIONS) + 1
    assert "extra" in pg_columns(pg_url)


def test_a_failed_migration_leaves_the_previous_version(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(pg_url).close()
    monkeypatch.setattr(_pg, "PG_MIGRATIONS", (
        *PG_MIGRATIONS, "CREATE TABLE extra (x int); CREATE TABLE alerts (x int);"))
    with pytest.raises(psycopg.errors.DuplicateTable):
        open_store(pg_url)
    assert pg_version(pg_url) == len(PG_MIGRATIONS)
    assert "extra" not in pg_columns(pg_url)


def test_a_database_from_a_newer_version_is_refused_without_the_password(pg_url: str) -> None:
    open_store(pg_url).close()
    newer = len(PG_MIGRATIONS) + 1
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute(f"UPDATE lantian_schema SET version = {newer}")
    with pytest.raises(RuntimeError) as refused:
        open_store(pg_url)
    message = str(refused.value)
    assert "secret" not in message and "postgres:***@127.0.0.1" in message
    assert f"version {newer}" in message and f"the {len(PG_MIGRATIONS)}" in message
    assert pg_version(pg_url) == newer


def test_an_unreachable_server_is_named_without_the_password(pg_url: str) -> None:
    closed = pg_url.rsplit(":", 1)[0] + ":1/nowhere"  # port 1: nothing listens
    with pytest.raises(StoreUnavailable) as refused:
        PgStore(closed)
    assert "secret" not in str(refused.value) and "cannot connect" in str(refused.value)

