"""The console in a real headless Chromium against the real service on a real Mosquitto,
signed in through its login page by named users (added to the store as `lantian users
add` does): an alert raised over MQTT appears on the board without a reload; the
blue-sky officer acknowledges it, sends the drone, sees it arrive on scene live, calls in
law enforcement (whose board shows it at once), and the law-enforcement officer closes it
with a receipt; the timeline names both; the supervisor sees every queue's board; the
bureau sees the figures and cannot act; an officer never sees another queue's alert, in
the page or on its stream; the supervisor's board marks an escalation live; the admin
page lists the users and a failing channel. (The login page itself, expiry and CSRF:
test_console_sign_in.py.) Every request any page makes goes to the service itself, and
nothing else fails on the page.

Each page is photographed into docs/screenshots/ (the README's "Console" section shows
them).
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, BrowserContext, Page, Request, sync_playwright

from dispatch import SqliteStore
from dispatch._users import Passwords
from dispatch.users import UserAdmin
from ingest._timeseries import to_lines
from rules.records import Measurement, Reading
from tests.influxdb import InfluxDB
from tests.integration.conftest import (
    ADMIN,
    DOCK,
    SITE_CS01,
    T0,
    Deployment,
    start_deployment,
)
from tests.support import REPO, Broker, free_port, wait_until

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]
SHOTS = REPO / "docs" / "screenshots"
WAIT = 15_000  # ms: the longest any live change may take to show in a test

PASSWORD = "correct horse battery"
#: a cheap argon2id: the service checks whatever parameters a hash names
CHEAP = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
#: the office: name, role, queues, display name
PEOPLE = (("li", "officer", ["blue_sky"], "李 (蓝天)"),
          ("wang", "officer", ["law_enforcement"], "王 (执法)"),
          ("zhao", "supervisor", [], "赵 (值班长)"),
          ("sun", "bureau", [], "孙 (环保局)"),
          ("root", "admin", [], "管理员"))


def png(width: int = 96, height: int = 64) -> bytes:
    """A real picture (a dusty-orange gradient), made without an imaging library."""
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (
        200, 120 + x % 100, 40 + y * 2)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def add_people(d: Deployment) -> None:
    """The office's users, added to the running service's store file."""
    store = SqliteStore(d.service.settings.store_path)
    try:
        admin = UserAdmin(store, d.service.settings.dispatch.queues, CHEAP)
        for name, role, queues, display in PEOPLE:
            admin.add(name, role, queues, display, PASSWORD, d.clock())
    finally:
        store.close()


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
        """The problems, less the refusals the test asked for ("403 /api/stream")."""
        def known(problem: str) -> bool:
            words = problem.split()
            status = next((w for w in words if w.isdigit()), "")
            url = next((w for w in words if w.startswith("http")), "")
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            return any(f"{status} {path}".startswith(a) for a in refusals)
        return [p for p in self.problems if not known(p)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def office(deployment: Deployment) -> Deployment:
    add_people(deployment)
    return deployment


def login_page(browser: Browser, d: Deployment, watch: Watch, **options: Any) -> Page:
    context = browser.new_context(locale="zh-CN", **options)
    page = watch.page(context)
    page.goto(f"{d.url}/login")
    page.wait_for_selector("form#login", timeout=WAIT)
    return page


def submit(page: Page, name: str, password: str = PASSWORD) -> None:
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("form#login button[type=submit]")


def sign_in(browser: Browser, d: Deployment, watch: Watch, name: str,
            **options: Any) -> Page:
    """A new browser whose user signs in through the login page, on the console."""
    page = login_page(browser, d, watch, **options)
    submit(page, name)
    page.wait_for_url(f"{d.url}/", timeout=WAIT)
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    return page


def live(page: Page) -> None:
    page.wait_for_selector("#live.on", timeout=WAIT)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


_FETCH = """([m, p, body, csrf]) => {
    const cookie = document.cookie.split(';').map((c) => c.trim())
        .find((c) => c.startsWith('lantian_csrf='));
    const headers = {'Content-Type': 'application/json'};
    if (csrf && cookie) headers['X-CSRF-Token'] = decodeURIComponent(cookie.slice(13));
    return fetch(p, {method: m, headers, body: m === 'GET' ? undefined : JSON.stringify(body)})
        .then(async (r) => [r.status, await r.text()]);
}"""


def call(page: Page, method: str, path: str, body: object = None, *,
         csrf: bool = True) -> tuple[int, str]:
    """A request from the page's own context (its cookies), as its script would send it;
    `csrf=False`: as a forged one would, without the header."""
    status, text = page.evaluate(_FETCH, [method, path, body or {}, csrf])
    return int(status), str(text)


def status_of(page: Page, method: str, path: str, body: object = None) -> int:
    return call(page, method, path, body)[0]


def only_loopback(watch: Watch) -> None:
    fetched = [u for u in watch.requested if urlsplit(u).scheme in ("http", "https")]
    assert {urlsplit(u).hostname for u in fetched} == {"127.0.0.1"}, fetched
    assert any(u.endswith("/api/stream") for u in fetched)


def test_the_story_in_the_browser(browser: Browser, office: Deployment) -> None:
    d, watch = office, Watch()
    d.position(*DOCK, seconds_ago=30)
    blue = sign_in(browser, d, watch, "li")
    law = sign_in(browser, d, watch, "wang")
    live(blue)
    live(law)
    assert "李 (蓝天)" in blue.locator("#who").inner_text()
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
    # no InfluxDB in this deployment: the rule window kept with the alert, and it says so
    blue.wait_for_selector(".source[data-source='rule window']", timeout=WAIT)
    assert "规则窗口" in blue.locator(".source").inner_text()
    assert "KY-UAV-01" in blue.locator(".facts").first.inner_text()  # the suggestion
    blue.click("[data-action=ack]")  # the page's own POST, with its CSRF header
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

    # the supervisor's board holds every queue's alerts
    chief = sign_in(browser, d, watch, "zhao")
    chief.wait_for_selector(f"tr[data-id='{aid}']", timeout=WAIT)

    d.clock.advance(minutes=12)
    law.click(f"tr[data-id='{aid}']")
    law.wait_for_selector("form[data-action=close]", timeout=WAIT)
    law.select_option("form[data-action=close] select", "resolved")
    law.fill("form[data-action=close] textarea", "现场洒水降尘，责令覆盖裸土")
    # the receipt's photo, named .jpg though it is a PNG: its content decides
    law.set_input_files("form[data-action=close] input[type=file]", files=[
        {"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": png()}])
    law.click("form[data-action=close] button")
    law.wait_for_selector(".head [data-state=closed]", timeout=WAIT)
    blue.wait_for_selector(".head [data-state=closed]", timeout=WAIT)  # live on blue's too
    # the timeline shows the photo, loaded from the service, on both pages
    for page in (law, blue):
        thumb = page.wait_for_selector("tr[data-kind=commented] img[data-sha]", timeout=WAIT)
        page.wait_for_function("(img) => img.complete && img.naturalWidth === 96", arg=thumb,
                               timeout=WAIT)
    # a note after the close: comments are taken in any state
    law.fill("form[data-action=comment] textarea", "复查：裸土已覆盖")
    law.click("form[data-action=comment] button")
    law.wait_for_selector("tr[data-kind=commented] >> text=复查：裸土已覆盖", timeout=WAIT)
    shot(law, "incident-closed")
    actors = blue.locator("td.actor").all_inner_texts()
    assert "li" in actors and "wang" in actors  # each signed-in user acted as themselves
    assert blue.locator("tr[data-kind=closed]").count() == 1

    bureau = sign_in(browser, d, watch, "sun")
    bureau.wait_for_selector("table.figures tbody tr[data-group=blue_sky]", timeout=WAIT)
    bureau.wait_for_selector("#summary", timeout=WAIT)
    assert bureau.locator(".chart.bars .limit").count() == 1  # the 30-minute line
    assert bureau.locator("#nav a[data-page=board]").count() == 0
    # with the CSRF header, so it is the role that is refused, not the request
    status, detail = call(bureau, "POST", f"/api/alerts/{aid}/reopen", {"reason": "x"})
    assert status == 403 and "CSRF" not in detail, detail
    assert status_of(bureau, "GET", "/api/stream") == 403
    assert status_of(bureau, "GET", f"/api/alerts/{aid}") == 403
    shot(bureau, "bureau")

    # signed out: the cookies are gone, and the console sends the page back to /login
    watch.leaving = True
    blue.click("#logout")
    blue.wait_for_url(f"{d.url}/login", timeout=WAIT)
    blue.goto(f"{d.url}/")
    blue.wait_for_url(f"{d.url}/login", timeout=WAIT)
    watch.leaving = False

    only_loopback(watch)
    assert watch.unexpected(f"403 /api/alerts/{aid}", "403 /api/stream",
                            "401 /api/me") == []


def test_an_officer_never_sees_another_queues_alert(
    browser: Browser, office: Deployment
) -> None:
    d, watch = office, Watch()
    law = sign_in(browser, d, watch, "wang")
    blue = sign_in(browser, d, watch, "li", viewport={"width": 390, "height": 844})
    live(law)
    live(blue)
    # a second EventSource in law enforcement's page (its session cookie), keeping all
    # it hears
    law.evaluate("""() => { window.heard = [];
        const es = new EventSource('/api/stream');
        for (const kind of ['hello', 'alert', 'gone', 'reset'])
            es.addEventListener(kind, (e) => window.heard.push([kind, e.data])); }""")
    wait_until(lambda: law.evaluate("window.heard.length > 0"), what="its hello")
    d.fume("KY-CS-002")
    aid = blue.wait_for_selector("tr[data-id]", timeout=WAIT).get_attribute("data-id")
    shot(blue, "board-phone")
    assert status_of(blue, "POST", f"/api/alerts/{aid}/ack") == 200
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
    # law enforcement's board and stream carried none of it; the API refuses it to them,
    # reading and acting alike
    assert law.locator("tbody tr").count() == 0
    assert status_of(law, "GET", f"/api/alerts/{aid}") == 403
    assert status_of(law, "POST", f"/api/alerts/{aid}/ack") in (403, 404)
    law.goto(f"{d.url}/#/alert/{aid}")  # the page says no, too
    law.wait_for_selector(".incident .error", timeout=WAIT)
    law.goto(f"{d.url}/#/")
    # once called in, they hear of it: the first they hear, proving nothing came before
    assert status_of(blue, "POST", f"/api/alerts/{aid}/assist",
                     {"queue": "law_enforcement"}) == 200
    wait_until(lambda: law.evaluate("window.heard.length > 1"), what="the assist heard")
    heard = law.evaluate("window.heard")
    assert [kind for kind, _ in heard] == ["hello", "alert"]
    assert [e["kind"] for e in json.loads(heard[1][1])["events"]] == ["assist"]
    law.wait_for_selector(f"tr[data-id='{aid}']", timeout=WAIT)
    assert watch.unexpected(f"403 /api/alerts/{aid}", f"404 /api/alerts/{aid}") == []


def test_the_supervisor_sees_escalations_and_the_admin_the_service(
    browser: Browser, tmp_path: Path, broker: Broker
) -> None:
    # a webhook nobody listens on: its notifications wait, with the error, on the admin page
    hook = f"http://127.0.0.1:{free_port()}/hook"
    d = start_deployment(tmp_path, broker, extra=(
        '\n[notify]\nretry_first_s = 2\n[[notify.channels]]\nname = "ops-webhook"\n'
        f'kind = "webhook"\nurl = "{hook}"\nevents = ["raised", "escalated"]\n'))
    try:
        add_people(d)
        escalations_and_admin(browser, d)
    finally:
        d.service.stop()


def escalations_and_admin(browser: Browser, d: Deployment) -> None:
    watch = Watch()
    chief = sign_in(browser, d, watch, "zhao")
    live(chief)
    d.fume("KY-CS-003")  # blue sky's, and nobody acknowledges it
    aid = d.open_alert("KY-CS-003")["id"]
    chief.wait_for_selector(f"tr[data-id='{aid}']", timeout=WAIT)  # every queue's board
    assert chief.locator(f"tr[data-id='{aid}'] .flag.escalated").count() == 0
    d.clock.advance(minutes=5, seconds=1)  # past the 5 minutes to acknowledge
    chief.wait_for_selector(f"tr[data-id='{aid}'] .flag.escalated", timeout=WAIT)

    def failed_once() -> bool:
        [hook] = httpx.get(f"{d.url}/api/notifications", headers=ADMIN).json()["channels"]
        return bool(hook["last_error"])
    wait_until(failed_once, what="the webhook's first failure")
    d.broker.pub("lantian/sensors/KY-CS-003/reading", b"{not json")  # a dead letter
    wait_until(lambda: httpx.get(f"{d.url}/api/deadletters", headers=ADMIN).json()["kept"],
               what="the dead letter kept")
    admin = sign_in(browser, d, watch, "root")
    admin.goto(f"{d.url}/#/admin")
    admin.wait_for_selector(".status.ok", timeout=WAIT)
    admin.wait_for_selector("table.users tr[data-user=li]", timeout=WAIT)
    cells = admin.locator("table.users tr[data-user=li] td").all_inner_texts()
    assert cells[:4] == ["li", "李 (蓝天)", "值班员", "blue_sky"]
    assert admin.locator("table.users tbody tr").count() == len(PEOPLE)
    row = admin.wait_for_selector("table.channels tr[data-channel=ops-webhook]", timeout=WAIT)
    assert row.query_selector_all("td")[1].inner_text() != "0"  # pending
    assert row.query_selector_all("td")[4].inner_text() != "—"  # why: the last error
    letter = admin.wait_for_selector("table.deadletters tbody tr", timeout=WAIT)
    assert letter.query_selector_all("td")[1].inner_text() == "lantian/sensors/KY-CS-003/reading"
    assert admin.locator("#admin-deadletters svg.columns rect").count() == 1  # this hour's
    shot(admin, "admin")
    assert watch.unexpected() == []


def test_the_pages_and_assets_are_served_by_the_package(deployment: Deployment) -> None:
    for path in ("/", "/login"):
        r = httpx.get(f"{deployment.url}{path}")
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "https://" not in r.text and "http://" not in r.text
    r = httpx.get(f"{deployment.url}/console/app.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert "/api/me" in httpx.get(f"{deployment.url}/console/api.js").text
    assert httpx.get(f"{deployment.url}/console/../../pyproject.toml").status_code == 404
    assert httpx.get(f"{deployment.url}/static/swagger-ui-bundle.js").status_code == 200


def test_the_incident_chart_reads_influxdb_when_configured(
    browser: Browser, tmp_path: Path, broker: Broker, influxdb: InfluxDB
) -> None:
    """The chart of an alert on a service configured with InfluxDB: the readings stored
    there around the raise, not just the rule window. The influxd here (1.6) answers the
    service's reads but takes none of its v2 writes, so the test stores the points itself,
    in the writer's own lines."""
    d = start_deployment(tmp_path, broker, influx_url=influxdb.url)
    try:
        add_people(d)
        influxdb.write([line for m in range(-40, 1) for line in to_lines(Reading(
            "KY-CS-002", T0 + timedelta(minutes=m), {"pm10": Measurement(120.0 + m)}))])
        watch = Watch()
        blue = sign_in(browser, d, watch, "li")
        d.fume("KY-CS-002")
        aid = d.open_alert("KY-CS-002")["id"]
        blue.goto(f"{d.url}/#/alert/{aid}")
        blue.wait_for_selector(".source[data-source=influxdb]", timeout=WAIT)
        assert "InfluxDB" in blue.locator(".source").inner_text()
        # half an hour before the raise up to now (the raise): 31 points, the limit line
        assert blue.locator(".chart .dot").count() == 31
        assert blue.locator(".chart .limit").count() == 1
        assert blue.locator(".chart .raised").count() == 1  # the raise, at the last point
        assert (blue.locator(".chart .dot title").first.text_content() or "").endswith(": 90")
        assert watch.unexpected() == []
    finally:
        d.service.stop()
