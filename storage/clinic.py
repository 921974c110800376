"""The document clinic's records: requests and their files, the review queue, case notes and the
sessions counselors held outside the bot.

Rules that must hold with several counselors at once live in the statements: a request is claimed
by one UPDATE that only matches while it is still waiting (`claim`), so two counselors pressing
맡기 together get one winner.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CaseNote, ClinicFile, ClinicRequest, OutsideSession, ServedFile

OPEN = ("received", "reviewing")
DOCUMENTS = ("resume", "cover_letter", "career", "portfolio")
CHECKS = ("spelling", "structure", "fit", "length")
SECTIONS = ("overall", "personal", "education", "career", "certificates", "introduction")
CHANNELS = ("walk_in", "phone", "school_visit")
SERVICES = ("counselling", "clinic")


def due_after(start: dt.datetime, hours: int, tz: dt.tzinfo, open_minute: int, close_minute: int) -> dt.datetime:
    """`hours` working hours after `start`: counted within the opening hours on weekdays only."""
    left = dt.timedelta(hours=hours)
    moment = start.astimezone(tz)
    for _ in range(hours * 7 + 14):  # at most a day's step per iteration; bounded whatever the settings
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        opens, closes = day + dt.timedelta(minutes=open_minute), day + dt.timedelta(minutes=close_minute)
        if moment.weekday() >= 5 or moment >= closes:
            moment = day + dt.timedelta(days=1, minutes=open_minute)
            continue
        moment = max(moment, opens)
        if moment + left <= closes:
            return (moment + left).astimezone(dt.UTC)
        left -= closes - moment
        moment = day + dt.timedelta(days=1, minutes=open_minute)
    return (moment + left).astimezone(dt.UTC)


async def draft_of(session: AsyncSession, user_id: int) -> ClinicRequest | None:
    return (await session.scalars(select(ClinicRequest).where(ClinicRequest.user_id == user_id,
                                                              ClinicRequest.status == "draft")
                                  .order_by(ClinicRequest.id.desc()).limit(1))).first()


async def of_user(session: AsyncSession, user_id: int, limit: int = 5) -> list[ClinicRequest]:
    """A person's requests, newest first (drafts left out)."""
    return list(await session.scalars(select(ClinicRequest).where(ClinicRequest.user_id == user_id,
                                                                  ClinicRequest.status != "draft")
                                      .order_by(ClinicRequest.id.desc()).limit(limit)))


async def files_of(session: AsyncSession, request_id: int) -> list[ClinicFile]:
    return list(await session.scalars(select(ClinicFile).where(ClinicFile.request_id == request_id)
                                      .order_by(ClinicFile.id)))


async def count_files(session: AsyncSession, request_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(ClinicFile)
                                    .where(ClinicFile.request_id == request_id)) or 0)


async def queue(session: AsyncSession, *, limit: int = 10, offset: int = 0) -> list[ClinicRequest]:
    """Open requests in order of arrival (the index on (status, submitted_at) serves it)."""
    return list(await session.scalars(select(ClinicRequest).where(ClinicRequest.status.in_(OPEN))
                                      .order_by(ClinicRequest.submitted_at, ClinicRequest.id)
                                      .limit(limit).offset(offset)))


async def count_open(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ClinicRequest)
                                    .where(ClinicRequest.status.in_(OPEN))) or 0)


async def claim(session: AsyncSession, request_id: int, counselor_id: int, now: dt.datetime) -> bool:
    """Take a waiting request for review; False when someone else has it (or it is no longer waiting)."""
    result = await session.execute(
        update(ClinicRequest).where(ClinicRequest.id == request_id, ClinicRequest.status == "received")
        .values(status="reviewing", counselor_id=counselor_id, claimed_at=now)
        .execution_options(synchronize_session="fetch"))
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def overdue(session: AsyncSession, now: dt.datetime) -> list[ClinicRequest]:
    """Open requests past their due time that the admins have not been told of."""
    return list(await session.scalars(select(ClinicRequest).where(
        ClinicRequest.status.in_(OPEN), ClinicRequest.due_at < now, ClinicRequest.overdue_told_at.is_(None))
        .order_by(ClinicRequest.due_at).limit(200)))


async def purge_returned(session: AsyncSession, now: dt.datetime, keep_days: int) -> int:
    """Delete the files and texts of requests returned (or withdrawn) more than `keep_days` ago; the
    request row stays, without them, for the figures. Returns how many requests were purged."""
    cutoff = now - dt.timedelta(days=keep_days)
    # Drafts left unsent (the person walked away while sending files) go after a day.
    stale = list(await session.scalars(select(ClinicRequest).where(
        ClinicRequest.status == "draft", ClinicRequest.created_at < now - dt.timedelta(days=1)).limit(500)))
    if stale:
        await forget_requests(session, stale)
        await session.execute(delete(ClinicRequest).where(ClinicRequest.id.in_([r.id for r in stale])))
    done = list(await session.scalars(select(ClinicRequest).where(
        ClinicRequest.purged_at.is_(None),
        or_(ClinicRequest.done_at < cutoff,
            (ClinicRequest.status == "withdrawn") & (ClinicRequest.created_at < cutoff))).limit(500)))
    if not done:
        return 0
    await forget_requests(session, done)
    for row in done:
        row.purged_at = now
    return len(done)


