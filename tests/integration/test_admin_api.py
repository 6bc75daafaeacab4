"""The admin page's reads against the real service: `GET /api/users` lists every user
for admins only, and never a password hash or a token's digest; `GET /api/deadletters`
counts the refused messages per hour."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import ADMIN, BLUE_SKY, BUREAU, Deployment
from tests.integration.test_console import add_people
from tests.support import wait_until

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


def test_the_dead_letters_are_counted_per_hour_for_the_admin_page(
    deployment: Deployment,
) -> None:
    d = deployment
    d.broker.pub("lantian/sensors/KY-CS-001/reading", b"{not json")
    d.broker.pub("lantian/sensors/KY-CS-001/nonsense", b"{}")

    def both() -> dict[str, object] | None:
        r = httpx.get(f"{d.url}/api/deadletters", headers=ADMIN)
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body if body["kept"] == 2 else None
    body = wait_until(both, what="two dead letters kept")
    hours = body["hours"]
    assert isinstance(hours, list) and len(hours) == 24
    # the fake clock's hour, in the service's time zone, holds both, by code
    assert hours[-1]["hour"] == "2026-06-12T10:00:00+08:00"
    assert hours[-1]["count"] == 2 and sum(h["count"] for h in hours) == 2
    assert sum(hours[-1]["codes"].values()) == 2 and len(hours[-1]["codes"]) == 2
    recent = body["recent"]
    assert isinstance(recent, list)
    assert {r["topic"] for r in recent} == {"lantian/sensors/KY-CS-001/reading",
                                            "lantian/sensors/KY-CS-001/nonsense"}
    assert all(r["reason"] and r["payload_size"] > 0 for r in recent)
    assert "payload_b64" not in str(recent)  # the bytes stay in the table
    # the bureau may read it, an officer may not; the window is bounded
    assert httpx.get(f"{d.url}/api/deadletters", headers=BUREAU).status_code == 200
    assert httpx.get(f"{d.url}/api/deadletters", headers=BLUE_SKY).status_code == 403
    for bad in ("0", "169", "x"):
        r = httpx.get(f"{d.url}/api/deadletters", params={"hours": bad}, headers=ADMIN)
        assert r.status_code == 422 and "hours" in r.text
