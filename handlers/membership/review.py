"""Admins' side of the membership: review applications, decide, set member stages.

Every command and button here passes the one admin guard (the router is `admin=True`,
checked by the engine on every message and every press). What an admin goes through:
1. A new application arrives as a message with 승인 / 반려 buttons; `/applications`
   lists everything still pending, ten at a time.
2. 승인 approves at once; the applicant is told and becomes a member at 창업준비.
3. 반려 asks for a reason (one short answer); the applicant gets it with the result.
4. `/members` lists members with buttons to move them between 창업준비, 창업숙성 and
   창업실행; the member is told their new stage.
A decision is re-checked in the database when the button is pressed: a second admin
(or a second tap) on an application already decided gets "already decided", not a
second decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from handlers.membership.apply import Approve, AskReject, application_text, decision_buttons
from kernel import parsers
from kernel.core import (
    BadPayload,
    Button,
    CommandRoute,
    Ctx,
    Invalid,
    MenuItem,
    Reply,
    Router,
    arg_int,
    on,
    stamp,
)
from kernel.forms import Answers, Extra, Field, Form
from kernel.payloads import Max, Payload, Stamp, same_record
from scheduler import memberships as decisions
from storage import memberships
from storage.models import Membership

PAGE = 10


@dataclass(frozen=True)
class ApplicationsPage(Payload, prefix="adm", action="apps"):
    offset: int


@dataclass(frozen=True)
class MembersPage(Payload, prefix="adm", action="mems"):
    offset: int


@dataclass(frozen=True)
class SetStage(Payload, prefix="adm", action="stg"):
    """A member's stage, by its index in `memberships.STAGES`."""

    membership: int
    stage: Annotated[int, Max(len(memberships.STAGES) - 1)]
    proof: Stamp


async def _listing(ctx: Ctx, offset: int, status: str, page: Callable[[int], Payload],
                   render: Callable[[Membership], Reply]) -> list[Reply]:
    """One page of applications or members in a status, with a next-page button."""
    t = ctx.t
    rows = await memberships.with_status(ctx.session, status, PAGE, offset)
    total = await memberships.count_status(ctx.session, status)
    if not rows:
        return [Reply(t(f"admin.none_{status}"))]
    out = [Reply(t(f"admin.count_{status}", n=total)), *(render(row) for row in rows)]
    if offset + PAGE < total:
        out.append(Reply(t("admin.more", n=total - offset - PAGE),
                         [[Button(t("admin.next_page"), page(offset + PAGE).pack())]]))
    return out


async def applications(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    return await applications_page(ctx, arg_int(args, 0, default=0))


async def applications_page(ctx: Ctx, offset: int) -> list[Reply]:
    """Lists pending applications, each with its decision buttons."""
    t, tz = ctx.t, ctx.settings.tz
    return await _listing(ctx, offset, "pending", ApplicationsPage,
                          lambda row: Reply(application_text(t, row, tz), decision_buttons(t, row)))


async def _pending_or_reply(ctx: Ctx, args: Sequence[str]) -> Membership | Reply:
    """The reject form's application (`<id>`, `<stamp>` of the button that opened it), still pending."""
    if len(args) < 2 or not args[1]:
        raise BadPayload("no stamp")
    return await _pending(ctx, arg_int(args, 0), args[1])


async def _pending(ctx: Ctx, membership_id: int, proof: str) -> Membership | Reply:
    """The application a decision button names, while it is still pending."""
    row = await memberships.get_for_update(ctx.session, membership_id)
    if row is None or not same_record(proof, row.applied_at):
        return Reply(ctx.t("admin.not_found"))
    if row.status != "pending":
        return Reply(ctx.t("admin.already_decided", id=row.id, status=ctx.t(f"status.{row.status}")))
    return row


async def approve(ctx: Ctx, press: Approve) -> list[Reply]:
    """Approves; the member starts at the preparation stage and is told."""
    found = await _pending(ctx, press.membership, press.proof)
    if isinstance(found, Reply):
        return [found]
    row = found
    await decisions.approve(ctx.session, row, by=ctx.user.id, now=ctx.now)
    return [Reply(ctx.t("admin.approved", id=row.id, team=row.team_name), edit=True)]


async def ask_reason(ctx: Ctx, press: AskReject) -> list[Reply]:
    """Asks why, before anything is decided."""
    found = await _pending(ctx, press.membership, press.proof)
    if isinstance(found, Reply):
        return [found]
    return await ctx.app.start_form(ctx, "reject", extra={"id": found.id, "stamp": stamp(found.applied_at)})


async def reject(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    """Rejects with the reason given; re-checked, since another admin may have decided meanwhile."""
    if not ctx.is_admin:
        # The form outlives the button that opened it: check the role again at submit.
        raise Invalid("admin.only")
    found = await _pending_or_reply(ctx, (str(extra["id"]), str(extra.get("stamp", ""))))
    if isinstance(found, Reply):
        raise Invalid("admin.already_decided_short")
    row = found
    await decisions.reject(ctx.session, row, answers["reason"], by=ctx.user.id, now=ctx.now)
    return [Reply(ctx.t("admin.rejected", id=row.id, team=row.team_name))]


REJECT_FORM = Form("reject", (Field("reason", parse=parsers.text(300, newlines=True)),), reject, summary=False)


async def members(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    return await members_page(ctx, arg_int(args, 0, default=0))


async def members_page(ctx: Ctx, offset: int) -> list[Reply]:
    """Lists members with stage buttons (the current stage marked)."""
    t, tz = ctx.t, ctx.settings.tz

    def render(row: Membership) -> Reply:
        stage = t("admin.stage_now", stage=t(f"stage.{row.member_stage}"))
        return Reply(application_text(t, row, tz) + "\n" + stage, [_stage_buttons(ctx, row)])

    return await _listing(ctx, offset, "approved", MembersPage, render)


def _stage_buttons(ctx: Ctx, row: Membership) -> list[Button]:
    proof = stamp(row.applied_at)
    return [Button(("● " if row.member_stage == stage else "") + ctx.t(f"stage.{stage}"),
                   SetStage(row.id, i, proof).pack()) for i, stage in enumerate(memberships.STAGES)]


async def set_stage(ctx: Ctx, press: SetStage) -> list[Reply]:
    t = ctx.t
    row = await memberships.get_for_update(ctx.session, press.membership)
    stage = memberships.STAGES[press.stage]
    if row is None or not same_record(press.proof, row.applied_at) or row.status != "approved":
        return [Reply(t("admin.not_found"))]
    if row.member_stage == stage:
        return [Reply(t("admin.stage_same", team=row.team_name, stage=t(f"stage.{stage}")))]
    await decisions.set_stage(ctx.session, row, stage, by=ctx.user.id, now=ctx.now)
    return [Reply(t("admin.stage_set", team=row.team_name, stage=t(f"stage.{stage}")))]


def build() -> Router:
    return Router(
        name="admin",
        admin=True,
        commands=[
            CommandRoute("applications", applications, describe="cmd.applications"),
            CommandRoute("members", members, describe="cmd.members"),
        ],
        buttons=[on(Approve, approve), on(AskReject, ask_reason), on(SetStage, set_stage),
                 on(ApplicationsPage, lambda ctx, press: applications_page(ctx, press.offset)),
                 on(MembersPage, lambda ctx, press: members_page(ctx, press.offset))],
        forms=[REJECT_FORM],
        menu=[MenuItem("menu.applications", "applications"), MenuItem("menu.members", "members")],
    )
