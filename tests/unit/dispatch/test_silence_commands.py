"""The silence commands (`create_silence`, `end_silence`) over an in-memory book: who may
make and end which queue's silences, in which order the checks refuse, and what is kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch._access import Grants, Role, Token
from dispatch._silences import Silence, SilenceRefused, create_silence, end_silence
from dispatch._users import User

NOW = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUES = frozenset({"north", "south"})
NORTH = Token("li", "s1", Role.OFFICER, "north")
ADMIN = Token("root", "s2", Role.ADMIN)
BUREAU = Token("bureau", "s3", Role.BUREAU)


class Book:
    """The store's three silence methods, in a dict."""

    def __init__(self) -> None:
        self.kept: dict[str, Silence] = {}

    def add_silence(self, silence: Silence) -> None:
        self.kept[silence.id] = silence

    def end_silence(self, silence_id: str, at: datetime, actor: str) -> Silence | None:
        found = self.kept.get(silence_id)
        if found is None:
            return None
        self.kept[silence_id] = replace(found, ends_at=at, ended_by=actor)
        return self.kept[silence_id]

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        return list(self.kept.values())


def create(book: Book, token: Grants, **given: object) -> Silence:
    args: dict[str, object] = {
        "ends_at": NOW + timedelta(hours=2), "reason": "calibration", "author": token.name,
        "stations": ["S1"],
    } | given
    return create_silence(book, token, queues=QUEUES, now=NOW, tz=SHANGHAI, **args)


@pytest.mark.parametrize(
    ("token", "given", "reason", "message"),
    [
        (NORTH, {"queue": "south"}, "forbidden", "li may only silence queue 'north'"),
        (BUREAU, {}, "forbidden", "bureau may only silence no queue"),
        # the queue is checked before the window, the window before the matchers
        (ADMIN, {"queue": "west", "ends_at": NOW}, "invalid", "queue: no queue 'west'"),
        (NORTH, {"ends_at": NOW, "stations": []}, "invalid", "ends_at must be after starts_at"),
        (NORTH, {"stations": []}, "invalid", "at least one station, zone or rule"),
    ],
    ids=["other-queue", "bureau", "unknown-queue-first", "window-before-matchers",
         "no-matcher"],
)
def test_create_refuses(token: Token, given: dict[str, object], reason: str,
                        message: str) -> None:
    book = Book()
    with pytest.raises(SilenceRefused, match=message) as refused:
        create(book, token, **given)
    assert refused.value.reason == reason
    assert book.kept == {}


def test_create_keeps_an_officers_silence_of_their_queue_in_utc() -> None:
    book = Book()
    naive_end = datetime(2026, 6, 12, 12, 0)  # Shanghai local: 04:00 UTC
    silence = create(book, NORTH, ends_at=naive_end, zones=["z1"])
    assert book.kept == {silence.id: silence}
    assert silence.queue == "north"
    assert (silence.starts_at, silence.ends_at) == (NOW, datetime(2026, 6, 12, 4, tzinfo=UTC))
    assert silence.stations == frozenset({"S1"}) and silence.zones == frozenset({"z1"})


def test_an_admins_silence_without_a_queue_is_global() -> None:
    assert create(Book(), ADMIN).queue is None


@pytest.mark.parametrize(
    ("owner", "token", "reason"),
    [
        ("north", NORTH, None),
        (None, ADMIN, None),
        ("south", NORTH, "forbidden"),
        (None, NORTH, "forbidden"),  # a global silence is the admin's to end
    ],
    ids=["own-queue", "admin-global", "other-queue", "officer-global"],
)
def test_end_silence(owner: str | None, token: Token, reason: str | None) -> None:
    book = Book()
    silence = create(book, ADMIN, queue=owner)
    later = NOW + timedelta(minutes=5)
    if reason is None:
        ended = end_silence(book, silence.id, token, later)
        assert (ended.ends_at, ended.ended_by) == (later, token.name)
    else:
        with pytest.raises(SilenceRefused) as refused:
            end_silence(book, silence.id, token, later)
        assert refused.value.reason == reason
        assert book.kept[silence.id] == silence


def test_ending_an_unknown_silence_is_unknown() -> None:
    with pytest.raises(SilenceRefused, match="no silence 'nope'") as refused:
        end_silence(Book(), "nope", ADMIN, NOW)
    assert refused.value.reason == "unknown"


def test_an_officer_of_several_queues_names_the_queue_of_a_silence() -> None:
    chen = User("chen", Role.OFFICER, frozenset({"north", "south"}))
    with pytest.raises(SilenceRefused) as refused:
        create(Book(), chen)
    assert (refused.value.reason, str(refused.value)) == (
        "invalid", "queue: chen works queues 'north', 'south'; name one")
    assert create(Book(), chen, queue="south").queue == "south"
