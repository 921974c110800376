"""Survey invitations and answers: the rules that must hold in the database.

One invitation per person per trigger (`(user_id, subject)` is unique, so two sweeps or
two workers racing create one); one answer per question of an invitation
(`(request_id, question)` is unique, so a double tap stores one). Answers are written
as they come, so a survey left halfway keeps what was answered and resumes at the first
open question. An invitation is open until it is done, skipped, or closed `CLOSE_AFTER`
its due time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import survey_defs
from storage.models import (
    Booking,
    Event,
    EventRegistration,
    Membership,
    SeekerProfile,
    SurveyAnswer,
    SurveyRequest,
    UTCDateTime,
)

CLOSE_AFTER = dt.timedelta(days=7)
REMIND_AFTER = dt.timedelta(days=2)
# Counselors see their average only from this many answers on (no single answer can be told apart).
MIN_RATINGS_SHOWN = 5
OPEN = "open"


async def open_request(
    session: AsyncSession, *, user_id: int, survey: str, subject: str, due_at: dt.datetime, now: dt.datetime,
    booking_id: int | None = None, event_id: int | None = None, counselor_id: int | None = None,
) -> SurveyRequest | None:
    """Creates the invitation with the newest version of the survey; None when this person
    already has one for this trigger."""
    row = SurveyRequest(user_id=user_id, survey=survey, version=survey_defs.latest(survey).version, subject=subject,
                        booking_id=booking_id, event_id=event_id, counselor_id=counselor_id, status=OPEN,
                        draft={}, created_at=now, due_at=due_at, expires_at=due_at + CLOSE_AFTER)
    return row if await _insert_once(session, row) else None


async def get(session: AsyncSession, request_id: int, *, for_update: bool = False) -> SurveyRequest | None:
    query = select(SurveyRequest).where(SurveyRequest.id == request_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


def decode(answer: SurveyAnswer) -> Any:
    """The stored answer as the survey definition reads it."""
    if answer.kind in ("rating", "number"):
        return answer.value_int
    if answer.kind == "multi":
        return [v for v in (answer.value_text or "").split(",") if v]
    return answer.value_text


def _has_answers() -> Any:
    return exists(select(SurveyAnswer.id).where(SurveyAnswer.request_id == SurveyRequest.id))


async def count_answered_by(session: AsyncSession, user_id: int) -> int:
    """Surveys the person answered at least in part."""
    return int(await session.scalar(select(func.count()).select_from(SurveyRequest).where(
        SurveyRequest.user_id == user_id, _has_answers())) or 0)


async def answered_by(session: AsyncSession, user_id: int,
                      limit: int) -> list[tuple[SurveyRequest, list[SurveyAnswer]]]:
    """The person's surveys answered at least in part, newest first, each with its answers."""
    requests = list(await session.scalars(select(SurveyRequest).where(
        SurveyRequest.user_id == user_id, _has_answers()).order_by(
        SurveyRequest.created_at.desc(), SurveyRequest.id.desc()).limit(limit)))
    found: dict[int, list[SurveyAnswer]] = {r.id: [] for r in requests}
    if found:
        for answer in await session.scalars(select(SurveyAnswer).where(
                SurveyAnswer.request_id.in_(found)).order_by(SurveyAnswer.id)):
            found[answer.request_id].append(answer)
    return [(r, found[r.id]) for r in requests]


async def answers(session: AsyncSession, request_id: int) -> dict[str, Any]:
    rows = await session.scalars(select(SurveyAnswer).where(SurveyAnswer.request_id == request_id))
    return {a.question: decode(a) for a in rows}


async def save_answer(session: AsyncSession, request: SurveyRequest, question: survey_defs.Question, value: Any,
                      now: dt.datetime) -> bool:
    """Stores one answer; False when that question was answered already (a repeated press)."""
    as_int = value if question.kind in ("rating", "number") else None
    as_text = ",".join(value) if question.kind == "multi" else (None if as_int is not None else value)
    row = SurveyAnswer(request_id=request.id, survey=request.survey, version=request.version, question=question.id,
                       kind=question.kind, value_int=as_int, value_text=as_text, answered_at=now)
    return await _insert_once(session, row)


