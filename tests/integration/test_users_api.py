"""Named users against the real service: the four roles on the API, personal tokens,
browser sessions with their cookies, CSRF, expiry and logout, and the lock-out of
password guessing. Users are added to the store's file while the service runs (as
`lantian users` does; its own test is tests/integration/test_users_cli.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from dispatch._users import Passwords
from dispatch.stores import SqlStore
from dispatch.users import UserAdmin
from lantian.store import open_configured_store
from tests.integration.conftest import ADMIN, BLUE_SKY, Deployment, start_deployment
from tests.postgres import new_database
from tests.support import Broker

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
#: a cheap argon2id: the service checks any parameters a hash names
CHEAP = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _store(d: Deployment) -> SqlStore:
    """The running service's store, on a connection of the test's own (as the `lantian
    users` command opens it)."""
    return open_configured_store(d.service.settings)


def add_users(d: Deployment, *users: tuple[str, str, list[str]]) -> dict[str, dict[str, str]]:
    """Users added to the running service's store; each one's bearer header."""
    store = _store(d)
    try:
        admin = UserAdmin(store, d.service.settings.dispatch.queues, CHEAP)
        headers = {}
        for name, role, queues in users:
            admin.add(name, role, queues, name.upper(), PASSWORD, d.clock())
            headers[name] = {"Authorization": f"Bearer {admin.new_token(name)}"}
        return headers
    finally:
        store.close()


def disable(d: Deployment, name: str) -> None:
    store = _store(d)
    try:
        UserAdmin(store, d.service.settings.dispatch.queues, CHEAP).disable(name, d.clock())
    finally:
        store.close()


PEOPLE = (("li", "officer", ["blue_sky"]), ("wang", "officer", ["law_enforcement"]),
          ("zhao", "supervisor", []), ("sun", "bureau", []), ("root", "admin", []))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def office(request: pytest.FixtureRequest, tmp_path: Path, broker: Broker
           ) -> Iterator[tuple[Deployment, dict[str, Any]]]:
    """The service with its people, on each engine (on PostgreSQL the users, sessions
    and strikes are read and written in the store writer's turns)."""
    env = {}
    if request.param == "postgresql":
        env["LANTIAN_STORE_URL"] = new_database(request.getfixturevalue("pg_server"))
    d = start_deployment(tmp_path, broker, env=env)
    yield d, add_users(d, *PEOPLE)
    d.service.stop()


def ids(r: httpx.Response) -> set[str]:
    assert r.status_code == 200, r.text
    return {a["id"] for a in r.json()["alerts"]}


def test_each_role_sees_and_acts_on_what_it_may(
    office: tuple[Deployment, dict[str, Any]],
) -> None:
    d, who = office
    d.fume("KY-CS-001")
    aid = d.open_alert("KY-CS-001")["id"]
    url = d.url

    def act(name: str, step: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return d.post(aid, step, who[name], body)

    def see(name: str) -> int:
        return httpx.get(f"{url}/api/alerts/{aid}", headers=who[name]).status_code

    for name, role, queues in PEOPLE:
        me = httpx.get(f"{url}/api/me", headers=who[name])
        assert me.json() == {"username": name, "display_name": name.upper(), "role": role,
                             "queues": queues}
    # the officer of another queue neither lists, sees nor acts on blue_sky's alert
    assert aid in ids(httpx.get(f"{url}/api/alerts", headers=who["li"]))
    assert aid not in ids(httpx.get(f"{url}/api/alerts", headers=who["wang"]))
    refused = httpx.get(f"{url}/api/alerts", params={"queue": "blue_sky"}, headers=who["wang"])
    assert (refused.status_code, refused.json()["detail"]) == (
        403, "wang may only list queues law_enforcement")
    assert see("wang") == 403
    assert act("wang", "ack").status_code == 403
    # the bureau reads figures, never alerts, and acts on nothing
    assert (see("sun"), act("sun", "ack").status_code) == (403, 403)
    assert httpx.get(f"{url}/api/alerts", headers=who["sun"]).status_code == 403
    figures = httpx.get(f"{url}/api/metrics/response-times", headers=who["sun"],
                        params={"since": "2026-06-12", "until": "2026-06-13"})
    assert figures.status_code == 200, figures.text
    # the supervisor and the admin see every queue
    assert aid in ids(httpx.get(f"{url}/api/alerts", headers=who["zhao"]))
    assert (see("zhao"), see("root"), see("li")) == (200, 200, 200)

    # whatever the body says, the actor is the authenticated user
    r = act("li", "ack", {"actor": "王执法"})
    assert r.status_code == 200, r.text
    assert [(e["kind"], e["actor"]) for e in r.json()["events"]] == [("acknowledged", "li")]
    # once blue_sky calls law enforcement in, its officer sees and acts on the alert
    assert act("li", "assist", {"queue": "law_enforcement"}).status_code == 200
    assert see("wang") == 200
    assert aid in ids(httpx.get(f"{url}/api/alerts", headers=who["wang"]))
    closed = act("wang", "close", {"outcome": "resolved", "note": "洒水降尘",
                                   "actor": "li"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["alert"]["receipt"]["officer"] == "wang"
    assert act("zhao", "reopen", {"reason": "复查"}).status_code == 200
    log = [(e["kind"], e["actor"]) for e in d.alert(aid, who["root"])["events"]]
    assert log[-4:] == [("acknowledged", "li"), ("assist", "li"), ("closed", "wang"),
                        ("reopened", "zhao")]


def test_silences_follow_the_roles(office: tuple[Deployment, dict[str, Any]]) -> None:
    d, who = office
    ends = (d.clock() + timedelta(hours=1)).isoformat()

    def make(name: str, **extra: Any) -> httpx.Response:
        return httpx.post(f"{d.url}/api/silences", headers=who[name], json={
            "stations": ["KY-RD-001"], "ends_at": ends, "reason": "road works", **extra})

    own = make("li", actor="someone else")
    assert (own.status_code, own.json()["queue"], own.json()["author"]) == (
        201, "blue_sky", "li")
    assert make("li", queue="law_enforcement").status_code == 403
    assert make("zhao", queue="law_enforcement").status_code == 201
    assert make("zhao").status_code == 403  # a global silence is the admin's
    assert make("sun", queue="blue_sky").status_code == 403
    assert make("root").json()["queue"] is None


def test_a_personal_token_stops_working_when_its_user_is_disabled(
    office: tuple[Deployment, dict[str, Any]],
) -> None:
    d, who = office
    assert httpx.get(f"{d.url}/api/alerts", headers=who["li"]).status_code == 200
    disable(d, "li")
    r = httpx.get(f"{d.url}/api/alerts", headers=who["li"])
    assert (r.status_code, r.json()["detail"]) == (
        401, "a valid bearer token or session is required")
    # the configured tokens keep working beside the users
    assert httpx.get(f"{d.url}/api/alerts", headers=BLUE_SKY).status_code == 200
    assert httpx.get(f"{d.url}/api/me", headers=ADMIN).json() == {
        "username": "admin (LANTIAN_ADMIN_TOKEN)", "display_name": "admin (LANTIAN_ADMIN_TOKEN)",
        "role": "admin", "queues": []}


def login(client: httpx.Client, user: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/login", json={"username": user, "password": password})


def set_cookies(r: httpx.Response) -> dict[str, Any]:
    jar: dict[str, Any] = {}
    for header in r.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        jar.update({name: morsel for name, morsel in cookie.items()})
    return jar


def test_a_browser_session_with_its_cookies_csrf_and_logout(
    office: tuple[Deployment, dict[str, Any]],
) -> None:
    d, _ = office
    d.fume("KY-CS-001")
    aid = d.open_alert("KY-CS-001")["id"]
    with httpx.Client(base_url=d.url) as browser:
        assert browser.get("/api/me").status_code == 401
        wrong = login(browser, "li", "not the password")
        unknown = login(browser, "nobody", PASSWORD)
        assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json()) == (
            401, {"detail": "wrong user name or password"})

        r = login(browser, "li")
        assert r.status_code == 200, r.text
        assert r.json() == {"user": {"username": "li", "display_name": "LI", "role": "officer",
                                     "queues": ["blue_sky"]}}
        cookies = set_cookies(r)
        session, csrf = cookies["lantian_session"], cookies["lantian_csrf"]
        assert (session["httponly"], session["samesite"].lower(), session["path"]) == (
            True, "strict", "/")
        assert (csrf["httponly"], csrf["samesite"].lower(), csrf["path"]) == ("", "strict", "/")
        assert not session["secure"]  # plain http here; see the lock-out test's config
        assert browser.get("/api/me").json()["username"] == "li"
        assert aid in ids(browser.get("/api/alerts"))  # reads need no CSRF header

        ack = f"/api/alerts/{aid}/ack"
        for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": session.value}):
            refused = browser.post(ack, headers=headers)
            assert (refused.status_code, refused.json()) == (
                403, {"detail": "CSRF token missing or wrong"})
        r = browser.post(ack, headers={"X-CSRF-Token": csrf.value}, json={"actor": "x"})
        assert r.status_code == 200, r.text
        assert r.json()["events"][0]["actor"] == "li"

        assert browser.post("/auth/logout").status_code == 403  # CSRF here too
        out = browser.post("/auth/logout", headers={"X-CSRF-Token": csrf.value})
        assert out.status_code == 204
        assert {name: m["max-age"] for name, m in set_cookies(out).items()} == {
            "lantian_session": "0", "lantian_csrf": "0"}
        # the session is gone on the server, not only in this browser
        stolen = httpx.get(f"{d.url}/api/me", cookies={"lantian_session": session.value})
        assert stolen.status_code == 401


def test_an_html_form_signs_in_too(office: tuple[Deployment, dict[str, Any]]) -> None:
    d, _ = office
    with httpx.Client(base_url=d.url) as browser:
        r = browser.post("/auth/login", data={"username": "zhao", "password": PASSWORD,
                                              "submit": "登录"})  # a form's button too
        assert r.status_code == 200, r.text
        assert browser.get("/api/me").json()["role"] == "supervisor"
        hostile: list[dict[str, Any]] = [
            {"content": b"\xff\xfe", "headers": {
                "Content-Type": "application/x-www-form-urlencoded"}},
            {"content": b"a=1&" * 20, "headers": {
                "Content-Type": "application/x-www-form-urlencoded"}},
            {"content": b"[1, 2]"}, {"content": b"{"}, {"content": b""},
            {"json": {"username": "x" * 65, "password": PASSWORD}},
            {"json": {"username": "zhao", "password": "p" * 257}},
            {"json": {"username": "zhao"}}, {"json": {"username": ["zhao"], "password": "x"}},
        ]
        for request in hostile:
            bad = browser.post("/auth/login", **request)
            assert (bad.status_code, bad.json()) == (
                422, {"detail": "a user name and a password are required"}), request


def test_an_expired_session_or_a_disabled_user_is_refused(
    office: tuple[Deployment, dict[str, Any]],
) -> None:
    d, _ = office
    with httpx.Client(base_url=d.url) as early, httpx.Client(base_url=d.url) as late:
        assert login(early, "li").status_code == 200
        d.clock.advance(hours=11, minutes=59)
        assert early.get("/api/me").status_code == 200
        assert login(late, "zhao").status_code == 200
        d.clock.advance(minutes=1)  # 12 hours after the first login: its end
        assert early.get("/api/me").status_code == 401
        assert late.get("/api/me").status_code == 200
        disable(d, "zhao")
        assert late.get("/api/me").status_code == 401


def test_repeated_failures_lock_out_the_name_and_the_address(
    tmp_path: Path, broker: Broker,
) -> None:
    d = start_deployment(tmp_path, broker, extra="[auth]\nsecure_cookies = true\n"
                         "max_failures = 3\nlockout_s = 120\n")
    try:
        add_users(d, ("li", "officer", ["blue_sky"]), ("zhao", "supervisor", []))
        here = httpx.Client(base_url=d.url)
        # another client address on the same machine: 127.0.0.2 is loopback too
        there = httpx.Client(base_url=d.url,
                             transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with here, there:
            assert [login(here, "li", "guess").status_code for _ in range(3)] == [401] * 3
            locked = login(here, "li")  # even the right password, now
            assert (locked.status_code, locked.headers["retry-after"]) == (429, "120")
            assert login(there, "li").status_code == 429  # the name is locked everywhere
            assert login(here, "zhao").status_code == 429  # and this address for any name
            r = login(there, "zhao")
            assert r.status_code == 200, r.text
            assert set_cookies(r)["lantian_session"]["secure"] is True  # [auth] says so
            d.clock.advance(seconds=119)
            assert login(here, "li").headers["retry-after"] == "1"
            d.clock.advance(seconds=1)
            assert login(here, "li").status_code == 200
    finally:
        d.service.stop()


def test_behind_a_trusted_proxy_the_lock_out_counts_the_client_it_names(
    tmp_path: Path, broker: Broker,
) -> None:
    d = start_deployment(tmp_path, broker, extra="[auth]\nmax_failures = 3\n")
    try:
        toml = d.config / "lantian.toml"  # the proxy is 127.0.0.2, and only it
        toml.write_text(toml.read_text().replace(
            "[service]", '[service]\ntrusted_proxies = ["127.0.0.2"]', 1))
        d.restart()
        add_users(d, ("li", "officer", ["blue_sky"]), ("zhao", "supervisor", []))
        proxy = httpx.Client(base_url=d.url,
                             transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        direct = httpx.Client(base_url=d.url)  # 127.0.0.1: not a proxy, whatever it says

        def via(client: httpx.Client, client_address: str, name: str,
                password: str = PASSWORD) -> int:
            return client.post("/auth/login", json={"username": name, "password": password},
                               headers={"X-Forwarded-For": client_address}).status_code

        with proxy, direct:
            assert [via(proxy, "203.0.113.5", f"x{n}", "guess") for n in range(3)] == [401] * 3
            assert via(proxy, "203.0.113.5", "zhao") == 429  # that client is locked out
            assert via(proxy, "203.0.113.6", "zhao") == 200  # the officer beside it is not
            # a client that is no proxy cannot escape its lock-out by naming others
            assert [via(direct, f"198.51.100.{n}", f"y{n}", "guess")
                    for n in range(3)] == [401] * 3
            assert via(direct, "198.51.100.99", "li") == 429
    finally:
        d.service.stop()
