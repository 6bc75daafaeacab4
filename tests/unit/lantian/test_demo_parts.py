"""The demo's pure parts: what a duty officer does next, the config it writes, the
packets its devices send."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from typing import Any

import pytest

from ingest import Decoded
from ingest._hj212 import decode_hj212
from lantian.config import load_settings
from lantian.demo import _story as story
from lantian.demo._config import override_toml
from lantian.demo._devices import hj212_packet
from lantian.demo._officers import Do, Done, LookAt, next_move, request_for
from tests.support import REPO

RAISED = story.at(7, 1, 5)
ACK = story.Step(after_s=120, officer="blue_sky", command="ack")
VERIFY = story.Step(after_s=180, officer="blue_sky", command="verify")
CLOSE = story.Step(after_s=600, officer="law_enforcement", command="close",
                   needs="on_scene", wait_s=900, note="现场处置")
STEPS = (ACK, VERIFY, CLOSE)


def alert(state: str = "dispatched", **kw: Any) -> dict[str, Any]:
    return {"state": state, "raised_at": RAISED.isoformat(), "acknowledged_at": None,
            "drone": None, "assists": [], "queue": "blue_sky", **kw}


@pytest.mark.parametrize(
    ("a", "minutes", "move"),
    [
        pytest.param(alert(), 1, LookAt(RAISED + timedelta(seconds=120)), id="not yet due"),
        pytest.param(alert(), 2, Do(0, ACK), id="ack when due"),
        pytest.param(alert("acknowledged", acknowledged_at="x"), 3, Do(1, VERIFY),
                     id="ack already taken: verify"),
        pytest.param(alert("verifying", acknowledged_at="x", drone="KY-UAV-01"), 10,
                     LookAt(RAISED + timedelta(minutes=10, seconds=30)),
                     id="close waits for on scene"),
        pytest.param(alert("verifying", acknowledged_at="x", drone="KY-UAV-01"), 26,
                     Do(2, CLOSE), id="until the wait runs out"),
        pytest.param(alert("on_scene", acknowledged_at="x", drone="KY-UAV-01"), 10,
                     Do(2, CLOSE), id="close once on scene"),
        pytest.param(alert("closed"), 10, Done(), id="closed: nothing more"),
    ],
)
def test_next_move(a: dict[str, Any], minutes: float, move: object) -> None:
    got = next_move(STEPS, a, RAISED + timedelta(minutes=minutes))
    if isinstance(move, LookAt):
        assert isinstance(got, LookAt)
        assert got.at <= move.at  # a recheck may come sooner than the give-up time
    else:
        assert got == move


def test_requests_name_the_officer_and_the_receipt() -> None:
    path, body = request_for(CLOSE)
    assert (path, body["actor"], body["outcome"], body["note"]) == (
        "close", story.LAW_OFFICER, "resolved", "现场处置")
    assert request_for(VERIFY, "KY-UAV-02") == (
        "verify", {"actor": story.BLUE_SKY_OFFICER, "drone": "KY-UAV-02"})


def test_override_toml_replaces_inserts_and_appends() -> None:
    text = '[dispatch]\nsweep_s = 15   # how often\n\n[[dispatch.routes]]\nqueue = "x"\n'
    out = override_toml(text, {("dispatch", "sweep_s"): 0.5,
                               ("dispatch", "default_queue"): "blue_sky",
                               ("store", "url"): "sqlite:///tmp/d.sqlite"})
    doc = tomllib.loads(out)
    assert doc["dispatch"]["sweep_s"] == 0.5
    assert doc["dispatch"]["default_queue"] == "blue_sky"
    assert doc["dispatch"]["routes"] == [{"queue": "x"}]  # the array table is untouched
    assert doc["store"]["url"] == "sqlite:///tmp/d.sqlite"


@pytest.mark.parametrize("lowercase", [False, True], ids=["upper-case CRC", "lower-case CRC"])
def test_the_demo_monitors_packets_decode_as_the_service_decodes_them(lowercase: bool) -> None:
    ctx = load_settings(REPO / "config").decode
    packet = hj212_packet("33060300KY0003", RAISED, {"pm10": 187.0, "tsp": 320.0},
                          lowercase_crc=lowercase)
    result = decode_hj212(packet, ctx)
    assert isinstance(result, Decoded), result
    [reading] = result.records
    assert reading.station == "KY-CS-003"
    assert reading.deviations == ()  # lower-case CRC hex conforms: nothing to allow
    assert {k: v.value for k, v in reading.values.items()} == {"pm10": 187.0, "tsp": 320.0}
    assert reading.ts == RAISED.replace(microsecond=0)
