"""Conversation state per (channel, user), read and written on every message."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import users
from storage.models import Conversation, Identity, User

# Built once: composing the statement and its cache key cost more than running it.
_TURN = (
    select(User, Identity, Conversation)
    .join(Identity, Identity.user_id == User.id)
    .outerjoin(Conversation, and_(Conversation.channel == Identity.channel,
                                  Conversation.external_id == Identity.external_id))
    .where(Identity.channel == bindparam("channel"), Identity.external_id == bindparam("external_id"))
)


async def open_turn(
    session: AsyncSession, channel: str, external_id: str, chat_id: str, locale: str, now: dt.datetime
) -> tuple[User, Identity, Conversation]:
    """Who is writing and where they are, in one query (this runs for every message)."""
    row = (await session.execute(_TURN, {"channel": channel, "external_id": external_id})).first()
    if row is None:
        user, identity = await users.create(session, channel, external_id, chat_id, locale, now)
        conv = None
    else:
        user, identity, conv = row
        await users.seen(session, user, identity, chat_id, now)
    if conv is None:
        conv = await load(session, channel, external_id, user.id, now)
    return user, identity, conv


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
