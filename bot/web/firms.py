"""Firms and postings: the vetted firms (search by name, typos tolerated, as `/firms`), a firm's
postings, and closing or reopening a posting with the same code as `/posting ID` in chat."""

from __future__ import annotations

from aiohttp import web

from bot.web.core import Html, Page, Result, WebCtx, redirect
from storage import firms

# Firms and postings are the admins' in chat (`/import`, `/posting`), and so here.
EDITORS = ("admin",)
PAGE = 50


def _id(ctx: WebCtx, name: str) -> int:
    raw = ctx.request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise web.HTTPNotFound()
    return int(raw)


async def listing(ctx: WebCtx) -> Result:
    query = ctx.field("q")[:80]
    raw = ctx.field("offset", "0")
    offset = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 9 else 0
    if query:
        rows, total = await firms.search(ctx.session, query, limit=PAGE), None
    else:
        rows, total = await firms.firms_page(ctx.session, PAGE, offset)
    return Html("firms.html", {"rows": rows, "total": total, "query": query, "offset": offset, "page": PAGE})


async def firm_page(ctx: WebCtx) -> Result:
    firm = await firms.get_firm(ctx.session, _id(ctx, "firm_id"))
    if firm is None:
        raise web.HTTPNotFound()
    postings = await firms.postings_of(ctx.session, firm.id)
    return Html("firm.html", {"firm": firm, "postings": postings, "done": ctx.field("done")})


async def posting_status(ctx: WebCtx) -> Result:
    firm_id, posting_id = _id(ctx, "firm_id"), _id(ctx, "posting_id")
    found = await firms.get_posting(ctx.session, posting_id)
    status = ctx.field("status")
    if found is None or found[1].id != firm_id or status not in ("open", "closed"):
        raise web.HTTPNotFound()
    changed = await firms.change_status(ctx.session, found[0], status, by=ctx.user.id, now=ctx.now)
    return redirect(f"/firms/{firm_id}", done=f"posting_{'now' if changed else 'already'}_{status}")


PAGES = (
    Page("/firms", listing, EDITORS, nav="console.nav.firms"),
    Page("/firms/{firm_id}", firm_page, EDITORS),
    Page("/firms/{firm_id}/postings/{posting_id}/status", posting_status, EDITORS, method="POST"),
)
