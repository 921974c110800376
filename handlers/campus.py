"""Campus branches (캠퍼스점) and partner 특성화고: `/campus`.

What a student goes through with `/campus`:
1. Not registered yet: the bot says the branch is found from the school given at 구직등록
   and offers to register.
2. Their school has a campus branch (or is a partner 특성화고): the branch, its district and
   address, the weekdays a counselor is there and who, and the next free times there (the
   same times `/book` gives, from the counselors' hours at that place), with a button to book.
   A branch with no hours entered yet says so and points to the centre.
3. A partner 특성화고's student also sees the three-session coaching package (진로 탐색 → 서류 →
   모의면접) with their progress (1/3 … 3/3) and a button to book the next step: the booking
   form opens at their school with the consultation type set, so the session comes from the
   assigned counselor's school-visit hours under the booking rules; steps go in order.
4. Their school has none (or was not recognised): the bot says so, naming what they typed, and
   lists the nearest branches by their preferred districts (all of Seoul when none), with a
   button to correct the school in their profile.

What a counselor sees with `/campus`: for each campus branch or school where they hold hours,
how many registered students are linked to it and the latest of them (name, degree in progress,
expected graduation), so the branch's staff know whom they serve. Each such view is written to
the audit trail (staff views of a person are audited).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from kernel.availability import slots_between
from kernel.core import Button, CommandRoute, Ctx, MenuItem, Reply, Router, on, payload
from kernel.i18n import Translator, day_label, moment
from kernel.payloads import Max, Payload
from kernel.people import active_counselor
from storage import campuses, coaching, counselors, seekers
from storage.audit import audit
from storage.campuses import Branch
from storage.models import Counselor, Place, SeekerProfile

# Free times shown on the branch's card; the booking form shows the rest.
SHOWN_TIMES = 3
SHOWN_STUDENTS = 10
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The consultation a branch's counselor gives first; the type a student books there.
CAMPUS_TYPE = "job_counselling"


@dataclass(frozen=True)
class BookCoaching(Payload, prefix="cmp", action="c"):
    step: Annotated[int, Max(3)]


def _days(t: Translator, branch: Branch) -> str:
    return ", ".join(t(f"weekday.{WEEKDAYS.index(d)}") for d in branch.days if d in WEEKDAYS)


def branch_card(t: Translator, branch: Branch) -> list[str]:
    lines = [t(f"campus.title_{branch.kind}", name=branch.name),
             t("campus.where", district=t(f"district.{branch.district}"), address=branch.address)]
    if branch.kind == "campus" and branch.days:
        lines.append(t("campus.days", days=_days(t, branch)))
    if branch.counselor:
        lines.append(t("campus.counselor", name=branch.counselor))
    return lines


async def _place(ctx: Ctx, branch: Branch) -> Place | None:
    found = [p for p in await counselors.places_of_kind(ctx.session, branch.kind) if p.name == branch.place]
    return found[0] if found else None


async def _next_times(ctx: Ctx, branch: Branch) -> list[str] | None:
    """The first free times at the branch's place (None: no hours kept there at all)."""
    place = await _place(ctx, branch)
    if place is None:
        return None
    first = ctx.now.astimezone(ctx.settings.tz).date()
    last = first + dt.timedelta(days=ctx.settings.booking_horizon_days - 1)
    days = await slots_between(ctx, CAMPUS_TYPE, place.id, None, first, last)
    if not days:
        return None
    t, tz = ctx.t, ctx.settings.tz
    starts = sorted({s.starts_at for slots in days.values() for s in slots})[:SHOWN_TIMES]
    return [f"{day_label(t, s.astimezone(tz).date())} {s.astimezone(tz):%H:%M}" for s in starts]


async def show_branch(ctx: Ctx, profile: SeekerProfile, branch: Branch) -> list[Reply]:
    t = ctx.t
    lines = branch_card(t, branch)
    times = await _next_times(ctx, branch)
    rows: list[list[Button]] = []
    if times is None:
        lines += ["", t("campus.no_hours")]
    else:
        lines += ["", t("campus.next_times"), *(f"• {x}" for x in times)]
        rows.append([Button(t("campus.book"), payload("m", "book"))])
    if branch.kind == "high_school":
        progress = await coaching.progress(ctx.session, ctx.user.id, ctx.now)
        lines += ["", t("coaching.title", n=len(progress.held))]
        for step in coaching.STEPS:
            booked = progress.booked.get(step)
            state = "✅" if step in progress.held else "📅" if booked else "⬜"
            when = f" — {moment(t, booked.starts_at, ctx.settings.tz)}" if booked else ""
            lines.append(f"{state} {step}. {t(f'coaching.step.{step}')}{when}")
        upcoming = progress.next_step
        if upcoming is not None and times is not None:
            rows.insert(0, [Button(t("coaching.book", n=upcoming, step=t(f"coaching.step.{upcoming}")),
                                   BookCoaching(upcoming).pack())])
        elif upcoming is None and len(progress.held) == len(coaching.STEPS):
            lines.append(t("coaching.done"))
    return [Reply("\n".join(lines), rows)]


