"""The report's sections, one function each, in the order they are shown.

Each section function takes the session and the `Scope` (period and time zone) and
returns a `Section`: a title key, column header keys and rows of cells. A cell is a
number, plain text, a catalog `Label`, or survey text in both languages (a dict), so
the same section renders in Korean or English, in chat or in a file. An empty period
gives every section with no rows (or zero counts), never an error.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reports.period import Period
from reports.redact import redact
from storage import clinic, coaching, referrals, survey_defs
from storage.counselors import CONSULTATION_TYPES
from storage.models import (
    Booking,
    Course,
    CourseApplication,
    Event,
    EventRegistration,
    Membership,
    Mentor,
    MentorPair,
    Place,
    SeekerProfile,
    SurveyAnswer,
    SurveyRequest,
)


@dataclass(frozen=True)
class Label:
    """A catalog text, translated when rendered."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


Cell = Label | dict[str, str] | str | int | float | None


@dataclass(frozen=True)
class Section:
    key: str  # title: stats.section.<key>
    columns: tuple[str, ...]  # header keys: stats.col.<name>
    rows: list[tuple[Cell, ...]]
    # A line under the title (a rate, a total), as a catalog label.
    note: Label | None = None


@dataclass(frozen=True)
class Scope:
    period: Period
    tz: dt.tzinfo

    @property
    def start(self) -> dt.datetime:
        return self.period.bounds(self.tz)[0]

    @property
    def end(self) -> dt.datetime:
        return self.period.bounds(self.tz)[1]


def within(column: Any, scope: Scope) -> ColumnElement[bool]:
    return (column >= scope.start) & (column < scope.end)  # type: ignore[no-any-return]


