"""Staff decisions on a membership and what they tell the person: one code for the chat
(`handlers/membership/review.py`) and the web console, so an approval from either records the
same audit entry and queues the same message."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from kernel.core import Reply
from scheduler import queue
from storage import memberships
from storage.models import Membership


async def approve(session: AsyncSession, row: Membership, *, by: int, now: dt.datetime) -> None:
    """Approves a pending application; the member starts at the first stage and is told."""
    await memberships.decide(session, row, approve=True, admin_id=by, now=now)
    await queue.to_user(session, row.user_id, lambda tr: Reply(tr("membership.approved", team=row.team_name,
                                                               stage=tr("stage.preparation"))),
                        now=now, kind="membership.decision", dedupe_key=f"membership.decision:{row.id}")


async def reject(session: AsyncSession, row: Membership, reason: str, *, by: int, now: dt.datetime) -> None:
    """Rejects a pending application; the applicant gets the reason with the result."""
    await memberships.decide(session, row, approve=False, admin_id=by, now=now, reason=reason)
    await queue.to_user(session, row.user_id, lambda tr: Reply(tr("membership.rejected", team=row.team_name,
                                                               reason=reason)),
                        now=now, kind="membership.decision", dedupe_key=f"membership.decision:{row.id}")


async def set_stage(session: AsyncSession, row: Membership, stage: str, *, by: int, now: dt.datetime) -> None:
    """Moves a member to another stage; they are told."""
    await memberships.set_stage(session, row, stage, by, now)
    await queue.to_user(session, row.user_id, lambda tr: Reply(tr("membership.stage_changed", team=row.team_name,
                                                               stage=tr(f"stage.{stage}"))),
                        now=now, kind="membership.stage")
