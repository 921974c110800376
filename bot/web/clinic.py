"""The document clinic's review queue (구직서류클리닉, issue 17): open requests in order of arrival
with their documents, state, due time and an overdue mark, each person linked to their page.
Claiming, comments and the returned file stay in chat (`/reviews`), where the files open."""

from __future__ import annotations

from bot.web.core import Html, Page, Result, WebCtx
from storage import bookings, clinic

# The counselors who review, and the admins who watch the queue.
REVIEWERS = ("admin", "counselor")
QUEUE_PAGE = 50


async def queue(ctx: WebCtx) -> Result:
    raw = ctx.field("offset", "0")
    offset = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 9 else 0
    rows = await clinic.queue(ctx.session, limit=QUEUE_PAGE, offset=offset)
    names = await bookings.person_names(ctx.session, list(dict.fromkeys(r.user_id for r in rows)))
    return Html("clinic.html", {"rows": rows, "names": names, "now": ctx.now, "offset": offset,
                                "page": QUEUE_PAGE, "total": await clinic.count_open(ctx.session),
                                "documents": clinic.DOCUMENTS})


PAGES = (Page("/clinic", queue, REVIEWERS, nav="console.nav.clinic"),)
