"""People and their channel identities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import files, outbox
from storage.models import Identity, KakaoPage, KakaoTask, User


async def identify(
    session: AsyncSession, channel: str, external_id: str, chat_id: str, locale: str, now: dt.datetime
) -> tuple[User, Identity]:
    """The user behind a channel identity, created on first contact.

    The caller holds the per-user lock, so two first messages cannot both create.
    """
    row = (
        await session.execute(
            select(User, Identity)
            .join(Identity, Identity.user_id == User.id)
            .where(Identity.channel == channel, Identity.external_id == external_id)
        )
    ).first()
    if row is not None:
        user, identity = row
        seen(user, identity, chat_id, now)
        return user, identity
    return await create(session, channel, external_id, chat_id, locale, now)


# Activity is recorded to the hour (for retention); a write on every message would cost a statement.
SEEN_GRANULARITY = dt.timedelta(hours=1)


def seen(user: User, identity: Identity, chat_id: str, now: dt.datetime) -> None:
    """Updates what a new message tells us; writes nothing when nothing changed."""
    if now - user.last_seen_at >= SEEN_GRANULARITY:
        user.last_seen_at = now
    if identity.chat_id != chat_id:
        identity.chat_id = chat_id
    if identity.blocked_at is not None:
        # They wrote to us, so they can be reached again.
        identity.blocked_at = None


async def create(
    session: AsyncSession, channel: str, external_id: str, chat_id: str, locale: str, now: dt.datetime
) -> tuple[User, Identity]:
    user = User(locale=locale, role="user", created_at=now, last_seen_at=now)
    session.add(user)
    await session.flush()
    identity = Identity(user_id=user.id, channel=channel, external_id=external_id, chat_id=chat_id)
    session.add(identity)
    await session.flush()
    return user, identity


async def reachable_identity(session: AsyncSession, user_id: int) -> Identity | None:
    """Where to send a proactive message: the newest identity that has not blocked the bot."""
    return (
        await session.scalars(
            select(Identity)
            .where(Identity.user_id == user_id, Identity.blocked_at.is_(None))
            .order_by(Identity.id.desc())
            .limit(1)
        )
    ).first()


async def identities_of(session: AsyncSession, user_id: int) -> list[tuple[str, str]]:
    """(channel, external id) of every identity of a person (more than one once accounts are linked)."""
    rows = await session.execute(select(Identity.channel, Identity.external_id).where(Identity.user_id == user_id))
    return [(channel, external_id) for channel, external_id in rows.all()]


async def admins(session: AsyncSession) -> list[tuple[User, Identity]]:
    rows = await session.execute(
        select(User, Identity).join(Identity, Identity.user_id == User.id).where(User.role == "admin")
    )
    return [(u, i) for u, i in rows.all()]


async def mark_blocked(session: AsyncSession, chats: Sequence[tuple[str, str, dt.datetime]]) -> None:
    """These (channel, chat id, when) blocked the bot: one executemany for a batch of them."""
    if not chats:
        return
    table: Table = Identity.__table__  # type: ignore[assignment]
    await session.execute(
        update(table).where(table.c.channel == bindparam("b_channel"), table.c.chat_id == bindparam("b_chat"))
        .values(blocked_at=bindparam("b_at")),
        [{"b_channel": channel, "b_chat": chat_id, "b_at": at} for channel, chat_id, at in chats],
    )


async def erase(session: AsyncSession, user_id: int) -> None:
    """Delete a person and everything tied to them (profiles, applications, state, queued messages),
    and every message and file about them that someone else holds (alerts to staff, exports)."""
    # Before the person's row: deleting it would take the references to them along.
    await outbox.forget(session, [user_id])
    await files.forget(session, [user_id])
    # KakaoTalk's kept answers and Event API tasks are keyed by the Kakao user key, not the person: they go too.
    kakao_keys = select(Identity.external_id).where(Identity.user_id == user_id, Identity.channel == "kakao")
    for model in (KakaoPage, KakaoTask):
        await session.execute(delete(model).where(model.user_key.in_(kakao_keys)))
    await session.execute(delete(User).where(User.id == user_id))