async def forget_requests(session: AsyncSession, rows: Sequence[ClinicRequest]) -> None:
    """The files, texts and comments of these requests, gone (their coded fields stay)."""
    ids = [r.id for r in rows]
    kept = list(await session.scalars(select(ClinicFile.file_id).where(ClinicFile.request_id.in_(ids),
                                                                       ClinicFile.file_id.is_not(None))))
    kept += [r.returned_file_id for r in rows if r.returned_file_id]
    if kept:
        await session.execute(delete(ServedFile).where(ServedFile.id.in_(kept)))
    await session.execute(update(ClinicFile).where(ClinicFile.request_id.in_(ids)).values(text="", file_id=None))
    await session.execute(update(ClinicRequest).where(ClinicRequest.id.in_(ids))
                          .values(comments={}, question=None, answer=None, target="", returned_file_id=None,
                                  findings=[]))


async def forget_people(session: AsyncSession, user_ids: Sequence[int]) -> int:
    """Retention: the clinic texts and files of these people, and notes about them."""
    rows = list(await session.scalars(select(ClinicRequest).where(ClinicRequest.user_id.in_(list(user_ids)))))
    if rows:
        await forget_requests(session, rows)
    result = await session.execute(delete(CaseNote).where(CaseNote.user_id.in_(list(user_ids))))
    return len(rows) + int(getattr(result, "rowcount", 0) or 0)


# --- case notes ------------------------------------------------------------------------------------


async def add_note(session: AsyncSession, user_id: int, counselor_id: int | None, text: str,
                   now: dt.datetime) -> CaseNote:
    """A counselor's note on a person, from a clinic request in chat or a person's console page."""
    note = CaseNote(user_id=user_id, counselor_id=counselor_id, text=text, created_at=now)
    session.add(note)
    await session.flush()
    return note


async def notes_about(session: AsyncSession, user_id: int, limit: int = 20) -> list[CaseNote]:
    return list(await session.scalars(select(CaseNote).where(CaseNote.user_id == user_id)
                                      .order_by(CaseNote.id.desc()).limit(limit)))


# --- figures for /stats -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClinicFigures:
    requests: int
    done: int
    overdue: int
    median_hours: float | None
    documents: dict[str, int]
    rating: float | None
    ratings: int


async def figures(session: AsyncSession, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> ClinicFigures:
    rows = (await session.execute(select(ClinicRequest.status, ClinicRequest.documents, ClinicRequest.submitted_at,
                                         ClinicRequest.done_at, ClinicRequest.due_at, ClinicRequest.rating)
                                  .where(ClinicRequest.submitted_at >= start, ClinicRequest.submitted_at < end))).all()
    docs: Counter[str] = Counter()
    turnaround: list[float] = []
    overdue_n = 0
    ratings: list[int] = []
    for status, documents, submitted, done_at, due_at, rating in rows:
        docs.update(d for d in documents or [] if d in DOCUMENTS)
        if done_at is not None and submitted is not None:
            turnaround.append((done_at - submitted).total_seconds() / 3600)
        if due_at is not None and ((done_at or now) > due_at) and status != "withdrawn":
            overdue_n += 1
        if rating is not None:
            ratings.append(rating)
    return ClinicFigures(len(rows), len(turnaround), overdue_n,
                         statistics.median(turnaround) if turnaround else None,
                         {d: docs[d] for d in DOCUMENTS},
                         sum(ratings) / len(ratings) if ratings else None, len(ratings))


async def outside_counts(session: AsyncSession, start: dt.datetime,
                         end: dt.datetime) -> list[tuple[str, str, str, int, int]]:
    """(channel, service, place, sessions, people) of sessions held outside the bot in the period."""
    rows = (await session.execute(
        select(OutsideSession.channel, OutsideSession.service, OutsideSession.place, func.count(),
               func.sum(OutsideSession.people))
        .where(OutsideSession.held_at >= start, OutsideSession.held_at < end)
        .group_by(OutsideSession.channel, OutsideSession.service, OutsideSession.place)
        .order_by(OutsideSession.channel, OutsideSession.service, OutsideSession.place))).all()
    return [(str(c), str(s), str(p), int(n), int(people or 0)) for c, s, p, n, people in rows]
