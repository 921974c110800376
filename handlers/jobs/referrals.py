"""Referrals (취업알선): the seeker following theirs, the counselor deciding them.

What a seeker goes through:
1. After 관심 있어요 on a posting (`/jobs`), 🤝 내 취업알선 appears in the menu (and `/profile`
   points to it): `/myreferrals` lists their referrals, newest first, ten at a time, each with
   the firm, the posting, where it stands now and the date of every step so far (신청,
   기업에 추천, 채용 확정 or 이번에는 이어지지 않음).
2. Each step a counselor records also reaches them as a message (below).

What a counselor goes through:
1. A seeker presses 관심 있어요 on a posting: the counselor with the fewest open
   referrals (or, with no counselor, the admins) gets a message with the seeker's
   profile summary, the firm and the posting, and the score, with three buttons:
   알선 완료 (the seeker was put forward to the firm), 채용 (hired) and 불발 (declined).
2. Each press records the step with its time and tells the seeker in their language;
   the message turns into the new state with the buttons that still make sense.
3. `/referrals` lists the counselor's open referrals (ten at a time) with the same buttons.
A press is checked again in the database: someone who is no counselor hears that these are
counselors' buttons; only the assigned counselor (or an admin) may decide, a step that no
longer follows (already hired, declined, or pressed twice) changes nothing and says where
the referral stands.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from kernel.core import (
    Button,
    CommandRoute,
    Ctx,
    MenuItem,
    Reply,
    Router,
    arg_int,
    on,
    payload,
    stamp,
)
from kernel.i18n import Translator
from kernel.payloads import OneOf, Payload, Stamp, same_record
from kernel.people import active_counselor, is_counselor
from scheduler import queue
from storage import firms, referrals
from storage.audit import audit
from storage.models import Firm, Posting, Referral

log = logging.getLogger(__name__)

PAGE = 10


@dataclass(frozen=True)
class Outcome(Payload, prefix="rf"):
    """`rf:<id>:<status>:<stamp>`: a counselor's or admin's 'referred / hired / declined'."""

    referral: int
    status: Annotated[str, OneOf(referrals.OUTCOMES)]
    proof: Stamp


def request_text(t: Translator, row: Referral, summary: str, posting: Posting | None, firm: Firm | None) -> str:
    what = t("referral.posting", title=posting.title if posting else t("referral.posting_gone"),
             firm=firm.name if firm else "-", score=row.score)
    return "\n".join([t("referral.new", id=row.id), what, "", summary, "",
                      t("referral.state", status=t(f"referral.status.{row.status}"))])


def outcome_buttons(t: Translator, row: Referral) -> list[list[Button]]:
    steps = referrals.NEXT[row.status]
    proof = stamp(row.requested_at)
    return [[Button(t(f"referral.mark.{s}"), Outcome(row.id, s, proof).pack()) for s in steps]] if steps else []


async def _may_decide(ctx: Ctx, row: Referral) -> bool:
    if ctx.is_admin:
        return True
    counselor = await active_counselor(ctx)
    return counselor is not None and (row.counselor_id is None or row.counselor_id == counselor.id)


async def _not_staff(ctx: Ctx) -> list[Reply] | None:
    """The guard of the outcome buttons, before their payload is read: someone who is neither a
    counselor nor an admin (a forwarded message, a guessed payload) is told these are counselors'
    buttons, not that the referral "belongs to another counselor"."""
    if ctx.is_admin or await is_counselor(ctx):
        return None
    return [Reply(ctx.t("counselor.only"))]


async def mark(ctx: Ctx, press: Outcome) -> list[Reply]:
    """Records an outcome and tells the seeker."""
    t = ctx.t
    referral_id, status = press.referral, press.status
    row = await referrals.get(ctx.session, referral_id)
    # Someone without the right to a referral learns nothing of it, not even that it exists:
    # the same answer as for one that is gone.
    if row is None or not same_record(press.proof, row.requested_at):
        return [Reply(t("referral.gone"))]
    if not await _may_decide(ctx, row):
        log.info("referral press refused user=%s", ctx.user.id)
        return [Reply(t("referral.gone"))]
    if not referrals.advance(row, status, ctx.user.id, ctx.now):
        return [Reply(t("referral.already", id=row.id, status=t(f"referral.status.{row.status}")))]
    found = await firms.get_posting(ctx.session, row.posting_id) if row.posting_id else None
    firm = found[1] if found else await firms.get_firm(ctx.session, row.firm_id)
    title = found[0].title if found else t("referral.posting_gone")
    firm_name = firm.name if firm else "-"
    await audit(ctx.session, ctx.user.id, f"referral.{status}", f"referral:{row.id}", ctx.now)
    await queue.to_user(ctx.session, row.user_id, lambda tr: Reply(tr(f"referral.told.{status}", title=title,
                                                                 firm=firm_name)),
                        now=ctx.now, kind="referral.outcome", dedupe_key=f"referral:{row.id}:{status}")
    log.info("referral %s referral=%s by=%s", status, row.id, ctx.user.id)
    return [Reply(t("referral.marked", id=row.id, title=title, firm=firm_name,
                    status=t(f"referral.status.{row.status}")), outcome_buttons(t, row), edit=True)]


async def open_referrals(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    counselor = await active_counselor(ctx)
    if counselor is None and not ctx.is_admin:
        return [Reply(t("counselor.only"))]
    offset = arg_int(args, 0, default=0)
    rows, total = await referrals.of_counselor(ctx.session, counselor.id if counselor else None, PAGE, offset)
    if not rows:
        return [Reply(t("referral.none_open"))]
    out = [Reply(t("referral.open_count", n=total))]
    for row in rows:
        found = await firms.get_posting(ctx.session, row.posting_id) if row.posting_id else None
        firm = found[1] if found else await firms.get_firm(ctx.session, row.firm_id)
        when = row.requested_at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d")
        out.append(Reply(t("referral.line", id=row.id, title=found[0].title if found else t("referral.posting_gone"),
                           firm=firm.name if firm else "-", status=t(f"referral.status.{row.status}"), date=when),
                         outcome_buttons(t, row)))
    if offset + PAGE < total:
        out.append(Reply(t("admin.more", n=total - offset - PAGE),
                         [[Button(t("admin.next_page"), payload("m", "referrals", offset + PAGE))]]))
    return out


STEPS = (("requested", "requested_at"), ("referred", "referred_at"), ("hired", "hired_at"),
         ("declined", "declined_at"))


async def my_referrals(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """The seeker's own referrals and each step's date: what `/profile` counts, shown."""
    t = ctx.t
    offset = arg_int(args, 0, default=0)
    rows, total = await referrals.of_seeker(ctx.session, ctx.user.id, PAGE, offset)
    if not rows:
        return [Reply(t("myreferrals.none"), [[Button(t("menu.jobs"), payload("m", "jobs"))]])]
    tz = ctx.settings.tz
    lines = [t("myreferrals.title", n=total)]
    for row in rows:
        found = await firms.get_posting(ctx.session, row.posting_id) if row.posting_id else None
        firm = found[1] if found else await firms.get_firm(ctx.session, row.firm_id)
        lines += ["", t("myreferrals.item", firm=firm.name if firm else "-",
                        title=found[0].title if found else t("referral.posting_gone"),
                        status=t(f"referral.status.{row.status}"))]
        for step, column in STEPS:
            when = getattr(row, column)
            if when is not None:
                lines.append(t(f"myreferrals.step.{step}", date=when.astimezone(tz).strftime("%Y-%m-%d")))
    buttons: list[list[Button]] = []
    if offset + PAGE < total:
        buttons.append([Button(t("admin.next_page"), payload("m", "myreferrals", offset + PAGE))])
    return [Reply("\n".join(lines), buttons)]


async def _has_referrals(ctx: Ctx) -> bool:
    return await referrals.has_any(ctx.session, ctx.user.id)


def build() -> Router:
    return Router(
        name="referrals",
        commands=[CommandRoute("referrals", open_referrals, describe="cmd.referrals", roles=("counselor", "admin")),
                  CommandRoute("myreferrals", my_referrals, describe="cmd.myreferrals")],
        buttons=[on(Outcome, mark, guard=_not_staff)],
        menu=[MenuItem("menu.referrals", "referrals", visible=is_counselor, order=60),
              MenuItem("menu.myreferrals", "myreferrals", visible=_has_referrals, order=22)],
        phrases={"내취업알선": "myreferrals", "취업알선": "myreferrals", "알선현황": "myreferrals"},
    )
