"""Job-seeker registration (구직등록), the profile, and erasing one's data.

What the user goes through with `/register`:
1. Consent (PIPA): the items collected, the purpose, how long they are kept, and the
   right to refuse. Refusing ends politely and stores nothing.
2. Name → birth year → track (청년층 / 중장년층, suggested from the birth year) →
   where they study or studied (university / specialised high school / other) and its
   name → desired jobs (one or more) → skills → preferred districts (Seoul's 25 구,
   several, or "anywhere") → education; a student (재학·휴학) is asked the degree in progress
   (고졸 예정 / 전문학사 / 학사 / 석사, suggested from the school) and the expected graduation month
   → years of experience → desired salary (optional) → mobile number (optional; Korean formats,
   normalised). The school name is looked up among the campus branches and partner 특성화고
   (`storage.campuses`); a match links the profile to that branch (booking offers it first).
3. A summary where any answer can be corrected, then confirm: the profile is saved.

`/profile` shows everything the bot holds about the person, with buttons to edit the
registration (the same questions, straight to the chosen one), to see their own survey
answers (the latest ten surveys, as they answered them), and to delete it all.
`/delete` first lists what is held (the registration, the membership application, and each
kind of record with its count: bookings, event registrations, referrals, survey answers ...,
and the account with its conversation), asks once more, and then erases all of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from kernel import parsers
from kernel.core import Button, CommandRoute, Ctx, MenuItem, Reply, Router, payload
from kernel.forms import EDIT, Answers, Choice, Extra, Field, FieldInput, Form, choices
from kernel.i18n import Translator, day_label, money
from kernel.people import describe_membership
from storage import campuses, clinic, firms, memberships, privacy, seekers, survey_defs, surveys, users

YOUTH_MAX_AGE = 39  # Seoul's youth ordinance (청년 기본조례): 19–39


CONSENT = (Choice("yes", "consent.agree"), Choice("no", "consent.refuse"))


def suggest_track(answers: Answers, inp: FieldInput) -> str | None:
    born = answers.get("birth_year")
    if not isinstance(born, int):
        return None
    return "youth" if inp.now.astimezone(inp.tz).year - born <= YOUTH_MAX_AGE else "middle"


def _years(value: int, t: Translator) -> str:
    return t("seeker.years", n=value) if value else t("experience.0")


def _salary(value: int, t: Translator) -> str:
    return t("seeker.salary", amount=money(t, value))


def _phone(value: str, _t: Translator) -> str:
    return parsers.show_phone(value)


def _youth(answers: Answers) -> bool:
    return answers.get("track") != "middle"


def _student(answers: Answers) -> bool:
    return answers.get("education") == "enrolled"


def suggest_degree(answers: Answers, _inp: FieldInput) -> str | None:
    return {"vocational_high": "high_school", "university": "university"}.get(str(answers.get("school_kind")))


def month_label(value: str, t: Translator) -> str:
    year, month = map(int, value.split("-"))
    return day_label(t, dt.date(year, month, 1), "yMMM")


DEGREES = ("high_school", "college", "university", "graduate")


SEEKER_FIELDS = (
    Field("consent", choices=CONSENT, refuse="no", columns=1),
    Field("name", parse=parsers.person_name),
    Field("birth_year", parse=parsers.birth_year),
    Field("track", choices=choices("track", ("youth", "middle")), suggest=suggest_track, columns=1),
    # Where one studies or studied matters to the youth programmes (campus and school partners);
    # a 51-year-old in the 중장년 track is not asked to type a school name.
    Field("school_kind", choices=choices("school", ("university", "vocational_high", "other")), columns=1,
          when=_youth),
    Field("school_name", parse=parsers.text(50), when=_youth),
    Field("desired_jobs", parse=parsers.items(5, 30)),
    Field("skills", parse=parsers.items(20, 30), optional=True),
    Field("districts", choices=(*choices("district", seekers.DISTRICTS), Choice("any", "district.any")), multi=True,
          exclusive="any", columns=4),
    Field("education", choices=choices("education", ("high_school", "college", "university", "graduate",
                                                      "enrolled")), columns=1),
    Field("degree", choices=choices("degree", DEGREES), suggest=suggest_degree, when=_student, columns=2),
    Field("graduation", parse=parsers.graduation_month, show=month_label, when=_student),
    Field("experience_years", parse=parsers.experience_years, show=_years, columns=3,
          choices=tuple(Choice(str(n), f"experience.{n}") for n in (0, 1, 2, 3, 5, 10))),
    Field("desired_salary", parse=parsers.salary, optional=True, show=_salary),
    Field("phone", parse=parsers.phone, optional=True, show=_phone),
)


async def save_registration(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    """Stores the profile; a first registration and an edit end with different words."""
    t = ctx.t
    existed = await seekers.get(ctx.session, ctx.user.id) is not None
    # The profile's columns hold something for the questions a track skips or a person left out.
    if not _youth(answers):
        answers = {**answers, "school_kind": "other", "school_name": ""}
    if not _student(answers):
        answers = {**answers, "degree": None, "graduation": None}
    branch = campuses.directory(ctx.settings.campuses_file).resolve(answers["school_name"]) \
        if answers["school_kind"] in ("university", "vocational_high") else None
    answers = {**answers, "skills": answers.get("skills") or [], "school_code": branch.code if branch else None}
    await seekers.save(ctx.session, ctx.user.id, answers, ctx.now)
    text = t("seeker.updated") if existed else t("seeker.registered", name=answers["name"])
    if branch is not None:
        text += "\n" + t(f"seeker.linked_{branch.kind}", name=branch.name)
    elif answers["school_kind"] in ("university", "vocational_high"):
        text += "\n" + t("seeker.no_branch")
    if extra.get("then"):
        # Registration was the detour of another feature (e.g. a booking): go back to it.
        return [Reply(text), *await ctx.app.run_command(ctx, str(extra["then"]), ())]
    return [Reply(text), await ctx.app.menu(ctx)]


SEEKER_FORM = Form("seeker", SEEKER_FIELDS, save_registration, opened_by=("register",))


# Features that may send someone to register first and get them back afterwards.
RETURN_TO = {"book", "jobs"}


async def register(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    if await seekers.get(ctx.session, ctx.user.id) is not None and ctx.conv.flow != "seeker":
        return [Reply(t("seeker.already"), [[Button(t("menu.profile"), payload("m", "profile")),
                                             Button(t("profile.edit"), payload("m", "profile", "edit"))]])]
    then = args[0] if args and args[0] in RETURN_TO else None
    return await ctx.app.start_form(ctx, "seeker", extra={"then": then} if then else None)


async def profile(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """Everything held about the person (PIPA right of access), with edit and delete."""
    t = ctx.t
    seeker = await seekers.get(ctx.session, ctx.user.id)
    if args and args[0] == "edit":
        if seeker is None:
            return await register(ctx, ())
        answers = seekers.as_answers(seeker) | {"consent": "yes"}
        answers.pop("school_code", None)
        if not _student(answers):
            answers.pop("degree", None)
            answers.pop("graduation", None)
        if not _youth(answers):
            # Placeholders of a skipped question: asked for real if the track changes to 청년.
            answers.pop("school_kind", None)
            answers.pop("school_name", None)
        return await ctx.app.start_form(ctx, "seeker", answers=answers, mode="edit", step=EDIT)
    if args and args[0] == "surveys":
        return [await survey_answers(ctx)]
    member = await memberships.latest(ctx.session, ctx.user.id)
    lines = [t("profile.title"), "", t("profile.account", channel=t(f"channel.{ctx.identity.channel}"),
                                       since=ctx.user.created_at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d"),
                                       language=t("lang.name"))]
    rows: list[list[Button]] = []
    runner = ctx.app.runner
    if seeker is not None:
        tz = ctx.settings.tz
        lines += ["", t("profile.seeker", date=seeker.registered_at.astimezone(tz).strftime("%Y-%m-%d"),
                        consent=seeker.consent_at.astimezone(tz).strftime("%Y-%m-%d"))]
        values = seekers.as_answers(seeker)
        for fld in SEEKER_FIELDS[1:]:
            if fld.when is not None and not fld.when(values):
                continue
            lines.append(f"• {t(f'label.seeker.{fld.name}')}: {runner.display(t, fld, values[fld.name])}")
        rows.append([Button(t("profile.edit"), payload("m", "profile", "edit"))])
    if member is not None:
        lines += ["", describe_membership(t, member, ctx.settings.tz)]
    held = await privacy.held_about(ctx.session, ctx.user.id)
    records = [t(f"profile.held.{kind}", n=n) for kind, n in vars(held).items() if n]
    if records:
        lines += ["", t("profile.records"), *(f"• {r}" for r in records)]
    if held.survey_responses:
        rows.append([Button(t("profile.surveys_button"), payload("m", "profile", "surveys"))])
    notes = await clinic.notes_about(ctx.session, ctx.user.id)
    if notes:
        # Right of access: what counselors wrote about the person, as they wrote it.
        lines += ["", t("profile.case_notes"),
                  *(f"• {n.created_at.astimezone(ctx.settings.tz):%Y-%m-%d} {n.text}" for n in notes)]
    lines.append(t("profile.announcements", state=t("settings.off" if ctx.user.announcements_opt_out
                                                     else "settings.on")))
    if seeker is not None:
        lines.append(t("settings.digest", state=t("settings.on" if await firms.digest_on(ctx.session, ctx.user.id)
                                                  else "settings.off")))
    if seeker is None and member is None and not records:
        lines += ["", t("profile.nothing")]
        rows.append([Button(t("menu.register"), payload("m", "register"))])
    rows.append([Button(t("profile.delete"), payload("m", "delete"))])
    return [Reply("\n".join(lines), rows)]


SHOWN_SURVEYS = 10


async def survey_answers(ctx: Ctx) -> Reply:
    """The person's own survey answers, newest survey first, as they gave them (free text too:
    it is theirs; reports for staff are the ones with phone numbers removed)."""
    t = ctx.t
    answered = await surveys.answered_by(ctx.session, ctx.user.id, SHOWN_SURVEYS)
    if not answered:
        return Reply(t("profile.surveys_none"))
    lines = [t("profile.surveys_title", n=len(answered))]
    for request, given in answered:
        found = survey_defs.get(request.survey, request.version)
        title = found.title[t.locale] if found else request.survey
        day = min(a.answered_at for a in given).astimezone(ctx.settings.tz).strftime("%Y-%m-%d")
        lines += ["", t("profile.survey_entry", title=title, date=day)]
        # In the survey's own order; a question no longer in its definition goes last, by its id.
        questions = list(found.questions) if found else []
        order = {q.id: (i, q) for i, q in enumerate(questions)}
        for answer in sorted(given, key=lambda a: order.get(a.question, (len(order), None))[0]):
            q = order.get(answer.question, (0, None))[1]
            value = survey_defs.shown(q, answer.kind, answer.value_int, answer.value_text, t.locale)
            lines += [f"• {q.text[t.locale] if q else answer.question}", f"   → {value}"]
    return Reply("\n".join(lines), [[Button(t("menu.profile"), payload("m", "profile"))]])


async def erase(ctx: Ctx, _answers: Answers, _extra: Extra) -> list[Reply]:
    """Deletes the person; the turn's objects are detached so nothing writes them back."""
    await users.erase(ctx.session, ctx.user.id)
    ctx.session.expunge_all()
    return [Reply(ctx.t("delete.done"))]


