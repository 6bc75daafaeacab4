"""The `[notify]` section of lantian.toml: where notifications go, and how hard to try.

    [notify]
    console_url = "https://lantian.example.gov.cn/console"   # links in messages
    dead_after_s = 3600          # give a failing notification up after this long
    [[notify.channels]]
    name = "blue-sky-group"
    kind = "dingtalk"            # dingtalk | wecom | webhook
    url = "https://oapi.dingtalk.com/robot/send?access_token=..."
    secret = "SEC..."
    queues = ["blue_sky"]        # empty or absent: every queue
    events = ["raised", "escalated"]
    mention_mobiles = ["13800000000"]

A channel's `url` and `secret` may come from the environment instead,
`LANTIAN_NOTIFY_<NAME>_URL` and `LANTIAN_NOTIFY_<NAME>_SECRET` (the name upper-cased,
`-` as `_`): both are credentials (the URL holds the robot's token or key).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from dispatch.notify import Channel
from lantian.config._errors import ConfigError
from lantian.config._schema import PositiveFloat, Section

Mobile = Annotated[str, Field(pattern=r"^\+?[0-9]{5,15}$")]


class ChannelSection(Section):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    kind: Literal["dingtalk", "wecom", "webhook"]
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    secret: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    queues: list[str] = []
    events: Annotated[list[Literal["raised", "escalated", "assist", "transfer", "closed"]],
                      Field(min_length=1)] = ["raised", "escalated"]
    mention_mobiles: Annotated[list[Mobile], Field(max_length=50)] = []


class NotifySection(Section):
    console_url: Annotated[str, Field(max_length=500)] = ""
    dead_after_s: PositiveFloat = 3600.0
    retry_first_s: PositiveFloat = 2.0
    retry_max_s: PositiveFloat = 300.0
    timeout_s: PositiveFloat = 10.0
    channels: Annotated[list[ChannelSection], Field(max_length=50)] = []


@dataclass(frozen=True, slots=True)
class NotifySettings:
    channels: tuple[Channel, ...] = ()
    console_url: str = ""
    dead_after: timedelta = timedelta(hours=1)
    retry_first: timedelta = timedelta(seconds=2)
    retry_max: timedelta = timedelta(minutes=5)
    timeout_s: float = 10.0


def notify_secrets(raw: Mapping[str, Any]) -> Iterator[str]:
    """The channels' URLs' query strings and paths' last parts: tokens and keys."""
    notify = raw.get("notify")
    channels = notify.get("channels") if isinstance(notify, dict) else None
    for ch in channels if isinstance(channels, list) else []:
        url = ch.get("url") if isinstance(ch, dict) else None
        if isinstance(url, str):
            parts = urlsplit(url)
            yield from (p.split("=", 1)[-1] for p in parts.query.split("&") if p)


def build_notify(section: NotifySection, where: str, queues: Collection[str]) -> NotifySettings:
    if section.console_url and not _is_http(section.console_url):
        raise ConfigError(where, "notify.console_url",
                          f"expected an http:// or https:// URL, got {section.console_url!r}")
    if section.retry_max_s < section.retry_first_s:
        raise ConfigError(where, "notify.retry_max_s", "is less than retry_first_s")
    channels, seen = [], set()
    for i, c in enumerate(section.channels):
        key = f"notify.channels[{i}] ({c.name})"
        if c.name in seen:
            raise ConfigError(where, key, "a second channel of this name")
        seen.add(c.name)
        if not _is_http(c.url):
            raise ConfigError(where, f"{key}.url", "expected an http:// or https:// URL")
        for q in c.queues:
            if q not in queues:
                raise ConfigError(where, f"{key}.queues",
                                  f"no queue {q!r}; queues: {', '.join(sorted(queues))}")
        if c.kind == "wecom" and c.secret is not None:
            raise ConfigError(where, f"{key}.secret", "a WeCom robot has no secret; its key"
                              " is in the URL")
        if c.kind == "webhook" and c.mention_mobiles:
            raise ConfigError(where, f"{key}.mention_mobiles", "only robots @-mention")
        if c.kind == "webhook" and c.secret and c.secret.startswith("whsec_"):
            try:
                base64.b64decode(c.secret.removeprefix("whsec_"), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ConfigError(where, f"{key}.secret",
                                  "a whsec_ secret must be Base64 after the prefix") from exc
        channels.append(Channel(
            name=c.name, kind=c.kind, url=c.url, secret=c.secret, queues=frozenset(c.queues),
            events=frozenset(c.events), mention_mobiles=tuple(c.mention_mobiles),
        ))
    return NotifySettings(
        channels=tuple(channels), console_url=section.console_url,
        dead_after=timedelta(seconds=section.dead_after_s),
        retry_first=timedelta(seconds=section.retry_first_s),
        retry_max=timedelta(seconds=section.retry_max_s), timeout_s=section.timeout_s,
    )


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
