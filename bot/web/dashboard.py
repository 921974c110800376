"""Dashboard: the report's sections for a period (the same as `/stats`), the seekers' funnel,
the chart, the downloads, and what needs attention now."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from bot.web.core import ALL_ROLES, Html, Page, Result, WebCtx
from reports import chart, export, funnel, sections
from reports.period import Period, preset
from reports.render import cell_text, headers
from reports.sections import Scope
from storage.audit import audit

PERIODS = ("week", "month", "quarter", "year")
# Who may download the exports: they carry survey answers (free text with phone numbers removed).
EXPORTERS = ("admin", "viewer")


def _period(ctx: WebCtx) -> tuple[str, Period]:
    name = ctx.field("period", "month")
    if name not in PERIODS:
        name = "month"
    today = ctx.now.astimezone(ctx.settings.tz).date()
    if name == "week":  # this week so far, Monday first
        return name, Period(today - dt.timedelta(days=today.weekday()), today)
    return name, preset(name, today)


async def dashboard(ctx: WebCtx) -> Result:
    name, period = _period(ctx)
    scope = Scope(period, ctx.settings.tz)
    parts = await sections.build(ctx.session, scope)
    t = ctx.t
    tables = [{"title": t(f"stats.section.{s.key}"), "note": cell_text(t, s.note) if s.note else None,
               "headers": headers(t, s), "rows": [[cell_text(t, c) for c in row] for row in s.rows]}
              for s in parts]
    return Html("dashboard.html", {
        "period_name": name, "periods": PERIODS, "period": period, "tables": tables,
        "funnel": await funnel.funnel(ctx.session, scope), "attention": await funnel.attention(ctx.session, ctx.now),
        "can_export": ctx.role in EXPORTERS, "formats": export.FORMATS,
    })


async def chart_png(ctx: WebCtx) -> Result:
    _name, period = _period(ctx)
    picture = await chart.png(ctx.session, Scope(period, ctx.settings.tz), ctx.t)
    return web.Response(body=picture, content_type="image/png")


async def download(ctx: WebCtx) -> Result:
    fmt = ctx.request.match_info["fmt"]
    if fmt not in export.FORMATS:
        raise web.HTTPNotFound()
    _name, period = _period(ctx)
    data, rows = await export.as_bytes(ctx.session, Scope(period, ctx.settings.tz), ctx.t, fmt)
    await audit(ctx.session, ctx.user.id, "console.export", f"report:{period.code()}", ctx.now,
                {"format": fmt, "answers": rows})
    return web.Response(body=data, headers={
        "Content-Type": export.MIME[fmt],
        "Content-Disposition": f'attachment; filename="{export.file_name(period, fmt)}"'})


PAGES = (
    Page("/", dashboard, ALL_ROLES, nav="console.nav.dashboard"),
    Page("/chart.png", chart_png, ALL_ROLES),
    Page("/export/{fmt}", download, EXPORTERS),
)
