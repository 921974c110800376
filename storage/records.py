"""People as staff look them up: search, and everything held about one person on one page
(the web console's People). Reads only; what staff do to a record goes through the record's own
module (memberships, bookings ...), as the chat does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import privacy
from storage.models import (
    Booking,
    Event,
    EventRegistration,
    Firm,
    Membership,
    Posting,
    Referral,
    SeekerProfile,
    User,
)

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Found:
    user_id: int
    name: str | None
    track: str | None
    school: str | None
    phone: str | None
    team: str | None
    registered_at: dt.datetime | None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(session: AsyncSession, query: str, *, track: str | None = None, school: str | None = None,
                 limit: int = SEARCH_LIMIT) -> list[Found]:
    """Seekers and members whose name, school or team contains `query`, or whose phone ends
    with its digits (4 or more); newest registrations first. An empty query lists the newest."""
    text = query.strip()
    digits = "".join(c for c in text if c.isdigit())
    seekers = select(SeekerProfile.user_id, SeekerProfile.name, SeekerProfile.track, SeekerProfile.school_name,
                     SeekerProfile.phone, SeekerProfile.registered_at)
    if text:
        matches = [SeekerProfile.name.like(_like(text), escape="\\"),
                   SeekerProfile.school_name.like(_like(text), escape="\\")]
        if len(digits) >= 4:
            matches.append(SeekerProfile.phone.like("%" + digits, escape="\\"))
        seekers = seekers.where(or_(*matches))
    if track:
        seekers = seekers.where(SeekerProfile.track == track)
    if school:
        seekers = seekers.where(SeekerProfile.school_name.like(_like(school), escape="\\"))
    rows = (await session.execute(seekers.order_by(SeekerProfile.registered_at.desc()).limit(limit))).all()
    found = {r[0]: Found(r[0], r[1], r[2], r[3], r[4], None, r[5]) for r in rows}
    if text and not track and not school and len(found) < limit:
        teams = (await session.execute(
            select(Membership.user_id, Membership.team_name).where(
                Membership.team_name.like(_like(text), escape="\\"), Membership.status.in_(("pending", "approved")))
            .order_by(Membership.applied_at.desc()).limit(limit - len(found)))).all()
        for user_id, team in teams:
            found.setdefault(user_id, Found(user_id, None, None, None, None, team, None))
    return list(found.values())


@dataclass(frozen=True)
class Record:
    user: User
    profile: SeekerProfile | None
    memberships: list[Membership]
    bookings: list[Booking]
    referrals: Sequence[tuple[Referral, str, str | None]]  # the referral, the firm's name, the posting's title
    events: list[tuple[EventRegistration, str]]  # the registration, the event's title
    held: privacy.Held


async def record(session: AsyncSession, user_id: int, *, limit: int = 20) -> Record | None:
    user = await session.get(User, user_id)
    if user is None:
        return None
    profile = await session.get(SeekerProfile, user_id)
    memberships = list(await session.scalars(
        select(Membership).where(Membership.user_id == user_id).order_by(Membership.applied_at.desc())))
    bookings = list(await session.scalars(
        select(Booking).where(Booking.user_id == user_id).order_by(Booking.starts_at.desc()).limit(limit)))
    referrals = [(r, f, p) for r, f, p in (await session.execute(
        select(Referral, Firm.name, Posting.title).join(Firm, Firm.id == Referral.firm_id)
        .outerjoin(Posting, Posting.id == Referral.posting_id).where(Referral.user_id == user_id)
        .order_by(Referral.requested_at.desc()).limit(limit))).all()]
    events = [(r, title) for r, title in (await session.execute(
        select(EventRegistration, Event.title).join(Event, Event.id == EventRegistration.event_id)
        .where(EventRegistration.user_id == user_id).order_by(Event.starts_at.desc()).limit(limit))).all()]
    return Record(user, profile, memberships, bookings, referrals, events, await privacy.held_about(session, user_id))
