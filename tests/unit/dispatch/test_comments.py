"""Comments and photos: the `Comment` command in every state (a closed incident's too),
never moving the incident; and the photo store's checks by content."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dispatch._lifecycle import (
    Comment,
    Event,
    EventKind,
    Incident,
    Refused,
    State,
    apply,
    decide,
)
from dispatch._media import MediaStore, image_type

T0 = datetime(2026, 6, 12, 10, 31, tzinfo=ZoneInfo("Asia/Shanghai"))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


@pytest.mark.parametrize("state", list(State))
def test_any_state_takes_a_comment_and_stays(state: State) -> None:
    incident = replace(Incident("a1", "blue_sky", T0), state=state, seq=7)
    [change] = decide(incident, Comment("li", "现场已洒水", ("ab" * 32,)))
    assert change.kind is EventKind.COMMENTED and change.actor == "li"
    assert change.data == {"text": "现场已洒水", "photos": ["ab" * 32]}
    after = apply(incident, Event("a1", 8, change.kind, T0, change.actor, change.data))
    assert after == replace(incident, seq=8)  # nothing but the log moved


def test_a_comment_says_something() -> None:
    with pytest.raises(Refused, match="needs a text or a photo"):
        decide(Incident("a1", "blue_sky", T0), Comment("li", "   "))


def test_the_same_comment_twice_is_two_comments() -> None:
    # a comment is a message, not a state: saying it again is saying it again
    incident = Incident("a1", "blue_sky", T0)
    assert decide(incident, Comment("li", "x")) == decide(incident, Comment("li", "x"))


@pytest.mark.parametrize(("data", "kind"), [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"),
    (b"GIF89a" + b"\x00" * 20, None), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", None), (b"", None), (b"\xff\xd8", None),
])
def test_an_image_is_known_by_its_first_bytes(data: bytes, kind: str | None) -> None:
    assert image_type(data) == kind


def test_a_photo_is_kept_once_by_its_hash(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    digest = store.put(PNG)
    assert digest == hashlib.sha256(PNG).hexdigest()
    assert store.put(PNG) == digest
    assert store.get(digest) == (PNG, "image/png")
    kept = list((tmp_path / "media").rglob("*"))
    assert [p.name for p in kept if p.is_file()] == [digest]  # no temporary left
    assert oct((tmp_path / "media" / digest[:2] / digest).stat().st_mode & 0o777) == "0o640"


@pytest.mark.parametrize("name", ["../../etc/passwd", "AB" * 32, "ab" * 31, "", "ab" * 32])
def test_only_a_kept_hash_is_read(tmp_path: Path, name: str) -> None:
    assert MediaStore(tmp_path).get(name) is None
