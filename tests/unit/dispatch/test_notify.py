"""Notifications, the pure parts: who hears what, the Chinese message, the wire formats and
their signatures (against values computed independently, with openssl), the answers'
meaning, the backoff and a robot's minute."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import orjson
import pytest

from dispatch._alert import Alert
from dispatch._channels import (
    THROTTLE_WAIT,
    Message,
    classify,
    dingtalk_sign,
    request,
    webhook_signature,
)
from dispatch._lifecycle import Event, EventKind, Incident, State
from dispatch._notify import (
    ROBOT_PER_MINUTE,
    Backoff,
    Channel,
    notice,
    plan_sends,
    suggestion,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 10, 0, tzinfo=SH)


def alert(queue: str = "blue_sky", muted: bool = False) -> Alert:
    return Alert(
        incident=Incident("a1", queue=queue, raised_at=T0, state=State.DISPATCHED,
                          muted=muted, severity="major", seq=2),
        rule="site-pm10-15min", subject="station:KY-CS-001", kind="dust_exceedance",
        zone="cs-01", grid="KY-G-022", ack_by=T0 + timedelta(minutes=5),
        close_by=T0 + timedelta(minutes=30),
        description={"zone": {"id": "cs-01", "name": "柯桥工地一号", "kind": "construction_site",
                              "grid": "KY-G-022"},
                     "metric": "pm10", "value": 170.0, "threshold": 150.0,
                     "drone_suggestion": {"drone": "KY-UAV-01", "distance_m": 1810,
                                          "bearing_deg": 178, "direction": "S", "eta_s": 181}},
    )


def event(kind: EventKind, seq: int = 1, **data: object) -> Event:
    return Event("a1", seq, kind, T0, "rules", data)


ROBOT = Channel("blue-sky-group", "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t",
                "SECtestsecret0123456789", frozenset({"blue_sky"}),
                mention_mobiles=("13800000000",))


# -- who hears what ---------------------------------------------------------------------

def test_a_channel_hears_its_events_of_its_queues() -> None:
    raised = event(EventKind.RAISED, queue="blue_sky")
    assert ROBOT.wants(alert(), raised, "blue_sky")
    law = event(EventKind.RAISED, queue="law_enforcement")
    assert not ROBOT.wants(alert("law_enforcement"), law, "law_enforcement")
    assert not ROBOT.wants(alert(), event(EventKind.CLOSED, outcome="resolved"), "blue_sky")
    assert not ROBOT.wants(alert(), event(EventKind.ACKNOWLEDGED), "blue_sky")
    everyone = Channel("all", "webhook", "https://x.example/hook", events=frozenset(
        {"raised", "closed"}))
    assert everyone.wants(alert("law_enforcement"), raised, "law_enforcement")
    assert everyone.wants(alert(), event(EventKind.CLOSED, outcome="resolved"), "blue_sky")


def test_a_muted_raise_is_not_announced_and_an_assist_reaches_the_queue_called_in() -> None:
    assert not ROBOT.wants(alert(muted=True), event(EventKind.RAISED), "blue_sky")
    law = Channel("law", "wecom", "https://qyapi.weixin.qq.com/x?key=k",
                  queues=frozenset({"law_enforcement"}), events=frozenset({"assist"}))
    assist = event(EventKind.ASSIST, queue="law_enforcement")
    assert law.wants(alert(), assist, "blue_sky")


def test_escalations_go_to_the_channels_that_list_them() -> None:
    supervisors = Channel("supervisors", "dingtalk", "https://d.example/robot",
                          events=frozenset({"escalated"}))
    escalated = event(EventKind.ESCALATED, stage="ack")
    assert supervisors.wants(alert(), escalated, "blue_sky")
    assert not supervisors.wants(alert(), event(EventKind.RAISED), "blue_sky")


# -- the message ------------------------------------------------------------------------

def test_the_message_is_chinese_with_site_kind_value_queue_drone_time_and_link() -> None:
    n = notice(alert(), event(EventKind.RAISED, queue="blue_sky"), "dispatched", "blue_sky",
               SH, "https://console.example/")
    assert n.message_id == "a1.1" and n.event == "raised"
    assert n.title == "【新告警】柯桥工地一号 扬尘超标"
    for part in ("柯桥工地一号", "扬尘超标", "170", "限值 150", "blue_sky",
                 "KY-UAV-01 向南 1.8 km", "2026-06-12 10:00:00",
                 "(https://console.example/alerts/a1)"):
        assert part in n.text, part
    assert n.body["type"] == "alert.raised"
    assert n.body["alert"]["id"] == "a1" and n.body["event"]["seq"] == 1
    assert n.body["event"]["state"] == "dispatched"


def test_an_escalation_says_which_deadline_passed() -> None:
    n = notice(alert(), event(EventKind.ESCALATED, 3, stage="ack"), "dispatched", "blue_sky",
               SH, "")
    assert n.title.startswith("【超时升级】") and "未在时限内确认" in n.text
    assert "控制台" not in n.text  # no console URL configured: no link


def test_no_suggestion_no_drone_line() -> None:
    assert suggestion(None) == ""
    assert suggestion({"drone": "KY-UAV-02", "distance_m": 950, "direction": "NE"}) == (
        "KY-UAV-02 向东北 0.9 km")


# -- signatures -------------------------------------------------------------------------

def test_dingtalk_sign_matches_an_independent_computation() -> None:
    # printf '1700000000000\nSECtestsecret0123456789' | openssl dgst -sha256
    #   -hmac 'SECtestsecret0123456789' -binary | base64
    expected = "zrLWzK97t62y5CpqN8Ok9UIdPvX%2BjL1PNoW8nKT5a9k%3D"
    assert dingtalk_sign("SECtestsecret0123456789", 1_700_000_000_000) == expected


def test_the_dingtalk_request_is_signed_markdown_with_mentions() -> None:
    r = request(ROBOT, Message("a1.1", "标题", "正文", b"{}"), 1_700_000_000_000)
    query = parse_qs(urlsplit(r.url).query)
    assert query["access_token"] == ["t"] and query["timestamp"] == ["1700000000000"]
    mac = hmac.new(b"SECtestsecret0123456789", b"1700000000000\nSECtestsecret0123456789",
                   hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(mac).decode()]
    body = orjson.loads(r.content)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "标题"
    assert body["at"]["atMobiles"] == ["13800000000"]
    assert "@13800000000" in body["markdown"]["text"]  # DingTalk wants it in the text too


def test_standard_webhooks_signature_matches_the_specification_vector() -> None:
    # the Standard Webhooks reference vector; checked with openssl dgst -mac HMAC
    sig = webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                            "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                            b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_webhook_request_carries_the_id_timestamp_and_signature() -> None:
    hook = Channel("district", "webhook", "https://platform.example/in",
                   "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    r = request(hook, Message("a1.1", "t", "x", b'{"a":1}'), 1_614_265_330_500)
    headers = dict(r.headers)
    assert headers["webhook-id"] == "a1.1" and headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-signature"] == webhook_signature(
        hook.secret or "", "a1.1", 1614265330, b'{"a":1}')
    assert r.content == b'{"a":1}'


def test_the_wecom_request_is_markdown_with_mobiles() -> None:
    wecom = Channel("g", "wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                    mention_mobiles=("13900000000",))
    body = orjson.loads(request(wecom, Message("a1.1", "t", "正文", b"{}"), 0).content)
    assert body == {"msgtype": "markdown", "markdown": {
        "content": "正文", "mentioned_mobile_list": ["13900000000"]}}


# -- what the answers mean --------------------------------------------------------------

@pytest.mark.parametrize(("kind", "status", "body", "result"), [
    ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', "delivered"),
    ("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}', "rejected"),
    ("dingtalk", 200, b'{"errcode":-1,"errmsg":"busy"}', "retry"),
    ("dingtalk", 502, b"", "retry"),
    ("dingtalk", 200, b"<html>", "retry"),
    ("wecom", 200, b'{"errcode":130101,"errmsg":"freq limit"}', "retry"),
    ("wecom", 200, b'{"errcode":93000,"errmsg":"invalid webhook url"}', "rejected"),
    ("webhook", 204, b"", "delivered"),
    ("webhook", 500, b"", "retry"),
    ("webhook", 429, b"", "retry"),
    ("webhook", 400, b"bad", "rejected"),
])
def test_answers_are_classified(kind: str, status: int, body: bytes, result: str) -> None:
    channel = Channel("c", kind, "https://x.example/")  # type: ignore[arg-type]
    assert classify(channel, status, body).result == result


def test_a_throttled_robot_is_left_alone_for_its_minute() -> None:
    wecom = Channel("g", "wecom", "https://x.example/")
    outcome = classify(wecom, 200, b'{"errcode":130101,"errmsg":"freq limit"}')
    assert outcome.retry_after == THROTTLE_WAIT >= timedelta(minutes=1)


# -- retries ----------------------------------------------------------------------------

def test_backoff_doubles_to_its_cap_with_bounded_jitter() -> None:
    b = Backoff(timedelta(seconds=2), timedelta(minutes=5), jitter=0.2)
    middle = [b.delay(n, lambda: 0.5) for n in range(1, 10)]
    assert middle[:4] == [timedelta(seconds=s) for s in (2, 4, 8, 16)]
    assert max(middle) == timedelta(minutes=5) == middle[-1]
    assert b.delay(3, lambda: 0.0) == timedelta(seconds=8 * 0.8)
    assert b.delay(3, lambda: 0.999999) < timedelta(seconds=8 * 1.2)
    assert b.delay(10_000, lambda: 0.5) == timedelta(minutes=5)  # no overflow


# -- a robot's minute -------------------------------------------------------------------

def test_a_burst_of_30_is_19_messages_and_one_digest() -> None:
    plan = plan_sends(list(range(30)), [], T0, ROBOT_PER_MINUTE)
    assert plan.single == tuple(range(19)) and plan.folded == tuple(range(19, 30))


def test_what_fits_goes_one_by_one_and_a_full_minute_waits() -> None:
    assert plan_sends([1, 2], [T0] * 5, T0, 20).single == (1, 2)
    sent = [T0 + timedelta(seconds=s) for s in range(20)]
    now = T0 + timedelta(seconds=30)
    full = plan_sends([7], sent, now, 20)
    assert full.single == full.folded == () and full.wait_until == T0 + timedelta(minutes=1)
    later = plan_sends([7], sent, T0 + timedelta(seconds=61), 20)
    assert later.folded == (7,) or later.single == (7,)
    assert plan_sends([1, 2, 3], [], T0, None).single == (1, 2, 3)  # a webhook: no limit


def test_no_minute_ever_carries_more_than_the_limit() -> None:
    """Alerts trickling in one a second for five minutes, each round sending what the
    plan allows: every sliding minute holds at most 20 messages, and every alert went."""
    sent: list[datetime] = []
    pending: list[int] = []
    covered: set[int] = set()
    for second in range(300 + 120):
        now = T0 + timedelta(seconds=second)
        if second < 300:
            pending += [second * 3, second * 3 + 1, second * 3 + 2]  # 180 a minute
        plan = plan_sends(pending, sent, now, 20)
        for i in plan.single:
            sent.append(now)
            covered.add(i)
        if plan.folded:
            sent.append(now)
            covered.update(plan.folded)
        pending = [i for i in pending if i not in covered]
        window = [t for t in sent if now - timedelta(minutes=1) < t <= now]
        assert len(window) <= 20
    assert covered == set(range(900)) and not pending


def test_a_transfer_is_heard_by_the_queue_it_left_and_the_one_it_went_to() -> None:
    moved = event(EventKind.TRANSFERRED, 3, queue="law_enforcement", **{"from": "blue_sky"})
    moved = Event(moved.alert_id, moved.seq, moved.kind, moved.at, "李值班", moved.data)
    blue = Channel("blue", "dingtalk", "https://d.example/", queues=frozenset({"blue_sky"}),
                   events=frozenset({"transfer"}))
    law = Channel("law", "wecom", "https://w.example/", queues=frozenset({"law_enforcement"}),
                  events=frozenset({"transfer"}))
    after = alert("law_enforcement")
    assert blue.wants(after, moved, "law_enforcement")
    assert law.wants(after, moved, "law_enforcement")
    n = notice(after, moved, "dispatched", "law_enforcement", SH, "")
    assert "李值班 由 blue_sky 转派至 law_enforcement" in n.text
