"""청년취업멘토단 (youth job mentor group): `/mentoring` for mentors and young seekers,
`/mentoradmin` for admins.

What a working professional goes through to become a mentor (`/mentoring` → 멘토로 지원):
1. Consent (PIPA) → name → company → job → years of experience → the fields they mentor in
   (the job families the matcher knows, several) → the district they meet in → how many
   mentees at once → format (online / on site / either) → summary → submit.
2. They apply for the next cohort (the half-year starting on one of MENTORING_COHORT_STARTS);
   a second application is refused with their current one shown. Admins are told at once.
3. An admin selects or turns down the application (at most MENTORING_COHORT_QUOTA selected per
   cohort, checked under a lock); the applicant hears it through the outbox.

What a young seeker goes through (`/mentoring` → 멘토링 신청; 구직등록 first):
1. The field wanted → their questions → format → summary → submit.
2. The matcher (`matching.mentoring`: field, district, format, free places) proposes a
   selected mentor, who is asked to accept; with no mentor in that field the seeker is told so
   and offered a counselor instead (the request waits, and is proposed to the next mentor
   selected in that field).
3. The mentor accepts (or an admin confirms the pair in `/mentoradmin`): both see the pair in
   `/mentoring`, with MENTORING_SESSIONS sessions to hold. The mentor may decline with a reason
   (the request goes to the next mentor who fits, or waits) or later end the pairing with one.

`/mentoring` shows each side what they have: the application and its state, the pairs
proposed (accept / decline), active (end) and past.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy.exc import IntegrityError

from kernel import parsers
from kernel.core import Button, CommandRoute, Ctx, Invalid, MenuItem, Reply, Router, on, payload, stamp
from kernel.forms import Answers, Choice, Extra, Field, Form, choices
from kernel.i18n import Translator
from kernel.payloads import OneOf, Payload, Stamp, same_record
from matching import mentoring as pairing
from scheduler import queue
from storage import mentoring, seekers
from storage.audit import audit
from storage.db import advisory_xact_lock
from storage.demo import FAMILIES
from storage.models import Mentor, MentoringRequest, MentorPair

FIELDS = tuple(FAMILIES)


@dataclass(frozen=True)
class StartMentor(Payload, prefix="mt", action="m"):
    """멘토로 지원하기: opens the mentor application form."""


@dataclass(frozen=True)
class StartMentee(Payload, prefix="mt", action="e"):
    """멘토링 신청하기: opens the mentee request form."""


@dataclass(frozen=True)
class Accept(Payload, prefix="mt", action="ok"):
    pair: int
    proof: Stamp


@dataclass(frozen=True)
class Decline(Payload, prefix="mt", action="no"):
    pair: int
    reason: Annotated[str, OneOf(mentoring.DECLINE_REASONS)]
    proof: Stamp


@dataclass(frozen=True)
class End(Payload, prefix="mt", action="end"):
    pair: int
    reason: Annotated[str, OneOf(mentoring.END_REASONS)]
    proof: Stamp


@dataclass(frozen=True)
class Select(Payload, prefix="mta", action="sel"):
    mentor: int
    decision: Annotated[str, OneOf(("selected", "not_selected"))]
    proof: Stamp


@dataclass(frozen=True)
class Confirm(Payload, prefix="mta", action="ok"):
    pair: int
    proof: Stamp


def _years(value: int, t: Translator) -> str:
    return t("seeker.years", n=value)


MENTOR_FIELDS = (
    Field("consent", choices=(Choice("yes", "consent.agree"), Choice("no", "consent.refuse")), refuse="no",
          columns=1),
    Field("name", parse=parsers.person_name),
    Field("company", parse=parsers.text(60)),
    Field("job", parse=parsers.text(60)),
    Field("years", parse=lambda raw, _i: parsers.integer(raw, low=1, high=50, units=("년", "years", "year")),
          show=_years),
    Field("fields", choices=choices("family", FIELDS), multi=True, columns=2),
    Field("district", choices=choices("district", seekers.DISTRICTS), columns=4),
    Field("capacity", choices=tuple(Choice(str(n), f"mentoring.capacity.{n}") for n in (1, 2, 3, 5)), columns=4),
    Field("format", choices=choices("mentoring.format", mentoring.FORMATS), columns=1),
)

MENTEE_FIELDS = (
    Field("field", choices=choices("family", FIELDS), columns=2),
    Field("questions", parse=parsers.text(500, newlines=True, min_len=5)),
    Field("format", choices=choices("mentoring.format", mentoring.FORMATS), columns=1),
)


def mentor_text(t: Translator, m: Mentor) -> str:
    return t("mentoring.mentor_card", name=m.name, company=m.company, job=m.job, years=m.years,
             fields=", ".join(t(f"family.{f}") for f in m.fields), district=t(f"district.{m.district}"),
             format=t(f"mentoring.format.{m.format}"), capacity=m.capacity)


# --- mentors apply; admins select -----------------------------------------------------------------


async def submit_mentor(ctx: Ctx, a: Answers, _extra: Extra) -> list[Reply]:
    t = ctx.t
    if await mentoring.mentor_of(ctx.session, ctx.user.id) is not None:
        raise Invalid("mentoring.mentor_already")
    today = ctx.now.astimezone(ctx.settings.tz).date()
    cohort = mentoring.cohort_for(today, ctx.settings.mentoring_cohort_starts)
    values = {**a, "capacity": int(a["capacity"])}
    try:
        row = await mentoring.apply_mentor(ctx.session, ctx.user.id, values, cohort, ctx.now)
    except IntegrityError:
        raise Invalid("mentoring.mentor_already") from None
    proof = stamp(row.created_at)
    await queue.to_admins(ctx.session, ctx.settings, lambda tr: Reply(
        tr("mentoring.admin_new", cohort=row.cohort) + "\n\n" + mentor_text(tr, row),
        [[Button(tr("mentoring.select"), Select(row.id, "selected", proof).pack()),
          Button(tr("mentoring.not_select"), Select(row.id, "not_selected", proof).pack())]]),
        now=ctx.now, kind="mentor.new", dedupe_key=f"mentor.new:{row.id}", about=row.user_id)
    return [Reply(t("mentoring.mentor_submitted", cohort=cohort)), await ctx.app.menu(ctx)]


async def select(ctx: Ctx, press: Select) -> list[Reply]:
    t = ctx.t
    row = await ctx.session.get(Mentor, press.mentor)
    if row is None or not same_record(press.proof, row.created_at):
        return [Reply(t("mentoring.gone"))]
    await advisory_xact_lock(ctx.session, "mentor-cohort", row.cohort)
    if row.status == press.decision:
        return [Reply(t("mentoring.decided_already"))]
    quota = ctx.settings.mentoring_cohort_quota
    if press.decision == "selected" and await mentoring.selected_in(ctx.session, row.cohort) >= quota:
        return [Reply(t("mentoring.quota_full", n=quota, cohort=row.cohort))]
    row.status, row.decided_at = press.decision, ctx.now
    await audit(ctx.session, ctx.user.id, f"mentor.{press.decision}", f"mentor:{row.id}", ctx.now)
    await queue.to_user(ctx.session, row.user_id, lambda tr: Reply(tr(f"mentoring.told.{press.decision}",
                                                                     cohort=row.cohort)),
                        kind="mentor.decision", now=ctx.now)
    if row.status == "selected":
        # Seekers who were told no mentor in their field was free hear of this one now.
        for request in await mentoring.unpaired(ctx.session, list(row.fields), row.capacity):
            await _propose(ctx, request)
    return [Reply(t("mentoring.decision_saved", name=row.name, status=t(f"mentoring.status.{row.status}")),
                  edit=True)]


# --- seekers ask for a mentor; the matcher proposes ------------------------------------------------


async def submit_mentee(ctx: Ctx, a: Answers, _extra: Extra) -> list[Reply]:
    t = ctx.t
    if await seekers.get(ctx.session, ctx.user.id) is None:
        raise Invalid("mentoring.register_first")
    if await mentoring.open_request(ctx.session, ctx.user.id) is not None:
        raise Invalid("mentoring.request_already")
    request = await mentoring.add_request(ctx.session, ctx.user.id, a, ctx.now)
    pair = await _propose(ctx, request)
    if pair is None:
        return [Reply(t("mentoring.no_mentor", field=t(f"family.{request.field}")),
                      [[Button(t("menu.book"), payload("m", "book"))]])]
    return [Reply(t("mentoring.proposed", field=t(f"family.{request.field}"))), await ctx.app.menu(ctx)]


async def _propose(ctx: Ctx, request: MentoringRequest) -> MentorPair | None:
    """Proposes the best mentor who fits and has not declined this request; asks them to accept."""
    today = ctx.now.astimezone(ctx.settings.tz).date()
    starts = ctx.settings.mentoring_cohort_starts
    # The cohort running now and the one selected for next: a selected mentor may start at once.
    cohorts = (mentoring.current_cohort(today, starts), mentoring.cohort_for(today, starts))
    profile = await seekers.get(ctx.session, request.user_id)
    found = pairing.best(await mentoring.available(ctx.session, cohorts), request.field,
                         tuple(profile.districts) if profile else (), request.format,
                         skip=await mentoring.declined_by(ctx.session, request.id))
    if found is None:
        return None
    pair = await mentoring.propose(ctx.session, found.id, request, ctx.settings.mentoring_sessions, ctx.now)
    mentor = await ctx.session.get(Mentor, found.id)
    assert mentor is not None
    proof = stamp(pair.created_at)
    await queue.to_user(ctx.session, mentor.user_id, lambda tr: Reply(
        tr("mentoring.ask_mentor", field=tr(f"family.{request.field}"), format=tr(f"mentoring.format.{request.format}"),
           questions=request.questions),
        [[Button(tr("mentoring.accept"), Accept(pair.id, proof).pack())],
         [Button(tr(f"mentoring.decline.{r}"), Decline(pair.id, r, proof).pack()) for r in mentoring.DECLINE_REASONS]]),
        kind="mentor.proposal", now=ctx.now, about=request.user_id)
    return pair


async def _own_pair(ctx: Ctx, pair_id: int, proof: str, status: str) -> tuple[MentorPair, Mentor] | None:
    pair = await ctx.session.get(MentorPair, pair_id)
    if pair is None or not same_record(proof, pair.created_at) or pair.status != status:
        return None
    mentor = await ctx.session.get(Mentor, pair.mentor_id)
    if mentor is None or mentor.user_id != ctx.user.id:
        return None
    return pair, mentor


async def _activate(ctx: Ctx, pair: MentorPair, mentor: Mentor) -> None:
    pair.status, pair.confirmed_at = "active", ctx.now
    request = await ctx.session.get(MentoringRequest, pair.request_id)
    if request is not None:
        request.status = "paired"
    await queue.to_user(ctx.session, pair.mentee_id, lambda tr: Reply(
        tr("mentoring.paired", n=pair.sessions_cap) + "\n\n" + mentor_text(tr, mentor)),
        kind="mentor.paired", now=ctx.now)


async def accept(ctx: Ctx, press: Accept) -> list[Reply]:
    found = await _own_pair(ctx, press.pair, press.proof, "proposed")
    if found is None:
        return [Reply(ctx.t("mentoring.gone"))]
    await _activate(ctx, *found)
    return [Reply(ctx.t("mentoring.accepted", n=found[0].sessions_cap), edit=True)]


async def decline(ctx: Ctx, press: Decline) -> list[Reply]:
    t = ctx.t
    found = await _own_pair(ctx, press.pair, press.proof, "proposed")
    if found is None:
        return [Reply(t("mentoring.gone"))]
    pair, _mentor = found
    pair.status, pair.ended_at, pair.end_reason = "declined", ctx.now, press.reason
    request = await ctx.session.get(MentoringRequest, pair.request_id)
    if request is not None and await _propose(ctx, request) is None:
        await queue.to_user(ctx.session, pair.mentee_id, lambda tr: Reply(
            tr("mentoring.no_mentor", field=tr(f"family.{request.field}")),
            [[Button(tr("menu.book"), payload("m", "book"))]]), kind="mentor.none", now=ctx.now)
    return [Reply(t("mentoring.declined"), edit=True)]


async def end(ctx: Ctx, press: End) -> list[Reply]:
    t = ctx.t
    found = await _own_pair(ctx, press.pair, press.proof, "active")
    if found is None:
        return [Reply(t("mentoring.gone"))]
    pair, _mentor = found
    pair.status, pair.ended_at, pair.end_reason = "ended", ctx.now, press.reason
    request = await ctx.session.get(MentoringRequest, pair.request_id)
    if request is not None:
        request.status = "ended"
    await queue.to_user(ctx.session, pair.mentee_id, lambda tr: Reply(
        tr("mentoring.ended_told", reason=tr(f"mentoring.end.{press.reason}"))), kind="mentor.ended", now=ctx.now)
    return [Reply(t("mentoring.ended"), edit=True)]


# --- what each side sees ------------------------------------------------------------------------


async def show(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    out: list[Reply] = []
    mentor = await mentoring.mentor_of(ctx.session, ctx.user.id)
    if mentor is not None:
        out.append(Reply(t("mentoring.my_application", cohort=mentor.cohort,
                           status=t(f"mentoring.status.{mentor.status}")) + "\n\n" + mentor_text(t, mentor)))
        for pair in await mentoring.pairs_of_mentor(ctx.session, mentor.id):
            request = await ctx.session.get(MentoringRequest, pair.request_id)
            name = (await seekers.get(ctx.session, pair.mentee_id))
            text = t("mentoring.pair_mentor", name=name.name if name else "-",
                     field=t(f"family.{request.field}") if request else "-",
                     status=t(f"mentoring.pair.{pair.status}"), n=pair.sessions_cap)
            if request is not None and pair.status in ("proposed", "active"):
                text += "\n" + t("mentoring.questions", questions=request.questions)
            proof = stamp(pair.created_at)
            rows: list[list[Button]] = []
            if pair.status == "proposed":
                rows = [[Button(t("mentoring.accept"), Accept(pair.id, proof).pack())],
                        [Button(t(f"mentoring.decline.{r}"), Decline(pair.id, r, proof).pack())
                         for r in mentoring.DECLINE_REASONS]]
            elif pair.status == "active":
                rows = [[Button(t(f"mentoring.end.{r}"), End(pair.id, r, proof).pack())
                         for r in mentoring.END_REASONS]]
            out.append(Reply(text, rows))
    for pair, m in await mentoring.pairs_of_mentee(ctx.session, ctx.user.id):
        text = t("mentoring.pair_mentee", status=t(f"mentoring.pair.{pair.status}"), n=pair.sessions_cap)
        if pair.status in ("active", "ended"):
            text += "\n\n" + mentor_text(t, m)
        out.append(Reply(text))
    request = await mentoring.open_request(ctx.session, ctx.user.id)
    if request is not None and request.status == "waiting":
        out.append(Reply(t("mentoring.waiting", field=t(f"family.{request.field}"))))
    rows = []
    if mentor is None:
        rows.append([Button(t("mentoring.become_mentor"), StartMentor().pack())])
    if request is None:
        rows.append([Button(t("mentoring.ask_for_mentor"), StartMentee().pack())])
    if not out:
        out.append(Reply(t("mentoring.intro")))
    if rows:
        out.append(Reply(t("mentoring.what_next"), rows))
    return out


async def start_mentor(ctx: Ctx, _press: StartMentor) -> list[Reply]:
    mentor = await mentoring.mentor_of(ctx.session, ctx.user.id)
    if mentor is not None:
        return [Reply(ctx.t("mentoring.mentor_already"))]
    return await ctx.app.start_form(ctx, "mentor")


async def start_mentee(ctx: Ctx, _press: StartMentee) -> list[Reply]:
    t = ctx.t
    if await seekers.get(ctx.session, ctx.user.id) is None:
        return [Reply(t("mentoring.register_first"), [[Button(t("menu.register"), payload("m", "register"))]])]
    if await mentoring.open_request(ctx.session, ctx.user.id) is not None:
        return [Reply(t("mentoring.request_already"))]
    return await ctx.app.start_form(ctx, "mentee")


# --- admins ----------------------------------------------------------------------------------------


async def admin_view(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """The next cohort's applications (select / not) and pairs waiting for a mentor's answer."""
    t = ctx.t
    today = ctx.now.astimezone(ctx.settings.tz).date()
    starts = ctx.settings.mentoring_cohort_starts
    out: list[Reply] = []
    for cohort in dict.fromkeys((mentoring.current_cohort(today, starts), mentoring.cohort_for(today, starts))):
        mentors = await mentoring.cohort_mentors(ctx.session, cohort)
        figures = await mentoring.figures(ctx.session, cohort)
        out.append(Reply(t("mentoring.admin_cohort", cohort=cohort, selected=figures["mentors"],
                           quota=ctx.settings.mentoring_cohort_quota, pairs=figures["pairs"],
                           applied=len(mentors))))
        for m in mentors:
            proof = stamp(m.created_at)
            rows = [[Button(t("mentoring.select"), Select(m.id, "selected", proof).pack()),
                     Button(t("mentoring.not_select"), Select(m.id, "not_selected", proof).pack())]]
            out.append(Reply(f"{t(f'mentoring.status.{m.status}')} — " + mentor_text(t, m), rows))
            for pair in await mentoring.pairs_of_mentor(ctx.session, m.id):
                if pair.status == "proposed":
                    out.append(Reply(t("mentoring.admin_proposed", name=m.name),
                                     [[Button(t("mentoring.confirm"), Confirm(pair.id, stamp(pair.created_at))
                                              .pack())]]))
    return out


async def confirm(ctx: Ctx, press: Confirm) -> list[Reply]:
    pair = await ctx.session.get(MentorPair, press.pair)
    if pair is None or not same_record(press.proof, pair.created_at) or pair.status != "proposed":
        return [Reply(ctx.t("mentoring.gone"))]
    mentor = await ctx.session.get(Mentor, pair.mentor_id)
    assert mentor is not None
    await _activate(ctx, pair, mentor)
    await queue.to_user(ctx.session, mentor.user_id, lambda tr: Reply(tr("mentoring.confirmed_told")),
                        kind="mentor.confirmed", now=ctx.now)
    await audit(ctx.session, ctx.user.id, "mentor_pair.confirmed", f"mentor_pair:{pair.id}", ctx.now)
    return [Reply(ctx.t("mentoring.confirmed"), edit=True)]


MENTOR_FORM = Form("mentor", MENTOR_FIELDS, submit_mentor)
MENTEE_FORM = Form("mentee", MENTEE_FIELDS, submit_mentee)


def build() -> Router:
    return Router(
        name="mentoring",
        commands=[CommandRoute("mentoring", show, describe="cmd.mentoring")],
        buttons=[on(StartMentor, start_mentor), on(StartMentee, start_mentee), on(Accept, accept),
                 on(Decline, decline), on(End, end)],
        forms=[MENTOR_FORM, MENTEE_FORM],
        menu=[MenuItem("menu.mentoring", "mentoring", order=24)],
    )


def build_admin() -> Router:
    return Router(
        name="mentoring_admin",
        admin=True,
        commands=[CommandRoute("mentoradmin", admin_view, describe="cmd.mentoradmin")],
        buttons=[on(Select, select), on(Confirm, confirm)],
        menu=[MenuItem("menu.mentoradmin", "mentoradmin")],
    )
