"""Retention: personal data of people inactive longer than promised is removed (`python -m bot retention`).

The consent screens promise RETENTION_MONTHS after the last use ("마지막 이용일로부터
24개월"). A person whose last message is older than that, with no booking or event seat
still ahead, is pseudonymised rather than deleted, so the reports' figures for past
periods stay what they were:

- gone: how channels know them (identities, hence every chat id), their conversation
  state, outbox rows (message texts) to them and about them (alerts to staff, agendas, sent or
  queued), counselor chats, link codes, served files of theirs and about them (exports),
  KakaoTalk pages and Event API tasks, hidden postings and the job digest, free-text survey answers,
  the document clinic's files, extracted texts and comments, and counselors' case notes;
- blanked: names, phone numbers, school names, desired jobs and skills, membership
  team names and ideas (and a rejection's reason), booking notes, pitch team, text and
  deck link, unfinished survey drafts;
- kept: the user row (now only an id, `anonymised_at` set) and the coded fields the
  reports count: track, school kind, districts, stage, type, status, dates, ratings, choices.

Staff (counselors, admins) are not concerned: their data follows their job, not a consent.
Finished outbox rows of everyone are also deleted after OUTBOX_KEEP_DAYS (they keep texts), and
so are checked KakaoTalk Event API tasks (they name a Kakao user). Free text the bot did not
understand (`nlu_misses`, kept without a person) goes once older than RETENTION_MONTHS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clinic, faq, files, kakao, outbox
from storage.models import (
    Booking,
    Conversation,
    Event,
    EventRegistration,
    Handoff,
    HiddenPosting,
    Identity,
    JobDigest,
    KakaoPage,
    KakaoTask,
    LinkAttempt,
    LinkCode,
    Membership,
    Mentor,
    MentoringRequest,
    OutboxMessage,
    PitchApplication,
    SeekerProfile,
    ServedFile,
    SurveyAnswer,
    SurveyRequest,
    User,
)

CHUNK = 500


@dataclass
class Report:
    """What one run did (or, in a dry run, would do), per kind."""

    people: int = 0
    identities: int = 0
    conversations: int = 0
    outbox_rows: int = 0
    counselor_chats: int = 0
    seeker_profiles: int = 0
    memberships: int = 0
    bookings: int = 0
    pitch_applications: int = 0
    survey_texts: int = 0
    other_rows: int = 0
    finished_outbox_rows: int = 0
    checked_kakao_tasks: int = 0
    nlu_misses: int = 0

    def lines(self) -> list[str]:
        return [f"{f.name}: {getattr(self, f.name)}" for f in fields(self)]


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` earlier (the month's last day when it is shorter)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


async def inactive(session: AsyncSession, now: dt.datetime, months: int) -> list[int]:
    """People last seen before the retention period, not yet anonymised, with nothing ahead of them."""
    cutoff = months_before(now, months)
    upcoming_booking = exists().where(Booking.user_id == User.id, Booking.status == "booked",
                                      Booking.ends_at >= now)
    upcoming_event = exists().where(
        EventRegistration.user_id == User.id, EventRegistration.status.in_(("registered", "waiting", "offered")),
        EventRegistration.event_id == Event.id, Event.ends_at >= now)
    result = await session.scalars(
        select(User.id).where(User.last_seen_at < cutoff, User.anonymised_at.is_(None), User.role == "user",
                              ~upcoming_booking, ~upcoming_event).order_by(User.id))
    return list(result)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def _pseudonymise(session: AsyncSession, ids: Sequence[int], now: dt.datetime, report: Report) -> None:
    chats = (await session.execute(select(Identity.channel, Identity.external_id, Identity.chat_id)
                                   .where(Identity.user_id.in_(ids)))).all()
    kakao_keys = [external_id for channel, external_id, _ in chats if channel == "kakao"]
    if kakao_keys:
        for keyed in (KakaoPage, KakaoTask):
            report.other_rows += _count(await session.execute(delete(keyed).where(keyed.user_key.in_(kakao_keys))))
    # Messages and files about them held for someone else (alerts to staff, exports).
    report.outbox_rows += await outbox.forget(session, ids)
    report.other_rows += await files.forget(session, ids)
    # Clinic documents' texts, files and comments, and counselors' notes about them.
    report.other_rows += await clinic.forget_people(session, ids)
    # Rows addressed to their chats without a user id too (a relayed message, a notice).
    by_chat = [and_(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id)
               for channel, _, chat_id in chats]
    report.outbox_rows += _count(await session.execute(
        delete(OutboxMessage).where(or_(OutboxMessage.user_id.in_(ids), *by_chat))))
    report.conversations += _count(await session.execute(delete(Conversation).where(Conversation.user_id.in_(ids))))
    report.identities += _count(await session.execute(delete(Identity).where(Identity.user_id.in_(ids))))
    report.counselor_chats += _count(await session.execute(delete(Handoff).where(Handoff.user_id.in_(ids))))
    for model in (LinkCode, LinkAttempt, ServedFile, HiddenPosting, JobDigest):
        report.other_rows += _count(await session.execute(delete(model).where(model.user_id.in_(ids))))
    requests = select(SurveyRequest.id).where(SurveyRequest.user_id.in_(ids)).scalar_subquery()
    report.survey_texts += _count(await session.execute(
        delete(SurveyAnswer).where(SurveyAnswer.request_id.in_(requests), SurveyAnswer.kind == "text")))
    await session.execute(update(SurveyRequest).where(SurveyRequest.user_id.in_(ids))
                          .values(draft={}, asking=None))
    report.seeker_profiles += _count(await session.execute(
        update(SeekerProfile).where(SeekerProfile.user_id.in_(ids))
        .values(name="", school_name="", phone=None, desired_jobs=[], skills=[])))
    report.memberships += _count(await session.execute(
        update(Membership).where(Membership.user_id.in_(ids)).values(team_name="", idea="", reject_reason=None)))
    report.bookings += _count(await session.execute(
        update(Booking).where(Booking.user_id.in_(ids), Booking.note.is_not(None)).values(note=None)))
    # The mentor group: a mentor's name and workplace, a mentee's questions (the figures stay).
    report.other_rows += _count(await session.execute(
        update(Mentor).where(Mentor.user_id.in_(ids)).values(name="", company="", job="")))
    report.other_rows += _count(await session.execute(
        update(MentoringRequest).where(MentoringRequest.user_id.in_(ids)).values(questions="")))
    report.pitch_applications += _count(await session.execute(
        update(PitchApplication).where(PitchApplication.user_id.in_(ids)).values(team="", pitch="", deck_link="")))
    report.people += _count(await session.execute(
        update(User).where(User.id.in_(ids)).values(anonymised_at=now, role="user")))


async def run(session: AsyncSession, now: dt.datetime, *, months: int, outbox_keep_days: int) -> Report:
    """Pseudonymise the inactive and purge old finished outbox rows and checked Kakao tasks, in the
    caller's transaction."""
    report = Report()
    ids = await inactive(session, now, months)
    for i in range(0, len(ids), CHUNK):
        await _pseudonymise(session, ids[i:i + CHUNK], now, report)
    # Tasks first: purging their outbox rows would take them along uncounted.
    report.checked_kakao_tasks = await kakao.purge_tasks(session, now - dt.timedelta(days=outbox_keep_days))
    report.finished_outbox_rows = await outbox.purge_finished(session, now - dt.timedelta(days=outbox_keep_days))
    # Text people typed that the bot did not understand is kept no longer than anything of theirs.
    report.nlu_misses = await faq.purge_misses(session, months_before(now, months))
    return report
