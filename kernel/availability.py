"""Counselors' free times, for every room that offers them (booking, campus branches, coaching).

`slots_between` applies the booking rules in one place: the counselors' weekly windows at a
place, their days off, the sessions already held with their buffer, the daily cap and the
minimum notice. A room that shows or books times asks here, so a time shown by /campus is one
/book would give.
"""

from __future__ import annotations

import datetime as dt

from kernel.core import Ctx
from storage import bookings, counselors
from storage.models import Counselor
from storage.slots import Slot, Window, by_counselor, free_slots, local_dt

# Booked cells are read this far either side of the days asked about, so a slot whose session
# and buffer run past the range's edge (local midnight) still sees the cells taken there: more
# than the longest buffer (BOOKING_BUFFER_MINUTES is at most 120), with room for a DST shift.
BUSY_MARGIN = dt.timedelta(hours=4)


def session_length(ctx: Ctx, type_: str) -> dt.timedelta:
    return dt.timedelta(minutes=ctx.settings.slot_minutes.get(type_, 60))


def booking_buffer(ctx: Ctx) -> dt.timedelta:
    return dt.timedelta(minutes=ctx.settings.booking_buffer_minutes)


async def counselors_for(ctx: Ctx, type_: str, counselor: str | None) -> list[Counselor]:
    found = await counselors.active(ctx.session, type_)
    if counselor and counselor != "any":
        found = [c for c in found if str(c.id) == counselor]
    return found


async def slots_between(ctx: Ctx, type_: str, place_id: int, counselor: str | None, first: dt.date,
                        last: dt.date, *, first_only: bool = False) -> dict[dt.date, list[Slot]]:
    """Free slots per local day in [first, last] for that type at that place (`first_only`: one
    per day that has room, enough to offer the day)."""
    tz = ctx.settings.tz
    staff = await counselors_for(ctx, type_, counselor)
    ids = [c.id for c in staff]
    windows = [Window(w.counselor_id, w.place_id, w.weekday, w.start_minute, w.end_minute)
               for w in await counselors.windows(ctx.session, ids) if w.place_id == place_id]
    if not windows:
        return {}
    start = local_dt(first, 0, tz).astimezone(dt.UTC)
    end = local_dt(last + dt.timedelta(days=1), 0, tz).astimezone(dt.UTC)
    busy = by_counselor(await bookings.taken_cells(ctx.session, ids, start - BUSY_MARGIN, end + BUSY_MARGIN))
    held = await bookings.for_counselors(ctx.session, ids, start, end)
    day_counts = bookings.counts_by_day(held, tz)
    off = await counselors.days_off(ctx.session, ids, first, last)
    earliest = ctx.now + dt.timedelta(minutes=ctx.settings.booking_min_notice_minutes)
    out: dict[dt.date, list[Slot]] = {}
    day = first
    while day <= last:
        found = free_slots(windows=windows, day=day, tz=tz, length=session_length(ctx, type_),
                           buffer=booking_buffer(ctx), earliest=earliest, busy=busy, days_off=off,
                           day_counts=day_counts, daily_cap=ctx.settings.counselor_daily_cap, first_only=first_only)
        if found:
            out[day] = found
        day += dt.timedelta(days=1)
    return out
