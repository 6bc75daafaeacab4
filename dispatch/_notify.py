"""Notifications to people's phones and to other platforms: the pure decisions.

A channel (a DingTalk robot, a WeCom group robot, a generic webhook) hears of some events
of some queues (`Channel.wants`). What it hears is a `Notice`, made once, in the
transaction of the event (`notice`): a stable message id (alert id and event seq), a
title and a Chinese markdown text for the robots, and the wire contract's JSON for a
webhook. How a notice goes on the wire is `dispatch._channels`'; keeping at it until it
is delivered is `dispatch._deliveries`'.

Two more decisions live here, both pure: when a failed delivery is tried again
(`backoff`: exponential, capped, with jitter from an injected source), and how a robot's
per-minute limit is honoured (`plan_sends`): what is over the limit is folded into one
digest message rather than dropped or sent into the robot's throttle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final, Literal, NamedTuple

from dispatch._alert import Alert
from dispatch._lifecycle import Event, EventKind
from dispatch._wire import event_json

ChannelKind = Literal["dingtalk", "wecom", "webhook"]

#: The events a channel may ask for, and the lifecycle event each one is.
NOTIFY_EVENTS: Final[Mapping[str, EventKind]] = {
    "raised": EventKind.RAISED, "escalated": EventKind.ESCALATED, "assist": EventKind.ASSIST,
    "transfer": EventKind.TRANSFERRED, "closed": EventKind.CLOSED,
}
DEFAULT_EVENTS: Final = frozenset({"raised", "escalated"})
#: DingTalk's custom robot takes 20 messages a minute, then throttles for 10 minutes;
#: WeCom's group robot takes 20 a minute (error 130101 beyond).
ROBOT_PER_MINUTE: Final = 20
RATE_WINDOW: Final = timedelta(minutes=1)

_KIND_ZH: Final = {"dust_exceedance": "扬尘超标", "road_dust": "道路扬尘",
                   "air_quality": "空气质量超标", "no_data": "数据中断"}
_EVENT_ZH: Final = {"raised": "新告警", "escalated": "超时升级", "assist": "请求协助",
                    "transfer": "转派", "closed": "已办结"}
_STAGE_ZH: Final = {"ack": "未在时限内确认", "close": "未在时限内办结"}
_COMPASS_ZH: Final = {"N": "北", "NE": "东北", "E": "东", "SE": "东南", "S": "南",
                      "SW": "西南", "W": "西", "NW": "西北"}
_OUTCOME_ZH: Final = {"resolved": "已处置", "false_alarm": "误报", "duplicate": "重复"}


@dataclass(frozen=True, slots=True)
class Channel:
    """One destination, as configured (`[[notify.channels]]`)."""

    name: str
    kind: ChannelKind
    url: str = field(repr=False)  # it holds the robot's token or key
    secret: str | None = field(default=None, repr=False)
    queues: frozenset[str] = frozenset()  # empty: every queue
    events: frozenset[str] = DEFAULT_EVENTS
    mention_mobiles: tuple[str, ...] = ()

    @property
    def per_minute(self) -> int | None:
        """The robot's limit a minute; None for a webhook (the receiver's own business)."""
        return None if self.kind == "webhook" else ROBOT_PER_MINUTE

    def wants(self, alert: Alert, event: Event, queue: str) -> bool:
        """Whether this channel hears of `event` of `alert`, whose incident it left in
        `queue`. A muted alert's raise is not announced (the silence says why); an assist
        is heard by the queue called in as well, a transfer by the queue it left."""
        name = event_name(event)
        if name is None or name not in self.events:
            return False
        if name == "raised" and alert.incident.muted:
            return False
        if not self.queues:
            return True
        involved = {queue, alert.incident.queue, str(event.data.get("queue", "")),
                    str(event.data.get("from", ""))}  # a transfer: the queue it left too
        return bool(self.queues & involved)


def event_name(event: Event) -> str | None:
    for name, kind in NOTIFY_EVENTS.items():
        if event.kind is kind:
            return name
    return None


@dataclass(frozen=True, slots=True)
class Notice:
    """What a channel is told of one event: made once, sent as often as it takes."""

    message_id: str  # "{alert_id}.{seq}": the same on every attempt, for receivers to dedupe
    alert_id: str
    event: str
    title: str
    text: str  # markdown, Chinese
    body: Mapping[str, Any]  # the webhook's JSON: the wire contract's alert and event


def notice(alert: Alert, event: Event, state: str, queue: str, tz: tzinfo,
           console_url: str) -> Notice:
    """The notice of `event` (one `NOTIFY_EVENTS` names), which left `alert` in `state`
    and `queue`."""
    name = event_name(event) or event.kind.value
    d = alert.description
    zone = d.get("zone") or {}
    site = zone.get("name") or alert.subject.removeprefix("station:")
    kind = _KIND_ZH.get(alert.kind, alert.kind)
    title = f"【{_EVENT_ZH.get(name, name)}】{site} {kind}"
    lines = [f"### {title}", ""]
    lines.append(f"- 站点：{site}（{alert.subject}）")
    lines.append(f"- 类型：{kind}，级别 {alert.incident.severity}")
    value, threshold, metric = d.get("value"), d.get("threshold"), d.get("metric")
    if value is not None:
        limit = f"，限值 {_num(threshold)}" if threshold is not None else ""
        lines.append(f"- 数值：{metric or ''} {_num(value)}{limit}")
    lines.append(f"- 队列：{queue}")
    if name == "escalated":
        stage = str(event.data.get("stage", ""))
        lines.append(f"- 升级：{_STAGE_ZH.get(stage, stage)}")
    elif name == "assist":
        lines.append(f"- {event.actor} 请 {event.data.get('queue', queue)} 协助")
    elif name == "transfer":
        lines.append(f"- {event.actor} 由 {event.data.get('from', '')} 转派至 {queue}")
    elif name == "closed":
        outcome = str(event.data.get("outcome", ""))
        lines.append(f"- 办结：{_OUTCOME_ZH.get(outcome, outcome)}，{event.actor}")
    drone = suggestion(d.get("drone_suggestion"))
    if drone:
        lines.append(f"- 无人机建议：{drone}")
    at = event.at.astimezone(tz)
    lines.append(f"- 时间：{at:%Y-%m-%d %H:%M:%S}")
    link = alert_link(console_url, alert.id)
    if link:
        lines += ["", f"[在控制台查看]({link})"]
    body = {
        "type": f"alert.{name}", "message_id": f"{alert.id}.{event.seq}",
        "alert": alert.to_json(tz), "event": event_json(event, state, queue, tz),
        "link": link or None,
    }
    return Notice(f"{alert.id}.{event.seq}", alert.id, name, title, "\n".join(lines), body)


def suggestion(s: Mapping[str, Any] | None) -> str:
    """"KY-UAV-01 向南 1.8 km" from the description's drone suggestion ("" without one)."""
    if not s:
        return ""
    direction = _COMPASS_ZH.get(str(s.get("direction")), str(s.get("direction")))
    return f"{s.get('drone')} 向{direction} {float(s.get('distance_m', 0)) / 1000:.1f} km"


