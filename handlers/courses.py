"""기술교육원 courses: `/courses` for everyone, `/courseadmin` for admins.

What a person goes through with `/courses`:
1. The courses still taking applications (open, deadline not passed), by NCS field and by
   institute as buttons; a registered seeker also gets "추천 과정": the courses that fit their
   desired jobs, and for the middle-aged track those teaching the skills the postings they want
   require and they lack (`matching.courses`). "내 신청" lists their applications.
2. A field or an institute lists its courses as cards (institute and campus, dates and hours,
   schedule, fee or free, capacity, deadline) with "신청하기".
3. 신청하기: without 구직등록 they are offered to register first; past the deadline or closed:
   "마감되었어요"; outside the course's age range or kinds of person: why; applied already: their
   status. Otherwise one question to confirm; the application is made, or, when the selected
   trainees fill the course, put on the waiting list, and they are told which.
4. Admins' decisions (선발 / 대기 / 미선발) reach them through the outbox. A selected trainee
   gets a reminder the day before the start and, the day after the end, the trainee
   satisfaction survey (기술교육원 훈련생 만족도): one question, 1–5, as buttons.

What an admin goes through with `/courseadmin`: the courses with their applications counted by
status → "신청자" lists the applicants (name, age, track, status) with 선발 / 대기 / 미선발. Selecting
beyond the capacity is refused (the rule is checked under a per-course lock); changing a selected
trainee to another status withdraws their reminder and survey.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from kernel.core import Button, Card, CommandRoute, Ctx, MenuItem, Reply, Router, on, payload, stamp
from kernel.i18n import Translator, day_label
from kernel.payloads import Max, OneOf, Payload, Stamp, same_record
from matching import PostingIndex
from matching.courses import CourseView, skill_gap, suggest
from matching.evaluate import seeker_from
from scheduler import queue
from storage import courses, firms, outbox, seekers
from storage.audit import audit
from storage.db import advisory_xact_lock
from storage.models import Course, CourseApplication

SUGGESTED = 3
SHOWN = 8


@dataclass(frozen=True)
class ByField(Payload, prefix="crs", action="f"):
    ncs: Annotated[int, Max(24)]


@dataclass(frozen=True)
class ByInstitute(Payload, prefix="crs", action="i"):
    index: Annotated[int, Max(99)]


@dataclass(frozen=True)
class Suggested(Payload, prefix="crs", action="s"):
    """✨ 추천 과정: nothing to carry, the person is the presser."""


@dataclass(frozen=True)
class Mine(Payload, prefix="crs", action="my"):
    """📋 내 신청: the presser's own applications."""


@dataclass(frozen=True)
class Apply(Payload, prefix="crs", action="a"):
    course: int


@dataclass(frozen=True)
class ConfirmApply(Payload, prefix="crs", action="ay"):
    course: int


@dataclass(frozen=True)
class Rate(Payload, prefix="crs", action="r"):
    application: int
    score: Annotated[int, Max(5)]
    proof: Stamp


@dataclass(frozen=True)
class Applicants(Payload, prefix="crsa", action="l"):
    course: int


@dataclass(frozen=True)
class Decide(Payload, prefix="crsa", action="d"):
    application: int
    decision: Annotated[str, OneOf(courses.DECISIONS)]
    proof: Stamp


def _today(ctx: Ctx) -> dt.date:
    return ctx.now.astimezone(ctx.settings.tz).date()


def _cost(t: Translator, cost: int) -> str:
    return t("courses.free") if cost == 0 else t("courses.cost", amount=f"{cost:,}")


def card_text(t: Translator, c: Course, reason: str | None = None) -> str:
    lines = [f"🎓 {c.title}", t("courses.where", institute=c.institute, campus=c.campus or "-"),
             t("courses.field", field=t(f"ncs.{c.ncs_code}")),
             t("courses.dates", start=day_label(t, c.starts_on), end=day_label(t, c.ends_on), hours=c.hours),
             t("courses.fee_seats", fee=_cost(t, c.cost), n=c.capacity),
             t("courses.deadline", date=day_label(t, c.deadline))]
    if c.schedule:
        lines.insert(4, t("courses.schedule", schedule=c.schedule))
    if reason:
        lines.append(reason)
    return "\n".join(lines)


