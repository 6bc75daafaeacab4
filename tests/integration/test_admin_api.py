"""The admin page's reads against the real service: `GET /api/users` lists every user
for admins only, and never a password hash or a token's digest."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import ADMIN, BLUE_SKY, BUREAU, Deployment
from tests.integration.test_console import add_people

pytestmark = pytest.mark.integration


def test_admins_read_the_users_and_nothing_secret(deployment: Deployment) -> None:
    d = deployment
    add_people(d)
    r = httpx.get(f"{d.url}/api/users", headers=ADMIN)
    assert r.status_code == 200, r.text
    users = {u["username"]: u for u in r.json()["users"]}
    assert sorted(users) == ["li", "root", "sun", "wang", "zhao"]
    assert users["li"] == {"username": "li", "display_name": "李 (蓝天)", "role": "officer",
                           "queues": ["blue_sky"], "token": False, "disabled": False}
    assert users["zhao"]["role"] == "supervisor" and users["zhao"]["queues"] == []
    assert "argon2" not in r.text and "hash" not in r.text and "digest" not in r.text
    for refused in (BLUE_SKY, BUREAU):
        assert httpx.get(f"{d.url}/api/users", headers=refused).status_code == 403
    assert httpx.get(f"{d.url}/api/users").status_code == 401
