"""Conversation state per (channel, user), read and written on every message."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


async def load(
    session: AsyncSession, channel: str, external_id: str, user_id: int, now: dt.datetime
) -> Conversation:
    conv = await session.get(Conversation, (channel, external_id))
    if conv is None:
        # Versions start from the clock, so buttons from before a /delete never match a new state.
        conv = Conversation(channel=channel, external_id=external_id, user_id=user_id, data={},
                            version=int(now.timestamp()) % 1_000_000 * 10, paused=False, updated_at=now)
        session.add(conv)
    return conv


async def drop_stale(session: AsyncSession, older_than: dt.datetime) -> int:
    """Forget unfinished drafts nobody came back to (the promise on the consent screen)."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.flow.is_not(None), Conversation.updated_at < older_than)
        .values(flow=None, step=None, data={}, paused=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
