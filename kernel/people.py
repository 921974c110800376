"""Who a person is to the bot, as several features need it: a counselor or not, how staff see a
person's name, and how their startup-centre standing reads. One place, so that a counselor
deactivated by an admin is refused alike by booking, referrals, surveys and handoff."""

from __future__ import annotations

import datetime as dt
import logging

from kernel.core import Ctx, Reply
from kernel.i18n import Translator
from storage import bookings, counselors
from storage.models import Counselor, Membership

log = logging.getLogger(__name__)


async def active_counselor(ctx: Ctx) -> Counselor | None:
    counselor = await counselors.by_user(ctx.session, ctx.user.id)
    return counselor if counselor is not None and counselor.active else None


async def is_counselor(ctx: Ctx) -> bool:
    return await active_counselor(ctx) is not None


async def require_counselor(ctx: Ctx) -> Counselor | Reply:
    """The presser's active counselor record, or the refusal; run on every command, press and submit."""
    counselor = await active_counselor(ctx)
    if counselor is None:
        log.info("counselor action refused user=%s", ctx.user.id)
        return Reply(ctx.t("counselor.only"))
    return counselor


async def not_counselor(ctx: Ctx) -> list[Reply] | None:
    """The guard of counselors' buttons (`on(..., guard=not_counselor)`), run before their payload
    is read: a person who is no counselor hears so, whatever the button says."""
    found = await require_counselor(ctx)
    return [found] if isinstance(found, Reply) else None


async def person_name(ctx: Ctx, user_id: int) -> str:
    """How a counselor sees the person: registered name, else team name."""
    names = await bookings.person_names(ctx.session, [user_id])
    return names.get(user_id) or ctx.t("booking.no_name")


def describe_membership(t: Translator, row: Membership, tz: dt.tzinfo) -> str:
    applied = row.applied_at.astimezone(tz).strftime("%Y-%m-%d")
    if row.status == "approved":
        return t("membership.status_member", team=row.team_name, stage=t(f"stage.{row.member_stage}"), date=applied)
    if row.status == "rejected":
        return t("membership.status_rejected", team=row.team_name, date=applied, reason=row.reject_reason or "-")
    return t("membership.status_pending", team=row.team_name, date=applied)