def local_time(session: AsyncSession, column: Any, scope: Scope, *, minutes: bool = True) -> Any:
    """The column as local 'YYYY-MM-DD HH:MM' (or the day alone) computed by the database, so
    counting per day does not convert every row's datetime in Python. PostgreSQL converts
    with the zone itself; SQLite shifts by the zone's offset at the start of the period
    (exact for Asia/Seoul, which has no daylight saving)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(getattr(scope.tz, "key", "UTC"), column),
                            "YYYY-MM-DD HH24:MI" if minutes else "YYYY-MM-DD")
    offset = scope.start.astimezone(scope.tz).utcoffset() or dt.timedelta()
    return func.strftime("%Y-%m-%d %H:%M" if minutes else "%Y-%m-%d", column,
                         f"{int(offset.total_seconds() // 60):+d} minutes")


async def by_status(session: AsyncSession, scope: Scope, key: Any, status: Any, when: Any) -> dict[str, Counter[str]]:
    """Rows whose `when` falls in the period, counted per key and status."""
    result = await session.execute(select(key, status, func.count()).where(within(when, scope)).group_by(key, status))
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for name, state, n in result:
        counts[name][state] += int(n)
    return counts


def pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# --- people and sessions ---------------------------------------------------------------------------


async def seekers(session: AsyncSession, scope: Scope) -> Section:
    """Job-seeker registrations (구직등록) by track."""
    rows = dict((await session.execute(
        select(SeekerProfile.track, func.count()).where(within(SeekerProfile.registered_at, scope))
        .group_by(SeekerProfile.track))).all())
    tracks = ("youth", "middle")
    out: list[tuple[Cell, ...]] = [(Label(f"track.{k}"), int(rows.get(k, 0))) for k in tracks]
    total = sum(int(v) for v in rows.values())
    return Section("seekers", ("track", "count"), out, Label("stats.total", {"n": total}))


def place_label(kind: str, name: str) -> Label:
    """The centre, each campus branch by name, high schools together, online."""
    if kind == "campus":
        return Label("stats.place_campus", {"name": name})
    return Label(f"place_kind.{kind}")


async def sessions(session: AsyncSession, scope: Scope) -> Section:
    """Counselling sessions (취업상담, clinics, consulting) by type and place, attended vs no-show."""
    # Grouped on the covering index alone; the few places are looked up afterwards.
    result = (await session.execute(
        select(Booking.type, Booking.place_id, Booking.status, func.count())
        .where(within(Booking.starts_at, scope)).group_by(Booking.type, Booking.place_id, Booking.status))).all()
    places = {p.id: p for p in await session.scalars(select(Place).where(Place.id.in_({r[1] for r in result})))}
    counts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for type_, place_id, status, n in result:
        place = places[place_id]
        key = (type_, place.kind, place.name if place.kind == "campus" else "")
        counts[key][status] += int(n)
    order = {"centre": 0, "campus": 1, "high_school": 2, "online": 3}
    rows: list[tuple[Cell, ...]] = []
    totals: Counter[str] = Counter()
    types = {t: i for i, t in enumerate(CONSULTATION_TYPES)}
    for (type_, kind, name), c in sorted(counts.items(), key=lambda kv: (types.get(kv[0][0], 99), kv[0][0],
                                                                           order.get(kv[0][1], 9), kv[0][2])):
        totals.update(c)
        held = c["attended"] + c["no_show"]
        rows.append((Label(f"type.{type_}"), place_label(kind, name), c["attended"], c["no_show"],
                     pct(c["no_show"], held), c["booked"], c["cancelled"]))
    held = totals["attended"] + totals["no_show"]
    return Section("sessions", ("type", "place", "attended", "no_show", "no_show_pct", "booked", "cancelled"), rows,
                   Label("stats.sessions_total", {"attended": totals["attended"], "no_show": totals["no_show"],
                                                  "pct": pct(totals["no_show"], held) or 0}))


async def channels(session: AsyncSession, scope: Scope) -> Section:
    """취업상담 and 서류클리닉 sessions by channel: booked through the bot (attended), and those counselors
    recorded as held outside it (walk-in, phone, school visit), by place, with the people seen."""
    services = {"job_counselling": "counselling", "document_clinic": "clinic"}
    booked = (await session.execute(
        select(Booking.type, Booking.place_id, func.count())
        .where(within(Booking.starts_at, scope), Booking.status == "attended", Booking.type.in_(list(services)))
        .group_by(Booking.type, Booking.place_id))).all()
    places = {p.id: p for p in await session.scalars(select(Place).where(Place.id.in_({r[1] for r in booked})))}
    rows: list[tuple[Cell, ...]] = []
    for type_, place_id, n in sorted(booked, key=lambda r: (r[0], r[1])):
        place = places[place_id]
        rows.append((Label("stats.channel.booked"), Label(f"stats.service.{services[type_]}"),
                     place_label(place.kind, place.name), int(n), int(n)))
    for channel, service, place_name, n, people in await clinic.outside_counts(session, scope.start, scope.end):
        rows.append((Label(f"stats.channel.{channel}"), Label(f"stats.service.{service}"), place_name or "-", n,
                     people))
    totals: Counter[str] = Counter()
    for row in rows:
        service_label = row[1]
        if isinstance(service_label, Label) and isinstance(row[3], int):
            totals[service_label.key.rsplit(".", 1)[-1]] += row[3]
    return Section("channels", ("channel", "service", "place", "count", "people"), rows,
                   Label("stats.channels_total", {"counselling": totals["counselling"], "clinic": totals["clinic"]}))


async def clinic_requests(session: AsyncSession, scope: Scope) -> Section:
    """The online document clinic: requests received in the period, returned, overdue, the median
    turnaround, documents per type and the seekers' rating of the reviews."""
    f = await clinic.figures(session, scope.start, scope.end, scope.end)
    rows: list[tuple[Cell, ...]] = [
        (Label("stats.clinic.requests"), f.requests), (Label("stats.clinic.done"), f.done),
        (Label("stats.clinic.overdue"), f.overdue),
        (Label("stats.clinic.median_hours"), round(f.median_hours, 1) if f.median_hours is not None else None),
        (Label("stats.clinic.rating"), round(f.rating, 2) if f.rating is not None else None),
        *((Label(f"clinic.doc.{doc}"), n) for doc, n in f.documents.items()),
    ]
    return Section("clinic", ("kind", "count"), rows, Label("stats.clinic.rated", {"n": f.ratings}))


async def referral_outcomes(session: AsyncSession, scope: Scope) -> Section:
    """Job referrals (취업알선) in the period: requested, referred, hired, declined."""
    counts = await referrals.outcome_counts(session, scope.start, scope.end)
    keys = ("requested", "referred", "hired", "declined")
    rows: list[tuple[Cell, ...]] = [(Label(f"stats.referral.{k}"), int(counts.get(k, 0))) for k in keys]
    referred = int(counts.get("referred", 0))
    return Section("referrals", ("outcome", "count"), rows,
                   Label("stats.hire_rate", {"pct": pct(int(counts.get("hired", 0)), referred) or 0, "n": referred}))


