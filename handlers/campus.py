"""Campus branches (캠퍼스점) and partner 특성화고: `/campus`.

What a student goes through with `/campus`:
1. Not registered yet: the bot says the branch is found from the school given at 구직등록
   and offers to register.
2. Their school has a campus branch (or is a partner 특성화고): the branch, its district and
   address, the weekdays a counselor is there and who, and the next free times there (the
   same times `/book` gives, from the counselors' hours at that place), with a button to book.
   A branch with no hours entered yet says so and points to the centre.
3. Their school has none (or was not recognised): the bot says so, naming what they typed, and
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

from kernel.availability import slots_between
from kernel.core import Button, CommandRoute, Ctx, MenuItem, Reply, Router, payload
from kernel.i18n import Translator, day_label
from kernel.people import active_counselor
from storage import campuses, counselors, seekers
from storage.audit import audit
from storage.campuses import Branch
from storage.models import Counselor, SeekerProfile

# Free times shown on the branch's card; the booking form shows the rest.
SHOWN_TIMES = 3
SHOWN_STUDENTS = 10
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The consultation a branch's counselor gives first; the type a student books there.
CAMPUS_TYPE = "job_counselling"


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


async def _next_times(ctx: Ctx, branch: Branch) -> list[str] | None:
    """The first free times at the branch's place (None: no hours kept there at all)."""
    found = [p for p in await counselors.places_of_kind(ctx.session, branch.kind) if p.name == branch.place]
    if not found:
        return None
    first = ctx.now.astimezone(ctx.settings.tz).date()
    last = first + dt.timedelta(days=ctx.settings.booking_horizon_days - 1)
    days = await slots_between(ctx, CAMPUS_TYPE, found[0].id, None, first, last)
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
    return [Reply("\n".join(lines), rows)]


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
        menu=[MenuItem("menu.campus", "campus", visible=_youth_or_staff, order=23)],
    )
