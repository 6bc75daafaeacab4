"""Photos of an incident (the receipt's evidence, an officer's pictures from the site):
image files kept on disk by their content's SHA-256, named by `commented` events.

What a file is is told by its first bytes, never by the name or the type its uploader
gave: JPEG, PNG and WebP only, up to `MAX_PHOTO` bytes. The same picture sent twice is
kept once. A file is written beside its final name and renamed into place, so a reader
never sees half of one, and a crash leaves at most a stray temporary file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Final

#: The largest photo taken, in bytes: a phone's JPEG is 2 to 4 MiB.
MAX_PHOTO: Final = 5 * 1024 * 1024
#: What a photo's name is: its SHA-256 in lower-case hex.
SHA256: Final = re.compile(r"^[0-9a-f]{64}$")

#: The image types taken, by their magic bytes.
_MAGIC: Final = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def image_type(data: bytes) -> str | None:
    """The media type of an image by its first bytes, or None if it is none of JPEG, PNG
    or WebP."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class MediaStore:
    """Photos under `directory`, by their SHA-256 (made on first use, owner-only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, data: bytes) -> str:
        """Keep `data` (already checked by `image_type`); its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        final = self._path(digest)
        if final.exists():
            return digest
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd, temporary = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o640)
            os.replace(temporary, final)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> tuple[bytes, str] | None:
        """A kept photo and its media type, or None."""
        if not SHA256.match(digest):
            return None
        try:
            data = self._path(digest).read_bytes()
        except FileNotFoundError:
            return None
        kind = image_type(data)
        return None if kind is None else (data, kind)

    def _path(self, digest: str) -> Path:
        return self.directory / digest[:2] / digest
