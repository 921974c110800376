"""The 특성화고 coaching package: three 1:1 sessions per student (1 진로 탐색, 2 서류, 3 모의면접),
each an ordinary booking at the student's school from the assigned counselor's visiting hours,
marked here with its step. A step counts as held once its session is over and was not cancelled
or missed; the package is complete when all three are held.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Booking, CoachingSession

STEPS = (1, 2, 3)


@dataclass(frozen=True)
class Progress:
    held: frozenset[int]
    booked: dict[int, Booking]  # upcoming, by step

    @property
    def next_step(self) -> int | None:
        """The first step neither held nor booked (steps go in order), None when none is left."""
        for step in STEPS:
            if step not in self.held and step not in self.booked:
                return step
        return None


async def record(session: AsyncSession, booking: Booking, step: int) -> None:
    session.add(CoachingSession(booking_id=booking.id, user_id=booking.user_id, step=step))
    await session.flush()


async def step_of(session: AsyncSession, booking_id: int) -> int | None:
    return await session.scalar(select(CoachingSession.step).where(CoachingSession.booking_id == booking_id))


async def progress(session: AsyncSession, user_id: int, now: dt.datetime) -> Progress:
    rows = (await session.execute(select(CoachingSession.step, Booking).join(
        Booking, Booking.id == CoachingSession.booking_id).where(CoachingSession.user_id == user_id))).all()
    held = frozenset(step for step, b in rows if b.status in ("booked", "attended") and b.ends_at <= now)
    booked = {step: b for step, b in rows if b.status == "booked" and b.ends_at > now}
    return Progress(held, booked)


async def completed(session: AsyncSession, now: dt.datetime) -> int:
    """Students whose three steps are all held."""
    held = (select(CoachingSession.user_id, func.count(func.distinct(CoachingSession.step)).label("n"))
            .join(Booking, Booking.id == CoachingSession.booking_id)
            .where(Booking.status.in_(("booked", "attended")), Booking.ends_at <= now)
            .group_by(CoachingSession.user_id).subquery())
    return int(await session.scalar(select(func.count()).select_from(held).where(held.c.n >= len(STEPS))) or 0)
