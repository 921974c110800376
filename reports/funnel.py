"""What the console's dashboard shows beside the report's sections: the job seekers' funnel
(registered → booked a session → attended one → referred → hired) for the people registered in
a period, and what needs a staff member's attention now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reports.sections import Scope, within
from storage import outbox
from storage.models import Booking, Event, EventRegistration, Handoff, Membership, Referral, SeekerProfile

STEPS = ("registered", "booked", "attended", "referred", "hired")
# An upcoming event is "filling up" from this share of its seats taken.
FILLING = 0.8


@dataclass(frozen=True)
class Step:
    key: str  # console.funnel.<key>
    people: int
    share: float  # of the first step, 0..1


async def funnel(session: AsyncSession, scope: Scope) -> list[Step]:
    """How many of the people registered in the period went how far (each step counts the
    people of the step before who also did this)."""
    cohort = select(SeekerProfile.user_id).where(within(SeekerProfile.registered_at, scope))
    booked = select(Booking.user_id).where(Booking.user_id.in_(cohort))
    attended = booked.where(Booking.status == "attended")
    referred = select(Referral.user_id).where(Referral.user_id.in_(attended))
    hired = referred.where(Referral.status == "hired")
    counts = []
    for query in (cohort, booked, attended, referred, hired):
        counts.append(int(await session.scalar(select(func.count(func.distinct(query.subquery().c.user_id)))) or 0))
    first = counts[0] or 1
    return [Step(key, n, n / first) for key, n in zip(STEPS, counts, strict=True)]


@dataclass(frozen=True)
class Attention:
    pending_applications: int
    waiting_handoffs: int
    filling_events: list[tuple[str, int, int]]  # title, seats taken, capacity
    outbox_due: int
    outbox_lag_seconds: float


async def attention(session: AsyncSession, now: dt.datetime) -> Attention:
    pending = await session.scalar(select(func.count()).select_from(Membership).where(Membership.status == "pending"))
    waiting = await session.scalar(select(func.count()).select_from(Handoff).where(Handoff.status == "waiting"))
    taken = (select(EventRegistration.event_id, func.count().label("n"))
             .where(EventRegistration.status == "registered").group_by(EventRegistration.event_id).subquery())
    rows = (await session.execute(
        select(Event.title, taken.c.n, Event.capacity).join(taken, taken.c.event_id == Event.id)
        .where(Event.starts_at > now, Event.status == "published", taken.c.n >= Event.capacity * FILLING)
        .order_by(Event.starts_at).limit(10))).all()
    backlog = await outbox.backlog(session, now)
    return Attention(int(pending or 0), int(waiting or 0), [(r[0], int(r[1]), int(r[2])) for r in rows],
                     backlog.due, backlog.lag_seconds)