def alert_link(console_url: str, alert_id: str) -> str:
    return f"{console_url.rstrip('/')}/alerts/{alert_id}" if console_url else ""


def _num(x: object) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def digest(notices: Sequence[Notice], tz_now: datetime) -> tuple[str, str]:
    """One message (title, markdown) standing for many: sent when a robot's minute is
    full, so that nothing waits behind its throttle and nothing is dropped."""
    title = f"【汇总】{len(notices)} 条告警通知"
    lines = [f"### {title}", "", f"（机器人每分钟限 {ROBOT_PER_MINUTE} 条，以下合并发送）", ""]
    for n in notices[:50]:
        lines.append(f"- {n.title}")
    if len(notices) > 50:
        lines.append(f"- ……另有 {len(notices) - 50} 条")
    lines.append(f"\n汇总时间：{tz_now:%Y-%m-%d %H:%M:%S}")
    return title, "\n".join(lines)


# -- retries ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Backoff:
    """When to try again: `first` × 2^(attempt-1), at most `cap`, each spread by up to
    ±`jitter` of itself (so that many rows failing together do not retry together)."""

    first: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    jitter: float = 0.2

    def delay(self, attempts: int, random: Callable[[], float]) -> timedelta:
        """The wait after the `attempts`-th failure; `random` returns [0, 1)."""
        base: timedelta = min(self.first * (2 ** min(max(attempts - 1, 0), 30)), self.cap)
        spread: float = 1 + self.jitter * (2 * random() - 1)
        return base * spread


# -- a robot's minute -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SendPlan:
    """What to send now: `single` notices one message each, then `folded` as one digest
    (empty: none); else wait until `wait_until` (None: nothing waits)."""

    single: tuple[int, ...]
    folded: tuple[int, ...]
    wait_until: datetime | None


def plan_sends(due: Sequence[int], sent_at: Sequence[datetime], now: datetime,
               limit: int | None) -> SendPlan:
    """How to send the `due` rows (ids, oldest first) to a channel that sent messages at
    `sent_at` and takes `limit` a minute (None: no limit).

    The last free slot of the minute is kept for a digest: while more are due than the
    slots left but one, the slots but one go to single messages and the rest are folded
    into one. So no minute ever carries more than `limit` messages, and a burst of any
    size costs at most `limit` of them."""
    if not due:
        return SendPlan((), (), None)
    if limit is None:
        return SendPlan(tuple(due), (), None)
    recent = sorted(t for t in sent_at if t > now - RATE_WINDOW)
    free = limit - len(recent)
    if free <= 0:
        return SendPlan((), (), recent[len(recent) - limit] + RATE_WINDOW)
    if len(due) <= free - 1:
        return SendPlan(tuple(due), (), None)
    singles = tuple(due[:free - 1])
    return SendPlan(singles, tuple(due[free - 1:]), None)


class ChannelBacklog(NamedTuple):
    """One channel's notifications at a glance: pending, the oldest pending's creation
    time (epoch s), those given up on lately, and the last error it answered."""

    channel: str
    pending: int
    oldest_pending: float | None
    dead: int
    last_error: str | None
