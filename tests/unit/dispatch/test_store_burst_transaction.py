"""A burst's transaction on either engine (`SqlStore.begin`/`commit`). On PostgreSQL its
BEGIN waits for the store's first use, so that a burst that touches nothing but its last
write costs that one statement (a round trip), and whatever else it does joins the one
transaction as before; a BEGIN that fails then fails the burst, never leaving its writes
outside. SQLite's BEGIN takes the file's write lock at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from dispatch.stores import SqlStore, open_store
from tests.unit.dispatch.test_sqlite import make_alert, raised

LAST = ("INSERT INTO labels (text) VALUES (?)", ("the burst's last write",))


class Said:
    """The store's connection, with every statement sent through it written down."""

    def __init__(self, db: Any) -> None:
        self.db, self.sql = db, list[str]()

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        self.sql.append(sql.split()[0].upper())
        return self.db.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        self.sql.append(sql.split()[0].upper())
        return self.db.executemany(sql, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = open_store(store_url)
    yield s
    s.close()


def said(store: SqlStore) -> list[str]:
    spy = Said(store._conn)
    store._conn = spy  # type: ignore[assignment]
    return spy.sql


def labelled(store: SqlStore) -> bool:
    return store.connection.execute("SELECT count(*) FROM labels WHERE text = ?",
                                    LAST[1]).fetchone()[0] == 1


def test_a_burst_that_touches_nothing_else_is_its_last_write_alone(store: SqlStore) -> None:
    sent = said(store)
    store.begin()
    assert store.in_transaction  # the outbox and the deliveries wait for the commit
    store.commit(LAST)
    assert sent == (["INSERT"] if store.dialect.postgres else ["BEGIN", "INSERT", "COMMIT"])
    assert not store.in_transaction and labelled(store)


def test_what_touches_the_store_opens_the_transaction_and_joins_it(store: SqlStore) -> None:
    sent = said(store)
    store.begin()
    assert store.get("none") is None  # a read too: a write may depend on it
    alert = make_alert("a1")
    store.create(alert, [raised(alert)])
    store.commit(LAST)
    assert sent[0] == "BEGIN" and sent[-2:] == ["INSERT", "COMMIT"]
    assert sent.count("BEGIN") == 1
    assert store.get("a1") is not None and labelled(store)


def test_a_last_write_that_fails_takes_the_burst_with_it(store: SqlStore) -> None:
    store.begin()
    alert = make_alert("a1")
    store.create(alert, [raised(alert)])
    with pytest.raises(Exception, match=r"no_such_table|does not exist"):
        store.commit(("INSERT INTO no_such_table VALUES (?)", (1,)))
    assert not store.in_transaction
    assert store.get("a1") is None


def test_a_burst_that_writes_nothing_commits_nothing(store: SqlStore) -> None:
    sent = said(store)
    store.begin()
    store.commit()
    assert sent == ([] if store.dialect.postgres else ["BEGIN", "COMMIT"])
    assert not store.in_transaction


@pytest.mark.postgres  # SQLite's BEGIN is made at once: its failure is begin()'s own
def test_a_begin_that_fails_fails_the_burst_and_nothing_is_written_outside_it(
    pg_url: str,
) -> None:
    store = open_store(pg_url)

    class Refusing(Said):
        def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
            if sql == "BEGIN":
                raise OSError("the server is away")
            return super().execute(sql, parameters)

    store._conn = Refusing(store._conn)  # type: ignore[assignment]
    store.begin()
    alert = make_alert("a1")
    for _ in range(2):  # every use fails with it, none runs in autocommit
        with pytest.raises(OSError, match="away"):
            store.create(alert, [raised(alert)])
    assert store.in_transaction  # the outbox still waits
    with pytest.raises(OSError, match="away"):
        store.commit(LAST)
    assert not store.in_transaction
    store._conn = store._conn.db  # type: ignore[attr-defined]
    assert store.get("a1") is None and not labelled(store)
    store.close()
