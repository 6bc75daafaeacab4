"""`lantian alerts ...` and `lantian report ...`, run as an officer would, against the real
service on a real Mosquitto with the shipped rules and an injected clock: the CLI shows
what the API holds, acts through it, and prints its refusals without a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dispatch._figures import GroupBy
from dispatch._lifecycle import Outcome, State
from lantian import client
from tests.integration.conftest import DOCK, Deployment, start_deployment
from tests.support import REPO, Broker, free_port

pytestmark = pytest.mark.integration

BLUE_SKY = "demo-blue-sky-officer-token"
BUREAU = "demo-environment-bureau-token"

@dataclass
class Office(Deployment):
    """A deployment seen from a duty officer's shell."""

    def drone_at_dock(self) -> None:
        self.position(*DOCK, seconds_ago=30)

    def alert_for(self, station: str) -> dict[str, Any]:
        return self.open_alert(station)

    def user(self, name: str, display_name: str, queue: str = "blue_sky") -> str:
        """A named officer added with `lantian users` (while the service runs), and
        their personal token."""
        added = lantian("--config", str(self.config), "users", "add", name, "--role",
                        "officer", "--queue", queue, "--name", display_name,
                        stdin="correct horse battery\n")
        assert added.returncode == 0, added.stderr
        made = lantian("--config", str(self.config), "users", "token", name)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip()

    def cli(self, *args: str, token: str | None = BLUE_SKY) -> subprocess.CompletedProcess[str]:
        """`lantian --config <this office> ...`: the URL comes from the config dir, the
        token from $LANTIAN_TOKEN, as an officer would set them up."""
        return lantian("--config", str(self.config), *args, token=token)


