"""`/docs` works on an isolated network: a real headless Chromium renders Swagger UI's
list of operations while every request the page makes goes to the service itself.

Debian's `chromium` (scripts/test installs it) driven by Playwright; Playwright cannot
fetch a browser of its own here, so it is given Debian's."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.integration.conftest import Deployment, start_deployment
from tests.support import Broker

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Deployment]:
    d = start_deployment(Path(tmp_path_factory.mktemp("docs")), broker)
    yield d
    d.service.stop()


def test_docs_render_from_the_service_alone(service: Deployment) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    requested: list[str] = []
    failed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(f"{service.url}/docs", wait_until="networkidle")
            page.wait_for_selector(".opblock", timeout=20_000)  # one block an operation
            blocks = page.locator(".opblock").count()
            title = page.title()
            if shot := os.environ.get("LANTIAN_DOCS_SCREENSHOT"):  # to look at it by eye
                page.screenshot(path=shot, full_page=True)
        finally:
            browser.close()
    # data: and blob: URLs are the page's own memory, not the network
    fetched = [u for u in requested if urlsplit(u).scheme in ("http", "https")]
    hosts = {urlsplit(u).hostname for u in fetched}
    print(f"/docs: {len(fetched)} requests to {sorted(h or '' for h in hosts)}, "
          f"{blocks} operations rendered")
    assert hosts == {"127.0.0.1"}, requested
    assert failed == []
    assert f"{service.url}/openapi.json" in fetched
    assert f"{service.url}/static/swagger-ui-bundle.js" in fetched
    assert blocks >= 18
    assert "Lantian" in title


def test_there_is_no_cdn_backed_page_left(service: Deployment) -> None:
    docs = httpx.get(f"{service.url}/docs", timeout=10)
    assert docs.status_code == 200
    assert "cdn." not in docs.text and "https://" not in docs.text
    assert httpx.get(f"{service.url}/redoc", timeout=10).status_code == 404
