"""Referrals (취업알선): a seeker's interest in a posting, followed up by a counselor.

Statuses are the strings 'requested', 'referred', 'hired' and 'declined' (reports rely
on them). A referral is made once per person and posting (a database rule); its
counselor is the active job counsellor with the fewest open referrals. `outcome_counts`
is what the reports read: how many were requested, referred, hired and declined in a period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import counselors
from storage.models import Counselor, Firm, Referral

STATUSES = ("requested", "referred", "hired", "declined")
OUTCOMES = ("referred", "hired", "declined")
OPEN = ("requested", "referred")
# Which steps may follow which: a referral can be marked hired or declined without the
# referred step recorded first (the counselor called the firm and it was settled at once).
NEXT = {"requested": ("referred", "hired", "declined"), "referred": ("hired", "declined"), "hired": (),
        "declined": ()}


async def find(session: AsyncSession, user_id: int, posting_id: int) -> Referral | None:
    return (await session.scalars(select(Referral).where(Referral.user_id == user_id,
                                                         Referral.posting_id == posting_id))).first()


async def get(session: AsyncSession, referral_id: int) -> Referral | None:
    return await session.get(Referral, referral_id)


async def _least_busy(session: AsyncSession) -> Counselor | None:
    staff = await counselors.active(session, "job_counselling") or await counselors.active(session)
    if not staff:
        return None
    load = dict((await session.execute(
        select(Referral.counselor_id, func.count()).where(Referral.status.in_(OPEN),
                                                           Referral.counselor_id.in_([c.id for c in staff]))
        .group_by(Referral.counselor_id))).all())
    return min(staff, key=lambda c: (load.get(c.id, 0), c.id))


async def request(session: AsyncSession, user_id: int, posting_id: int, firm_id: int, score: int,
                  now: dt.datetime) -> tuple[Referral, bool]:
    """The referral, and True when it is new (False: the person asked before, even at the same moment)."""
    found = await find(session, user_id, posting_id)
    if found is not None:
        return found, False
    counselor = await _least_busy(session)
    row = Referral(user_id=user_id, posting_id=posting_id, firm_id=firm_id, score=score, status="requested",
                   counselor_id=counselor.id if counselor else None, requested_at=now)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = await find(session, user_id, posting_id)
        assert found is not None
        return found, False
    return row, True


def advance(row: Referral, status: str, actor: int, now: dt.datetime) -> bool:
    """Moves to `status`; False when that step does not follow (already decided, or a repeat)."""
    if status not in NEXT[row.status]:
        return False
    row.status, row.updated_by = status, actor
    if status == "referred" or (row.referred_at is None and status == "hired"):
        row.referred_at = now
    if status == "hired":
        row.hired_at = now
    elif status == "declined":
        row.declined_at = now
    return True


async def of_counselor(session: AsyncSession, counselor_id: int | None, limit: int, offset: int,
                       ) -> tuple[list[Referral], int]:
    """Open referrals of one counselor, oldest first; None: those nobody can follow up (no counselor was
    assigned, or theirs was deactivated since), for admins."""
    if counselor_id is None:
        query = (select(Referral).outerjoin(Counselor, Counselor.id == Referral.counselor_id)
                 .where(or_(Referral.counselor_id.is_(None), Counselor.active.is_(False))))
    else:
        query = select(Referral).where(Referral.counselor_id == counselor_id)
    query = query.where(Referral.status.in_(OPEN))
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = list(await session.scalars(query.order_by(Referral.requested_at, Referral.id).limit(limit).offset(offset)))
    return rows, total


async def of_seeker(session: AsyncSession, user_id: int, limit: int, offset: int) -> tuple[list[Referral], int]:
    """One seeker's referrals, newest first, decided ones too (they want to know how each ended)."""
    query = select(Referral).where(Referral.user_id == user_id)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = list(await session.scalars(query.order_by(Referral.requested_at.desc(), Referral.id.desc())
                                      .limit(limit).offset(offset)))
    return rows, total


async def has_any(session: AsyncSession, user_id: int) -> bool:
    return await session.scalar(select(Referral.id).where(Referral.user_id == user_id).limit(1)) is not None


async def outcome_counts(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Referrals requested, referred, hired and declined in [start, end) (aware UTC)."""
    steps = {"requested": Referral.requested_at, "referred": Referral.referred_at, "hired": Referral.hired_at,
             "declined": Referral.declined_at}
    # One pass over the referrals touched in the period, each step counted by its own time.
    row = (await session.execute(
        select(*(func.count().filter(column >= start, column < end) for column in steps.values()))
        .where(or_(*((column >= start) & (column < end) for column in steps.values()))))).one()
    return {status: int(n or 0) for status, n in zip(steps, row, strict=True)}


@dataclass(frozen=True)
class FirmOutcomes:
    firm_id: int
    name: str
    requested: int
    referred: int
    hired: int
    declined: int


async def per_firm(session: AsyncSession, limit: int, offset: int,
                   within: tuple[dt.datetime, dt.datetime] | None = None) -> tuple[list[FirmOutcomes], int]:
    """Per firm with referrals: how many were asked for, referred, hired and declined, busiest
    first; ever, or `within` [start, end) (aware UTC) with each step counted by its own time,
    as `outcome_counts` does."""
    steps = (Referral.requested_at, Referral.referred_at, Referral.hired_at, Referral.declined_at)
    query = select(Referral.firm_id, Firm.name)
    counts: list[ColumnElement[int]]
    if within is None:
        counts = [func.count(column) for column in steps]
    else:
        start, end = within
        counts = [func.count().filter(column >= start, column < end) for column in steps]
        query = query.where(or_(*((column >= start) & (column < end) for column in steps)))
    rows = (await session.execute(
        query.add_columns(*counts).join(Firm, Firm.id == Referral.firm_id).group_by(Referral.firm_id, Firm.name)
        .order_by(counts[0].desc(), counts[2].desc(), Referral.firm_id))).all()
    return [FirmOutcomes(*row) for row in rows[offset:offset + limit]], len(rows)
