"""Broadcasts: the recent ones with their live progress (sent, blocked, failed, still to go,
cancelled) and 중지 on those still sending, the same stop as `/broadcasts` in chat. Composing
stays in chat (`/broadcast`) for now."""

from __future__ import annotations

from aiohttp import web

from bot.web.core import Html, Page, Result, WebCtx, redirect
from storage import broadcasts

SENDERS = ("admin",)
RECENT = 20


async def listing(ctx: WebCtx) -> Result:
    rows = await broadcasts.recent(ctx.session, RECENT)
    figures = {row.id: await broadcasts.counts(ctx.session, row.id) for row in rows}
    return Html("broadcasts.html", {"rows": rows, "figures": figures, "done": ctx.field("done"),
                                    "n": ctx.field("n", "0")})


async def stop(ctx: WebCtx) -> Result:
    raw = ctx.request.match_info["broadcast_id"]
    row = await broadcasts.get(ctx.session, int(raw), for_update=True) if (
        raw.isascii() and raw.isdigit() and len(raw) <= 10) else None
    if row is None:
        raise web.HTTPNotFound()
    if row.status != "sending":
        return redirect("/broadcasts", done="broadcast_not_sending")
    cancelled, _figures = await broadcasts.stop_by(ctx.session, row, by=ctx.user.id, now=ctx.now)
    return redirect("/broadcasts", done="broadcast_stopped", n=str(cancelled))


PAGES = (
    Page("/broadcasts", listing, SENDERS, nav="console.nav.broadcasts"),
    Page("/broadcasts/{broadcast_id}/stop", stop, SENDERS, method="POST"),
)
