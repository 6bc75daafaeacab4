"""The three wire formats a notification goes out in, and what their answers mean.

- **DingTalk custom robot**: a markdown message, `at.atMobiles` for mentions, signed
  (加签) with `timestamp` (ms) and `sign` = URL-encoded Base64 of HMAC-SHA256 over
  `timestamp + "\\n" + secret`, as query parameters. Answers `{"errcode": 0}` on success.
- **WeCom group robot**: a markdown message; the key in the URL is the credential.
  Error 130101 is its minute's limit: try again after it.
- **Generic webhook**: the wire contract's JSON, signed the Standard Webhooks way:
  `webhook-id` (the stable message id, for the receiver to drop a repeat),
  `webhook-timestamp` (seconds) and `webhook-signature: v1,<Base64 HMAC-SHA256 of
  "id.timestamp.body">`, keyed by the secret (`whsec_<base64>`, or its raw text).

Everything here is pure: a `Request` from a notice and the time, an `Outcome` from the
answer. Sending is `dispatch._deliveries`'.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal
from urllib.parse import quote_plus

import orjson

from dispatch._notify import Channel

#: The robots' "too many messages this minute" (WeCom; DingTalk answers the same code).
THROTTLED: Final = 130101
#: How long a throttled robot is left alone: its minute, and a margin.
THROTTLE_WAIT: Final = timedelta(seconds=65)
#: DingTalk errors no retry mends: bad token, bad signature, keyword or IP refused.
_DINGTALK_PERMANENT: Final = frozenset({300001, 300005, 310000, 400013})
#: WeCom errors no retry mends: invalid or removed webhook key.
_WECOM_PERMANENT: Final = frozenset({93000, 40001, 40014})


@dataclass(frozen=True, slots=True)
class Message:
    """What one request carries: the notice's (or a digest's) content."""

    message_id: str
    title: str
    text: str
    body: bytes  # the webhook's JSON


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    headers: tuple[tuple[str, str], ...]
    content: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Literal["delivered", "retry", "rejected"]
    reason: str = ""
    retry_after: timedelta | None = None  # at the earliest, when the channel said so


def request(channel: Channel, message: Message, now_ms: int) -> Request:
    """The HTTP POST carrying `message` to `channel` at `now_ms` (epoch milliseconds)."""
    if channel.kind == "dingtalk":
        return dingtalk_request(channel, message, now_ms)
    if channel.kind == "wecom":
        return wecom_request(channel, message)
    return webhook_request(channel, message, now_ms // 1000)


_JSON: Final = (("content-type", "application/json; charset=utf-8"),)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's `sign` parameter, already URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def dingtalk_request(channel: Channel, message: Message, now_ms: int) -> Request:
    url = channel.url
    if channel.secret:
        sep = "&" if "?" in url else "?"
        url += f"{sep}timestamp={now_ms}&sign={dingtalk_sign(channel.secret, now_ms)}"
    mentions = "".join(f" @{m}" for m in channel.mention_mobiles)
    body = {
        "msgtype": "markdown",
        "markdown": {"title": message.title, "text": message.text + mentions},
        "at": {"atMobiles": list(channel.mention_mobiles), "isAtAll": False},
    }
    return Request(url, _JSON, orjson.dumps(body))


def wecom_request(channel: Channel, message: Message) -> Request:
    body = {"msgtype": "markdown", "markdown": {
        "content": message.text, "mentioned_mobile_list": list(channel.mention_mobiles),
    }}
    return Request(channel.url, _JSON, orjson.dumps(body))


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: `whsec_` and Base64, else the text."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def webhook_signature(secret: str, message_id: str, timestamp_s: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    mac = hmac.new(webhook_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def webhook_request(channel: Channel, message: Message, now_s: int) -> Request:
    headers = [*_JSON, ("webhook-id", message.message_id), ("webhook-timestamp", str(now_s))]
    if channel.secret:
        headers.append(("webhook-signature", webhook_signature(
            channel.secret, message.message_id, now_s, message.body)))
    return Request(channel.url, tuple(headers), message.body)


def classify(channel: Channel, status: int, body: bytes) -> Outcome:
    """What an answer means: delivered, worth another try, or refused for good (a
    request no retry mends: a wrong secret, an unknown robot, a body refused)."""
    if channel.kind == "webhook":
        if 200 <= status < 300:
            return Outcome("delivered")
        if status in (408, 425, 429) or status >= 500:
            return Outcome("retry", f"HTTP {status}")
        return Outcome("rejected", f"HTTP {status}: {_excerpt(body)}")
    if status == 429 or status >= 500 or status == 408:
        return Outcome("retry", f"HTTP {status}")
    if status != 200:
        return Outcome("rejected", f"HTTP {status}: {_excerpt(body)}")
    try:
        answer = orjson.loads(body)
        code = int(answer.get("errcode", -1))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return Outcome("retry", f"unreadable answer: {_excerpt(body)}")
    if code == 0:
        return Outcome("delivered")
    reason = f"errcode {code}: {str(answer.get('errmsg', ''))[:200]}"
    if code == THROTTLED:
        return Outcome("retry", reason, THROTTLE_WAIT)
    permanent = _DINGTALK_PERMANENT if channel.kind == "dingtalk" else _WECOM_PERMANENT
    return Outcome("rejected" if code in permanent else "retry", reason)


def _excerpt(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace")
