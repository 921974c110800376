"""Survey triggers: who is invited to which survey, and when; all through the outbox.

`invite_attendees` (every few minutes):
1. A consultation marked attended: its survey is due one hour after the session's end
   (at once when it was marked later than that).
2. An event attended (checked in, or marked by an admin): its survey is due the next
   morning at FOLLOWUP_HOUR local time.
3. Invitations past their week are closed; their pending reminders are withdrawn.

`invite_followups` (once a day, FOLLOWUP_HOUR):
4. Job seekers three months after registration and then every three months: "did you
   find a job? where? since when?" (subject `seeker:q<n>`, n = quarters since registering).
5. Members twice a year, in the first month of each half-year, if approved before it
   began: revenue band, employees, still operating (subject `member:<year>h<1|2>`).

Each invitation queues two outbox rows: the invitation at its due time and one reminder
two days later (keys `survey:<id>:invite` / `survey:<id>:remind`). Answering or skipping
withdraws the reminder; the database's unique (person, trigger) rule means a sweep that
runs twice, or on two workers, invites once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.config import Settings
from kernel.core import Button, Clock, Reply
from kernel.i18n import Translator, moment
from kernel.payloads import Payload
from scheduler import queue
from storage import outbox, survey_defs, surveys
from storage.models import Booking, SurveyRequest
from storage.slots import local_dt

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 300
AFTER_SESSION = dt.timedelta(hours=1)
FOLLOWUP_HOUR = 10
QUARTER_MONTHS = 3
MEMBER_ROUND_DAYS = 30
BATCH = 1000


def invite_key(request_id: int) -> str:
    return f"survey:{request_id}:invite"


def remind_key(request_id: int) -> str:
    return f"survey:{request_id}:remind"


async def withdraw_reminder(session: AsyncSession, request_ids: Sequence[int]) -> int:
    return await outbox.withdraw(session, [remind_key(i) for i in request_ids], "survey answered, skipped or closed")


@dataclass(frozen=True)
class SurveyGo(Payload, prefix="sv", action="go", action_at=1):
    """답하기: the first open question (handlers.surveys answers every `sv` button)."""

    request: int


@dataclass(frozen=True)
class SurveySkip(Payload, prefix="sv", action="skip", action_at=1):
    """건너뛰기 / 설문 그만두기: the survey is closed as skipped."""

    request: int


def survey_buttons(t: Translator, request_id: int) -> list[list[Button]]:
    return [[Button(t("survey.start"), SurveyGo(request_id).pack()),
             Button(t("survey.skip"), SurveySkip(request_id).pack())]]


def invitation(t: Translator, request: SurveyRequest, context: str, *, reminder: bool = False) -> Reply:
    survey = survey_defs.get(request.survey, request.version) or survey_defs.latest(request.survey)
    head = t("survey.reminder" if reminder else "survey.invite", title=survey.title[t.locale])
    days = surveys.CLOSE_AFTER.days
    return Reply("\n\n".join(filter(None, [head, context, t("survey.invite_how", n=len(survey.questions),
                                                                       days=days)])),
                 survey_buttons(t, request.id))


async def queue_invitation(session: AsyncSession, request: SurveyRequest, now: dt.datetime,
                           line: Callable[[Translator], str] = lambda _t: "") -> bool:
    """The invitation at its due time and its one reminder; `line` says what the survey is about,
    in the person's language."""
    sent = await queue.to_user(session, request.user_id, lambda t: invitation(t, request, line(t)),
                               kind="survey.invite", now=now, dedupe_key=invite_key(request.id),
                               due_at=max(request.due_at, now))
    if sent:
        await queue.to_user(session, request.user_id, lambda t: invitation(t, request, line(t), reminder=True),
                            kind="survey.remind", now=now, dedupe_key=remind_key(request.id),
                            due_at=max(request.due_at, now) + surveys.REMIND_AFTER)
    return sent


