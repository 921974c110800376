"""Events: the upcoming ones with their seats, and each event's people with a check-in list
made for a tablet at the door (one big button per person, or the event's code on the chat side)."""

from __future__ import annotations

from aiohttp import web

from bot.web.core import Html, Page, Result, WebCtx, redirect
from storage import bookings, events

# The admins run events in chat (`/newevent`, `/event`), and so here.
ORGANISERS = ("admin",)
PAGE = 50


def _event_id(ctx: WebCtx) -> int:
    raw = ctx.request.match_info["event_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise web.HTTPNotFound()
    return int(raw)


async def listing(ctx: WebCtx) -> Result:
    rows, total = await events.for_admin(ctx.session, ctx.now, PAGE, 0)
    seats = await events.counts_of(ctx.session, [e.id for e in rows])
    return Html("events.html", {"rows": rows, "total": total, "seats": seats})


async def event_page(ctx: WebCtx) -> Result:
    event = await events.get(ctx.session, _event_id(ctx))
    if event is None:
        raise web.HTTPNotFound()
    seated = await events.people(ctx.session, event.id, ("registered",))
    waiting = await events.people(ctx.session, event.id, ("waiting", "offered"))
    names = await bookings.person_names(ctx.session, [r.user_id for r in (*seated, *waiting)])
    return Html("event.html", {"event": event, "seated": seated, "waiting": waiting, "names": names,
                               "attended": sum(1 for r in seated if r.attended_at), "done": ctx.field("done")})


async def check_in(ctx: WebCtx) -> Result:
    event_id = _event_id(ctx)
    raw = ctx.field("registration")
    reg = await events.registration_by_id(ctx.session, int(raw), for_update=True) if (
        raw.isascii() and raw.isdigit() and len(raw) <= 10) else None
    if reg is None or reg.event_id != event_id:
        raise web.HTTPNotFound()
    outcome = await events.check_in(ctx.session, reg, ctx.now)
    return redirect(f"/events/{event_id}", done=f"checkin_{outcome}")


PAGES = (
    Page("/events", listing, ORGANISERS, nav="console.nav.events"),
    Page("/events/{event_id}", event_page, ORGANISERS),
    Page("/events/{event_id}/checkin", check_in, ORGANISERS, method="POST"),
)
