"""Outbox rows tied to a booking (reminders), found again by their dedupe keys."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage

REMINDERS = ("r24", "r1")


def reminder_key(booking_id: int, which: str) -> str:
    return f"booking:{booking_id}:{which}"


async def cancel_for_booking(session: AsyncSession, booking_id: int) -> int:
    """Withdraw the booking's reminders that were not sent yet (a cancel or a reschedule)."""
    keys = [reminder_key(booking_id, which) for which in REMINDERS]
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key.in_(keys), OutboxMessage.status == "pending")
        .values(status="cancelled", last_error="booking cancelled or moved"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
