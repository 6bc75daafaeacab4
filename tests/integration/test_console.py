"""The console in a real headless Chromium against the real service on a real Mosquitto:
an alert raised over MQTT appears on the board without a reload; the blue-sky officer
acknowledges it, sends the drone, sees it arrive on scene live, calls in law enforcement
(whose board shows it at once), and the law-enforcement officer closes it with a receipt;
the timeline names both; the bureau sees the figures and cannot act; an officer never
sees another queue's alert, in the page or on its stream. Every request any page makes
goes to the service itself, and nothing fails on the page.

Until the sessions module is merged, the browser authenticates with a configured bearer
token (`extra_http_headers`: fetch and EventSource alike). Each page is photographed into
docs/screenshots/ (the README's "Console" section shows them).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, sync_playwright

from tests.integration.conftest import (
    ADMIN,
    BLUE_SKY,
    BUREAU,
    DOCK,
    LAW,
    SITE_CS01,
    Deployment,
)
from tests.support import REPO, wait_until

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]
SHOTS = REPO / "docs" / "screenshots"
WAIT = 15_000  # ms: the longest any live change may take to show in a test


@dataclass
class Watch:
    """What the pages asked for, and what went wrong on them."""

    requested: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: a page is being reloaded: what it had in flight (its stream, a read) is aborted
    leaving: bool = False

    def _left(self, request: Request) -> bool:
        return self.leaving and request.failure == "net::ERR_ABORTED"

    def page(self, context: BrowserContext) -> Page:
        page = context.new_page()
        page.on("request", lambda r: self.requested.append(r.url))
        page.on("requestfailed", lambda r: None if self._left(r) else self.problems.append(
            f"failed {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"{r.status} {r.request.method} {r.url}"))
        page.on("pageerror", lambda e: self.problems.append(f"error {e}"))
        page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console {m.text} {m.location.get('url', '')}"))
        return page

    def unexpected(self, *refusals: str) -> list[str]:
        """The problems, less the refusals the test asked for and what the console does
        by design: /api/me is 404 until the sessions module is merged, and the role is
        then read from which of two reads the API allows (one of them is refused)."""
        allowed = (*refusals, "404 GET /api/me", "403 GET /api/alerts?limit=1",
                   "403 GET /api/metrics/response-times?since=2000-01-01")

        def known(problem: str) -> bool:
            words = problem.split()
            status = next((w for w in words if w.isdigit()), "")
            url = next((w for w in words if w.startswith("http")), "")
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            return any(f"{status} {path}".startswith(a.replace("GET ", "").replace(
                "POST ", "")) for a in allowed)
        return [p for p in self.problems if not known(p)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def console(browser: Browser, d: Deployment, watch: Watch, headers: dict[str, str],
            **options: object) -> Page:
    context = browser.new_context(extra_http_headers=headers, locale="zh-CN", **options)
    page = watch.page(context)
    page.goto(f"{d.url}/")
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    return page


def live(page: Page) -> None:
    page.wait_for_selector("#live.on", timeout=WAIT)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def status_of(page: Page, method: str, path: str) -> int:
    return int(page.evaluate(
        "([m, p]) => fetch(p, {method: m, headers: {'Content-Type': 'application/json'},"
        " body: m === 'GET' ? undefined : '{}'}).then(r => r.status)", [method, path]))


def only_loopback(watch: Watch) -> None:
    fetched = [u for u in watch.requested if urlsplit(u).scheme in ("http", "https")]
    assert {urlsplit(u).hostname for u in fetched} == {"127.0.0.1"}, fetched
    assert any(u.endswith("/api/stream") for u in fetched)


def test_the_story_in_the_browser(browser: Browser, deployment: Deployment) -> None:
    d, watch = deployment, Watch()
    d.position(*DOCK, seconds_ago=30)
    blue = console(browser, d, watch, BLUE_SKY)
    law = console(browser, d, watch, LAW)
    live(blue)
    live(law)
    assert blue.locator("tbody tr").count() == 0

    d.fume("KY-CS-001")  # over MQTT: the board shows it without a reload
    row = blue.wait_for_selector("tr[data-id][data-state=dispatched]", timeout=WAIT)
    aid = row.get_attribute("data-id")
    assert aid is not None
    assert "cs-01" in row.inner_text() or "工地" in row.inner_text()
    blue.wait_for_selector("#toast .toast.alert", timeout=WAIT)  # the cue for a new alert
    assert blue.locator(".counter.dispatched b").inner_text() == "1"
    shot(blue, "board")

    row.click()
    blue.wait_for_selector(".incident .head", timeout=WAIT)
    assert blue.locator(".chart .limit").count() == 1  # the readings against the limit
    assert "KY-UAV-01" in blue.locator(".facts").first.inner_text()  # the suggestion
    blue.click("[data-action=ack]")
    blue.wait_for_selector(".head [data-state=acknowledged]", timeout=WAIT)
    assert blue.locator("form[data-action=verify] select option").first.inner_text(
        ).startswith("KY-UAV-01")
    blue.click("form[data-action=verify] button")
    blue.wait_for_selector(".head [data-state=verifying]", timeout=WAIT)

    assert law.locator(f"tr[data-id='{aid}']").count() == 0  # not law enforcement's, yet
    blue.select_option("form[data-action=assist] select", "law_enforcement")
    blue.click("form[data-action=assist] button")
    law.wait_for_selector(f"tr[data-id='{aid}']", timeout=WAIT)  # their board, live

    # the drone flies over the site: on scene arrives by itself, on the open page
    d.clock.advance(minutes=4)
    d.position(*SITE_CS01, seconds_ago=12)
    d.position(*SITE_CS01)
    blue.wait_for_selector(".head [data-state=on_scene]", timeout=WAIT)
    assert "drone:KY-UAV-01" in blue.locator("td.actor").all_inner_texts()
    shot(blue, "incident")

    blue.goto(f"{d.url}/#/map")
    blue.wait_for_selector(f"g[data-alert='{aid}']", timeout=WAIT)
    assert blue.locator("g.zone").count() > 100 and blue.locator("g.drone").count() == 1
    shot(blue, "map")
    blue.click(f"g[data-alert='{aid}'] circle.core")
    blue.wait_for_selector(".incident .head", timeout=WAIT)

    d.clock.advance(minutes=12)
    law.click(f"tr[data-id='{aid}']")
    law.wait_for_selector("form[data-action=close]", timeout=WAIT)
    law.select_option("form[data-action=close] select", "resolved")
    law.fill("form[data-action=close] textarea", "现场洒水降尘，责令覆盖裸土")
    law.click("form[data-action=close] button")
    law.wait_for_selector(".head [data-state=closed]", timeout=WAIT)
    blue.wait_for_selector(".head [data-state=closed]", timeout=WAIT)  # live on blue's too
    actors = blue.locator("td.actor").all_inner_texts()
    assert "blue-sky duty officer (demo)" in actors
    assert "law-enforcement duty officer (demo)" in actors
    assert blue.locator("tr[data-kind=closed]").count() == 1

    bureau = console(browser, d, watch, BUREAU)
    bureau.wait_for_selector("table.figures tbody tr[data-group=blue_sky]", timeout=WAIT)
    bureau.wait_for_selector("#summary", timeout=WAIT)
    assert bureau.locator(".chart.bars .limit").count() == 1  # the 30-minute line
    assert bureau.locator("#nav a[data-page=board]").count() == 0
    assert status_of(bureau, "POST", f"/api/alerts/{aid}/reopen") == 403
    assert status_of(bureau, "GET", "/api/stream") == 403
    shot(bureau, "bureau")

    admin = console(browser, d, watch, ADMIN)
    admin.goto(f"{d.url}/#/admin")
    admin.wait_for_selector(".status.ok", timeout=WAIT)
    shot(admin, "admin")

    only_loopback(watch)
    assert watch.unexpected(f"403 /api/alerts/{aid}/reopen", "403 /api/stream") == []


def test_an_officer_never_sees_another_queues_alert(
    browser: Browser, deployment: Deployment
) -> None:
    d, watch = deployment, Watch()
    law = console(browser, d, watch, LAW)
    blue = console(browser, d, watch, BLUE_SKY, viewport={"width": 390, "height": 844})
    live(law)
    live(blue)
    # a second EventSource in law enforcement's page, keeping all it hears
    law.evaluate("""() => { window.heard = [];
        const es = new EventSource('/api/stream');
        for (const kind of ['hello', 'alert', 'gone', 'reset'])
            es.addEventListener(kind, (e) => window.heard.push([kind, e.data])); }""")
    wait_until(lambda: law.evaluate("window.heard.length > 0"), what="its hello")
    d.fume("KY-CS-002")
    aid = blue.wait_for_selector("tr[data-id]", timeout=WAIT).get_attribute("data-id")
    shot(blue, "board-phone")
    r = httpx.post(f"{d.url}/api/alerts/{aid}/ack", headers=BLUE_SKY)
    assert r.status_code == 200
    blue.wait_for_selector(f"tr[data-id='{aid}'][data-state=acknowledged]", timeout=WAIT)
    # the filters: by state, then back to every open one
    blue.select_option("select[name=state]", "dispatched")
    assert blue.locator(f"tr[data-id='{aid}']").count() == 0
    blue.select_option("select[name=state]", "acknowledged")
    assert blue.locator(f"tr[data-id='{aid}']").count() == 1
    # English, kept across a reload
    assert blue.locator("#nav a[data-page=board]").inner_text() == "告警队列"
    blue.select_option("#lang", "en")
    watch.leaving = True
    blue.reload()
    blue.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    watch.leaving = False
    assert blue.locator("#nav a[data-page=board]").inner_text() == "Queue"
    # law enforcement's board and stream carried none of it; the API refuses it to them
    assert law.locator("tbody tr").count() == 0
    assert status_of(law, "GET", f"/api/alerts/{aid}") == 403
    law.goto(f"{d.url}/#/alert/{aid}")  # the page says no, too
    law.wait_for_selector(".incident .error", timeout=WAIT)
    law.goto(f"{d.url}/#/")
    # once called in, they hear of it: the first they hear, proving nothing came before
    assert httpx.post(f"{d.url}/api/alerts/{aid}/assist", headers=BLUE_SKY,
                      json={"queue": "law_enforcement"}).status_code == 200
    wait_until(lambda: law.evaluate("window.heard.length > 1"), what="the assist heard")
    heard = law.evaluate("window.heard")
    assert [kind for kind, _ in heard] == ["hello", "alert"]
    assert [e["kind"] for e in json.loads(heard[1][1])["events"]] == ["assist"]
    law.wait_for_selector(f"tr[data-id='{aid}']", timeout=WAIT)
    assert watch.unexpected(f"403 /api/alerts/{aid}") == []


def test_the_pages_and_assets_are_served_by_the_package(deployment: Deployment) -> None:
    for path in ("/", "/login"):
        r = httpx.get(f"{deployment.url}{path}")
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "https://" not in r.text and "http://" not in r.text
    r = httpx.get(f"{deployment.url}/console/app.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert httpx.get(f"{deployment.url}/console/../../pyproject.toml").status_code == 404
    assert httpx.get(f"{deployment.url}/static/swagger-ui-bundle.js").status_code == 200
