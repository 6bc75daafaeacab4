"""The console's pages on the service's port: `/` (the console), `/login`, and their
scripts and styles under `/console/` (`/static` is the API documentation's).

Every file comes from the package: no CDN, no external font, no build step; the scripts
are plain ES modules. The pages are served without authentication (they hold no data);
the script asks `/api/me` who is there and goes to `/login` on a 401. The
Content-Security-Policy allows nothing but this origin, so a page that would reach
another host fails loudly in the browser instead of leaking on an isolated network.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

#: Where the console's assets are served from.
ASSETS: Final = "/console"

_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _page(name: str) -> str:
    return (files("lantian.console") / "static" / name).read_text(encoding="utf-8")


def mount_console(app: FastAPI) -> None:
    """Add the console's pages and assets to `app`."""
    static = files("lantian.console") / "static"
    index, login = _page("index.html"), _page("login.html")

    @app.get("/", include_in_schema=False)
    async def console() -> HTMLResponse:
        return HTMLResponse(index, headers=_HEADERS)

    @app.get("/login", include_in_schema=False)
    async def login_page() -> HTMLResponse:
        return HTMLResponse(login, headers=_HEADERS)

    app.mount(ASSETS, StaticFiles(directory=str(static)), name="console")