def course_reply(t: Translator, c: Course, reason: str | None = None) -> Reply:
    return Reply(card_text(t, c, reason), [[Button(t("courses.apply"), Apply(c.id).pack())]],
                 card=Card.of(c.title, f"{c.institute} · {day_label(t, c.starts_on)}", _cost(t, c.cost)))


# --- browsing ------------------------------------------------------------------------------------


def _institutes(offered: Sequence[Course]) -> list[str]:
    return sorted({c.institute for c in offered})


async def show_courses(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    offered = await courses.offered(ctx.session, _today(ctx))
    rows: list[list[Button]] = []
    registered = await seekers.get(ctx.session, ctx.user.id) is not None
    if registered:
        rows.append([Button(t("courses.suggested"), Suggested().pack()), Button(t("courses.mine"), Mine().pack())])
    if not offered:
        return [Reply(t("courses.none_open"), rows)]
    fields = sorted({c.ncs_code for c in offered})
    field_buttons = [Button(t(f"ncs.{n}"), ByField(n).pack()) for n in fields]
    rows += [field_buttons[i:i + 2] for i in range(0, len(field_buttons), 2)]
    rows += [[Button(f"🏫 {name}", ByInstitute(i).pack())] for i, name in enumerate(_institutes(offered))]
    return [Reply(t("courses.intro", n=len(offered)), rows)]


async def by_field(ctx: Ctx, press: ByField) -> list[Reply]:
    found = [c for c in await courses.offered(ctx.session, _today(ctx)) if c.ncs_code == press.ncs]
    return _listing(ctx, found, ctx.t("courses.in_field", field=ctx.t(f"ncs.{press.ncs}")))


async def by_institute(ctx: Ctx, press: ByInstitute) -> list[Reply]:
    offered = await courses.offered(ctx.session, _today(ctx))
    names = _institutes(offered)
    if press.index >= len(names):
        return [Reply(ctx.t("courses.none_open"))]
    return _listing(ctx, [c for c in offered if c.institute == names[press.index]],
                    ctx.t("courses.in_institute", institute=names[press.index]))


def _listing(ctx: Ctx, found: list[Course], title: str) -> list[Reply]:
    t = ctx.t
    if not found:
        return [Reply(t("courses.none_open"))]
    more = [Reply(t("courses.more", n=len(found) - SHOWN))] if len(found) > SHOWN else []
    return [Reply(title), *(course_reply(t, c) for c in found[:SHOWN]), *more]


async def suggested(ctx: Ctx, _press: Suggested) -> list[Reply]:
    t = ctx.t
    profile = await seekers.get(ctx.session, ctx.user.id)
    if profile is None:
        return [Reply(t("courses.register_first"), [[Button(t("menu.register"), payload("m", "register"))]])]
    today = _today(ctx)
    offered = await courses.offered(ctx.session, today)
    # The skills the postings this person would be shown ask for and they lack: what a course can add.
    seeker = seeker_from(seekers.as_answers(profile), today, ctx.settings.student_grad_window_months)
    index = PostingIndex([firms.view(p, f) for p, f in await firms.shown(ctx.session, today)], today)
    wanted = index.top(seeker, 10, min_score=ctx.settings.jobs_min_score)
    by_id = {p.id: p for p in index.postings}
    gap = skill_gap(profile.skills, [s for m in wanted for s in by_id[m.posting_id].required_skills])
    views = [CourseView(c.id, c.title, tuple(c.skills)) for c in offered]
    best = suggest(profile.desired_jobs, gap, views, SUGGESTED)
    if not best:
        return [Reply(t("courses.no_suggestion"), [[Button(t("menu.book"), payload("m", "book"))]])]
    found = {c.id: c for c in offered}
    out = [Reply(t("courses.suggested_title"))]
    for course_id, _score, fills in best:
        reason = t("courses.fills_gap", skills=", ".join(fills)) if fills else t("courses.fits_job")
        out.append(course_reply(t, found[course_id], reason))
    return out


async def mine(ctx: Ctx, _press: Mine) -> list[Reply]:
    t = ctx.t
    rows = await courses.of_user(ctx.session, ctx.user.id)
    if not rows:
        return [Reply(t("courses.mine_none"))]
    lines = [t("courses.mine_title")]
    lines += [f"• {c.title} ({day_label(t, c.starts_on)}) — {t(f'courses.status.{a.status}')}" for a, c in rows]
    return [Reply("\n".join(lines))]


# --- applying ------------------------------------------------------------------------------------


async def _may_apply(ctx: Ctx, course_id: int) -> Course | list[Reply]:
    t = ctx.t
    course = await courses.get(ctx.session, course_id)
    if course is None:
        return [Reply(t("courses.gone"))]
    profile = await seekers.get(ctx.session, ctx.user.id)
    if profile is None:
        return [Reply(t("courses.register_first"), [[Button(t("menu.register"), payload("m", "register"))]])]
    if course.status != "open" or course.deadline < _today(ctx):
        return [Reply(t("courses.closed", title=course.title))]
    existing = await courses.application(ctx.session, course.id, ctx.user.id)
    if existing is not None:
        return [Reply(t("courses.already", title=course.title, status=t(f"courses.status.{existing.status}")))]
    why = courses.ineligible(course, profile, _today(ctx))
    if why is not None:
        return [Reply(t(why[0], title=course.title, **why[1]),
                      [[Button(t("courses.other"), payload("m", "courses"))]])]
    return course


async def ask_apply(ctx: Ctx, press: Apply) -> list[Reply]:
    found = await _may_apply(ctx, press.course)
    if isinstance(found, list):
        return found
    t = ctx.t
    return [Reply(t("courses.confirm", title=found.title, start=day_label(t, found.starts_on)),
                  [[Button(t("courses.confirm_yes"), ConfirmApply(found.id).pack())]])]


async def confirm_apply(ctx: Ctx, press: ConfirmApply) -> list[Reply]:
    await advisory_xact_lock(ctx.session, "course", press.course)
    found = await _may_apply(ctx, press.course)
    if isinstance(found, list):
        return found
    row = await courses.apply(ctx.session, found, ctx.user.id, ctx.now)
    t = ctx.t
    text = t("courses.waitlisted" if row.status == "waitlisted" else "courses.applied", title=found.title)
    return [Reply(text), await ctx.app.menu(ctx)]


async def rate(ctx: Ctx, press: Rate) -> list[Reply]:
    t = ctx.t
    row = await ctx.session.get(CourseApplication, press.application)
    if row is None or row.user_id != ctx.user.id or not same_record(press.proof, row.created_at) \
            or row.status != "selected" or not 1 <= press.score <= 5:
        return [Reply(t("courses.gone"))]
    if row.rating is not None:
        return [Reply(t("courses.rated_already"))]
    row.rating = press.score
    return [Reply(t("courses.rated"), edit=True)]


# --- admins --------------------------------------------------------------------------------------


async def course_admin(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    listed = await courses.offered(ctx.session, _today(ctx) - dt.timedelta(days=60))
    if not listed:
        return [Reply(t("courses.admin_none"))]
    counted = await courses.counts(ctx.session, [c.id for c in listed])
    out = [Reply(t("courses.admin_title"))]
    for c in listed[:20]:
        figures = ", ".join(f"{t(f'courses.status.{s}')} {counted.get((c.id, s), 0)}"
                            for s in ("applied", "selected", "waitlisted", "not_selected"))
        out.append(Reply(f"🎓 {c.title} · {c.institute}\n{figures} / {t('courses.capacity', n=c.capacity)}",
                         [[Button(t("courses.applicants"), Applicants(c.id).pack())]]))
    return out


def _decision_buttons(t: Translator, row: CourseApplication) -> list[list[Button]]:
    proof = stamp(row.created_at)
    return [[Button(t(f"courses.decide.{d}"), Decide(row.id, d, proof).pack())
             for d in courses.DECISIONS if d != row.status]]


async def applicants(ctx: Ctx, press: Applicants) -> list[Reply]:
    t = ctx.t
    course = await courses.get(ctx.session, press.course)
    if course is None:
        return [Reply(t("courses.gone"))]
    rows = await courses.applicants(ctx.session, course.id)
    if not rows:
        return [Reply(t("courses.no_applicants", title=course.title))]
    await audit(ctx.session, ctx.user.id, "courses.applicants_viewed", f"course:{course.id}", ctx.now)
    out = [Reply(t("courses.applicants_title", title=course.title, n=course.capacity))]
    year = _today(ctx).year
    for row, profile in rows:
        who = t("courses.applicant", name=profile.name, age=year - profile.birth_year,
                track=t(f"track.{profile.track}")) if profile else t("courses.applicant_gone")
        out.append(Reply(f"{who} — {t(f'courses.status.{row.status}')}", _decision_buttons(t, row)))
    return out


def _at(day: dt.date, hour: int, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).astimezone(dt.UTC)


async def decide(ctx: Ctx, press: Decide) -> list[Reply]:
    t = ctx.t
    row = await ctx.session.get(CourseApplication, press.application)
    if row is None or not same_record(press.proof, row.created_at):
        return [Reply(t("courses.gone"))]
    await advisory_xact_lock(ctx.session, "course", row.course_id)
    course = await courses.get(ctx.session, row.course_id)
    assert course is not None
    if row.status == press.decision:
        return [Reply(t("courses.decided_already", status=t(f"courses.status.{row.status}")))]
    if row.status == "cancelled":
        return [Reply(t("courses.gone"))]
    if press.decision == "selected" and await courses.selected_count(ctx.session, course.id) >= course.capacity:
        return [Reply(t("courses.full", n=course.capacity))]
    was_selected = row.status == "selected"
    row.status, row.decided_at, row.decided_by = press.decision, ctx.now, ctx.user.id
    await audit(ctx.session, ctx.user.id, f"courses.{press.decision}", f"course_application:{row.id}", ctx.now)
    if was_selected:
        await outbox.withdraw(ctx.session, courses.reminder_keys(row.id), "selection changed")
    await queue.to_user(ctx.session, row.user_id, lambda tr: Reply(tr(f"courses.told.{press.decision}",
                                                                     title=course.title,
                                                                     start=day_label(tr, course.starts_on))),
                        kind="course.decision", now=ctx.now)
    if press.decision == "selected":
        await _schedule(ctx, row, course)
    return [Reply(t("courses.decision_saved", status=t(f"courses.status.{row.status}")), _decision_buttons(t, row),
                  edit=True)]


async def _schedule(ctx: Ctx, row: CourseApplication, course: Course) -> None:
    """The reminder the day before the start and the satisfaction survey the day after the end."""
    tz = ctx.settings.tz
    remind_key, survey_key = courses.reminder_keys(row.id)
    remind_at = _at(course.starts_on - dt.timedelta(days=1), 10, tz)
    if remind_at > ctx.now:
        await queue.to_user(ctx.session, row.user_id, lambda tr: Reply(tr(
            "courses.reminder", title=course.title, start=day_label(tr, course.starts_on),
            where=f"{course.institute} {course.campus}".strip(), schedule=course.schedule or "-")),
            kind="course.reminder", now=ctx.now, due_at=remind_at, dedupe_key=remind_key)
    proof = stamp(row.created_at)
    await queue.to_user(ctx.session, row.user_id, lambda tr: Reply(
        tr("courses.survey", title=course.title),
        [[Button(str(n), Rate(row.id, n, proof).pack()) for n in range(1, 6)]]),
        kind="course.survey", now=ctx.now, due_at=_at(course.ends_on + dt.timedelta(days=1), 10, tz),
        dedupe_key=survey_key)


def build() -> Router:
    return Router(
        name="courses",
        commands=[CommandRoute("courses", show_courses, describe="cmd.courses")],
        buttons=[on(ByField, by_field), on(ByInstitute, by_institute), on(Suggested, suggested), on(Mine, mine),
                 on(Apply, ask_apply), on(ConfirmApply, confirm_apply), on(Rate, rate)],
        menu=[MenuItem("menu.courses", "courses", order=26)],
    )


def build_admin() -> Router:
    return Router(
        name="courses_admin",
        admin=True,
        commands=[CommandRoute("courseadmin", course_admin, describe="cmd.courseadmin")],
        buttons=[on(Applicants, applicants), on(Decide, decide)],
        menu=[MenuItem("menu.courseadmin", "courseadmin")],
    )

