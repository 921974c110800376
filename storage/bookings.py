"""Bookings: creating one holds its cells (no double booking), cancelling frees them."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import Booking, BookingCell, Membership, SeekerProfile
from storage.slots import occupied

LIVE = "booked"


class SlotTaken(Exception):
    """Someone else holds one of the cells: the slot was taken between showing and confirming."""


async def book(
    session: AsyncSession, *, user_id: int, counselor_id: int, place_id: int, type_: str, starts_at: dt.datetime,
    ends_at: dt.datetime, buffer: dt.timedelta, now: dt.datetime, note: str | None = None,
    rescheduled_from: int | None = None,
) -> Booking:
    """Creates the booking and its cells in a savepoint; SlotTaken leaves nothing behind."""
    try:
        async with session.begin_nested():
            booking = Booking(user_id=user_id, counselor_id=counselor_id, place_id=place_id, type=type_,
                              starts_at=starts_at, ends_at=ends_at, status=LIVE, note=note, created_at=now,
                              rescheduled_from=rescheduled_from)
            session.add(booking)
            await session.flush()
            session.add_all(BookingCell(counselor_id=counselor_id, cell_start=c, booking_id=booking.id)
                            for c in occupied(starts_at, ends_at, buffer))
            await session.flush()
    except IntegrityError:
        raise SlotTaken from None
    return booking


# The reminders a booking's person gets: (name, how long before the start). The one list both
# queueing (handlers.booking) and withdrawal read, so a reminder added here is also withdrawn
# when the booking is cancelled or moved; the name is also the catalog key's suffix
# (`booking.reminder_<name>`).
REMINDERS: tuple[tuple[str, dt.timedelta], ...] = (("r24", dt.timedelta(hours=24)), ("r1", dt.timedelta(hours=1)))


def reminder_key(booking_id: int, which: str) -> str:
    return f"booking:{booking_id}:{which}"


async def withdraw_reminders(session: AsyncSession, booking_id: int) -> int:
    """The booking's reminders not sent yet are withdrawn (a cancel or a reschedule)."""
    keys = [reminder_key(booking_id, which) for which, _before in REMINDERS]
    return await outbox.withdraw(session, keys, "booking cancelled or moved")


async def cancel(session: AsyncSession, booking: Booking, now: dt.datetime, reason: str) -> None:
    booking.status = "cancelled"
    booking.cancelled_at = now
    booking.cancel_reason = reason
    await session.execute(delete(BookingCell).where(BookingCell.booking_id == booking.id))


async def get(session: AsyncSession, booking_id: int, *, for_update: bool = False) -> Booking | None:
    query = select(Booking).where(Booking.id == booking_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def upcoming_for_user(session: AsyncSession, user_id: int, now: dt.datetime) -> list[Booking]:
    return list(await session.scalars(
        select(Booking).where(Booking.user_id == user_id, Booking.status == LIVE, Booking.starts_at > now)
        .order_by(Booking.starts_at)))


async def count_upcoming(session: AsyncSession, user_id: int, now: dt.datetime) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Booking)
        .where(Booking.user_id == user_id, Booking.status == LIVE, Booking.starts_at > now)) or 0)


async def for_counselors(session: AsyncSession, counselor_ids: Sequence[int], start: dt.datetime, end: dt.datetime,
                         statuses: Sequence[str] = (LIVE,)) -> list[Booking]:
    if not counselor_ids:
        return []
    return list(await session.scalars(
        select(Booking).where(Booking.counselor_id.in_(list(counselor_ids)), Booking.status.in_(list(statuses)),
                              Booking.starts_at >= start, Booking.starts_at < end)
        .order_by(Booking.starts_at)))


async def taken_cells(session: AsyncSession, counselor_ids: Sequence[int], start: dt.datetime,
                      end: dt.datetime) -> set[tuple[int, dt.datetime]]:
    if not counselor_ids:
        return set()
    rows = await session.execute(
        select(BookingCell.counselor_id, BookingCell.cell_start)
        .where(BookingCell.counselor_id.in_(list(counselor_ids)), BookingCell.cell_start >= start,
               BookingCell.cell_start < end))
    return {(cid, cell) for cid, cell in rows.all()}


def counts_by_day(bookings: Sequence[Booking], tz: dt.tzinfo) -> Counter[tuple[int, dt.date]]:
    return Counter((b.counselor_id, b.starts_at.astimezone(tz).date()) for b in bookings if b.status == LIVE)


async def mark(session: AsyncSession, booking: Booking, status: str) -> None:
    """Attended or no-show after the session; the cells are no longer needed."""
    booking.status = status
    await session.execute(delete(BookingCell).where(BookingCell.booking_id == booking.id))


# --- additions for the counselors' side (agenda, deactivation) -----------------------------------


async def future_for_counselor(session: AsyncSession, counselor_id: int, now: dt.datetime) -> list[Booking]:
    """Live bookings of a counselor that have not started, locked for cancelling."""
    return list(await session.scalars(
        select(Booking).where(Booking.counselor_id == counselor_id, Booking.status == LIVE, Booking.starts_at > now)
        .order_by(Booking.starts_at).with_for_update()))


async def upcoming_counts(session: AsyncSession, counselor_ids: Sequence[int], now: dt.datetime) -> dict[int, int]:
    if not counselor_ids:
        return {}
    rows = await session.execute(
        select(Booking.counselor_id, func.count()).where(
            Booking.counselor_id.in_(list(counselor_ids)), Booking.status == LIVE, Booking.starts_at > now)
        .group_by(Booking.counselor_id))
    return {cid: int(n) for cid, n in rows.all()}


async def no_show_counts(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, int]:
    """No-shows per person, for the people in an agenda (one query instead of one per line)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Booking.user_id, func.count()).where(Booking.user_id.in_(set(user_ids)), Booking.status == "no_show")
        .group_by(Booking.user_id))
    return {uid: int(n) for uid, n in rows.all()}


async def person_names(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, str]:
    """How a counselor knows the people booked: registered name, else the latest team name.

    People with neither are left out; the caller shows its "no name" text.
    """
    ids = set(user_ids)
    if not ids:
        return {}
    names: dict[int, str] = {}
    for user_id, team in await session.execute(
            select(Membership.user_id, Membership.team_name).where(Membership.user_id.in_(ids))
            .order_by(Membership.id)):
        names[user_id] = team  # the newest application wins
    for user_id, name in await session.execute(
            select(SeekerProfile.user_id, SeekerProfile.name).where(SeekerProfile.user_id.in_(ids))):
        names[user_id] = name
    return names
