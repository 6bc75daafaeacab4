"""Silences: the windows the API may keep, their queue, rows that cannot be read back;
who may see and end them; the bearer check the API makes before reading a body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from dispatch._access import Role, Token
from dispatch._guard import bearer
from dispatch._silences import UNTIL_ENDED, Silence, muting, until_ended, window_problem
from dispatch._sqlite_rows import ROWS_SKIPPED, silence_row, silences_of
from lantian.http import health_status

NOW = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14, the earliest clocks on Earth
BAKER = ZoneInfo("Etc/GMT+12")  # UTC-12, the latest


@pytest.mark.parametrize(
    ("starts", "ends", "problem"),
    [
        (NOW, NOW + timedelta(hours=1), None),
        (NOW - timedelta(minutes=9), NOW + DAY, None),  # a little clock skew
        (NOW + 300 * DAY, NOW + 600 * DAY, None),
        (NOW, NOW + 366 * DAY, None),
        (NOW, NOW, "ends_at must be after starts_at"),
        (NOW - timedelta(minutes=11), NOW + DAY, "not be more than 10 minutes in the past"),
        (NOW + 367 * DAY, NOW + 368 * DAY, "within 366 days"),
        (NOW, NOW + 367 * DAY, "lasts at most 366 days"),
        # the two of the issue, in the zones that took them past datetime's years
        (NOW, datetime.fromisoformat("9999-12-31T23:59:59-14:00"), "lasts at most"),
        (datetime.fromisoformat("0001-01-01T00:00:00+14:00"), NOW, "in the past"),
    ],
)
def test_a_silence_window_is_bounded(
    starts: datetime, ends: datetime, problem: str | None
) -> None:
    found = window_problem(starts, ends, NOW)
    assert found == problem if problem is None else problem in str(found)


def silence(queue: str | None, **kw: object) -> Silence:
    return Silence("s", NOW, NOW + DAY, "o", "r", stations=frozenset({"ST-1"}), queue=queue,
                   **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("silence_queue", "alert_queue", "muted"),
    [
        ("blue_sky", "blue_sky", True),
        ("blue_sky", "law_enforcement", False),  # the issue: one queue muted another's
        (None, "law_enforcement", True),  # global
        ("blue_sky", None, True),  # a caller that does not say: as before queues
    ],
)
def test_a_queues_silence_mutes_only_that_queues_alerts(
    silence_queue: str | None, alert_queue: str | None, muted: bool
) -> None:
    found = muting([silence(silence_queue)], "r", "station:ST-1", [], NOW, queue=alert_queue)
    assert (found is not None) is muted
    # the dispatcher's positional call still works
    assert muting([silence(None)], "r", "station:ST-1", [], NOW) is not None


def skipped(registry: CollectorRegistry) -> float:
    return registry.get_sample_value(
        "lantian_store_rows_skipped_total", {"table": "silences"}) or 0.0


def test_rows_that_cannot_be_read_back_are_skipped_and_counted() -> None:
    registry = CollectorRegistry()
    registry.register(ROWS_SKIPPED)
    good = silence("blue_sky")
    row = silence_row(good)
    past_9999 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp() + 14 * 3600
    bad = [
        (*row[:2], past_9999, *row[3:]),  # the ends_at, as it was stored
        (row[0], -62135596800.0 - 14 * 3600, *row[2:]),  # 0001-01-01T00:00+14:00
        (*row[:2], 1e300, *row[3:]),  # past what the platform's time_t holds
        (*row[:5], "[not json", *row[6:]),
        (*row[:5], '"ST-1"', *row[6:]),  # JSON, but not a list
        (*row[:6], None, *row[7:]),
        (*row[:6], "[1, 2]", *row[7:]),
    ]
    before = skipped(registry)
    assert silences_of([bad[0], row, *bad[1:], row], UTC) == [good, good]
    assert skipped(registry) == before + len(bad)


@pytest.mark.parametrize("tz", [UTC, KIRITIMATI, BAKER, ZoneInfo("Asia/Shanghai")])
def test_a_silence_until_ended_reads_back_in_every_timezone(tz: ZoneInfo) -> None:
    maintenance = Silence("m", NOW, UNTIL_ENDED, "system:maintenance", "flags M")
    [back] = silences_of([silence_row(maintenance)], tz)
    assert back == maintenance and until_ended(back)
    assert back.ends_at.astimezone(tz).isoformat()  # as the API shows it
    assert not until_ended(silence(None))


BLUE = Token("blue", "s1", Role.OFFICER, "blue_sky")
LAW = Token("law", "s2", Role.OFFICER, "law_enforcement")
ADMIN = Token("admin", "s3", Role.ADMIN)
BUREAU = Token("bureau", "s4", Role.BUREAU)


def test_who_sees_and_manages_which_silences() -> None:
    assert [BLUE.may_see_silence(q) for q in ("blue_sky", None, "law_enforcement")] == [
        True, True, False]
    assert [BLUE.may_manage_silence(q) for q in ("blue_sky", None, "law_enforcement")] == [
        True, False, False]
    assert all(ADMIN.may_manage_silence(q) for q in ("blue_sky", None, "law_enforcement"))
    assert not any(BUREAU.may_see_silence(q) for q in ("blue_sky", None))
    assert LAW.may_manage_silence("law_enforcement")


@pytest.mark.parametrize(
    ("header", "who"),
    [("Bearer s1", BLUE), ("bearer  s3 ", ADMIN), ("Bearer nope", None), ("Basic s1", None),
     ("s1", None), ("", None), (None, None)],
)
def test_the_bearer_token_is_read_from_the_header(header: str | None, who: Token | None) -> None:
    assert bearer([BLUE, LAW, ADMIN, BUREAU], header) is who


def test_health_is_degraded_not_down_for_an_optional_dependency() -> None:
    assert health_status(True, True) == ("ok", 200)
    assert health_status(True, False) == ("degraded", 200)
    assert health_status(False, True) == ("unavailable", 503)
    assert health_status(False, False) == ("unavailable", 503)