def lantian(
    *args: str, token: str | None = None, stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    # the caller's own LANTIAN_* and colour settings must not leak into what is tested
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LANTIAN_") and k not in ("FORCE_COLOR", "COLUMNS")}
    if token is not None:
        env["LANTIAN_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "lantian", *args], capture_output=True, text=True,
        encoding="utf-8", cwd=REPO, env=env, timeout=60, input=stdin,
    )


def row_of(output: str, alert_id: str) -> str:
    (row,) = [line for line in output.splitlines() if alert_id in line]
    return row


def shown_fields(output: str) -> dict[str, str]:
    """The label/value block of `alerts show`, between the title and the event log."""
    lines = output.splitlines()
    block = lines[1:lines.index("")]
    return dict(re.split(r"\s{2,}", line, maxsplit=1) for line in block)


def event_rows(output: str) -> list[list[str]]:
    """The event log of `alerts show`: the rows under its title, header and rule."""
    lines = output.splitlines()
    return [line.split() for line in lines[lines.index("events") + 3:]]


@pytest.fixture
def office(tmp_path: Path, broker: Broker) -> Iterator[Office]:
    d = start_deployment(tmp_path, broker)
    office = Office(d.config, d.clock, d.broker, d.service)
    yield office
    office.service.stop()


def test_list_shows_the_alert_with_its_drone_suggestion(office: Office) -> None:
    office.drone_at_dock()
    office.fume("KY-CS-001")
    aid = office.alert_for("KY-CS-001")["id"]

    done = office.cli("alerts", "list")
    assert done.returncode == 0, done.stderr
    assert row_of(done.stdout, aid).split() == [
        aid, "2026-06-12", "10:00", "blue_sky", "dispatched", "major", "dust_exceedance",
        "cs-01", "pm10", "170", "/", "150", "S", "1.8", "km",
    ]

    as_json = office.cli("alerts", "list", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [a["id"] for a in json.loads(as_json.stdout)["alerts"]] == [aid]

    # the filters reach the API: no closed alert yet, and none in another zone
    for filters in (("--state", "closed"), ("--zone", "cs-02"), ("--since", "2026-06-13")):
        done = office.cli("alerts", "list", *filters)
        assert (done.returncode, done.stdout.strip()) == (0, "no alerts match"), filters


def test_show_prints_the_alert_and_its_event_log(office: Office) -> None:
    office.drone_at_dock()
    office.fume("KY-CS-001")
    aid = office.alert_for("KY-CS-001")["id"]

    done = office.cli("alerts", "show", aid)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"alert {aid}"
    fields = shown_fields(done.stdout)
    assert fields["state"] == "dispatched"
    assert fields["suggested drone"] == "KY-UAV-01, S 1.8 km, ETA 3 min"
    assert fields["value / limit"] == "pm10 170 / 150 over 900 s"
    assert fields["raised"] == "2026-06-12 10:00:00"
    assert fields["zone"].startswith("cs-01 ")
    assert [row[:5] for row in event_rows(done.stdout)] == [
        ["1", "2026-06-12", "10:00:00", "raised", "rules"],
        ["2", "2026-06-12", "10:00:00", "dispatched", "system"],
    ]

    as_json = office.cli("alerts", "show", aid, "--json")
    assert [e["kind"] for e in json.loads(as_json.stdout)["events"]] == ["raised", "dispatched"]


def test_ack_then_close_changes_the_state_and_ack_after_close_is_refused(
    office: Office,
) -> None:
    office.fume("KY-CS-001")
    aid = office.alert_for("KY-CS-001")["id"]

    li, wang = office.user("li", "李值班"), office.user("wang", "王执法")
    office.clock.advance(minutes=3)
    # each officer signs with their own token: what --actor says is ignored
    done = office.cli("alerts", "ack", aid, "--actor", "someone else", token=li)
    assert (done.returncode, done.stdout) == (
        0, f"alert {aid}: acknowledged (state acknowledged, queue blue_sky)\n"), done.stderr
    shown = json.loads(office.cli("alerts", "show", aid, "--json").stdout)
    assert (shown["state"], shown["acknowledged_at"]) == (
        "acknowledged", "2026-06-12T10:03:00+08:00")
    again = office.cli("alerts", "ack", aid)  # a repeat is harmless, and says so
    assert again.stdout == f"alert {aid}: nothing to do (state acknowledged, queue blue_sky)\n"

    office.clock.advance(minutes=17)
    note = "现场洒水降尘 [已覆盖裸土]"  # brackets: rich markup must not eat them
    done = office.cli("alerts", "close", aid, "--outcome", "resolved", "--note", note,
                      token=wang)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"alert {aid}: closed (state closed, queue blue_sky)\n"
    shown = json.loads(office.cli("alerts", "show", aid, "--json").stdout)
    assert (shown["state"], shown["receipt"]) == (
        "closed", {"outcome": "resolved", "note": note, "officer": "wang"})
    human = office.cli("alerts", "show", aid).stdout
    assert shown_fields(human)["receipt"] == f"resolved by wang: {note}"
    assert [row[3:5] for row in event_rows(human)] == [
        ["raised", "rules"], ["dispatched", "system"], ["acknowledged", "li"],
        ["closed", "wang"],
    ]

    refused = office.cli("alerts", "ack", aid)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == (
        f"lantian: alert {aid} is closed; reopen it before you acknowledge it (HTTP 409)\n")


def test_the_other_lifecycle_steps_go_through_the_api(office: Office) -> None:
    office.drone_at_dock()
    office.fume("KY-CS-002")
    aid = office.alert_for("KY-CS-002")["id"]

    verify = office.cli("alerts", "verify", aid, "--json")  # no drone: the suggested one
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["alert"]["drone"] == "KY-UAV-01"
    done = office.cli("alerts", "transfer", aid, "--queue", "law_enforcement")
    assert done.stdout == f"alert {aid}: transferred (state verifying, queue law_enforcement)\n"
    # it is no longer the blue-sky office's: the API's 403 is the CLI's message
    refused = office.cli("alerts", "reopen", aid, "--reason", "x")
    assert (refused.returncode, refused.stderr) == (1, (
        f"lantian: alert {aid} is in queue 'law_enforcement'; blue-sky duty officer (demo) "
        "acts on 'blue_sky' (HTTP 403)\n"))


def test_a_wrong_or_missing_token_exits_1_with_the_api_message(office: Office) -> None:
    wrong = office.cli("alerts", "list", token="not-a-token")
    assert (wrong.returncode, wrong.stdout) == (1, "")
    assert wrong.stderr == "lantian: a valid bearer token or session is required (HTTP 401)\n"

    missing = office.cli("alerts", "list", token=None)
    assert missing.returncode == 1
    assert missing.stderr == ("lantian: a valid bearer token or session is required (HTTP 401); "
                              "give --token or set LANTIAN_TOKEN\n")

    bureau = office.cli("alerts", "list", "--token", BUREAU, token=None)
    assert (bureau.returncode, bureau.stderr) == (
        1, "lantian: environment bureau (demo) may not read or act on alerts (HTTP 403)\n")


def test_unknown_alerts_and_bad_requests_say_what_is_wrong(office: Office) -> None:
    unknown = office.cli("alerts", "show", "no-such-alert")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("lantian: ") and unknown.stderr.endswith("(HTTP 404)\n")
    assert "no-such-alert" in unknown.stderr

    too_many = office.cli("alerts", "list", "--limit", "5000")
    assert (too_many.returncode, too_many.stderr) == (
        1, "lantian: limit: Input should be less than or equal to 1000 (HTTP 422)\n")

    bad_month = office.cli("report", "monthly", "--month", "2026-13", token=BUREAU)
    assert bad_month.returncode == 1
    assert bad_month.stderr.endswith("(HTTP 422)\n") and "2026-13" in bad_month.stderr


def test_an_unreachable_service_is_one_clean_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = lantian("alerts", "list", "--url", url, "--token", BLUE_SKY)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"lantian: cannot reach the Lantian service at {url}: ")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_without_url_a_broken_config_exits_2(tmp_path: Path) -> None:
    done = lantian("--config", str(tmp_path / "nowhere"), "alerts", "list")
    assert done.returncode == 2
    assert done.stderr == (
        f"lantian: config error: {tmp_path / 'nowhere' / 'lantian.toml'}: file not found\n")
    bad_url = lantian("alerts", "list", "--url", "127.0.0.1:8080")
    assert (bad_url.returncode, bad_url.stderr) == (
        2, "lantian: --url: expected http://host:port, got '127.0.0.1:8080'\n")


def test_reports_of_a_closed_alert(office: Office) -> None:
    office.fume("KY-CS-001")
    aid = office.alert_for("KY-CS-001")["id"]
    office.clock.advance(minutes=3)
    assert office.cli("alerts", "ack", aid).returncode == 0
    office.clock.advance(minutes=17)  # closed 20 minutes after the raise
    assert office.cli("alerts", "close", aid, "--outcome", "resolved",
                      "--note", "done").returncode == 0

    monthly = office.cli("report", "monthly", "--month", "2026-06", "--json", token=BUREAU)
    assert monthly.returncode == 0, monthly.stderr
    report = json.loads(monthly.stdout)
    assert [(i["id"], i["time_to_close"]) for i in report["closed"]] == [(aid, 1200.0)]
    assert report["summary"]["closed_within_sla"] == 1
    human = office.cli("report", "monthly", "--month", "2026-06", token=BUREAU)
    assert row_of(human.stdout, aid).split() == [
        aid, "2026-06-12", "10:00", "2026-06-12", "10:20", "blue_sky", "dust_exceedance",
        "cs-01", "20.0", "min", "resolved", "met", "–",
    ]

    span = ("--since", "2026-06-12", "--until", "2026-06-13")
    times = office.cli("report", "response-times", *span, token=BUREAU)
    assert times.returncode == 0, times.stderr
    # group, count, open, closed, ack median, close median, close p90 (minutes), SLA
    (row,) = [line.split() for line in times.stdout.splitlines() if "blue_sky" in line]
    assert row == ["blue_sky", "1", "0", "1", "3.0", "20.0", "20.0", "100.0%"]

    as_csv = office.cli("report", "response-times", *span, "--group-by", "all", "--csv",
                        token=BUREAU)
    (record,) = csv.DictReader(io.StringIO(as_csv.stdout))
    assert (record["group"], record["close_median"], record["sla_attainment"]) == (
        "(all)", "1200.0", "1.0000")

    refused = office.cli("report", "monthly", "--month", "2026-06")  # an officer's token
    assert (refused.returncode, refused.stderr) == (
        1, "lantian: blue-sky duty officer (demo) may not read metrics or reports (HTTP 403)\n")


def test_the_options_offer_the_api_vocabulary() -> None:
    # the CLI spells these out to start fast; they must stay what the API accepts
    assert tuple(s.value for s in State) == client.STATES
    assert tuple(o.value for o in Outcome) == client.OUTCOMES
    assert tuple(g.value for g in GroupBy) == client.GROUP_BY