async def book_coaching(ctx: Ctx, press: BookCoaching) -> list[Reply]:
    """Opens the booking form at the student's school for the next step of the package."""
    t = ctx.t
    branch = await campuses.branch_of(ctx.session, ctx.user.id, campuses.directory(ctx.settings.campuses_file))
    place = await _place(ctx, branch) if branch is not None and branch.kind == "high_school" else None
    if place is None:
        return [Reply(t("coaching.not_partner"))]
    progress = await coaching.progress(ctx.session, ctx.user.id, ctx.now)
    if progress.next_step != press.step:
        return [Reply(t("coaching.not_next"))]
    labels = {"type": t(f"type.{CAMPUS_TYPE}"), "place": t("place.home", place=place.name)}
    # As a reschedule does: the given answers are kept and the questions start at the day.
    return await ctx.app.start_form(ctx, "booking", answers={"type": CAMPUS_TYPE, "place": str(place.id)},
                                    extra={"coaching": press.step}, mode="edit", labels=labels)


async def no_branch(ctx: Ctx, profile: SeekerProfile) -> list[Reply]:
    t = ctx.t
    found = campuses.directory(ctx.settings.campuses_file)
    near = found.near(tuple(profile.districts))
    head = t("campus.none_for", school=profile.school_name) if profile.school_name else t("campus.none")
    lines = [head, "", t("campus.nearest" if profile.districts else "campus.some")]
    lines += [f"• {b.name} ({t(f'district.{b.district}')}) — {_days(t, b)}" for b in near]
    rows = [[Button(t("campus.fix_school"), payload("m", "profile", "edit"))],
            [Button(t("menu.book"), payload("m", "book"))]]
    return [Reply("\n".join(lines), rows)]


async def staff_view(ctx: Ctx, counselor: Counselor) -> list[Reply]:
    """The branches where this counselor holds hours, with the students linked to each."""
    t = ctx.t
    found = campuses.directory(ctx.settings.campuses_file)
    place_ids = {w.place_id for w in await counselors.windows(ctx.session, [counselor.id])}
    places = await counselors.places_by_id(ctx.session, sorted(place_ids))
    branches = sorted({found.by_place[(p.kind, p.name)] for p in places.values()
                       if (p.kind, p.name) in found.by_place}, key=lambda b: b.name)
    if not branches:
        return [Reply(t("campus.staff_none"))]
    out: list[Reply] = []
    for branch in branches:
        students, total = await campuses.students_of(ctx.session, branch.code, SHOWN_STUDENTS)
        lines = [*branch_card(t, branch), "", t("campus.students", n=total)]
        for s in students:
            lines.append("• " + t("campus.student", name=s.name, degree=t(f"degree.{s.degree}") if s.degree
                                  else t(f"education.{s.education}"),
                                  graduation=s.graduation or "-"))
        if students:
            await audit(ctx.session, ctx.user.id, "campus.students_viewed", f"campus:{branch.code}", ctx.now,
                        {"users": [s.user_id for s in students]})
        out.append(Reply("\n".join(lines)))
    return out


async def campus(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    counselor = await active_counselor(ctx)
    if counselor is not None:
        return await staff_view(ctx, counselor)
    profile = await seekers.get(ctx.session, ctx.user.id)
    if profile is None:
        return [Reply(t("campus.register_first"), [[Button(t("menu.register"), payload("m", "register"))]])]
    branch = await campuses.branch_of(ctx.session, ctx.user.id, campuses.directory(ctx.settings.campuses_file))
    if branch is None:
        return await no_branch(ctx, profile)
    return await show_branch(ctx, profile, branch)


async def _youth_or_staff(ctx: Ctx) -> bool:
    profile = await seekers.get(ctx.session, ctx.user.id)
    return (profile is not None and profile.track == "youth") or await active_counselor(ctx) is not None


def build() -> Router:
    return Router(
        name="campus",
        commands=[CommandRoute("campus", campus, describe="cmd.campus")],
        buttons=[on(BookCoaching, book_coaching)],
        menu=[MenuItem("menu.campus", "campus", visible=_youth_or_staff, order=23)],
    )
