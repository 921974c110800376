"""Files behind links (.ics, CSV, charts, broadcast photos) for channels that cannot attach them (KakaoTalk).

The bytes live in the database, not in a process, so whichever worker the load balancer
picks can serve the link. Rows go once they expire (`purge`, a periodic job).

A broadcast's photo or file is kept by content (`keep`): its id comes from the bytes' hash,
so the same file sent twice is one row (its expiry pushed out), and what was learnt about it
(Telegram's file id after the first upload) holds for every broadcast that carries it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import mimetypes
import secrets
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from urllib.parse import urlparse

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ServedFile, ServedFileSubject

# Leading bytes of the formats people send to a job centre, and what they are.
_SIGNATURES = (
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
    (b"%PDF-", "pdf", "application/pdf"),
)
# Office and 한글 files are zip archives (by their first entries) or OLE compound files (by stream names).
_ZIPPED = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"), ("Contents/", "hwpx"))
_OLE = (("HwpSummaryInformation", "hwp"), ("WordDocument", "doc"), ("Workbook", "xls"),
        ("PowerPoint Document", "ppt"))


async def store(session: AsyncSession, *, user_id: int | None, filename: str, mime: str, data: bytes,
                now: dt.datetime, ttl: dt.timedelta, about: Iterable[int] = ()) -> ServedFile:
    """Keep a file for `user_id`'s link; `about`: other people it names or describes (an export
    handed to an admin), so that erasing any of them deletes it (`forget`)."""
    row = ServedFile(id=secrets.token_urlsafe(18), user_id=user_id, filename=filename[:120], mime=mime[:80],
                     data=data, created_at=now, expires_at=now + ttl)
    session.add(row)
    await session.flush()
    session.add_all(ServedFileSubject(file_id=row.id, user_id=person) for person in sorted(set(about)))
    return row


async def forget(session: AsyncSession, user_ids: Sequence[int]) -> int:
    """Erasure: delete every file about these people, whoever holds its link; returns how many."""
    if not user_ids:
        return 0
    about = select(ServedFileSubject.file_id).where(ServedFileSubject.user_id.in_(list(user_ids)))
    result = await session.execute(delete(ServedFile).where(ServedFile.id.in_(about)))
    return int(getattr(result, "rowcount", 0) or 0)


def content_id(data: bytes) -> str:
    """The id `keep` gives these bytes (the link's signature, not the id, is what cannot be guessed)."""
    return "k" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode("ascii")[:31]


async def keep(session: AsyncSession, *, filename: str, mime: str, data: bytes, now: dt.datetime,
               ttl: dt.timedelta) -> ServedFile:
    """Keep a file nobody owns alone (a broadcast's) by its content: the same bytes again are the
    same row, kept at least `ttl` from now."""
    row = await session.get(ServedFile, content_id(data))
    if row is None:
        row = ServedFile(id=content_id(data), user_id=None, filename=filename[:120], mime=mime[:80], data=data,
                         created_at=now, expires_at=now + ttl)
        session.add(row)
        await session.flush()
    else:
        row.expires_at = max(row.expires_at, now + ttl)
    return row


async def extend(session: AsyncSession, file_id: str, until: dt.datetime) -> ServedFile | None:
    """Keep a file at least until `until`; None when it is gone (purged)."""
    row = await session.get(ServedFile, file_id)
    if row is not None:
        row.expires_at = max(row.expires_at, until)
    return row


async def fetch(session: AsyncSession, file_id: str, now: dt.datetime) -> ServedFile | None:
    row = await session.get(ServedFile, file_id)
    return row if row is not None and row.expires_at > now else None


async def purge(session: AsyncSession, now: dt.datetime) -> int:
    result = await session.execute(delete(ServedFile).where(ServedFile.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def describe(data: bytes, kind: str, source: str = "") -> tuple[str, str]:
    """(file name, MIME type) of sent bytes, from their first bytes (the platforms hand over no
    name with them); `source`, a URL or path the bytes came from, lends its extension otherwise."""
    ext, mime = _sniff(data)
    if ext is None:
        suffix = PurePosixPath(urlparse(source).path).suffix.lower().lstrip(".")
        guessed = mimetypes.guess_type(f"x.{suffix}")[0] if suffix.isalnum() else None
        ext, mime = (suffix, guessed) if guessed else ("bin", "application/octet-stream")
    stem = "photo" if kind == "photo" and mime.startswith("image/") else "attachment"
    return f"{stem}.{ext}", mime


def _sniff(data: bytes) -> tuple[str | None, str]:
    for magic, ext, mime in _SIGNATURES:
        if data.startswith(magic):
            return ext, mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError):
            names = []
        for prefix, ext in _ZIPPED:
            if any(name.startswith(prefix) for name in names):
                return ext, mimetypes.guess_type(f"x.{ext}")[0] or "application/octet-stream"
        return "zip", "application/zip"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        for stream, ext in _OLE:
            if stream.encode("utf-16-le") in data[:1 << 16]:
                return ext, mimetypes.guess_type(f"x.{ext}")[0] or "application/octet-stream"
    return None, "application/octet-stream"