def consultation_line(booking: Booking, tz: dt.tzinfo) -> Callable[[Translator], str]:
    def line(t: Translator) -> str:
        return t("survey.context.consultation", type=t(f"type.{booking.type}"), when=moment(t, booking.starts_at, tz))

    return line


def event_line(title: str) -> Callable[[Translator], str]:
    return lambda t: t("survey.context.event", title=title)


def followup_line(survey: str) -> Callable[[Translator], str]:
    return lambda t: t(f"survey.context.{survey}")


def next_morning(after: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    day = after.astimezone(tz).date() + dt.timedelta(days=1)
    return local_dt(day, FOLLOWUP_HOUR * 60, tz).astimezone(dt.UTC)


async def invite_attendees(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Consultations marked attended and events checked into: invite; close what is past its week."""
    now, tz = clock.now(), settings.tz
    queued = 0
    async with sessions() as session, session.begin():
        for booking in await surveys.attended_bookings_without_survey(session, now - surveys.CLOSE_AFTER):
            request = await surveys.open_request(
                session, user_id=booking.user_id, survey="consultation", subject=f"booking:{booking.id}",
                due_at=max(booking.ends_at + AFTER_SESSION, now), now=now, booking_id=booking.id,
                counselor_id=booking.counselor_id)
            if request is not None:
                queued += await queue_invitation(session, request, now, consultation_line(booking, tz))
        # Events that ended in the last week; the survey comes the morning after.
        for event, user_id in await surveys.attendees_without_survey(session, now - surveys.CLOSE_AFTER, now):
            due = next_morning(event.ends_at, tz)
            request = await surveys.open_request(
                session, user_id=user_id, survey="event", subject=f"event:{event.id}", due_at=max(due, now),
                now=now, event_id=event.id)
            if request is not None:
                queued += await queue_invitation(session, request, now, event_line(event.title))
        closed = await surveys.close_expired(session, now)
        await withdraw_reminder(session, closed)
    if queued or closed:
        log.info("survey sweep invited=%s closed=%s", queued, len(closed))
    return queued


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from `start` to `end` (a month is complete on the same day number)."""
    return (end.year - start.year) * 12 + end.month - start.month - (1 if end.day < start.day else 0)


def member_round(today: dt.date) -> tuple[str, dt.date] | None:
    """The half-year round open today (its first MEMBER_ROUND_DAYS days): (subject, first day)."""
    first = dt.date(today.year, 1 if today.month <= 6 else 7, 1)
    if (today - first).days >= MEMBER_ROUND_DAYS:
        return None
    return f"member:{first.year}h{1 if first.month == 1 else 2}", first


async def invite_followups(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Quarterly job-seeker follow-ups and the members' half-yearly round."""
    now, tz = clock.now(), settings.tz
    today = now.astimezone(tz).date()
    wanted: list[tuple[int, str, str]] = []  # (user, subject, survey)
    async with sessions() as session, session.begin():
        for user_id, registered_at in await surveys.seekers_registered_before(session, now):
            quarters = months_between(registered_at.astimezone(tz).date(), today) // QUARTER_MONTHS
            if quarters >= 1:
                wanted.append((user_id, f"seeker:q{quarters}", "seeker_followup"))
        round_ = member_round(today)
        if round_ is not None:
            subject, first = round_
            began = local_dt(first, 0, tz).astimezone(dt.UTC)
            members = await surveys.members_approved_before(session, began)
            wanted += [(uid, subject, "member_followup") for uid in members]
        queued = 0
        for i in range(0, len(wanted), BATCH):
            batch = wanted[i:i + BATCH]
            have = await surveys.subjects_of(session, [u for u, _, _ in batch], sorted({s for _, s, _ in batch}))
            for user_id, subject, survey in batch:
                if (user_id, subject) in have:
                    continue
                request = await surveys.open_request(session, user_id=user_id, survey=survey, subject=subject,
                                                     due_at=now, now=now)
                if request is not None:
                    queued += await queue_invitation(session, request, now, followup_line(survey))
    log.info("survey follow-ups invited=%s", queued)
    return queued