async def applications(session: AsyncSession, scope: Scope) -> Section:
    """Membership applications (공동회원제) received in the period, by applicant type and outcome."""
    counts = await by_status(session, scope, Membership.applicant_type, Membership.status, Membership.applied_at)
    rows: list[tuple[Cell, ...]] = [
        (Label(f"applicant.{kind}"), sum(c.values()), c["approved"], c["rejected"], c["pending"])
        for kind, c in sorted(counts.items())]
    return Section("applications", ("applicant_type", "received", "approved", "rejected", "pending"), rows)


async def members(session: AsyncSession, scope: Scope) -> Section:
    """Members at the end of the period by growth stage (창업준비/숙성/실행) and applicant type."""
    result = await session.execute(
        select(Membership.member_stage, Membership.applicant_type, func.count())
        .where(Membership.status == "approved", Membership.decided_at < scope.end)
        .group_by(Membership.member_stage, Membership.applicant_type))
    stages = {s: i for i, s in enumerate(("preparation", "maturation", "execution"))}
    rows: list[tuple[Cell, ...]] = [
        (Label(f"stage.{stage}"), Label(f"applicant.{kind}"), int(n))
        for stage, kind, n in sorted(result, key=lambda r: (stages.get(r[0] or "", 9), r[1]))]
    total = sum(int(r[2]) for r in rows if isinstance(r[2], int))
    return Section("members", ("stage", "applicant_type", "count"), rows, Label("stats.total", {"n": total}))


async def events(session: AsyncSession, scope: Scope) -> Section:
    """Events held in the period: seats, registrations, waiting list and attendance."""
    listed = list(await session.scalars(
        select(Event).where(within(Event.starts_at, scope), Event.status == "published").order_by(Event.starts_at)))
    if not listed:
        return Section("events", ("date", "event", "kind", "capacity", "registered", "waiting", "attended",
                                  "attended_pct"), [])
    result = await session.execute(
        select(EventRegistration.event_id, EventRegistration.status,
               func.count(), func.count(EventRegistration.attended_at))
        .where(EventRegistration.event_id.in_([e.id for e in listed]))
        .group_by(EventRegistration.event_id, EventRegistration.status))
    regs: dict[int, Counter[str]] = defaultdict(Counter)
    for event_id, status, n, came in result:
        regs[event_id][status] += int(n)
        regs[event_id]["came"] += int(came)
    rows: list[tuple[Cell, ...]] = []
    for e in listed:
        c = regs[e.id]
        rows.append((e.starts_at.astimezone(scope.tz).date().isoformat(), e.title, Label(f"event.kind.{e.kind}"),
                     e.capacity, c["registered"], c["waiting"], c["came"], pct(c["came"], c["registered"])))
    return Section("events", ("date", "event", "kind", "capacity", "registered", "waiting", "attended",
                              "attended_pct"), rows)


# --- surveys -----------------------------------------------------------------------------------------


def question_text(survey: str, question: str) -> dict[str, str]:
    """The newest wording of a question (answers of older versions are counted with it)."""
    for version in reversed(survey_defs.load().get(survey, [])):
        for q in version.questions:
            if q.id == question:
                return q.text
    return {"ko": question, "en": question}


def rating_questions() -> set[tuple[str, str]]:
    """(survey, question) of every rating question in any version."""
    return {(key, q.id) for key, versions in survey_defs.load().items() for v in versions for q in v.questions
            if q.kind == "rating"}


def question_order(survey: str, question: str) -> tuple[int, int, str]:
    """Surveys in their fixed order, questions as the newest version asks them."""
    if survey not in survey_defs.SURVEYS:
        return (len(survey_defs.SURVEYS), 0, question)
    ids = [q.id for q in survey_defs.latest(survey).questions]
    return (survey_defs.SURVEYS.index(survey), ids.index(question) if question in ids else len(ids), question)


def survey_title(survey: str) -> dict[str, str]:
    return survey_defs.latest(survey).title if survey in survey_defs.SURVEYS else {"ko": survey, "en": survey}


