"""Updates already handled, so a platform's redelivery is skipped (each update handled once).

`claim` runs inside the turn's transaction: the row commits with the turn's changes, or
not at all when the turn rolls back or its worker dies before the commit (then the
redelivery is handled as new). The primary key (channel, update key) is the rule that
holds across workers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


class Duplicate(Exception):
    """This update was handled before (or is being handled by another worker right now)."""


async def claim(session: AsyncSession, channel: str, key: str, now: dt.datetime) -> None:
    """Mark the update handled in this transaction; `Duplicate` when it already is."""
    if await session.scalar(select(ProcessedUpdate.update_key).where(
            ProcessedUpdate.channel == channel, ProcessedUpdate.update_key == key)) is not None:
        raise Duplicate(key)
    session.add(ProcessedUpdate(channel=channel, update_key=key, processed_at=now))
    try:
        # A concurrent turn with the same key that committed first makes this fail (PostgreSQL
        # waits for it); the caller's transaction is rolled back, having written nothing yet.
        await session.flush()
    except IntegrityError as exc:
        raise Duplicate(key) from exc


async def purge(session: AsyncSession, before: dt.datetime) -> int:
    """Forget updates handled before `before` (platforms stop redelivering long before)."""
    result = await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
