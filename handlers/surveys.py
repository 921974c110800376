"""Satisfaction surveys and follow-ups, as the person answering meets them.

1. An invitation arrives (a consultation an hour after it ended, an event the next
   morning, job seekers every three months, members twice a year; see
   `scheduler.surveys`) with 답하기 and 건너뛰기. One reminder follows two days later if
   the survey is not finished; it closes a week after the invitation.
2. 답하기 shows the first open question with its progress (2/4): a rating as buttons
   1–5, a choice as one button per option, several choices as toggles with 선택 완료, and
   free text, a number or a month typed in. A rating can also be typed ("4").
   Optional questions have 이 질문 건너뛰기; every question has 나중에 하기 and 설문 그만두기.
3. Each answer is stored at once, so stopping halfway keeps what was answered; 답하기 on
   the invitation or the reminder, or `/surveys` (설문), goes on from the first open
   question. The last answer ends with thanks and withdraws the reminder. Typed text is
   taken as an answer only while a typed question is open (not after 나중에 하기, nor a
   day (DRAFT_TTL_HOURS) after the question was shown); commands and menu words always
   keep their meaning.
4. Bad input is refused with what is expected and the same question again: a rating
   outside 1–5, text where a number is asked, a number out of range, a month in the
   future, over-long text. A button of someone else's survey (a forged payload) is
   refused as not theirs; a closed, finished or skipped survey says so; a button of a
   question already answered shows the question now open.

Counselors: `/myrating` (내 만족도) shows their own average overall rating only once at
least five answers exist, and never an individual answer or who gave it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kernel import parsers
from kernel.core import (
    At,
    BadPayload,
    Button,
    CommandRoute,
    Ctx,
    Invalid,
    Job,
    MenuItem,
    Reply,
    Router,
    on,
)
from kernel.i18n import Translator
from kernel.payloads import Payload
from kernel.people import is_counselor, require_counselor
from scheduler.surveys import (
    FOLLOWUP_HOUR,
    SWEEP_INTERVAL_SECONDS,
    SurveyGo,
    SurveySkip,
    invite_attendees,
    invite_followups,
    withdraw_reminder,
)
from storage import survey_defs, surveys
from storage.models import SurveyRequest
from storage.survey_defs import Question, Survey

log = logging.getLogger(__name__)

TYPED = ("rating", "number", "text", "month")
EARLIEST_YEAR = 1960


# --- the buttons under a question (답하기 and 건너뛰기 are scheduler.surveys', which sends them) -----


@dataclass(frozen=True)
class SurveyLater(Payload, prefix="sv", action="later", action_at=1):
    request: int


@dataclass(frozen=True)
class SurveyAnswer(Payload, prefix="sv", action="a", action_at=1):
    """A rating (the value itself) or a choice (the option's index) for question number `question`."""

    request: int
    question: int
    value: int


@dataclass(frozen=True)
class SurveyToggle(Payload, prefix="sv", action="t", action_at=1):
    """One option of a several-choice question picked or unpicked."""

    request: int
    question: int
    option: int


@dataclass(frozen=True)
class SurveyDone(Payload, prefix="sv", action="d", action_at=1):
    """선택 완료 under a several-choice question."""

    request: int
    question: int


@dataclass(frozen=True)
class SurveyPass(Payload, prefix="sv", action="n", action_at=1):
    """이 질문 건너뛰기 under an optional question."""

    request: int
    question: int


SurveyPress = SurveyGo | SurveyLater | SurveySkip | SurveyAnswer | SurveyToggle | SurveyDone | SurveyPass


# --- where a survey stands ----------------------------------------------------------------------------


def definition(request: SurveyRequest) -> Survey:
    survey = survey_defs.get(request.survey, request.version)
    if survey is None:
        raise LookupError(f"survey {request.survey} v{request.version} is no longer defined")
    return survey


def current(survey: Survey, answers: dict[str, Any], passed: Sequence[str]) -> Question | None:
    """The first question that applies and has neither an answer nor been passed over."""
    for q in survey.questions:
        if q.applies(answers) and q.id not in answers and q.id not in passed:
            return q
    return None


def progress(survey: Survey, answers: dict[str, Any], question: Question) -> tuple[int, int]:
    """(this question's number, how many questions apply) given the answers so far."""
    applicable = [q for q in survey.questions if q.applies(answers)]
    return applicable.index(question) + 1, len(applicable)


async def refuse(ctx: Ctx, request_id: int) -> SurveyRequest | Reply:
    """The person's own open survey, or the line that says why not (checked on every press)."""
    t = ctx.t
    request = await surveys.get(ctx.session, request_id, for_update=True)
    if request is None or request.user_id != ctx.user.id:
        log.info("survey press refused (not own) user=%s", ctx.user.id)
        return Reply(t("survey.not_yours"))
    if request.status == "open" and request.expires_at <= ctx.now:
        surveys.finish(request, "closed", ctx.now)
        await withdraw_reminder(ctx.session, [request.id])
    if request.status != "open":
        return Reply(t(f"survey.status.{request.status}"))
    if request.due_at > ctx.now:
        return Reply(t("survey.not_yet"))
    return request


# --- asking ---------------------------------------------------------------------------------------------


def question_reply(t: Translator, request: SurveyRequest, survey: Survey, answers: dict[str, Any],
                   q: Question, notice: str | None = None, *, edit: bool = False) -> Reply:
    n, total = progress(survey, answers, q)
    qi = survey.index(q.id)
    lines = [notice] if notice else []
    lines += [t("survey.progress", title=survey.title[t.locale], n=n, total=total), q.text[t.locale]]
    rating = (t("survey.hint.scale", low=q.scale[0][t.locale], high=q.scale[1][t.locale]) if q.scale
              else t("survey.hint.rating"))
    hint = {"rating": rating, "text": t("survey.hint.text", max=q.max),
            "number": t("survey.hint.number", min=q.min, max=q.max), "month": t("survey.hint.month"),
            "multi": t("survey.hint.multi"), "choice": ""}[q.kind]
    if hint:
        lines.append(hint)
    rid = request.id
    rows: list[list[Button]] = []
    if q.kind == "rating":
        rows.append([Button(str(v), SurveyAnswer(rid, qi, v).pack()) for v in survey_defs.RATING])
    elif q.kind == "choice":
        rows += [[Button(o.text[t.locale], SurveyAnswer(rid, qi, i).pack())] for i, o in enumerate(q.options)]
    elif q.kind == "multi":
        picked = set(request.draft.get("picked", []))
        rows += [[Button(("✓ " if o.id in picked else "") + o.text[t.locale], SurveyToggle(rid, qi, i).pack())]
                 for i, o in enumerate(q.options)]
        rows.append([Button(t("survey.multi_done"), SurveyDone(rid, qi).pack())])
    if q.optional:
        rows.append([Button(t("survey.pass_question"), SurveyPass(rid, qi).pack())])
    rows.append([Button(t("survey.later"), SurveyLater(rid).pack()),
                 Button(t("survey.stop"), SurveySkip(rid).pack())])
    return Reply("\n\n".join(lines), rows, edit=edit)


async def next_step(ctx: Ctx, request: SurveyRequest, notice: str | None = None, *, edit: bool = False) -> list[Reply]:
    """The next open question, or the end of the survey with thanks."""
    survey = definition(request)
    answers = await surveys.answers(ctx.session, request.id)
    q = current(survey, answers, request.draft.get("passed", []))
    if q is None:
        surveys.finish(request, "done", ctx.now)
        await withdraw_reminder(ctx.session, [request.id])
        log.info("survey done request=%s user=%s", request.id, ctx.user.id)
        return [Reply(ctx.t("survey.thanks"), edit=edit)]
    request.asking = q.id if q.kind in TYPED else None
    draft = dict(request.draft)
    draft["asked_at"] = ctx.now.isoformat()
    if draft.get("picked_for") != q.id:
        draft["picked"], draft["picked_for"] = [], q.id
    request.draft = draft
    return [question_reply(ctx.t, request, survey, answers, q, notice, edit=edit)]


async def accept(ctx: Ctx, request: SurveyRequest, q: Question, value: Any, *, edit: bool = False) -> list[Reply]:
    if not await surveys.save_answer(ctx.session, request, q, value, ctx.now):
        return await next_step(ctx, request, ctx.t("survey.already_answered"))
    return await next_step(ctx, request, edit=edit)


def open_question(request: SurveyRequest, survey: Survey, answers: dict[str, Any], qi: int) -> Question | None:
    """The pressed question if it is the one open now; None for a button of an earlier question."""
    q = current(survey, answers, request.draft.get("passed", []))
    return q if q is not None and survey.index(q.id) == qi else None


# --- buttons --------------------------------------------------------------------------------------------


async def on_button(ctx: Ctx, press: SurveyPress) -> list[Reply]:
    """`sv:<request>:<action>[:<question>[:<value>]]`; ownership and freshness are re-checked first."""
    found = await refuse(ctx, press.request)
    if isinstance(found, Reply):
        return [found]
    request = found
    t = ctx.t
    if isinstance(press, SurveyGo):
        return await next_step(ctx, request)
    if isinstance(press, SurveyLater):
        request.asking = None  # typed text is the person's own again until they come back with 답하기
        return [Reply(t("survey.later_done", days=max(1, (request.expires_at - ctx.now).days)), edit=True)]
    if isinstance(press, SurveySkip):
        surveys.finish(request, "skipped", ctx.now)
        await withdraw_reminder(ctx.session, [request.id])
        log.info("survey skipped request=%s user=%s", request.id, ctx.user.id)
        return [Reply(t("survey.skipped"), edit=True)]
    survey = definition(request)
    answers = await surveys.answers(ctx.session, request.id)
    q = open_question(request, survey, answers, press.question)
    if q is None:
        return await next_step(ctx, request, t("survey.stale"))
    if isinstance(press, SurveyAnswer):
        value = choose(q, press.value)
        return await accept(ctx, request, q, value, edit=True)
    if isinstance(press, SurveyToggle) and q.kind == "multi":
        if press.option >= len(q.options):
            # No option of this question: the bot never made this button.
            raise BadPayload("no such option")
        option = q.options[press.option].id
        picked = list(request.draft.get("picked", []))
        picked = [p for p in picked if p != option] if option in picked else [*picked, option]
        request.draft = {**request.draft, "picked": picked}
        return [question_reply(t, request, survey, answers, q, edit=True)]
    if isinstance(press, SurveyDone) and q.kind == "multi":
        picked = [o.id for o in q.options if o.id in request.draft.get("picked", [])]
        if not picked:
            return [question_reply(t, request, survey, answers, q, t("survey.pick_one"))]
        return await accept(ctx, request, q, picked, edit=True)
    if isinstance(press, SurveyPass) and q.optional:
        request.draft = {**request.draft, "passed": [*request.draft.get("passed", []), q.id]}
        return await next_step(ctx, request, edit=True)
    # A button of another kind of question than this one is now (the survey's definition changed).
    return await next_step(ctx, request, t("survey.stale"))


def choose(q: Question, value: int) -> Any:
    """A pressed rating or option, checked against the definition (a forged value is refused)."""
    if q.kind == "rating":
        if value not in survey_defs.RATING:
            raise Invalid("survey.rating_range")
        return value
    if q.kind == "choice":
        index = value
        if not 0 <= index < len(q.options):
            raise Invalid("survey.option_unknown")
        return q.options[index].id
    raise BadPayload("not a button question")


async def on_button_checked(ctx: Ctx, press: SurveyPress) -> list[Reply]:
    try:
        return await on_button(ctx, press)
    except Invalid as exc:
        log.info("survey answer refused key=%s user=%s", exc.key, ctx.user.id)
        return [Reply(ctx.t(exc.key, **exc.params)), *await resume(ctx, press.request)]


async def resume(ctx: Ctx, request_id: int) -> list[Reply]:
    request = await surveys.get(ctx.session, request_id)
    if request is None or request.user_id != ctx.user.id or request.status != "open":
        return []
    return await next_step(ctx, request)


# --- typed answers --------------------------------------------------------------------------------------


def parse_typed(q: Question, raw: str, now: dt.datetime, tz: dt.tzinfo) -> Any:
    """A typed answer for a rating, number, text or month question, or Invalid saying what is expected."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if q.kind == "rating":
        digits = value.removesuffix("점").strip()
        if not re.fullmatch(r"-?\d{1,9}", digits):  # bounded: int() refuses more than 4,300 digits
            raise Invalid("survey.rating_expected")
        if int(digits) not in survey_defs.RATING:
            raise Invalid("survey.rating_range")
        return int(digits)
    if q.kind == "number":
        digits = value.replace(",", "").removesuffix("명").strip()
        if not re.fullmatch(r"-?\d{1,9}", digits):
            raise Invalid("survey.number_expected")
        number = int(digits)
        if not q.min <= number <= q.max:
            raise Invalid("survey.number_range", min=q.min, max=q.max)
        return number
    if q.kind == "month":
        match = re.fullmatch(r"(\d{4})\s*(?:[-./]|년)\s*(\d{1,2})\s*월?(?:[-./]\d{1,2}일?)?\.?", value)
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise Invalid("survey.month_expected")
        year, month = int(match.group(1)), int(match.group(2))
        today = now.astimezone(tz).date()
        if (year, month) > (today.year, today.month) or year < EARLIEST_YEAR:
            raise Invalid("survey.month_range")
        return f"{year:04d}-{month:02d}"
    return parsers.clean(raw, max_len=q.max, newlines=True)


async def typed_answer(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """Claims typed text while a survey question that takes typed input is open."""
    request = await surveys.awaiting_text(ctx.session, ctx.user.id, ctx.now)
    if request is None or not args:
        return []
    asked = dt.datetime.fromisoformat(str(request.draft.get("asked_at", ctx.now.isoformat())))
    if asked < ctx.now - dt.timedelta(hours=ctx.settings.draft_ttl_hours):
        return []  # a question shown long ago: this text is about something else
    locked = await surveys.get(ctx.session, request.id, for_update=True)
    if locked is None:
        return []
    survey = definition(locked)
    answers = await surveys.answers(ctx.session, locked.id)
    q = current(survey, answers, locked.draft.get("passed", []))
    if q is None or q.kind not in TYPED:
        locked.asking = None
        return []
    try:
        value = parse_typed(q, args[0], ctx.now, ctx.settings.tz)
    except Invalid as exc:
        log.info("survey typed answer refused key=%s user=%s", exc.key, ctx.user.id)
        return [question_reply(ctx.t, locked, survey, answers, q, ctx.t(exc.key, **exc.params))]
    return await accept(ctx, locked, q, value)


# --- /surveys and /myrating -----------------------------------------------------------------------------


async def list_open(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """The person's surveys still open, each with 이어서 답하기."""
    t = ctx.t
    rows = await surveys.open_for_user(ctx.session, ctx.user.id, ctx.now)
    if not rows:
        return [Reply(t("survey.none_open"))]
    out = [Reply(t("survey.open_title", n=len(rows)))]
    for request in rows:
        survey = definition(request)
        done = len(await surveys.answers(ctx.session, request.id))
        until = request.expires_at.astimezone(ctx.settings.tz)
        out.append(Reply(t("survey.open_item", title=survey.title[t.locale], done=done, total=len(survey.questions),
                           until=f"{until.month}/{until.day}"),
                         [[Button(t("survey.continue"), SurveyGo(request.id).pack()),
                           Button(t("survey.skip"), SurveySkip(request.id).pack())]]))
    return out


async def my_rating(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    average, count = await surveys.counselor_rating(ctx.session, found.id)
    if average is None:
        return [Reply(ctx.t("rating.too_few" if count else "rating.none", n=count, min=surveys.MIN_RATINGS_SHOWN))]
    return [Reply(ctx.t("rating.mine", avg=f"{average:.1f}", n=count))]


def build() -> Router:
    return Router(
        name="surveys",
        commands=[
            CommandRoute("surveys", list_open, describe="cmd.surveys"),
            CommandRoute("myrating", my_rating, describe="cmd.myrating", roles=("counselor",)),
        ],
        buttons=[on(SurveyGo, on_button_checked), on(SurveyLater, on_button_checked),
                 on(SurveySkip, on_button_checked), on(SurveyAnswer, on_button_checked),
                 on(SurveyToggle, on_button_checked), on(SurveyDone, on_button_checked),
                 on(SurveyPass, on_button_checked)],
        menu=[MenuItem("menu.myrating", "myrating", visible=is_counselor, order=32)],
        phrases={"설문": "surveys", "만족도조사": "surveys", "surveys": "surveys", "내만족도": "myrating",
                 "myrating": "myrating"},
        text=[typed_answer],
        jobs=[
            Job("survey-sweep", invite_attendees, every=SWEEP_INTERVAL_SECONDS),
            # Follow-ups go out in the morning; the unique (person, trigger) rule makes a catch-up run harmless.
            Job("survey-followups", invite_followups, at=lambda _settings: At(FOLLOWUP_HOUR, grace=6 * 3600)),
        ],
    )
