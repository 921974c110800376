"""청년취업멘토단: mentors and their cohorts, young seekers' requests, and pairs.

A mentor applies once (one row per person, a DB rule) for the next cohort (the half-year
starting on one of MENTORING_COHORT_STARTS); admins select up to the cohort quota. A seeker's
request is paired by the matcher (`matching.mentoring`) with a selected mentor who has a free
place; the pair is proposed to the mentor, who accepts or declines with a reason. A declined
request is proposed to the next mentor who fits, or waits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from matching.mentoring import MentorView
from storage.models import Mentor, MentoringRequest, MentorPair

FORMATS = ("online", "onsite", "both")
DECLINE_REASONS = ("busy", "field", "other")
END_REASONS = ("done", "no_show", "other")
HOLDING = ("proposed", "active")  # pairs that take one of the mentor's places


def cohort_for(today: dt.date, starts: str) -> str:
    """The cohort an application made today goes to: the next start day on or after today, "YYYY-MM"."""
    days = sorted((int(m), int(d)) for m, _, d in (p.strip().partition("-") for p in starts.split(",")))
    for month, day in days:
        if (month, day) >= (today.month, today.day):
            return f"{today.year:04d}-{month:02d}"
    return f"{today.year + 1:04d}-{days[0][0]:02d}"


def current_cohort(today: dt.date, starts: str) -> str:
    """The cohort running today: the latest start day on or before today."""
    days = sorted((int(m), int(d)) for m, _, d in (p.strip().partition("-") for p in starts.split(",")))
    past = [(m, d) for m, d in days if (m, d) <= (today.month, today.day)]
    if past:
        return f"{today.year:04d}-{past[-1][0]:02d}"
    return f"{today.year - 1:04d}-{days[-1][0]:02d}"


async def mentor_of(session: AsyncSession, user_id: int) -> Mentor | None:
    return (await session.scalars(select(Mentor).where(Mentor.user_id == user_id))).first()


async def apply_mentor(session: AsyncSession, user_id: int, values: dict[str, Any], cohort: str,
                       now: dt.datetime) -> Mentor:
    row = Mentor(user_id=user_id, name=values["name"], company=values["company"], job=values["job"],
                 years=values["years"], fields=list(values["fields"]), district=values["district"],
                 capacity=values["capacity"], format=values["format"], cohort=cohort, consent_at=now,
                 created_at=now)
    session.add(row)
    await session.flush()
    return row


async def cohort_mentors(session: AsyncSession, cohort: str) -> list[Mentor]:
    return list(await session.scalars(select(Mentor).where(Mentor.cohort == cohort).order_by(Mentor.id)))


async def selected_in(session: AsyncSession, cohort: str) -> int:
    return int(await session.scalar(select(func.count()).select_from(Mentor).where(
        Mentor.cohort == cohort, Mentor.status == "selected")) or 0)


async def held_places(session: AsyncSession, mentor_ids: list[int]) -> dict[int, int]:
    if not mentor_ids:
        return {}
    rows = await session.execute(select(MentorPair.mentor_id, func.count()).where(
        MentorPair.mentor_id.in_(mentor_ids), MentorPair.status.in_(HOLDING)).group_by(MentorPair.mentor_id))
    return {m: int(n) for m, n in rows.all()}


async def available(session: AsyncSession, cohorts: tuple[str, ...]) -> list[MentorView]:
    """Selected mentors of the cohorts given, with their free places."""
    mentors = list(await session.scalars(select(Mentor).where(Mentor.status == "selected",
                                                              Mentor.cohort.in_(cohorts))))
    held = await held_places(session, [m.id for m in mentors])
    return [MentorView(m.id, tuple(m.fields), m.district, m.format, m.capacity - held.get(m.id, 0)) for m in mentors]


async def open_request(session: AsyncSession, user_id: int) -> MentoringRequest | None:
    return (await session.scalars(select(MentoringRequest).where(
        MentoringRequest.user_id == user_id, MentoringRequest.status.in_(("waiting", "paired")))
        .order_by(MentoringRequest.id.desc()))).first()


async def add_request(session: AsyncSession, user_id: int, values: dict[str, Any], now: dt.datetime
                      ) -> MentoringRequest:
    row = MentoringRequest(user_id=user_id, field=values["field"], questions=values["questions"],
                           format=values["format"], created_at=now)
    session.add(row)
    await session.flush()
    return row


async def declined_by(session: AsyncSession, request_id: int) -> frozenset[int]:
    return frozenset(await session.scalars(select(MentorPair.mentor_id).where(
        MentorPair.request_id == request_id, MentorPair.status == "declined")))


async def propose(session: AsyncSession, mentor_id: int, request: MentoringRequest, sessions_cap: int,
                  now: dt.datetime) -> MentorPair:
    row = MentorPair(mentor_id=mentor_id, mentee_id=request.user_id, request_id=request.id,
                     sessions_cap=sessions_cap, created_at=now)
    session.add(row)
    await session.flush()
    return row


async def pairs_of_mentor(session: AsyncSession, mentor_id: int) -> list[MentorPair]:
    return list(await session.scalars(select(MentorPair).where(MentorPair.mentor_id == mentor_id)
                                      .order_by(MentorPair.id)))


async def pairs_of_mentee(session: AsyncSession, user_id: int) -> list[tuple[MentorPair, Mentor]]:
    rows = await session.execute(select(MentorPair, Mentor).join(Mentor, Mentor.id == MentorPair.mentor_id)
                                 .where(MentorPair.mentee_id == user_id).order_by(MentorPair.id))
    return [(p, m) for p, m in rows.all()]


async def figures(session: AsyncSession, cohort: str) -> dict[str, int]:
    """Mentors selected in the cohort, and pairs active or ended with them."""
    selected = await selected_in(session, cohort)
    rows = await session.execute(select(MentorPair.status, func.count()).join(Mentor, Mentor.id == MentorPair.mentor_id)
                                 .where(Mentor.cohort == cohort).group_by(MentorPair.status))
    by = {s: int(n) for s, n in rows.all()}
    return {"mentors": selected, "pairs": by.get("active", 0) + by.get("ended", 0), "proposed": by.get("proposed", 0),
            "ended": by.get("ended", 0)}


async def unpaired(session: AsyncSession, fields: list[str], limit: int) -> list[MentoringRequest]:
    """Waiting requests in these fields with no pair proposed or active, oldest first."""
    held = exists().where(MentorPair.request_id == MentoringRequest.id, MentorPair.status.in_(HOLDING))
    return list(await session.scalars(select(MentoringRequest).where(
        MentoringRequest.status == "waiting", MentoringRequest.field.in_(fields), ~held)
        .order_by(MentoringRequest.id).limit(limit)))
