"""`lantian users add|token|list|disable|enable|password`, run as an operator would:
against the store file the configuration names (or `LANTIAN_STORE_URL`), and while the
service runs on it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import write_config
from tests.integration.conftest import start_deployment
from tests.support import REPO, Broker

PASSWORD = "correct horse battery\n"


def lantian(*args: str, stdin: str = "", env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LANTIAN_")}
    return subprocess.run(
        [sys.executable, "-m", "lantian", *args], input=stdin, capture_output=True,
        text=True, encoding="utf-8", cwd=REPO, env=clean | (env or {}), timeout=60,
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config", broker_url="mqtt://127.0.0.1:1", http_port=8080,
                        store=tmp_path / "l.sqlite")


def users(cfg: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return lantian("--config", str(cfg), "users", *args, stdin=stdin)


def test_add_list_token_and_disable(cfg: Path) -> None:
    added = users(cfg, "add", "li", "--role", "officer", "--queue", "blue_sky", "--queue",
                  "law_enforcement", "--name", "李值班", stdin=PASSWORD)
    assert (added.returncode, added.stdout) == (
        0, "user li added: officer of blue_sky, law_enforcement\n"), added.stderr
    assert users(cfg, "add", "zhao", "--role", "supervisor", stdin=PASSWORD).returncode == 0

    token = users(cfg, "token", "li")
    assert token.returncode == 0, token.stderr
    assert token.stdout.startswith("lt_") and len(token.stdout.strip()) > 40
    assert "previous one no longer works" in token.stderr
    listed = users(cfg, "list")
    assert listed.stdout.splitlines() == [
        "USER  ROLE        QUEUES                    NAME    TOKEN  STATUS",
        "li    officer     blue_sky,law_enforcement  李值班  yes    enabled",
        "zhao  supervisor  -                         -       no     enabled",
    ]
    disabled = users(cfg, "disable", "li")
    assert (disabled.returncode, disabled.stdout) == (
        0, "user li disabled: their sessions ended and their token no longer works\n")
    rows = json.loads(users(cfg, "list", "--json").stdout)
    assert [(r["username"], r["disabled"], r["token"]) for r in rows] == [
        ("li", True, False), ("zhao", False, False)]
    # what the file keeps of them is no credential
    dump = "\n".join(sqlite3.connect(cfg.parent / "l.sqlite").iterdump())
    assert token.stdout.strip() not in dump and PASSWORD.strip() not in dump


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "li", "--role", "officer", "--queue", "blue_sky"), "short\n",
         "lantian: a password has at least 10 characters\n"),
        (("add", "li", "--role", "officer", "--queue", "blue_sky"), "",
         "lantian: no password given on stdin\n"),
        (("add", "li", "--role", "officer", "--queue", "roads"), PASSWORD,
         "lantian: no queue 'roads'; queues: blue_sky, law_enforcement\n"),
        (("add", "li", "--role", "officer"), PASSWORD,
         "lantian: an officer works at least one queue (--queue)\n"),
        (("add", "Li Wei", "--role", "admin"), PASSWORD,
         "lantian: user name 'Li Wei': 1 to 32 of a-z 0-9 _ . -, starting with a letter\n"),
        (("token", "nobody"), "", "lantian: no enabled user 'nobody'\n"),
        (("disable", "nobody"), "", "lantian: no enabled user 'nobody'\n"),
    ],
)
def test_refusals_say_why_and_keep_nothing(
    cfg: Path, args: tuple[str, ...], stdin: str, message: str,
) -> None:
    done = users(cfg, *args, stdin=stdin)
    assert (done.returncode, done.stderr, done.stdout) == (1, message, "")
    assert users(cfg, "list", "--json").stdout == "[]\n"


def test_a_user_added_twice_is_refused(cfg: Path) -> None:
    assert users(cfg, "add", "sun", "--role", "bureau", stdin=PASSWORD).returncode == 0
    again = users(cfg, "add", "sun", "--role", "admin", stdin=PASSWORD)
    assert (again.returncode, again.stderr) == (1, "lantian: user 'sun' exists already\n")


def test_the_store_url_of_the_environment_is_the_one_used(cfg: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.sqlite"
    done = lantian("--config", str(cfg), "users", "add", "sun", "--role", "bureau",
                   stdin=PASSWORD, env={"LANTIAN_STORE_URL": f"sqlite:///{elsewhere}"})
    assert done.returncode == 0, done.stderr
    assert sqlite3.connect(elsewhere).execute("SELECT username FROM users").fetchall() == [
        ("sun",)]
    assert users(cfg, "list", "--json").stdout == "[]\n"


@pytest.mark.integration
def test_the_commands_work_while_the_service_runs(tmp_path: Path, broker: Broker) -> None:
    d = start_deployment(tmp_path, broker)
    try:
        cfg = d.config
        assert users(cfg, "add", "li", "--role", "officer", "--queue", "blue_sky",
                     "--name", "李值班", stdin=PASSWORD).returncode == 0
        token = users(cfg, "token", "li").stdout.strip()
        me = httpx.get(f"{d.url}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {"username": "li", "display_name": "李值班", "role": "officer",
                             "queues": ["blue_sky"]}
        login = httpx.post(f"{d.url}/auth/login",
                           json={"username": "li", "password": PASSWORD.strip()})
        assert login.status_code == 200, login.text
        newer = users(cfg, "token", "li").stdout.strip()
        old = httpx.get(f"{d.url}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert old.status_code == 401
        assert users(cfg, "disable", "li").returncode == 0
        for headers in ({"Authorization": f"Bearer {newer}"}, {}):
            r = httpx.get(f"{d.url}/api/me", headers=headers, cookies=login.cookies)
            assert r.status_code == 401
        assert httpx.get(f"{d.url}/healthz").json()["checks"]["store_writable"] is True
    finally:
        d.service.stop()


def test_a_forgotten_password_is_reset_and_a_disabled_user_enabled_again(
    tmp_path: Path, broker: Broker,
) -> None:
    d = start_deployment(tmp_path, broker)
    try:
        cfg = d.config

        def sign_in(password: str) -> httpx.Response:
            return httpx.post(f"{d.url}/auth/login",
                              json={"username": "li", "password": password})
        assert users(cfg, "add", "li", "--role", "officer", "--queue", "blue_sky",
                     stdin=PASSWORD).returncode == 0
        before = sign_in(PASSWORD.strip())
        assert before.status_code == 200, before.text
        weak = users(cfg, "password", "li", stdin="short\n")
        assert weak.returncode == 1 and "password" in weak.stderr  # the policy holds
        reset = users(cfg, "password", "li", stdin="a new horse battery staple\n")
        assert (reset.returncode, reset.stdout) == (
            0, "password of li set: their sessions ended\n"), reset.stderr
        assert sign_in(PASSWORD.strip()).status_code == 401  # the old one no longer
        assert httpx.get(f"{d.url}/api/me", cookies=before.cookies).status_code == 401
        assert sign_in("a new horse battery staple").status_code == 200

        assert users(cfg, "disable", "li").returncode == 0
        assert sign_in("a new horse battery staple").status_code == 401
        refused = users(cfg, "password", "li", stdin="yet another horse battery\n")
        assert refused.returncode == 1 and "no enabled user 'li'" in refused.stderr
        enabled = users(cfg, "enable", "li")
        assert enabled.returncode == 0 and "enabled" in enabled.stdout, enabled.stderr
        assert sign_in("a new horse battery staple").status_code == 200
        again = users(cfg, "enable", "li")
        assert again.returncode == 1 and "no disabled user 'li'" in again.stderr
        assert "li    officer" in users(cfg, "list").stdout
    finally:
        d.service.stop()
