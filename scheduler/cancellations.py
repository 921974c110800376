"""Staff cancelling a person's session and telling them, with a button to book again: one code
for a counselor deactivated in chat (every future session) and a booking cancelled in the web
console, so both queue the same message through the outbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from kernel.core import Button, Reply, payload
from kernel.i18n import Translator
from scheduler import agenda, queue
from storage import bookings
from storage.models import Booking, Place


async def cancel_and_tell(session: AsyncSession, booking: Booking, place: Place, *, reason: str, tz: dt.tzinfo,
                          now: dt.datetime) -> bool:
    """Cancels the session (its time freed, its reminders withdrawn) and queues the person's
    message; False when they cannot be reached."""
    await bookings.cancel(session, booking, now, reason)
    await bookings.withdraw_reminders(session, booking.id)

    def render(tr: Translator) -> Reply:
        local = booking.starts_at.astimezone(tz)
        when = f"{agenda.date_text(tr, local.date())} {local:%H:%M}"
        return Reply(tr("counselor.session_cancelled", type=tr(f"type.{booking.type}"), when=when,
                        place=agenda.place_text(tr, place)),
                     [[Button(tr("counselor.book_again"), payload("m", "book"))]])

    return await queue.to_user(session, booking.user_id, render, now=now, kind="booking.cancelled",
                               dedupe_key=f"booking:{booking.id}:{reason}")
