"""The admin page's dead letters per hour: every clock hour of the window listed, in the
service's time zone, the stored counts summed by code."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dispatch._api_deadletters import hourly

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 12, 2, 40, tzinfo=UTC)  # 10:40 in Shanghai


def test_every_hour_is_listed_oldest_first_with_zeroes() -> None:
    hours = hourly([], NOW, 3, SHANGHAI)
    assert [h["hour"] for h in hours] == [
        "2026-06-12T08:00:00+08:00", "2026-06-12T09:00:00+08:00", "2026-06-12T10:00:00+08:00"]
    assert [(h["count"], h["codes"]) for h in hours] == [(0, {})] * 3


def test_the_stored_counts_land_in_their_hour_by_code() -> None:
    rows = [
        (datetime(2026, 6, 12, 2, tzinfo=UTC), "bad_json", 4),
        (datetime(2026, 6, 12, 2, tzinfo=UTC), "unknown_topic", 1),
        (datetime(2026, 6, 12, 0, tzinfo=UTC), "bad_json", 2),
        (datetime(2026, 6, 11, 2, tzinfo=UTC), "bad_json", 9),  # a day before: not shown
    ]
    hours = hourly(rows, NOW, 3, SHANGHAI)
    assert [h["count"] for h in hours] == [2, 0, 5]
    assert hours[-1]["codes"] == {"bad_json": 4, "unknown_topic": 1}