async def satisfaction(session: AsyncSession, scope: Scope) -> Section:
    """Every rating question: answers, average and the 1–5 distribution."""
    # Read from the covering index alone; which questions are ratings, the definitions say.
    result = await session.execute(
        select(SurveyAnswer.survey, SurveyAnswer.question, SurveyAnswer.value_int, func.count())
        .where(within(SurveyAnswer.answered_at, scope), SurveyAnswer.value_int.is_not(None))
        .group_by(SurveyAnswer.survey, SurveyAnswer.question, SurveyAnswer.value_int))
    ratings = rating_questions()
    dist: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
    for survey, question, value, n in result:
        if (survey, question) in ratings and value is not None:
            dist[(survey, question)][value] += int(n)
    rows: list[tuple[Cell, ...]] = []
    for (survey, question), c in sorted(dist.items(), key=lambda kv: question_order(*kv[0])):
        n = sum(c.values())
        avg = round(sum(v * k for v, k in c.items()) / n, 2) if n else None
        rows.append((survey_title(survey), question_text(survey, question), n, avg,
                     *(c[v] for v in survey_defs.RATING)))
    return Section("satisfaction", ("survey", "question", "answers", "average", "r1", "r2", "r3", "r4", "r5"), rows)


async def responses(session: AsyncSession, scope: Scope) -> Section:
    """Invitations due in the period and what became of them."""
    counts = await by_status(session, scope, SurveyRequest.survey, SurveyRequest.status, SurveyRequest.due_at)
    rows: list[tuple[Cell, ...]] = []
    for survey in survey_defs.SURVEYS:
        c = counts.get(survey)
        if c:
            total = sum(c.values())
            rows.append((survey_title(survey), total, c["done"], c["open"], c["skipped"], c["closed"],
                         pct(c["done"], total)))
    return Section("responses", ("survey", "invited", "done", "open", "skipped", "closed", "done_pct"), rows)


async def latest_answers(session: AsyncSession, scope: Scope, survey: str, question: str) -> dict[int, Any]:
    """Each person's newest answer to a question in the period (a person asked twice counts once):
    the option id for a choice, the number for a number."""
    result = await session.execute(
        select(SurveyRequest.user_id, SurveyAnswer.value_text, SurveyAnswer.value_int)
        .join(SurveyRequest, SurveyRequest.id == SurveyAnswer.request_id)
        .where(within(SurveyAnswer.answered_at, scope), SurveyAnswer.survey == survey,
               SurveyAnswer.question == question)
        .order_by(SurveyAnswer.answered_at, SurveyAnswer.id))
    return {int(uid): text if number is None else number for uid, text, number in result}


def option_text(survey: str, question: str, option: str) -> dict[str, str]:
    for version in reversed(survey_defs.load().get(survey, [])):
        for q in version.questions:
            found = q.option(option) if q.id == question else None
            if found is not None:
                return found.text
    return {"ko": option, "en": option}


def option_rows(survey: str, question: str, answers: dict[int, Any]) -> list[tuple[Cell, ...]]:
    counts = Counter(answers.values())
    options = [o.id for o in survey_defs.latest(survey).question(question).options]
    options += sorted(set(counts) - set(options))
    total = len(answers)
    return [(option_text(survey, question, o), counts[o], pct(counts[o], total)) for o in options]


async def jobs(session: AsyncSession, scope: Scope) -> Section:
    """Job seekers' follow-up: did they find a job (each person's newest answer)."""
    answers = await latest_answers(session, scope, "seeker_followup", "employed")
    found = sum(1 for v in answers.values() if v in ("full_time", "part_time"))
    return Section("jobs", ("answer", "people", "share_pct"), option_rows("seeker_followup", "employed", answers),
                   Label("stats.jobs_rate", {"pct": pct(found, len(answers)) or 0, "n": len(answers)}))


async def survival(session: AsyncSession, scope: Scope) -> Section:
    """Founders still operating, from the members' half-yearly survey (paused counts as surviving)."""
    answers = await latest_answers(session, scope, "member_followup", "operating")
    alive = sum(1 for v in answers.values() if v in ("yes", "paused"))
    return Section("survival", ("answer", "people", "share_pct"), option_rows("member_followup", "operating", answers),
                   Label("stats.survival_rate", {"pct": pct(alive, len(answers)) or 0, "n": len(answers)}))


