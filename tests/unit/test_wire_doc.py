"""docs/wire.md cannot drift from the code.

The convention, on the line just before a fenced block of the page:

- `<!-- example: config -->`: the block is TOML that is added to the shipped `config/`
  for the examples below (a vendor mapping), so it must load;
- `<!-- example: decode TOPIC -->`: `lantian decode --topic TOPIC` with the shipped
  `config/` accepts the block's text as payload and makes at least one record of it;
- `<!-- example: reject TOPIC CODE -->`: it rejects it, with that dead-letter code;
- `<!-- example: publish TOPIC -->`: the block is a message the service publishes on
  TOPIC: it has exactly the top-level fields (and nested objects' fields) that the code
  publishes there, and the page names every one of those fields.

Every ```json block of the page must carry one of these, so none escapes the checks.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
import pytest
from shapely.geometry import box

from dispatch import AlertTopics, Deadlines, Dispatcher, Router
from dispatch._lifecycle import Ack, Close, Outcome, Verify
from dispatch._outbox import Outbox
from dispatch._sqlite import SqliteStore
from dispatch._sqlite_outbox import SqliteOutbox
from dispatch.flights import DockFlight, Flights
from ingest import InboundTopics
from ingest._deadletters import DeadLetter
from lantian.cli import main as lantian
from lantian.config import load_settings
from rules.geo import Zone
from rules.records import Location
from rules.signals import Action, AlertSignal, DroneSuggestion, Evidence
from tests.support import REPO

DOC: Final = REPO / "docs" / "wire.md"
TEXT: Final = DOC.read_text(encoding="utf-8")
_MARKED_BLOCK: Final = re.compile(
    r"^(?:<!-- example: (?P<marker>[^>]*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


def _examples() -> list[tuple[str, list[str], str]]:
    """(verb, arguments, body) of each marked block; unmarked ```json blocks as ("", ...)."""
    found = []
    for m in _MARKED_BLOCK.finditer(TEXT):
        if m["marker"] is None:
            if m["lang"] == "json":
                found.append(("", [], m["body"]))
            continue
        verb, *args = m["marker"].split()
        found.append((verb, args, m["body"]))
    return found


EXAMPLES: Final = _examples()


def _cases(verb: str) -> list[Any]:
    return [pytest.param(args, body, id=args[0]) for v, args, body in EXAMPLES if v == verb]


def test_every_json_block_is_a_checked_example() -> None:
    assert [body[:60] for verb, _, body in EXAMPLES if verb == ""] == []
    assert {verb for verb, _, _ in EXAMPLES} == {"config", "decode", "reject", "publish", "webhook"}


def _config(tmp_path: Path) -> Path:
    """The shipped config with the page's config blocks added."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    with (config / "lantian.toml").open("a", encoding="utf-8") as toml:
        for verb, _, body in EXAMPLES:
            if verb == "config":
                toml.write("\n" + body)
    return config


def _decode(topic: str, body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
            ) -> tuple[int, dict[str, Any]]:
    payload = tmp_path / "payload"
    # a text block is one line of the page; on the wire it has no trailing newline
    payload.write_bytes(body.rstrip("\n").encode())
    status = lantian(["--config", str(_config(tmp_path)), "decode", "--topic", topic,
                      "--file", str(payload)])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status, out


@pytest.mark.parametrize(("args", "body"), _cases("decode"))
def test_inbound_examples_decode_with_the_shipped_config(
    args: list[str], body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _decode(args[0], body, tmp_path, capsys)
    assert (status, out.get("rejected"), out.get("reason")) == (0, None, None)
    assert out["records"]


@pytest.mark.parametrize(("args", "body"), _cases("reject"))
def test_rejected_examples_are_rejected_with_their_code(
    args: list[str], body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _decode(args[0], body, tmp_path, capsys)
    assert (status, out["rejected"]) == (1, args[1])


def test_the_page_covers_every_inbound_topic(tmp_path: Path) -> None:
    decoded = {args[0] for verb, args, _ in EXAMPLES if verb == "decode"}
    topics = load_settings(_config(tmp_path)).topics
    routes = {topics.address(topic).kind for topic in decoded}  # type: ignore[union-attr]
    assert routes == set(InboundTopics().enabled)
    for subscription in InboundTopics().subscriptions():
        assert f"`{subscription}`" in TEXT


# -- outbound: what the code publishes, for a raise, a sweep, an acknowledgement and a close

SH: Final = ZoneInfo("Asia/Shanghai")
T0: Final = datetime(2026, 6, 12, 7, 1, tzinfo=SH)


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        assert qos == 1
        self.sent.append((topic, orjson.loads(payload)))
        return len(self.sent)


_DOCK: Final = "7CTDM3D00BVY4B"


def _published() -> dict[str, list[dict[str, Any]]]:
    """Messages by topic, with alert ids in topics written `*`."""
    now = [T0]
    wire = _Recorder()
    store = SqliteStore(":memory:", tz=SH)
    outbox = Outbox(SqliteOutbox(store), lambda: now[0], broker=wire)
    flights = Flights({_DOCK: DockFlight(_DOCK, "KY-UAV-01", enabled=True)}, store, outbox,
                      lambda: now[0])
    dispatcher = Dispatcher(
        store=store, router=Router((), "blue_sky"),
        queues={"blue_sky": Deadlines()}, topics=AlertTopics("lantian"), clock=lambda: now[0],
        tz=SH, outbox=outbox, new_id=lambda: "a1", flights=flights,
    )
    flights.recorder = dispatcher
    site = Zone("cs-01", "工地", "construction_site", box(120.50, 30.02, 120.51, 30.03),
                "KY-G-022")
    dispatcher.receive([AlertSignal(
        action=Action.RAISE, rule="site-pm10-15min", kind="dust_exceedance",
        subject="station:KY-CS-001", at=T0, severity="major",
        location=Location(30.0278, 120.5026), zone=site, zones=(site,), grid="KY-G-022",
        metric="pm10", value=170.0, threshold=150.0, window_s=900,
        evidence=Evidence(readings=((T0, 170.0),)),
        drone_suggestion=DroneSuggestion("KY-UAV-01", 1810.0, 178.0, "S", 181.0, T0,
                                         Location(30.044, 120.501)),
    )])
    now[0] += timedelta(minutes=6)
    dispatcher.sweep()
    dispatcher.command("a1", Ack("李值班"))
    dispatcher.command("a1", Verify("李值班", "KY-UAV-01"))  # a dock's drone: the request
    flights.handle(f"thing/product/{_DOCK}/events", orjson.dumps({  # answered: events_reply
        "tid": "t", "bid": "b", "method": "takeoff_to_point_progress", "need_reply": 1,
        "data": {"result": 0, "status": "wayline_progress", "flight_id": "b"}}))
    dispatcher.command("a1", Close("李值班", Outcome.RESOLVED, "工地已洒水降尘"))
    letter = DeadLetter("lantian/sensors/KY-CS-001/reading", "missing_field",
                        'field "ts" is missing', b"{}", T0)
    by_topic: dict[str, list[dict[str, Any]]] = {
        "lantian/deadletter": [orjson.loads(letter.to_json())]
    }
    for topic, body in wire.sent:
        by_topic.setdefault(topic.replace("/a1/", "/*/"), []).append(body)
    return by_topic


PUBLISHED: Final = _published()
#: fields whose content depends on the rule or the step, not on the wire format
_FREE_FORM: Final = frozenset({"detail", "evidence", "data"})


def _shape(topic: str) -> str:
    return re.sub(r"^lantian/alerts/[^/]+/events$", "lantian/alerts/*/events", topic)


def test_every_outbound_topic_has_an_example() -> None:
    shown = {_shape(args[0]) for verb, args, _ in EXAMPLES if verb == "publish"}
    assert shown == {"lantian/queues/blue_sky/alerts", "lantian/alerts/*/events",
                     "lantian/escalations", "lantian/deadletter",
                     f"thing/product/{_DOCK}/services", f"thing/product/{_DOCK}/events_reply"}
    assert shown == set(PUBLISHED)


@pytest.mark.parametrize(("args", "body"), _cases("publish"))
def test_outbound_examples_have_the_fields_the_code_publishes(
    args: list[str], body: str
) -> None:
    example = json.loads(body)
    for real in PUBLISHED[_shape(args[0])]:
        assert sorted(example) == sorted(real)
        for key, value in real.items():
            assert f"`{key}`" in TEXT, f"field {key!r} is not described"
            if isinstance(value, dict) and isinstance(example[key], dict) \
                    and key not in _FREE_FORM:
                assert sorted(example[key]) == sorted(value), key


# -- the webhook notification: what the code sends a webhook channel for a raise

def _webhook_body() -> dict[str, Any]:
    from dispatch._deliveries import Notifier
    from dispatch._notify import Channel
    from dispatch._sqlite_deliveries import SqliteDeliveries

    store = SqliteStore(":memory:", tz=SH)
    site = Zone("cs-01", "工地", "construction_site", box(120.50, 30.02, 120.51, 30.03),
                "KY-G-022")
    Dispatcher(
        store=store, router=Router((), "blue_sky"), queues={"blue_sky": Deadlines()},
        topics=AlertTopics("lantian"), clock=lambda: T0, tz=SH, new_id=lambda: "a1",
        notifications=Notifier(SqliteDeliveries(store),
                               [Channel("hook", "webhook", "https://x.example/")], SH,
                               "https://console.example", lambda: T0),
    ).receive([AlertSignal(
        action=Action.RAISE, rule="site-pm10-15min", kind="dust_exceedance",
        subject="station:KY-CS-001", at=T0, severity="major",
        location=Location(30.0278, 120.5026), zone=site, zones=(site,), grid="KY-G-022",
        metric="pm10", value=170.0, threshold=150.0, window_s=900,
        evidence=Evidence(readings=((T0, 170.0),)),
        drone_suggestion=DroneSuggestion("KY-UAV-01", 1810.0, 178.0, "S", 181.0, T0,
                                         Location(30.044, 120.501)),
    )])
    (body,) = store.connection.execute("SELECT body FROM notifications").fetchone()
    out: dict[str, Any] = orjson.loads(body)
    return out


@pytest.mark.parametrize(("args", "body"), _cases("webhook"))
def test_the_webhook_example_has_the_fields_the_code_sends(args: list[str], body: str) -> None:
    example, real = json.loads(body), _webhook_body()
    assert sorted(example) == sorted(real)
    for key in real:
        assert f"`{key}`" in TEXT, f"field {key!r} is not described"
    for part in ("alert", "event"):
        assert sorted(example[part]) == sorted(real[part]), part
    assert example["alert"]["drone_suggestion"] == real["alert"]["drone_suggestion"]
