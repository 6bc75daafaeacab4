"""Signing in to the console in a real headless Chromium against the real service: no
session goes to the login page, which says why it refuses (a wrong password, an unknown
user, too many failures: in Chinese and in English) and lets the user in once the
lock-out is over; a request without the CSRF header is refused from the page's own
context; a session past its 12 hours sends the page back to /login, whether it asks
something or only listens to its stream."""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Browser

from tests.integration.conftest import Deployment
from tests.integration.test_console import (
    WAIT,
    Watch,
    browser,
    call,
    live,
    login_page,
    office,
    shot,
    sign_in,
    submit,
)

pytestmark = pytest.mark.integration
__all__ = ["browser", "office"]  # the fixtures, shared with the console's story


def test_the_login_page_and_the_session(browser: Browser, office: Deployment) -> None:
    d, watch = office, Watch()
    # no session: the console asks /api/me, hears 401 and goes to the login page
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{d.url}/")
    page.wait_for_url(f"{d.url}/login", timeout=WAIT)

    page = login_page(browser, d, watch)
    shot(page, "login")
    submit(page, "li", "not the password")
    page.wait_for_selector("#error[data-status='401']", timeout=WAIT)
    assert page.locator("#error").inner_text() == "用户名或密码错误"
    page.select_option("#lang", "en")
    assert page.locator("form#login button").inner_text() == "Log in"
    submit(page, "nobody", "not the password")  # an unknown user: the same answer
    page.wait_for_selector("#error[data-status='401']", timeout=WAIT)
    assert page.locator("#error").inner_text() == "wrong user name or password"
    for _ in range(3):
        submit(page, "li", "still not it")
        page.wait_for_selector("#error[data-status='401']", timeout=WAIT)
    submit(page, "li")  # the right password, but the guessing has locked the name out
    page.wait_for_selector("#error[data-status='429']", timeout=WAIT)
    assert page.locator("#error").inner_text().startswith("too many attempts")
    assert page.url == f"{d.url}/login"

    d.clock.advance(minutes=6)  # the lock-out is over
    submit(page, "li")
    page.wait_for_url(f"{d.url}/", timeout=WAIT)
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    live(page)

    # a forged request (another site's form cannot read the CSRF cookie): refused
    status, detail = call(page, "POST", "/api/alerts/no-such-alert/ack", csrf=False)
    assert (status, json.loads(detail)["detail"]) == (403, "CSRF token missing or wrong")
    assert call(page, "POST", "/api/alerts/no-such-alert/ack")[0] == 404  # with it: heard
    # and a stranger's request, with no cookie at all
    assert httpx.post(f"{d.url}/api/alerts/no-such-alert/ack").status_code == 401

    # the session outlives its 12 hours: the next thing the page asks goes to /login
    other = sign_in(browser, d, watch, "wang")
    live(other)
    d.clock.advance(hours=12, minutes=1)
    watch.leaving = True  # what the page had in flight is aborted as it goes
    page.goto(f"{d.url}/#/map")
    page.wait_for_url(f"{d.url}/login", timeout=WAIT)
    # an open page that asks nothing: when its stream is cut (here by a restart), the
    # reconnection is refused, and the page goes to /login by itself
    d.restart()
    other.wait_for_url(f"{d.url}/login", timeout=WAIT)
    assert watch.unexpected("401 /auth/login", "429 /auth/login", "401 /api/",
                            "403 /api/alerts/no-such-alert",
                            "404 /api/alerts/no-such-alert") == []
