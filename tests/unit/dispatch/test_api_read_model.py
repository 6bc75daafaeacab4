"""The API over the read model and silence book the composition root passes: it answers
from them alone (the dispatcher given here has no store to fall back on)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from dispatch._access import Role, Token
from dispatch._api import api_router
from dispatch._queries import Queries
from dispatch._sqlite import SqliteStore

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
NORTH = Token("li", "north-secret", Role.OFFICER, "north")
SOUTH = Token("wang", "south-secret", Role.OFFICER, "south")


def auth(token: Token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.secret}"}


class Client:
    """Requests to the app in this thread, on a loop of their own (the store is this
    thread's)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                return await c.request(method, url, **kwargs)  # type: ignore[arg-type]
        return asyncio.run(send())

    def get(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


@pytest.fixture
def client() -> Iterator[Client]:
    store = SqliteStore(":memory:", tz=SH)
    no_store = SimpleNamespace(queues={"north": None, "south": None})  # no .store
    app = FastAPI()
    app.include_router(api_router(
        no_store, [NORTH, SOUTH], SH, lambda: NOW,  # type: ignore[arg-type]
        queries=Queries(store, SH), silences=store,
    ))
    yield Client(app)
    store.close()


def test_silences_are_made_listed_and_ended_through_the_given_book(client: Client) -> None:
    body = {"stations": ["S1"], "ends_at": (NOW + timedelta(hours=1)).isoformat(),
            "reason": "calibration"}
    made = client.post("/api/silences", json=body, headers=auth(NORTH))
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["queue"] == "north" and silence["author"] == "li"
    assert client.get("/api/silences", headers=auth(NORTH)).json() == {"silences": [silence]}
    assert client.get("/api/silences", headers=auth(SOUTH)).json() == {"silences": []}
    refused = client.delete(f"/api/silences/{silence['id']}", headers=auth(SOUTH))
    assert refused.status_code == 403
    assert refused.json()["detail"].endswith("wang may only end those of queue 'south'")
    ended = client.delete(f"/api/silences/{silence['id']}", headers=auth(NORTH))
    assert ended.status_code == 200 and ended.json()["ended_by"] == "li"


def test_an_unknown_alert_is_404_from_the_read_model(client: Client) -> None:
    r = client.get("/api/alerts/nope", headers=auth(NORTH))
    assert (r.status_code, r.json()) == (404, {"detail": "no alert 'nope'"})
    assert client.get("/api/alerts", headers=auth(NORTH)).json() == {"alerts": []}
