"""The durable outbox: every proactive message is a row here first (DESIGN.md §3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage

MAX_ERROR = 200


async def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    kind: str,
    payload: dict[str, Any],
    now: dt.datetime,
    user_id: int | None = None,
    due_at: dt.datetime | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Queue a message; False when a message with the same dedupe key already exists."""
    row = OutboxMessage(
        user_id=user_id, channel=channel, chat_id=chat_id, kind=kind, payload=payload,
        due_at=due_at or now, status="pending", attempts=0, dedupe_key=dedupe_key, created_at=now,
    )
    if dedupe_key is None:
        session.add(row)
        return True
    try:
        async with session.begin_nested():
            session.add(row)
        return True
    except IntegrityError:
        return False


async def due(session: AsyncSession, now: dt.datetime, limit: int, channels: list[str]) -> list[OutboxMessage]:
    return list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now,
                   OutboxMessage.channel.in_(channels))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
        )
    )


async def mark(
    session: AsyncSession, row_id: int, status: str, now: dt.datetime, error: str | None = None,
    attempts: int | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "last_error": error[:MAX_ERROR] if error else None}
    if attempts is not None:
        values["attempts"] = attempts
    if status == "sent":
        values["sent_at"] = now
    await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))


async def retry_later(session: AsyncSession, row_id: int, due_at: dt.datetime, attempts: int, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(due_at=due_at, attempts=attempts, last_error=error[:MAX_ERROR])
    )


async def skip_chat(session: AsyncSession, channel: str, chat_id: str, now: dt.datetime) -> None:
    """Someone blocked the bot: their pending messages will not be sent."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id,
               OutboxMessage.status == "pending")
        .values(status="blocked", last_error="blocked by the user")
    )