DELETE_FORM = Form(
    "delete",
    (Field("confirm", choices=(Choice("yes", "delete.yes"), Choice("no", "delete.no")), refuse="no", columns=1),),
    erase,
    summary=False,
)


async def delete(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """Says what is actually held and will be erased (all of it, bookings and referrals included)
    before asking to confirm."""
    t = ctx.t
    held = await privacy.held_about(ctx.session, ctx.user.id)
    lines = [t("delete.what")]
    if await seekers.get(ctx.session, ctx.user.id) is not None:
        lines.append(f"• {t('delete.held.seeker')}")
    if await memberships.latest(ctx.session, ctx.user.id) is not None:
        lines.append(f"• {t('delete.held.membership')}")
    lines += [f"• {t(f'profile.held.{kind}', n=n)}" for kind, n in vars(held).items() if n]
    lines.append(f"• {t('delete.held.account')}")
    return [Reply("\n".join(lines)), *await ctx.app.start_form(ctx, "delete")]


async def _not_registered(ctx: Ctx) -> bool:
    return await seekers.get(ctx.session, ctx.user.id) is None


def build() -> Router:
    return Router(
        name="seeker",
        commands=[
            CommandRoute("register", register, describe="cmd.register"),
            CommandRoute("profile", profile, describe="cmd.profile"),
            CommandRoute("delete", delete, describe="cmd.delete"),
        ],
        forms=[SEEKER_FORM, DELETE_FORM],
        menu=[MenuItem("menu.register", "register", visible=_not_registered, order=10),
              MenuItem("menu.profile", "profile", order=80)],
        phrases={"구직등록": "register", "회원가입": "register", "register": "register", "내정보": "profile",
                 "탈퇴": "delete"},
    )
