"""Comments and photos on an incident against the real service: notes in any state (a
closed one's too), photos checked by their content and kept by their hash beside the
store, served back only to whoever may see the alert, and still there after a restart.
Hostile uploads (a GIF called PNG, a script, an oversized body) are refused with a
message and leave nothing behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import (
    ADMIN,
    BLUE_SKY,
    BUREAU,
    LAW,
    Deployment,
    start_deployment,
)
from tests.support import Broker

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MiB = 1024 * 1024


def upload(d: Deployment, aid: str, data: bytes, headers: dict[str, str] = BLUE_SKY,
           kind: str = "image/png") -> httpx.Response:
    return httpx.post(f"{d.url}/api/alerts/{aid}/photos", content=data,
                      headers=headers | {"Content-Type": kind}, timeout=30)


def media(d: Deployment, digest: str, aid: str,
          headers: dict[str, str] = BLUE_SKY) -> httpx.Response:
    return httpx.get(f"{d.url}/api/media/{digest}", params={"alert": aid}, headers=headers)


def test_comments_in_any_state(deployment: Deployment) -> None:
    d = deployment
    d.fume("KY-CS-001")
    aid = d.open_alert("KY-CS-001")["id"]
    r = d.post(aid, "comments", BLUE_SKY, {"text": "现场有渣土车"})
    assert r.status_code == 200, r.text
    [event] = r.json()["events"]
    assert (event["kind"], event["data"]) == ("commented", {"text": "现场有渣土车",
                                                           "photos": []})
    assert d.alert(aid)["state"] == "dispatched"  # a comment moves nothing
    for bad in ({"text": ""}, {"text": "x" * 2001}, {}, {"text": "x", "extra": 1}):
        assert d.post(aid, "comments", BLUE_SKY, bad).status_code == 422, bad
    assert d.post(aid, "comments", LAW, {"text": "not ours"}).status_code == 403
    assert d.post(aid, "comments", BUREAU, {"text": "nor ours"}).status_code == 403
    assert d.post(aid, "close", BLUE_SKY, {"outcome": "resolved", "note": "done"}
                  ).status_code == 200
    assert d.post(aid, "comments", BLUE_SKY, {"text": "复查：已覆盖"}).status_code == 200
    kinds = [e["kind"] for e in d.alert(aid)["events"]]
    assert kinds[-3:] == ["commented", "closed", "commented"]
    assert d.alert(aid)["state"] == "closed"


def test_a_photo_is_kept_by_hash_and_served_to_who_may_see_it(
    deployment: Deployment,
) -> None:
    d = deployment
    d.fume("KY-CS-001")
    aid = d.open_alert("KY-CS-001")["id"]
    d.fume("KY-CS-002")
    other = d.open_alert("KY-CS-002")["id"]
    digest = hashlib.sha256(PNG).hexdigest()

    r = upload(d, aid, PNG, kind="application/octet-stream")  # the type given is not trusted
    assert r.status_code == 200, r.text
    [event] = r.json()["events"]
    assert (event["kind"], event["data"]["photos"]) == ("commented", [digest])
    kept = d.service.settings.store_path.parent / "media" / digest[:2] / digest
    assert kept.read_bytes() == PNG  # beside the store, by its hash

    got = media(d, digest, aid)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert media(d, digest, aid, ADMIN).status_code == 200
    assert media(d, digest, aid, LAW).status_code == 403  # not law enforcement's alert
    assert media(d, digest, aid, BUREAU).status_code == 403
    assert httpx.get(f"{d.url}/api/media/{digest}", params={"alert": aid}).status_code == 401
    assert media(d, digest, other).status_code == 404  # that alert does not name it
    assert media(d, "0" * 64, aid).status_code == 404
    assert media(d, "../../lantian.sqlite", aid).status_code in (404, 422)
    assert media(d, digest.upper(), aid).status_code == 422

    # the same picture again is one file; after a restart it is still served
    assert upload(d, aid, PNG).status_code == 200
    d.restart()
    assert media(d, digest, aid).content == PNG
    assert [p.name for p in kept.parent.parent.rglob("*") if p.is_file()] == [digest]


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"GIF89a" + b"\x00" * 100, 415, "not a JPEG, PNG or WebP"),  # a GIF called PNG
    (b"<svg onload='alert(1)'/>", 415, "not a JPEG, PNG or WebP"),
    (b"", 415, "not a JPEG, PNG or WebP"),
    (b"\xff\xd8\xff" + b"\x00" * (5 * MiB), 413, "over 5242880 bytes"),
])
def test_a_hostile_upload_is_refused_and_leaves_nothing(
    deployment: Deployment, data: bytes, status: int, words: str,
) -> None:
    d = deployment
    d.fume("KY-CS-001")
    aid = d.open_alert("KY-CS-001")["id"]
    r = upload(d, aid, data)
    assert r.status_code == status and words in r.json()["detail"], r.text
    media_dir = d.service.settings.store_path.parent / "media"
    assert not media_dir.exists() or not any(p.is_file() for p in media_dir.rglob("*"))
    assert "commented" not in [e["kind"] for e in d.alert(aid)["events"]]
    # the refusals for who may not act come before a byte is read
    assert upload(d, aid, PNG, LAW).status_code == 403
    assert upload(d, "no-such-alert", PNG).status_code == 404


def test_a_media_dir_that_cannot_be_written_is_a_503_and_the_alert_stays(
    tmp_path: Path, broker: Broker,
) -> None:
    # a file where the photos would go (media/ beside the store)
    (tmp_path / "media").write_text("not a directory")
    d = start_deployment(tmp_path, broker)
    try:
        d.fume("KY-CS-001")
        aid = d.open_alert("KY-CS-001")["id"]
        r = upload(d, aid, PNG)
        assert r.status_code == 503 and "could not be kept" in r.json()["detail"], r.text
        assert "commented" not in [e["kind"] for e in d.alert(aid)["events"]]
        assert d.post(aid, "ack", BLUE_SKY).status_code == 200  # the rest works on
    finally:
        d.service.stop()
