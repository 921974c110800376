"""Queue a proactive message for a person or for every admin, rendered in their language.

The one place that knows who to reach and how: conversations (handlers, with the turn's session) and
scheduled jobs (surveys, the weekly digest) both queue through here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from kernel.config import Settings
from kernel.core import Reply
from kernel.i18n import Translator, translator
from storage import outbox, users
from storage.models import User
from storage.outbox import About

Render = Callable[[Translator], Reply]


async def to_user(session: AsyncSession, user_id: int, render: Render, *, kind: str, now: dt.datetime,
                  dedupe_key: str | None = None, due_at: dt.datetime | None = None, about: About = None) -> bool:
    """Queue a message for a person; False if they cannot be reached (no identity, blocked) or
    the dedupe key was used already. `about`: whoever else the message names or describes
    (a seeker in a counselor's alert): erasing them deletes it."""
    user = await session.get(User, user_id)
    identity = await users.reachable_identity(session, user_id)
    if user is None or identity is None:
        return False
    return await outbox.enqueue(
        session, channel=identity.channel, chat_id=identity.chat_id, user_id=user_id, kind=kind,
        payload=render(translator(user.locale)).to_payload(), now=now, dedupe_key=dedupe_key, due_at=due_at,
        about=about,
    )


async def to_admins(session: AsyncSession, settings: Settings, render: Render, *, kind: str, now: dt.datetime,
                    dedupe_key: str | None = None, about: About = None) -> int:
    """Queue a message for every admin: those known to the bot, and configured ones who never wrote.
    `about`: the people it names or describes (an application's applicant): erasing them deletes it."""
    queued = 0
    reached: set[tuple[str, str]] = set()
    for user, identity in await users.admins(session):
        if identity.blocked_at is not None:
            continue
        reached.add((identity.channel, identity.external_id))
        key = f"{dedupe_key}:{identity.id}" if dedupe_key else None
        queued += await outbox.enqueue(
            session, channel=identity.channel, chat_id=identity.chat_id, user_id=user.id, kind=kind,
            payload=render(translator(user.locale)).to_payload(), now=now, dedupe_key=key, about=about,
        )
    for admin_id in sorted(settings.admin_telegram_ids):
        if ("telegram", str(admin_id)) in reached:
            continue
        key = f"{dedupe_key}:tg{admin_id}" if dedupe_key else None
        queued += await outbox.enqueue(
            session, channel="telegram", chat_id=str(admin_id), kind=kind,
            payload=render(translator(settings.default_locale)).to_payload(), now=now, dedupe_key=key,
            about=about,
        )
    return queued
