"""Startup-centre membership (공동회원제): applications, decisions, member stages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit
from storage.models import Membership

STAGES = ("preparation", "maturation", "execution")  # 창업준비 → 창업숙성 → 창업실행


async def live(session: AsyncSession, user_id: int) -> Membership | None:
    """The person's pending application or approved membership, if any."""
    return (
        await session.scalars(
            select(Membership).where(Membership.user_id == user_id, Membership.status.in_(("pending", "approved")))
        )
    ).first()


async def latest(session: AsyncSession, user_id: int) -> Membership | None:
    return (
        await session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.id.desc()).limit(1)
        )
    ).first()


async def count_since(session: AsyncSession, since: dt.datetime) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(Membership).where(Membership.applied_at >= since))
        or 0
    )


async def apply(session: AsyncSession, user_id: int, values: dict[str, Any], now: dt.datetime) -> Membership:
    row = Membership(
        user_id=user_id, applicant_type=values["applicant_type"], team_name=values["team_name"],
        idea=values["idea"], industry=values["industry"], startup_stage=values["startup_stage"],
        team_size=values["team_size"], status="pending", consent_at=now, applied_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def with_status(session: AsyncSession, status: str, limit: int, offset: int = 0) -> list[Membership]:
    """Pending applications oldest first (a queue); members most recently approved first."""
    order = (Membership.applied_at, Membership.id) if status == "pending" else (
        Membership.decided_at.desc(), Membership.id.desc())
    return list(await session.scalars(
        select(Membership).where(Membership.status == status).order_by(*order).limit(limit).offset(offset)))


async def count_status(session: AsyncSession, status: str) -> int:
    query = select(func.count()).select_from(Membership).where(Membership.status == status)
    return int(await session.scalar(query) or 0)


async def get_for_update(session: AsyncSession, membership_id: int) -> Membership | None:
    return (
        await session.scalars(select(Membership).where(Membership.id == membership_id).with_for_update())
    ).first()


async def decide(
    session: AsyncSession, row: Membership, *, approve: bool, admin_id: int, now: dt.datetime, reason: str | None = None
) -> None:
    row.status = "approved" if approve else "rejected"
    row.member_stage = STAGES[0] if approve else None
    row.reject_reason = reason
    row.decided_at = now
    row.decided_by = admin_id
    action = "membership.approve" if approve else "membership.reject"
    await audit(session, admin_id, action, f"membership:{row.id}", now)


async def set_stage(session: AsyncSession, row: Membership, stage: str, admin_id: int, now: dt.datetime) -> None:
    old = row.member_stage
    row.member_stage = stage
    await audit(session, admin_id, "membership.stage", f"membership:{row.id}", now, {"from": old, "to": stage})

