"""People: search, a person's page (every view audited), and the chat's actions on their
membership, run by the same code as the chat (`scheduler.memberships`)."""

from __future__ import annotations

from aiohttp import web

from bot.web.core import Html, Page, Result, WebCtx, redirect
from kernel import parsers
from kernel.core import Invalid
from scheduler import memberships as decisions
from storage import clinic, counselors, memberships, records
from storage.audit import audit
from storage.models import Membership

# Who may look people up: counselors and campus managers serve them, admins run the centre.
READERS = ("admin", "counselor", "campus_manager")
# Deciding memberships is the admins' in chat (`/applications`), and so here.
DECIDERS = ("admin",)
# Case notes are for counselors and admins only (issue 17), not campus managers or viewers.
NOTE_ROLES = ("admin", "counselor")
NOTE_MAX = 1000
TRACKS = ("youth", "middle")
STATUSES = ("pending", "approved", "rejected")
QUEUE_PAGE = 50


async def search(ctx: WebCtx) -> Result:
    query, track, school = ctx.field("q")[:60], ctx.field("track"), ctx.field("school")[:60]
    found = await records.search(ctx.session, query, track=track if track in TRACKS else None, school=school or None)
    return Html("people.html", {"query": query, "track": track, "school": school, "tracks": TRACKS, "found": found,
                                "limit": records.SEARCH_LIMIT})


def _user_id(ctx: WebCtx) -> int:
    raw = ctx.request.match_info["user_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise web.HTTPNotFound()
    return int(raw)


async def person(ctx: WebCtx) -> Result:
    user_id = _user_id(ctx)
    found = await records.record(ctx.session, user_id)
    if found is None or found.user.anonymised_at is not None:
        raise web.HTTPNotFound()
    # PIPA: every access to a person's data is on record (who, whom, when).
    await audit(ctx.session, ctx.user.id, "console.view_person", f"user:{user_id}", ctx.now)
    notes = await clinic.notes_about(ctx.session, user_id) if ctx.role in NOTE_ROLES else None
    return Html("person.html", {"r": found, "stages": memberships.STAGES, "can_decide": ctx.role in DECIDERS,
                                "notes": notes, "note_max": NOTE_MAX,
                                "done": ctx.field("done"), "error": ctx.field("error")})


async def add_note(ctx: WebCtx) -> Result:
    """A case note on the person, as from a clinic request in chat; audited like a view."""
    user_id = _user_id(ctx)
    found = await records.record(ctx.session, user_id)
    if found is None or found.user.anonymised_at is not None:
        raise web.HTTPNotFound()
    back = f"/people/{user_id}"
    try:
        text = parsers.clean(ctx.field("text"), max_len=NOTE_MAX, newlines=True)
    except Invalid:
        return redirect(back, error="note")
    counselor = await counselors.by_user(ctx.session, ctx.user.id)
    await clinic.add_note(ctx.session, user_id, counselor.id if counselor else None, text, ctx.now)
    await audit(ctx.session, ctx.user.id, "console.note", f"user:{user_id}", ctx.now)
    return redirect(back, done="note")


async def _membership(ctx: WebCtx, user_id: int) -> Membership:
    raw = ctx.request.match_info["membership_id"]
    row = await memberships.get_for_update(ctx.session, int(raw)) if raw.isdigit() and len(raw) <= 10 else None
    if row is None or row.user_id != user_id:
        raise web.HTTPNotFound()
    return row


async def decide(ctx: WebCtx) -> Result:
    """승인 / 반려 (with a reason) of a pending application; a second decision is refused."""
    user_id = _user_id(ctx)
    row = await _membership(ctx, user_id)
    back = f"/people/{user_id}"
    if row.status != "pending":
        return redirect(back, error="already_decided")
    action = ctx.field("action")
    if action == "approve":
        await decisions.approve(ctx.session, row, by=ctx.user.id, now=ctx.now)
        return redirect(back, done="approved")
    if action == "reject":
        try:
            reason = parsers.clean(ctx.field("reason"), max_len=300, newlines=True)
        except Invalid:
            return redirect(back, error="reason")
        await decisions.reject(ctx.session, row, reason, by=ctx.user.id, now=ctx.now)
        return redirect(back, done="rejected")
    raise web.HTTPNotFound()


async def stage(ctx: WebCtx) -> Result:
    user_id = _user_id(ctx)
    row = await _membership(ctx, user_id)
    back = f"/people/{user_id}"
    new = ctx.field("stage")
    if row.status != "approved" or new not in memberships.STAGES:
        return redirect(back, error="stage")
    if row.member_stage == new:
        return redirect(back, done="stage_same")
    await decisions.set_stage(ctx.session, row, new, by=ctx.user.id, now=ctx.now)
    return redirect(back, done="stage_set")


async def applications(ctx: WebCtx) -> Result:
    """The queue: pending applications oldest first (as `/applications`), or members, or the rejected."""
    status = ctx.field("status", "pending")
    if status not in STATUSES:
        status = "pending"
    raw = ctx.field("offset", "0")
    offset = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 9 else 0
    rows = await memberships.with_status(ctx.session, status, QUEUE_PAGE + 1, offset)
    return Html("applications.html", {"rows": rows[:QUEUE_PAGE], "more": len(rows) > QUEUE_PAGE, "offset": offset,
                                      "page": QUEUE_PAGE, "status": status, "statuses": STATUSES,
                                      "total": await memberships.count_status(ctx.session, status),
                                      "done": ctx.field("done"), "error": ctx.field("error"),
                                      "n": ctx.field("n", "0"), "skipped": ctx.field("skipped", "0")})


BULK_MAX = 200


async def bulk(ctx: WebCtx) -> Result:
    """Approve or reject (one reason for all) the ticked applications: first a confirmation
    page naming them, then the decisions; any decided meanwhile is left as it is and counted."""
    action = ctx.field("action")
    ids = sorted({int(v) for v in ctx.form.get("ids", []) if v.isascii() and v.isdigit() and len(v) <= 10})
    if action not in ("approve", "reject") or not ids or len(ids) > BULK_MAX:
        return redirect("/applications", error="bulk")
    reason = ""
    if action == "reject":
        try:
            reason = parsers.clean(ctx.field("reason"), max_len=300, newlines=True)
        except Invalid:
            return redirect("/applications", error="reason")
    rows = [row for row in [await memberships.get_for_update(ctx.session, i) for i in ids] if row is not None]
    if ctx.field("confirm") != "yes":
        return Html("bulk.html", {"action": action, "rows": rows, "reason": reason})
    done = skipped = 0
    for row in rows:
        if row.status != "pending":
            skipped += 1
        elif action == "approve":
            await decisions.approve(ctx.session, row, by=ctx.user.id, now=ctx.now)
            done += 1
        else:
            await decisions.reject(ctx.session, row, reason, by=ctx.user.id, now=ctx.now)
            done += 1
    return redirect("/applications", done=f"bulk_{action}", n=str(done), skipped=str(skipped))


PAGES = (
    Page("/applications", applications, DECIDERS, nav="console.nav.applications"),
    Page("/applications/decide", bulk, DECIDERS, method="POST"),
    Page("/people", search, READERS, nav="console.nav.people"),
    Page("/people/{user_id}", person, READERS),
    Page("/people/{user_id}/notes", add_note, NOTE_ROLES, method="POST"),
    Page("/people/{user_id}/membership/{membership_id}/decide", decide, DECIDERS, method="POST"),
    Page("/people/{user_id}/membership/{membership_id}/stage", stage, DECIDERS, method="POST"),
)
