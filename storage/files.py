"""Files behind links (.ics, CSV, charts) for channels that cannot attach them (KakaoTalk).

The bytes live in the database, not in a process, so whichever worker the load balancer
picks can serve the link. Rows go once they expire (`purge`, a periodic job).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ServedFile


async def store(session: AsyncSession, *, user_id: int | None, filename: str, mime: str, data: bytes,
                now: dt.datetime, ttl: dt.timedelta) -> ServedFile:
    row = ServedFile(id=secrets.token_urlsafe(18), user_id=user_id, filename=filename[:120], mime=mime[:80],
                     data=data, created_at=now, expires_at=now + ttl)
    session.add(row)
    await session.flush()
    return row


async def fetch(session: AsyncSession, file_id: str, now: dt.datetime) -> ServedFile | None:
    row = await session.get(ServedFile, file_id)
    return row if row is not None and row.expires_at > now else None


async def purge(session: AsyncSession, now: dt.datetime) -> int:
    result = await session.execute(delete(ServedFile).where(ServedFile.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
