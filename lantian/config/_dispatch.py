"""The `[dispatch]` section of lantian.toml: queues and their deadlines, routes, tokens."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import Field

from dispatch import Deadlines, Role, Route, Router, Token
from lantian.config._errors import ConfigError
from lantian.config._schema import PositiveFloat, PositiveInt, Section
from rules.geo import ZONE_KINDS

QueueName = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class QueueSection(Section):
    ack_s: PositiveInt = 300
    close_s: PositiveInt = 1800


class RouteSection(Section):
    queue: QueueName
    kinds: list[str] = []
    zone_kinds: list[str] = []
    severities: list[str] = []
    between: Annotated[list[str], Field(min_length=2, max_length=2)] | None = None


class TokenSection(Section):
    name: Annotated[str, Field(min_length=1)]
    token: Annotated[str, Field(min_length=16)]
    role: Literal["officer", "supervisor", "bureau", "admin"]
    queue: QueueName | None = None


class DispatchSection(Section):
    default_queue: QueueName = "blue_sky"
    sweep_s: PositiveFloat = 15.0
    late_after_s: PositiveFloat = 600.0
    stale_after_s: PositiveFloat = 3600.0
    queues: dict[QueueName, QueueSection] = {
        "blue_sky": QueueSection(), "law_enforcement": QueueSection(),
    }
    routes: list[RouteSection] = []
    tokens: list[TokenSection] = []


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    router: Router
    queues: Mapping[str, Deadlines]
    tokens: tuple[Token, ...]
    sweep_s: float
    late_after: timedelta = timedelta(minutes=10)
    stale_after: timedelta = timedelta(hours=1)


def build_dispatch(
    section: DispatchSection, where: str, admin_token: str | None
) -> DispatchSettings:
    queues = {
        name: Deadlines(timedelta(seconds=q.ack_s), timedelta(seconds=q.close_s))
        for name, q in section.queues.items()
    }
    for name, q in section.queues.items():
        if q.close_s < q.ack_s:
            raise ConfigError(where, f"dispatch.queues.{name}", "close_s is before ack_s")
    if section.stale_after_s < section.late_after_s:
        raise ConfigError(where, "dispatch.stale_after_s", "is before late_after_s")
    if section.default_queue not in queues:
        raise ConfigError(where, "dispatch.default_queue", _no_queue(section.default_queue, queues))
    routes = []
    for i, r in enumerate(section.routes):
        key = f"dispatch.routes[{i}]"
        if r.queue not in queues:
            raise ConfigError(where, f"{key}.queue", _no_queue(r.queue, queues))
        for kind in r.zone_kinds:
            if kind not in ZONE_KINDS:
                raise ConfigError(where, f"{key}.zone_kinds", f"unknown zone kind {kind!r}")
        start = end = None
        if r.between is not None:
            start, end = (_clock(t, where, f"{key}.between") for t in r.between)
        routes.append(Route(
            queue=r.queue, kinds=frozenset(r.kinds), zone_kinds=frozenset(r.zone_kinds),
            severities=frozenset(r.severities), start=start, end=end,
        ))
    tokens = []
    seen: set[str] = set()
    for i, t in enumerate(section.tokens):
        key = f"dispatch.tokens[{i}] ({t.name})"
        if t.token in seen:
            raise ConfigError(where, key, "the same token is given twice")
        seen.add(t.token)
        if (t.role == "officer") != (t.queue is not None):
            raise ConfigError(where, key, "an officer token names its queue; others do not")
        if t.queue is not None and t.queue not in queues:
            raise ConfigError(where, f"{key}.queue", _no_queue(t.queue, queues))
        tokens.append(Token(t.name, t.token, Role(t.role), t.queue))
    if admin_token:
        tokens.append(Token("admin (LANTIAN_ADMIN_TOKEN)", admin_token, Role.ADMIN, None))
    return DispatchSettings(
        router=Router(tuple(routes), section.default_queue),
        queues=MappingProxyType(queues), tokens=tuple(tokens), sweep_s=section.sweep_s,
        late_after=timedelta(seconds=section.late_after_s),
        stale_after=timedelta(seconds=section.stale_after_s),
    )


def _no_queue(name: str, queues: Mapping[str, Deadlines]) -> str:
    return f"no queue {name!r}; queues: {', '.join(sorted(queues))}"


def _clock(text: str, where: str, key: str) -> time:
    m = _CLOCK.match(text)
    if m is None:
        raise ConfigError(where, key, f"expected HH:MM, got {text!r}")
    return time(int(m[1]), int(m[2]))
