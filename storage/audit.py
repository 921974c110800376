"""The audit trail of admins' actions (internal ids only, no personal data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


async def audit(
    session: AsyncSession, actor: int | None, action: str, subject: str, now: dt.datetime,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(AuditEntry(actor_user_id=actor, action=action, subject=subject, details=details or {}, created_at=now))


async def recent(session: AsyncSession, *, limit: int, offset: int = 0, action: str | None = None,
                 actor: int | None = None) -> list[AuditEntry]:
    """Newest first; optionally one action's or one staff member's entries."""
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor is not None:
        query = query.where(AuditEntry.actor_user_id == actor)
    return list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)))
