"""Counselors and calendar: the team's week, one row per counselor and one column per day, with
each day's hours and place, days off and bookings (who, what, when); earlier and later weeks by
link. Reads the same tables the booking conversation offers times from."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from aiohttp import web

from bot.web.core import Html, Page, Result, WebCtx, redirect
from scheduler import cancellations
from storage import bookings, counselors
from storage.audit import audit
from storage.models import Availability, Booking

READERS = ("admin", "counselor", "campus_manager")
# Cancelling someone's session is the admins' (as deactivating a counselor is in chat).
CANCELLERS = ("admin",)


def _monday(ctx: WebCtx) -> dt.date:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    try:
        day = dt.date.fromisoformat(ctx.field("week")) if ctx.field("week") else today
    except ValueError:
        day = today
    if abs((day - today).days) > 366 * 2:
        day = today
    return day - dt.timedelta(days=day.weekday())


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


async def week(ctx: WebCtx) -> Result:
    monday = _monday(ctx)
    days = [monday + dt.timedelta(days=i) for i in range(7)]
    tz = ctx.settings.tz
    team = [c for c in await counselors.all_counselors(ctx.session) if c.active]
    ids = [c.id for c in team]
    start = dt.datetime.combine(monday, dt.time(), tz).astimezone(dt.UTC)
    booked = await bookings.for_counselors(ctx.session, ids, start, start + dt.timedelta(days=7),
                                           statuses=("booked", "attended", "no_show"))
    names = await bookings.person_names(ctx.session, list({b.user_id for b in booked}))
    windows = await counselors.windows(ctx.session, ids)
    places = await counselors.places_by_id(ctx.session, list({w.place_id for w in windows}))
    off = await counselors.days_off(ctx.session, ids, days[0], days[-1])
    hours: dict[tuple[int, int], list[Availability]] = defaultdict(list)
    for w in windows:
        hours[(w.counselor_id, w.weekday)].append(w)
    cells: dict[tuple[int, dt.date], list[Booking]] = defaultdict(list)
    for b in booked:
        cells[(b.counselor_id, b.starts_at.astimezone(tz).date())].append(b)
    rows = [{"counselor": c, "days": [{
        "day": d, "off": (c.id, d) in off,
        "hours": [f"{_hhmm(w.start_minute)}–{_hhmm(w.end_minute)} {places[w.place_id].name}"
                  for w in hours[(c.id, d.weekday())] if w.place_id in places],
        "bookings": cells[(c.id, d)],
    } for d in days]} for c in team]
    today = ctx.now.astimezone(tz).date()
    return Html("calendar.html", {"days": days, "rows": rows, "names": names, "today": today,
                                  "week": monday.isoformat(), "can_cancel": ctx.role in CANCELLERS,
                                  "now": ctx.now, "done": ctx.field("done"),
                                  "prev": (monday - dt.timedelta(days=7)).isoformat(),
                                  "next": (monday + dt.timedelta(days=7)).isoformat(),
                                  "booked_total": len(booked)})


async def cancel(ctx: WebCtx) -> Result:
    """Cancels a future session; the person is told through the outbox and offered another time."""
    raw = ctx.request.match_info["booking_id"]
    booking = await bookings.get(ctx.session, int(raw), for_update=True) if (
        raw.isascii() and raw.isdigit() and len(raw) <= 10) else None
    if booking is None:
        raise web.HTTPNotFound()
    week_of = ctx.field("week")
    back = {"week": week_of} if week_of else {}
    if booking.status != "booked" or booking.starts_at <= ctx.now:
        return redirect("/calendar", done="booking_not_cancellable", **back)
    places = await counselors.places_by_id(ctx.session, [booking.place_id])
    told = await cancellations.cancel_and_tell(ctx.session, booking, places[booking.place_id], reason="staff",
                                               tz=ctx.settings.tz, now=ctx.now)
    await audit(ctx.session, ctx.user.id, "booking.cancel", f"booking:{booking.id}", ctx.now, {"told": told})
    return redirect("/calendar", done="booking_cancelled", **back)


PAGES = (
    Page("/calendar", week, READERS, nav="console.nav.calendar"),
    Page("/calendar/bookings/{booking_id}/cancel", cancel, CANCELLERS, method="POST"),
)