async def revenue(session: AsyncSession, scope: Scope) -> Section:
    """Founders' revenue bands and team sizes (each member's newest answer)."""
    answers = await latest_answers(session, scope, "member_followup", "revenue")
    people = [int(n) for n in (await latest_answers(session, scope, "member_followup", "employees")).values()]
    # With no answer there is no average: "평균 인원 0명" read as teams of nobody.
    note = (Label("stats.employees_avg", {"avg": f"{sum(people) / len(people):,.1f}".removesuffix(".0"),
                                          "n": len(people)}) if people else Label("stats.employees_none", {}))
    return Section("revenue", ("answer", "people", "share_pct"), option_rows("member_followup", "revenue", answers),
                   note)


COMMENTS_SHOWN = 20


async def comments(session: AsyncSession, scope: Scope) -> Section:
    """The newest free-text answers, phone numbers removed, with no name attached."""
    result = await session.execute(
        select(SurveyAnswer.answered_at, SurveyAnswer.survey, SurveyAnswer.question, SurveyAnswer.value_text)
        .where(within(SurveyAnswer.answered_at, scope), SurveyAnswer.kind == "text")
        .order_by(SurveyAnswer.answered_at.desc(), SurveyAnswer.id.desc()).limit(COMMENTS_SHOWN))
    rows: list[tuple[Cell, ...]] = [
        (at.astimezone(scope.tz).date().isoformat(), survey_title(survey), question_text(survey, question),
         redact(text or "")) for at, survey, question, text in result]
    return Section("comments", ("date", "survey", "question", "text"), rows)


async def youth_programmes(session: AsyncSession, scope: Scope) -> Section:
    """Students registered by school kind, 특성화고 coaching packages completed, the mentor group's
    figures and the 기술교육원 course applications of the period (campus-branch sessions per branch
    are in the sessions section, by place)."""
    rows: list[tuple[Cell, ...]] = []
    students = dict((await session.execute(
        select(SeekerProfile.school_kind, func.count()).where(within(SeekerProfile.registered_at, scope),
                                                              SeekerProfile.education == "enrolled")
        .group_by(SeekerProfile.school_kind))).all())
    rows += [(Label(f"stats.youth.students_{k}"), int(students.get(k, 0)))
             for k in ("university", "vocational_high", "other")]
    rows.append((Label("stats.youth.coaching_done"), await coaching.completed(session, scope.end)))
    selected = await session.scalar(select(func.count()).select_from(Mentor).where(
        Mentor.status == "selected", within(Mentor.decided_at, scope)))
    paired = await session.scalar(select(func.count()).select_from(MentorPair).where(
        within(MentorPair.confirmed_at, scope)))
    ended = await session.scalar(select(func.count()).select_from(MentorPair).where(
        MentorPair.status == "ended", within(MentorPair.ended_at, scope)))
    rows += [(Label("stats.youth.mentors_selected"), int(selected or 0)),
             (Label("stats.youth.pairs"), int(paired or 0)), (Label("stats.youth.pairs_ended"), int(ended or 0))]
    applied = await session.scalar(select(func.count()).select_from(CourseApplication).where(
        within(CourseApplication.created_at, scope)))
    first, last = scope.period.first, scope.period.last
    finished = (await session.execute(select(func.count(), func.avg(CourseApplication.rating)).select_from(
        CourseApplication).join(Course, Course.id == CourseApplication.course_id).where(
        CourseApplication.status == "selected", Course.ends_on >= first, Course.ends_on <= last))).one()
    rows += [(Label("stats.youth.course_applications"), int(applied or 0)),
             (Label("stats.youth.course_completions"), int(finished[0] or 0)),
             (Label("stats.youth.course_rating"), round(float(finished[1]), 2) if finished[1] is not None else None)]
    return Section("youth", ("item", "count"), rows)


SectionFn = Callable[[AsyncSession, Scope], Awaitable[Section]]

# The report, in order. A section from another feature is one more function here.
SECTIONS: list[SectionFn] = [
    seekers, sessions, channels, clinic_requests, referral_outcomes, applications, members, events, satisfaction,
    responses, jobs, survival, revenue, comments, youth_programmes,
]


async def build(session: AsyncSession, scope: Scope, sections: Sequence[SectionFn] | None = None) -> list[Section]:
    return [await fn(session, scope) for fn in (SECTIONS if sections is None else sections)]
