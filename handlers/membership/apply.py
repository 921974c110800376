"""Startup-centre membership application (공동회원제).

What the user goes through with `/membership`:
1. If they already applied, they see the state (under review, member at a stage) and
   nothing new is started; when this year's quota is reached, applications are closed
   with a clear message.
2. Applicant type (would-be founder, university startup club, employee preparing to
   found, re-starter after a closed company, existing startup) → team or company name →
   one-paragraph idea → industry → stage (idea / prototype / revenue) → team size →
   consent (PIPA) → summary → submit.
3. On submit every admin gets the application at once with approve / reject buttons
   (handled in `handlers.membership.review`); the applicant hears the result in this chat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from kernel import parsers
from kernel.core import Button, CommandRoute, Ctx, Invalid, MenuItem, Reply, Router, stamp
from kernel.forms import Answers, Choice, Extra, Field, Form, choices
from kernel.i18n import Translator
from kernel.payloads import Payload, Stamp
from kernel.people import describe_membership
from scheduler import queue
from storage import memberships
from storage.db import advisory_xact_lock
from storage.models import Membership

APPLICANT_TYPES = ("prospective", "campus_club", "employee", "restarter", "startup")
INDUSTRIES = ("it", "manufacturing", "bio", "content", "food", "fashion", "education", "environment", "social",
              "other")
STARTUP_STAGES = ("idea", "prototype", "revenue")


def _team(value: int, t: Translator) -> str:
    return t("membership.people", n=value)


MEMBERSHIP_FIELDS = (
    Field("applicant_type", choices=choices("applicant", APPLICANT_TYPES), columns=1),
    Field("team_name", parse=parsers.text(50)),
    Field("idea", parse=parsers.text(500, newlines=True, min_len=10)),
    Field("industry", choices=choices("industry", INDUSTRIES)),
    Field("startup_stage", choices=choices("startup_stage", STARTUP_STAGES), columns=1),
    Field("team_size", parse=lambda raw, _inp: parsers.integer(raw, low=1, high=100, units=("명", "people")),
          choices=tuple(Choice(str(n), f"team.{n}") for n in (1, 2, 3, 4, 5)), show=_team, columns=5),
    Field("consent", choices=(Choice("yes", "consent.agree"), Choice("no", "consent.refuse")), refuse="no",
          columns=1),
)


def year_start(now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    local = now.astimezone(tz)
    return dt.datetime(local.year, 1, 1, tzinfo=tz).astimezone(dt.UTC)


async def quota_left(ctx: Ctx) -> int:
    used = await memberships.count_since(ctx.session, year_start(ctx.now, ctx.settings.tz))
    return ctx.settings.membership_yearly_quota - used



def application_text(t: Translator, row: Membership, tz: dt.tzinfo) -> str:
    """How an application reads for an admin (no phone numbers or names beyond the team)."""
    return t(
        "admin.application", id=row.id, team=row.team_name, type=t(f"applicant.{row.applicant_type}"),
        industry=t(f"industry.{row.industry}"), stage=t(f"startup_stage.{row.startup_stage}"),
        size=row.team_size, idea=row.idea, date=row.applied_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
    )


@dataclass(frozen=True)
class Approve(Payload, prefix="adm", action="ok"):
    """An admin's 승인 under an application (handlers.membership.review answers the `adm` buttons)."""

    membership: int
    proof: Stamp


@dataclass(frozen=True)
class AskReject(Payload, prefix="adm", action="no"):
    """An admin's 거절: asks the reason before anything is decided."""

    membership: int
    proof: Stamp


def decision_buttons(t: Translator, row: Membership) -> list[list[Button]]:
    # Stamped with the application's time: the buttons act on this application and no other.
    return [[Button(t("admin.approve"), Approve(row.id, stamp(row.applied_at)).pack()),
             Button(t("admin.reject"), AskReject(row.id, stamp(row.applied_at)).pack())]]


async def submit(ctx: Ctx, answers: Answers, _extra: Extra) -> list[Reply]:
    """Stores the application under the quota lock and tells the admins at once."""
    t = ctx.t
    # The yearly quota and "one live application" must hold with concurrent submits.
    await advisory_xact_lock(ctx.session, "membership-quota")
    if await quota_left(ctx) <= 0:
        raise Invalid("membership.closed", quota=f"{ctx.settings.membership_yearly_quota:,}")
    if await memberships.live(ctx.session, ctx.user.id) is not None:
        raise Invalid("membership.already")
    try:
        row = await memberships.apply(ctx.session, ctx.user.id, answers, ctx.now)
    except IntegrityError:
        raise Invalid("membership.already") from None
    tz = ctx.settings.tz
    await queue.to_admins(
        ctx.session, ctx.settings,
        lambda tr: Reply(tr("admin.new_application") + "\n\n" + application_text(tr, row, tz),
                         decision_buttons(tr, row)),
        now=ctx.now, kind="membership.new", dedupe_key=f"membership.new:{row.id}", about=row.user_id,
    )
    return [Reply(t("membership.submitted", team=row.team_name)), await ctx.app.menu(ctx)]


MEMBERSHIP_FORM = Form("membership", MEMBERSHIP_FIELDS, submit, opened_by=("membership",))


async def membership(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    if ctx.conv.flow != "membership":
        row = await memberships.live(ctx.session, ctx.user.id)
        if row is not None:
            return [Reply(describe_membership(t, row, ctx.settings.tz)), await ctx.app.menu(ctx)]
        if await quota_left(ctx) <= 0:
            return [Reply(t("membership.closed", quota=f"{ctx.settings.membership_yearly_quota:,}")),
                    await ctx.app.menu(ctx)]
    return await ctx.app.start_form(ctx, "membership")


def build() -> Router:
    return Router(
        name="membership",
        commands=[CommandRoute("membership", membership, describe="cmd.membership")],
        forms=[MEMBERSHIP_FORM],
        menu=[MenuItem("menu.membership", "membership", order=15)],
        phrases={"공동회원제": "membership", "공동회원": "membership", "창업": "membership",
                 "membership": "membership"},
    )
