"""Local HTTP receivers on loopback that speak like the notification channels: a DingTalk
custom robot (checks the 加签 signature, refuses a bad one, keeps its 20-a-minute limit),
a WeCom group robot (answers 130101 when told to), a generic webhook receiver (checks the
Standard Webhooks signature; fails with 500 as often as told) and a black hole (accepts,
never answers). Each records what it accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import accepting


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receivers:
    """What the channels' endpoints accepted and refused; how they behave next."""

    port: int
    now_ms: Callable[[], int]
    secrets: dict[str, str] = field(default_factory=dict)  # robot path -> signing secret
    webhook_secret: str = ""
    webhook_failures: int = 0  # answer 500 this many more times
    wecom_throttles: int = 0  # answer 130101 this many more times
    down: set[str] = field(default_factory=set)  # paths answering 503
    accepted: list[Received] = field(default_factory=list)
    refused: list[tuple[Received, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.accepted if r.path == path]

    def refused_at(self, path: str) -> list[str]:
        with self.lock:
            return [why for r, why in self.refused if r.path == path]

    def answer(self, r: Received, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if r.path in self.down:
                self.refused.append((r, "down"))
                return 503, {}
            if r.path.startswith("/dingtalk/"):
                why = self._dingtalk_problem(r, query)
                if why:
                    self.refused.append((r, why))
                    return 200, {"errcode": 310000, "errmsg": f"sign not match: {why}"}
            elif r.path == "/wecom":
                if self.wecom_throttles > 0:
                    self.wecom_throttles -= 1
                    self.refused.append((r, "130101"))
                    return 200, {"errcode": 130101, "errmsg": "send too fast, freq limit"}
            elif r.path == "/webhook":
                if not self._webhook_signed(r):
                    self.refused.append((r, "signature"))
                    return 401, {}
                if self.webhook_failures > 0:
                    self.webhook_failures -= 1
                    self.refused.append((r, "500"))
                    return 500, {}
            self.accepted.append(r)
            return 200, {"errcode": 0, "errmsg": "ok"}

    def _dingtalk_problem(self, r: Received, query: dict[str, list[str]]) -> str:
        secret = self.secrets[r.path]
        try:
            timestamp, sign = query["timestamp"][0], query["sign"][0]
        except KeyError:
            return "unsigned"
        if abs(int(timestamp) - self.now_ms()) > 3_600_000:
            return "timestamp"
        mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
        if not hmac.compare_digest(sign, base64.b64encode(mac.digest()).decode()):
            return "sign"
        recent = [x for x in self.accepted if x.path == r.path
                  and int(x.headers["x-robot-ms"]) > int(timestamp) - 60_000]
        if len(recent) >= 20:
            return "over 20 a minute"
        r.headers["x-robot-ms"] = timestamp
        return ""

    def _webhook_signed(self, r: Received) -> bool:
        key = base64.b64decode(self.webhook_secret.removeprefix("whsec_"))
        signed = f"{r.headers['webhook-id']}.{r.headers['webhook-timestamp']}.".encode() + r.body
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()
                                            ).decode()
        return hmac.compare_digest(r.headers.get("webhook-signature", ""), expected)


@contextmanager
def run_receivers(now_ms: Callable[[], int]) -> Iterator[Receivers]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receivers = Receivers(int(server.server_address[1]), now_ms)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            r = Received(parts.path, {k.lower(): v for k, v in self.headers.items()}, body)
            status, answer = receivers.answer(r, parse_qs(parts.query))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receivers
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class BlackHole:
    """A port that accepts connections and reads requests, and never answers."""

    port: int
    held: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextmanager
def run_black_hole() -> Iterator[BlackHole]:
    held: list[socket.socket] = []
    try:
        with accepting(held.append) as port:
            yield BlackHole(port, held)
    finally:
        for conn in held:
            conn.close()
