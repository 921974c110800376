"""Proactive messages from a conversation: rendered in the recipient's language, queued in the outbox.

Nothing is sent from inside a turn; the rows are committed with the turn and the
dispatcher delivers them, so a rolled-back turn never leaves a message behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.core import Ctx, Reply
from bot.i18n import Translator, translator
from storage import outbox, users
from storage.models import User

Render = Callable[[Translator], Reply]


async def to_user(ctx: Ctx, user_id: int, render: Render, *, kind: str, dedupe_key: str | None = None,
                  due_at: dt.datetime | None = None) -> bool:
    """Queue a message for a person; False if they cannot be reached (no identity, blocked)."""
    user = await ctx.session.get(User, user_id)
    identity = await users.reachable_identity(ctx.session, user_id)
    if user is None or identity is None:
        return False
    reply = render(translator(user.locale))
    ctx.outbox_touched = True
    return await outbox.enqueue(
        ctx.session, channel=identity.channel, chat_id=identity.chat_id, user_id=user_id, kind=kind,
        payload=reply.to_payload(), now=ctx.now, dedupe_key=dedupe_key, due_at=due_at,
    )


async def to_admins(ctx: Ctx, render: Render, *, kind: str, dedupe_key: str | None = None) -> int:
    """Queue a message for every admin: those known to the bot, and configured ones who never wrote."""
    queued = 0
    reached: set[tuple[str, str]] = set()
    for user, identity in await users.admins(ctx.session):
        if identity.blocked_at is not None:
            continue
        reached.add((identity.channel, identity.external_id))
        key = f"{dedupe_key}:{identity.id}" if dedupe_key else None
        queued += await outbox.enqueue(
            ctx.session, channel=identity.channel, chat_id=identity.chat_id, user_id=user.id, kind=kind,
            payload=render(translator(user.locale)).to_payload(), now=ctx.now, dedupe_key=key,
        )
    for admin_id in sorted(ctx.settings.admin_telegram_ids):
        if ("telegram", str(admin_id)) in reached:
            continue
        key = f"{dedupe_key}:tg{admin_id}" if dedupe_key else None
        queued += await outbox.enqueue(
            ctx.session, channel="telegram", chat_id=str(admin_id), kind=kind,
            payload=render(translator(ctx.settings.default_locale)).to_payload(), now=ctx.now, dedupe_key=key,
        )
    ctx.outbox_touched = ctx.outbox_touched or queued > 0
    return queued
