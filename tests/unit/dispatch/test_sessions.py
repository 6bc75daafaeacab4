"""Sessions, CSRF and the slow-down of password guessing, with the time handed in; and
the store's keeping of users, sessions and failures (a real SQLite file)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from dispatch._access import Role, token_digest
from dispatch._sessions import (
    Session,
    SessionPolicy,
    Strikes,
    after_failure,
    csrf_ok,
    locked_for,
    retry_after_s,
)
from dispatch._sqlite_users import SqliteUsers
from dispatch._users import Passwords, User
from dispatch.stores import SqlStore, open_store
from dispatch.users import UserAdmin, UserRefused
from tests.postgres import dump

T = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
POLICY = SessionPolicy(max_failures=3, window=timedelta(minutes=10),
                       lockout=timedelta(minutes=5))
CHEAP = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.mark.parametrize(
    ("cookie", "header", "ok"),
    [("c" * 43, "c" * 43, True), ("c" * 43, None, False), (None, "c" * 43, False),
     ("c" * 43, "d" * 43, False), ("d" * 43, "d" * 43, False),  # not this session's
     ("c" * 43, "", False), ("", "", False)],
)
def test_a_change_needs_the_sessions_csrf_token_in_header_and_cookie(
    cookie: str | None, header: str | None, ok: bool,
) -> None:
    assert csrf_ok(Session("li", "c" * 43, T), cookie, header) is ok


def test_a_session_holds_until_its_expiry_and_not_at_it() -> None:
    session = Session("li", "c", T + timedelta(hours=12))
    assert session.live(T) and session.live(T + timedelta(hours=12) - timedelta(seconds=1))
    assert not session.live(T + timedelta(hours=12))


def fail(strikes: Strikes, at: datetime) -> Strikes:
    return after_failure(strikes, at, POLICY)


def test_the_third_failure_in_the_window_locks_out_for_the_lockout() -> None:
    s = fail(fail(Strikes(), T), T + timedelta(minutes=1))
    assert (s.failures, locked_for(s, T + timedelta(minutes=1))) == (2, None)
    s = fail(s, T + timedelta(minutes=2))
    assert locked_for(s, T + timedelta(minutes=2)) == timedelta(minutes=5)
    assert locked_for(s, T + timedelta(minutes=6, seconds=59)) == timedelta(seconds=1)
    assert locked_for(s, T + timedelta(minutes=7)) is None
    # the count starts afresh after a lock-out: two more failures do not lock again
    s = fail(fail(s, T + timedelta(minutes=8)), T + timedelta(minutes=8))
    assert locked_for(s, T + timedelta(minutes=8)) is None
    assert locked_for(fail(s, T + timedelta(minutes=9)), T + timedelta(minutes=9)) is not None


def test_failures_further_apart_than_the_window_never_lock() -> None:
    s = Strikes()
    for n in range(10):
        s = fail(s, T + n * timedelta(minutes=6))
        if n % 2:
            assert s.failures == 2
        assert locked_for(s, T + n * timedelta(minutes=6)) is None


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    assert [retry_after_s(timedelta(seconds=s)) for s in (0.01, 1, 1.2, 299.5, 300)] == [
        1, 1, 2, 300, 300]


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = open_store(store_url)
    yield s
    s.close()


def test_a_disabled_users_token_and_sessions_stop_at_once(store: SqlStore) -> None:
    admin = UserAdmin(store, {"blue_sky"}, CHEAP)
    users = SqliteUsers(store)
    li = admin.add("li", "officer", ["blue_sky"], "李值班", "correct horse", T)
    token = admin.new_token("li")
    assert users.by_token(token_digest(token)) == li
    assert users.by_token(token) is None  # kept and found as a digest only
    users.start_session(token_digest("sid"), Session("li", "csrf", T + timedelta(hours=1)), T)
    assert users.session(token_digest("sid"), T) == (Session("li", "csrf", T + timedelta(
        hours=1)), li)
    assert users.session(token_digest("sid"), T + timedelta(hours=1)) is None  # expired
    found = users.for_login("li")
    assert found is not None and CHEAP.check(found[1], "correct horse")

    admin.disable("li", T)
    assert users.by_token(token_digest(token)) is None
    assert users.session(token_digest("sid"), T) is None
    assert users.for_login("li") is None
    assert [(u.name, u.disabled, has) for u, has in admin.users()] == [("li", True, False)]
    with pytest.raises(UserRefused, match="no enabled user 'li'"):
        admin.new_token("li")


def test_a_new_token_replaces_the_old_one(store: SqlStore) -> None:
    admin = UserAdmin(store, {"blue_sky"}, CHEAP)
    admin.add("zhao", "supervisor", [], "", "correct horse", T)
    first, second = admin.new_token("zhao"), admin.new_token("zhao")
    users = SqliteUsers(store)
    assert users.by_token(token_digest(first)) is None
    assert users.by_token(token_digest(second)) == User("zhao", Role.SUPERVISOR)


def test_what_the_store_keeps_is_no_credential(store: SqlStore) -> None:
    admin = UserAdmin(store, {"blue_sky"}, CHEAP)
    admin.add("li", "officer", ["blue_sky"], "", "correct horse", T)
    token = admin.new_token("li")
    SqliteUsers(store).start_session(token_digest("the-session-id"),
                                     Session("li", "csrf", T + timedelta(hours=1)), T)
    text = dump(store)
    assert "correct horse" not in text and token not in text and "the-session-id" not in text
    assert "li" in text  # the dump is of the rows


def test_refusals_keep_nothing(store: SqlStore) -> None:
    admin = UserAdmin(store, {"blue_sky"}, CHEAP)
    admin.add("li", "officer", ["blue_sky"], "", "correct horse", T)
    with pytest.raises(UserRefused, match="exists already"):
        admin.add("li", "admin", [], "", "correct horse", T)
    with pytest.raises(UserRefused, match="at least 10"):
        admin.add("wang", "officer", ["blue_sky"], "", "short", T)
    assert [u.name for u, _ in admin.users()] == ["li"]


def test_strikes_are_kept_and_forgotten(store: SqlStore) -> None:
    users = SqliteUsers(store)
    assert users.strikes("user:li") == Strikes()
    locked = Strikes(0, None, T + timedelta(minutes=5))
    users.set_strikes("user:li", Strikes(2, T))
    users.set_strikes("addr:10.0.0.1", locked)
    assert users.strikes("user:li") == Strikes(2, T)
    assert users.strikes("addr:10.0.0.1") == locked
    users.set_strikes("user:li", Strikes())
    assert store.connection.execute("SELECT key FROM login_failures").fetchall() == [
        ("addr:10.0.0.1",)]
