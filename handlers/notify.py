"""Proactive messages from a conversation: rendered in the recipient's language, queued in the outbox.

Nothing is sent from inside a turn; the rows are committed with the turn and the
dispatcher delivers them, so a rolled-back turn never leaves a message behind.
"""

from __future__ import annotations

import datetime as dt

from kernel.core import Ctx
from scheduler import queue
from scheduler.queue import Render
from storage.outbox import About

__all__ = ["Render", "to_admins", "to_user"]


async def to_user(ctx: Ctx, user_id: int, render: Render, *, kind: str, dedupe_key: str | None = None,
                  due_at: dt.datetime | None = None, about: About = None) -> bool:
    """Queue a message for a person; False if they cannot be reached (no identity, blocked).
    `about`: whoever else it names or describes (the seeker in a counselor's alert), so that
    erasing them deletes it."""
    queued = await queue.to_user(ctx.session, user_id, render, kind=kind, now=ctx.now, dedupe_key=dedupe_key,
                                 due_at=due_at, about=about)
    ctx.outbox_touched = ctx.outbox_touched or queued
    return queued


async def to_admins(ctx: Ctx, render: Render, *, kind: str, dedupe_key: str | None = None,
                    about: About = None) -> int:
    """Queue a message for every admin: those known to the bot, and configured ones who never wrote.
    `about`: the people it names or describes (an application's applicant)."""
    queued = await queue.to_admins(ctx.session, ctx.settings, render, kind=kind, now=ctx.now, dedupe_key=dedupe_key,
                                   about=about)
    ctx.outbox_touched = ctx.outbox_touched or queued > 0
    return queued
