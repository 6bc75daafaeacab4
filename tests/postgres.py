"""A real PostgreSQL for the tests: one server a session, a fresh database a test.

The server is Debian's (`/usr/lib/postgresql/*/bin`, installed by `scripts/test`), its
cluster made by `initdb` in a temporary directory owned by the `postgres` user (the
server refuses to run as root), listening on a free loopback port with its socket in
that directory, fsync off (a test database need not survive a power cut). Each test
that asks for `pg_url` gets a database of its own, made from `template0`, so tests
cannot see each other's rows. Without PostgreSQL the fixture fails, naming what is
missing: CI installs it, so a skip would hide a gap.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from dispatch.stores import PgStore, SqlStore
from tests.support import free_port, wait_until

_names = itertools.count()


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary (Debian keeps them out of PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if found:
        return found[0]
    which = shutil.which(name)
    if which:
        return which
    raise RuntimeError(f"PostgreSQL's {name} is not installed; the store tests need it"
                       " (scripts/test installs Debian's postgresql)")


@dataclass
class PgServer:
    """A running cluster: its port, data directory and server process."""

    port: int
    data: Path
    proc: subprocess.Popen[bytes]
    durable: bool = False

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres:secret@127.0.0.1:{self.port}/{db}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url(), autocommit=True, connect_timeout=5)

    def ready(self) -> bool:
        try:
            with self.admin() as c:
                c.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def start(self) -> None:
        """(Re)start the server on the same port and data, wait until it answers."""
        self.proc = _postgres(self.data, self.port, self.durable)
        wait_until(self.ready, 30, "PostgreSQL to accept connections")

    def backends(self) -> list[int]:
        """The postmaster's children now: its backends and background workers."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def kill(self) -> None:
        """kill -9 the postmaster and every backend: what a crash of the host leaves. The
        backends too, at once: left to notice the postmaster's death, one could still
        answer a client's next statement."""
        pids = self.backends()
        self.proc.send_signal(signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        wait_until(lambda: not self.ready(), 10, "PostgreSQL to be gone")
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _as_postgres() -> dict[str, str]:
    # the process itself runs as postgres (no runuser in between): signals reach it
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def _postgres(data: Path, port: int, durable: bool) -> subprocess.Popen[bytes]:
    # fsync off either way (the host does not crash in a test); a durable server waits for
    # its WAL to be written at each commit, so that a SIGKILL loses nothing committed
    return subprocess.Popen(
        [pg_bin("postgres"), "-D", str(data), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data}",
         "-c", "fsync=off", "-c", f"synchronous_commit={'on' if durable else 'off'}",
         "-c", "full_page_writes=off", "-c", "max_connections=200"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_as_postgres(),  # type: ignore[call-overload]
    )


def run_postgres(*, durable: bool = False) -> Iterator[PgServer]:
    """A fresh cluster on a free port, stopped and removed at the end; `durable`: a
    commit survives a SIGKILL of the server (the fault tests kill it)."""
    top = Path(tempfile.mkdtemp(prefix="lantian-pg-"))
    data = top / "data"
    data.mkdir()
    pwfile = top / "pw"
    pwfile.write_text("secret\n")
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (top, data, pwfile):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    subprocess.run(
        [pg_bin("initdb"), "-D", str(data), "-U", "postgres",
         f"--pwfile={pwfile}", "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
         "--no-sync"],
        check=True, capture_output=True, **_as_postgres(),  # type: ignore[call-overload]
    )
    port = free_port()
    server = PgServer(port, data, _postgres(data, port, durable), durable)
    try:
        wait_until(server.ready, 30, "PostgreSQL to accept connections")
        yield server
    finally:
        server.stop()
        shutil.rmtree(top, ignore_errors=True)


def new_database(server: PgServer) -> str:
    """A new empty database; its URL."""
    name = f"t_{os.getpid()}_{next(_names)}"
    with server.admin() as c:
        # FILE_COPY: a tenth of a second, half of WAL_LOG's with fsync off
        c.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
    return server.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    yield from run_postgres()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh database of the session's server."""
    return new_database(pg_server)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new, empty store on each engine in turn: a SQLite file, then a fresh
    PostgreSQL database (tests that take it run once on each)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lantian.db'}"
    return new_database(request.getfixturevalue("pg_server"))


def fail_writes(store: SqlStore, name: str, when: str, table: str, message: str) -> None:
    """A trigger `name` that makes every `when` (INSERT, UPDATE) on `table` fail with
    `message`, on either engine: a failing disk, as far as the store can tell."""
    db = store.connection
    if isinstance(store, PgStore):
        db.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
                   f" BEGIN RAISE EXCEPTION '{message}'; END $$")
        db.execute(f"CREATE TRIGGER {name} BEFORE {when} ON {table}"
                   f" FOR EACH ROW EXECUTE FUNCTION {name}()")
    else:
        db.execute(f"CREATE TRIGGER {name} BEFORE {when} ON {table}"
                   f" BEGIN SELECT RAISE(ABORT, '{message}'); END")


def drop_trigger(store: SqlStore, name: str, table: str) -> None:
    on = f" ON {table}" if isinstance(store, PgStore) else ""
    store.connection.execute(f"DROP TRIGGER {name}{on}")


def dump(store: SqlStore) -> str:
    """Every value of every table, as text: what a copy of the database would show."""
    db = store.connection
    if isinstance(store, PgStore):
        tables = [r[0] for r in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(str(row) for t in tables for row in db.execute(f"SELECT * FROM {t}"))
    assert isinstance(db, sqlite3.Connection)
    return "\n".join(db.iterdump())