async def _insert_once(session: AsyncSession, row: SurveyRequest | SurveyAnswer) -> bool:
    """Inserts in a savepoint; False when a unique rule says it exists already (the rest of the turn goes on)."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


def finish(request: SurveyRequest, status: str, now: dt.datetime) -> None:
    request.status = status
    request.asking = None
    request.draft = {}
    request.finished_at = now


async def open_for_user(session: AsyncSession, user_id: int, now: dt.datetime) -> list[SurveyRequest]:
    """Invitations this person may still answer (already sent, not closed), newest first."""
    return list(await session.scalars(
        select(SurveyRequest).where(SurveyRequest.user_id == user_id, SurveyRequest.status == OPEN,
                                    SurveyRequest.due_at <= now, SurveyRequest.expires_at > now)
        .order_by(SurveyRequest.due_at.desc(), SurveyRequest.id.desc())))


async def awaiting_text(session: AsyncSession, user_id: int, now: dt.datetime) -> SurveyRequest | None:
    """The invitation whose question was shown last and waits for a typed answer."""
    rows = [r for r in await open_for_user(session, user_id, now) if r.asking]
    rows.sort(key=lambda r: str(r.draft.get("asked_at", "")), reverse=True)
    return rows[0] if rows else None


async def close_expired(session: AsyncSession, now: dt.datetime) -> list[int]:
    """Closes invitations past their week; returns their ids (their reminders are withdrawn by the caller)."""
    result = await session.execute(
        update(SurveyRequest).where(SurveyRequest.status == OPEN, SurveyRequest.expires_at <= now)
        .values(status="closed", asking=None, finished_at=now).returning(SurveyRequest.id))
    return sorted(int(i) for i in result.scalars())


# --- what the triggers look for ---------------------------------------------------------------------


async def attended_bookings_without_survey(session: AsyncSession, ended_after: dt.datetime) -> list[Booking]:
    """Attended sessions that ended after `ended_after` and have no invitation yet."""
    return list(await session.scalars(
        # The start bound lets the sweep use the (…, status, starts_at) index: sessions last hours, not a day.
        select(Booking).where(Booking.status == "attended", Booking.starts_at > ended_after - dt.timedelta(days=1),
                              Booking.ends_at > ended_after, ~exists().where(SurveyRequest.booking_id == Booking.id))
        .order_by(Booking.ends_at)))


async def attendees_without_survey(session: AsyncSession, ended_after: dt.datetime,
                                   ended_before: dt.datetime) -> list[tuple[Event, int]]:
    """(event, user id) for everyone checked in at an event that ended in the window, not yet invited."""
    rows = await session.execute(
        select(Event, EventRegistration.user_id)
        .join(EventRegistration, EventRegistration.event_id == Event.id)
        .where(Event.ends_at > ended_after, Event.ends_at <= ended_before, Event.status == "published",
               EventRegistration.attended_at.is_not(None),
               ~exists().where(SurveyRequest.event_id == Event.id,
                               SurveyRequest.user_id == EventRegistration.user_id))
        .order_by(Event.ends_at, EventRegistration.user_id))
    return [(event, int(uid)) for event, uid in rows.all()]


async def seekers_registered_before(session: AsyncSession, before: dt.datetime) -> list[tuple[int, dt.datetime]]:
    rows = await session.execute(select(SeekerProfile.user_id, SeekerProfile.registered_at)
                                 .where(SeekerProfile.registered_at <= before))
    return [(int(u), at) for u, at in rows.all()]


async def members_approved_before(session: AsyncSession, before: dt.datetime) -> list[int]:
    return list(await session.scalars(
        select(Membership.user_id).where(Membership.status == "approved", Membership.decided_at <= before)))


async def subjects_of(session: AsyncSession, user_ids: Sequence[int], subjects: Sequence[str]) -> set[tuple[int, str]]:
    """Which (person, trigger) pairs already have an invitation, for a batch."""
    if not user_ids or not subjects:
        return set()
    rows = await session.execute(select(SurveyRequest.user_id, SurveyRequest.subject).where(
        SurveyRequest.user_id.in_(list(user_ids)), SurveyRequest.subject.in_(list(subjects))))
    return {(int(u), s) for u, s in rows.all()}


# --- the export's rows -------------------------------------------------------------------------------

# Written for each driver and read through its own cursor: at 200,000 rows SQLAlchemy's
# result layer costs as much as the query itself, and the export streams every answer.
_ANSWERS_SQL = {
    "sqlite": "SELECT request_id, strftime('%Y-%m-%d %H:%M', answered_at, ?), survey, version, question, kind, "
              "value_int, value_text FROM survey_answers WHERE answered_at >= ? AND answered_at < ? "
              "ORDER BY answered_at, id",
    "postgresql": "SELECT request_id, to_char(timezone($1, answered_at), 'YYYY-MM-DD HH24:MI'), survey, version, "
                  "question, kind, value_int, value_text FROM survey_answers "
                  "WHERE answered_at >= $2 AND answered_at < $3 ORDER BY answered_at, id",
}
AnswerRow = tuple[int, str, str, int, str, str, int | None, str | None]


async def stream_answers(session: AsyncSession, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo,
                         batch: int) -> AsyncIterator[Sequence[AnswerRow]]:
    """Answers given in [start, end), oldest first, in batches, with the local time as 'YYYY-MM-DD HH:MM'.

    The rows come from a server-side cursor (PostgreSQL) or SQLite's stepping cursor, so
    memory holds one batch at a time. SQLite shifts by the zone's offset at `start` (exact for
    Asia/Seoul, which has no daylight saving); PostgreSQL converts with the zone itself.
    """
    conn = await session.connection()
    dialect = conn.dialect
    to_db = UTCDateTime().bind_processor(dialect)
    bounds = [to_db(start), to_db(end)] if to_db else [start, end]
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    if dialect.name == "postgresql":
        cursor = await driver.cursor(_ANSWERS_SQL["postgresql"], getattr(tz, "key", "UTC"), *bounds)
        while rows := await cursor.fetch(batch):
            yield rows
        return
    offset = start.astimezone(tz).utcoffset() or dt.timedelta()
    shift = f"{int(offset.total_seconds() // 60):+d} minutes"
    cur = await driver.execute(_ANSWERS_SQL["sqlite"], [shift, *bounds])
    try:
        while rows := await cur.fetchmany(batch):
            yield rows
    finally:
        await cur.close()


# --- what counselors may see -------------------------------------------------------------------------


async def counselor_rating(session: AsyncSession, counselor_id: int) -> tuple[float | None, int]:
    """(average, count) of the overall rating of this counselor's sessions; the average is None
    below MIN_RATINGS_SHOWN answers, so nobody can work out one person's answer."""
    avg, count = (await session.execute(
        select(func.avg(SurveyAnswer.value_int), func.count())
        .join(SurveyRequest, SurveyRequest.id == SurveyAnswer.request_id)
        .where(SurveyRequest.counselor_id == counselor_id, SurveyAnswer.survey == "consultation",
               SurveyAnswer.question == "overall", SurveyAnswer.value_int.is_not(None)))).one()
    n = int(count or 0)
    return (float(avg) if avg is not None and n >= MIN_RATINGS_SHOWN else None), n
