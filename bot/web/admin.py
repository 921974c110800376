"""The admins' pages: who is staff with which role (granted, changed, removed here), and the
audit log (who did or looked at what, when)."""

from __future__ import annotations

from bot.web.core import Html, Page, Result, WebCtx, redirect
from storage import audit, bookings, staff
from storage.models import User

ADMINS = ("admin",)
PAGE = 100


async def staff_page(ctx: WebCtx) -> Result:
    rows = await staff.staff(ctx.session)
    names = await bookings.person_names(ctx.session, [row.user_id for row in rows])
    return Html("staff.html", {"rows": rows, "names": names, "roles": staff.ROLES, "done": ctx.field("done"),
                               "error": ctx.field("error")})


async def set_role(ctx: WebCtx) -> Result:
    raw, role = ctx.field("user_id").lstrip("#"), ctx.field("role")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return redirect("/staff", error="user")
    user_id = int(raw)
    if role not in (*staff.ROLES, "none"):
        return redirect("/staff", error="role")
    if user_id == ctx.user.id:
        # An admin cannot lock the centre out by removing or lowering their own role.
        return redirect("/staff", error="self")
    person = await ctx.session.get(User, user_id)
    if person is None or person.anonymised_at is not None:
        return redirect("/staff", error="user")
    await staff.set_role(ctx.session, user_id, None if role == "none" else role, by=ctx.user.id, now=ctx.now)
    return redirect("/staff", done="role")


async def audit_page(ctx: WebCtx) -> Result:
    offset_raw = ctx.field("offset", "0")
    offset = int(offset_raw) if offset_raw.isascii() and offset_raw.isdigit() and len(offset_raw) < 9 else 0
    action = ctx.field("action")[:48] or None
    rows = await audit.recent(ctx.session, limit=PAGE + 1, offset=offset, action=action)
    return Html("audit.html", {"rows": rows[:PAGE], "more": len(rows) > PAGE, "offset": offset, "page": PAGE,
                               "action": action or ""})


PAGES = (
    Page("/staff", staff_page, ADMINS, nav="console.nav.staff"),
    Page("/staff", set_role, ADMINS, method="POST"),
    Page("/audit", audit_page, ADMINS, nav="console.nav.audit"),
)
