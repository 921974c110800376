"""The audit trail of admins' actions (internal ids only, no personal data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


async def audit(
    session: AsyncSession, actor: int | None, action: str, subject: str, now: dt.datetime,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(AuditEntry(actor_user_id=actor, action=action, subject=subject, details=details or {}, created_at=now))
