"""The [notify] section: channels load as configured, every mistake names the file, the key
and the problem, secrets come from the environment and never appear in an error."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from lantian.config import ConfigError, load_settings
from tests.support import REPO

CHANNELS = """
[notify]
console_url = "https://lantian.example.gov.cn/console"
dead_after_s = 600
[[notify.channels]]
name = "blue-sky-group"
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=robot-token-1234"
secret = "SECdingtalksecret-5678"
queues = ["blue_sky"]
events = ["raised", "escalated", "closed"]
mention_mobiles = ["13800000000"]
[[notify.channels]]
name = "supervisors"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-key-9999"
events = ["escalated"]
[[notify.channels]]
name = "district"
kind = "webhook"
url = "https://platform.example/lantian"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    d = tmp_path / "config"
    shutil.copytree(REPO / "config", d)
    return d


def with_notify(cfg: Path, text: str = CHANNELS) -> Path:
    p = cfg / "lantian.toml"
    p.write_text(p.read_text() + text)
    return cfg


def problem(cfg: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg, env)
    return str(exc.value)


def test_no_section_no_channels(cfg: Path) -> None:
    assert load_settings(cfg).notify.channels == ()


def test_channels_load_as_configured(cfg: Path) -> None:
    n = load_settings(with_notify(cfg)).notify
    robot, supervisors, district = n.channels
    assert (robot.name, robot.kind, robot.queues, robot.events, robot.mention_mobiles) == (
        "blue-sky-group", "dingtalk", {"blue_sky"}, {"raised", "escalated", "closed"},
        ("13800000000",))
    assert supervisors.events == {"escalated"} and supervisors.queues == frozenset()
    assert district.events == {"raised", "escalated"}  # the default
    assert n.console_url == "https://lantian.example.gov.cn/console"
    assert n.dead_after == timedelta(minutes=10)


@pytest.mark.parametrize(("old", "new", "says"), [
    ('kind = "wecom"', 'kind = "feishu"', "notify.channels.1.kind: Input should be"),
    ('queues = ["blue_sky"]', 'queues = ["green"]',
     "notify.channels[0] (blue-sky-group).queues: no queue 'green'"),
    ('events = ["escalated"]', 'events = ["acknowledged"]', "notify.channels.1.events.0"),
    ('events = ["escalated"]', "events = []", "notify.channels.1.events"),
    ('name = "supervisors"', 'name = "blue-sky-group"', "a second channel of this name"),
    ('url = "https://platform.example/lantian"', 'url = "ftp://platform.example/"',
     "notify.channels[2] (district).url: expected an http:// or https:// URL"),
    ('mention_mobiles = ["13800000000"]', 'mention_mobiles = ["call me"]',
     "notify.channels.0.mention_mobiles.0"),
    ('events = ["escalated"]', 'events = ["escalated"]\nsecret = "SECnope"',
     "notify.channels[1] (supervisors).secret: a WeCom robot has no secret"),
    ('secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"', 'secret = "whsec_not base64!"',
     "must be Base64"),
    ("dead_after_s = 600", "dead_after_s = 600\nretries = 3", "notify.retries: unknown key"),
    ("dead_after_s = 600", "dead_after_s = 0", "notify.dead_after_s"),
])
def test_mistakes_name_the_key(cfg: Path, old: str, new: str, says: str) -> None:
    assert old in CHANNELS
    message = problem(with_notify(cfg, CHANNELS.replace(old, new, 1)))
    assert "lantian.toml" in message and says in message


def test_secrets_come_from_the_environment(cfg: Path) -> None:
    text = CHANNELS.replace('secret = "SECdingtalksecret-5678"\n', "")
    n = load_settings(with_notify(cfg, text), {
        "LANTIAN_NOTIFY_BLUE_SKY_GROUP_SECRET": "SECfromtheenvironment",
        "LANTIAN_NOTIFY_SUPERVISORS_URL": "https://qyapi.weixin.qq.com/x?key=from-env-key",
    }).notify
    assert n.channels[0].secret == "SECfromtheenvironment"
    assert n.channels[1].url == "https://qyapi.weixin.qq.com/x?key=from-env-key"


def test_no_error_shows_a_robot_token_key_or_secret(cfg: Path) -> None:
    broken = CHANNELS.replace("dead_after_s = 600", "dead_after_s = -1")
    message = problem(with_notify(cfg, broken.replace('kind = "wecom"', 'kind = "x"')))
    for secret in ("robot-token-1234", "SECdingtalksecret-5678", "wecom-key-9999",
                   "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"):
        assert secret not in message
    bad_url = CHANNELS.replace("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=",
                               "qyapi.weixin.qq.com/?key=")
    message = problem(_fresh(cfg, bad_url))
    assert "supervisors" in message and "wecom-key-9999" not in message
    env_secret = "https://qyapi.weixin.qq.com/x?key=env-key-777"
    message = problem(_fresh(cfg, CHANNELS.replace('kind = "wecom"', 'kind = "y"')),
                      {"LANTIAN_NOTIFY_SUPERVISORS_URL": env_secret})
    assert "env-key-777" not in message


def _fresh(cfg: Path, text: str) -> Path:
    d = cfg.parent / f"c{abs(hash(text)) % 10**8}"
    shutil.copytree(REPO / "config", d)
    return with_notify(d, text)
