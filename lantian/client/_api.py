"""The client commands' connection to the running service: which service and token
(`connect`), bearer-token requests to its HTTP API, and the two ways one can fail (a
connection option that cannot work, and the service refusing, failing or not answering),
each carrying the one line to show."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson

from lantian.config import config_dir

if TYPE_CHECKING:
    from lantian.config import Settings

#: How long a client command waits for the service: the API answers from its store, so
#: anything slower than this means it is stuck, and an officer should hear so.
TIMEOUT_S = 10.0


class UsageError(Exception):
    """A connection option that cannot work (exit status 2, like a config error)."""


class ServiceError(Exception):
    """The service refused, failed or could not be reached (exit status 1)."""


class ApiClient:
    """Bearer-token requests to the service's `/api`, each answer either a success or a
    `ServiceError` carrying the one line to show."""

    def __init__(self, url: str, token: str | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--url: expected http://host:port, got {url!r}")
        if token is not None and not (token.isascii() and token.isprintable()):
            # httpx would fail deep inside header encoding; say what is wrong instead
            raise UsageError("the token must be printable ASCII")
        self.url = url.rstrip("/")
        self.token = token
        self._headers = {"User-Agent": "lantian-cli"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        # unset filters are left out, so the API applies its own defaults
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return self._send("GET", path, params=query)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self._send("POST", path, json={k: v for k, v in body.items() if v is not None})

    def json(self, response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON object; every API route answers with one."""
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise ServiceError(f"{self.url} did not answer with a JSON object: "
                               "is it a Lantian service?")
        return data

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            with httpx.Client(
                base_url=self.url, headers=self._headers, timeout=TIMEOUT_S
            ) as http:
                response = http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ServiceError(
                f"the Lantian service at {self.url} did not answer within {TIMEOUT_S:g} s"
            ) from None
        except httpx.TransportError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ServiceError(
                f"cannot reach the Lantian service at {self.url}: {reason}"
            ) from None
        if response.is_success:
            return response
        raise ServiceError(self._refusal(response))

    def _refusal(self, response: httpx.Response) -> str:
        """The API's `detail`, as it words it (a string for 401/403/404/409 and its own
        422s; a list of field errors for the 422s of request validation)."""
        try:
            detail = orjson.loads(response.content).get("detail")
        except (orjson.JSONDecodeError, AttributeError):
            detail = None
        if isinstance(detail, list):
            detail = "; ".join(_field_error(e) for e in detail)
        if not isinstance(detail, str) or not detail:
            # not the API's own refusal (a crash, a proxy, not a Lantian service at all)
            return f"{self.url} answered HTTP {response.status_code} {response.reason_phrase}"
        message = f"{detail} (HTTP {response.status_code})"
        if response.status_code == 401 and not self.token:
            message += "; give --token or set LANTIAN_TOKEN"
        return message


def _field_error(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    # loc is ("query" | "body" | "path", field...): the field is what the officer typed
    loc = [str(p) for p in error.get("loc", ())[1:]]
    return f"{'.'.join(loc)}: {error.get('msg')}" if loc else str(error.get("msg"))


def _service_url(settings: Settings) -> str:
    """Where the service in this config dir listens, as seen from this machine."""
    host = settings.http_host
    # a service bound to every interface is reached on loopback from its own machine
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http_port}"


def connect(args: argparse.Namespace) -> ApiClient:
    """The service and token of a client command: --url, else the [service] http of the
    config dir; --token, else $LANTIAN_TOKEN."""
    # imported when used: loading a config dir costs most of a second of imports, and
    # with --url it is never read (an officer's laptop may have none)
    from lantian.config import load_settings

    url = args.url or _service_url(load_settings(config_dir(args.config, os.environ), os.environ))
    token = args.token if args.token is not None else os.environ.get("LANTIAN_TOKEN")
    return ApiClient(url, token or None)
