"""The bureau's report routes stay bounded: a monthly workbook of more alerts than
`MAX_XLSX_ITEMS` and figures as a page or workbook over more than `MAX_DAYS` are refused
with a 422 saying what to ask for instead; JSON and CSV still answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi import FastAPI

from dispatch import _api_reports
from dispatch._access import Role, Token
from dispatch._api import api_router
from dispatch._queries import Queries
from dispatch._sqlite import SqliteStore
from tests.unit.dispatch.test_api_read_model import NOW, SH, Client, auth
from tests.unit.dispatch.test_sqlite import add, make_alert

BUREAU = Token("bureau", "bureau-secret", Role.BUREAU, None)


@pytest.fixture
def client() -> Iterator[Client]:
    store = SqliteStore(":memory:", tz=SH)
    start = datetime(2026, 6, 2, 8, tzinfo=SH)
    add(store, *(make_alert(f"a{i}", at=start + timedelta(hours=i), subject=f"S{i}")
                 for i in range(5)))
    app = FastAPI()
    app.include_router(api_router(
        SimpleNamespace(queues={"blue_sky": None}), [BUREAU], SH,  # type: ignore[arg-type]
        lambda: NOW, queries=Queries(store, SH), silences=store,
    ))
    yield Client(app)
    store.close()


def test_a_month_over_the_workbook_bound_is_refused(
    client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "/api/reports/monthly?month=2026-06&format="
    assert client.get(url + "xlsx", headers=auth(BUREAU)).status_code == 200
    monkeypatch.setattr(_api_reports, "MAX_XLSX_ITEMS", 4)
    r = client.get(url + "xlsx", headers=auth(BUREAU))
    assert r.status_code == 422
    assert r.json()["detail"] == ("2026-06 has 5 alerts; format=xlsx lists at most 4: use "
                                  "format=csv or json")
    for fmt in ("csv", "json", "html"):
        assert client.get(url + fmt, headers=auth(BUREAU)).status_code == 200


@pytest.mark.parametrize(("until", "status"), [("2027-06-02", 200), ("2027-06-03", 422)])
def test_figures_as_documents_cover_at_most_366_days(
    client: Client, until: str, status: int,
) -> None:
    url = f"/api/metrics/response-times?since=2026-06-01&until={until}&format="
    for fmt in ("xlsx", "html"):
        assert client.get(url + fmt, headers=auth(BUREAU)).status_code == status
    for fmt in ("csv", "json"):
        assert client.get(url + fmt, headers=auth(BUREAU)).status_code == 200
