"""KPI reports for admins (`/stats`, 통계).

1. `/stats` offers the period: 이번 달, 이번 분기, 올해 (each up to today) or 직접 입력
   (first day, then last day; typed as `/newevent` takes dates: 2026-12-01, 12/1, 12월 1일,
   a date without a year being the latest such day). `/stats month|quarter|year`,
   `/stats 2026-01-01 2026-03-31` and `/stats 12월 1일 ~ 12월 3일` skip the question. A last day before the first, an
   impossible date or a span over five years is refused with what was wrong.
2. The report comes as text, section by section (registrations by track; sessions by
   type and place, attended vs no-show; applications; members by stage and applicant
   type; events; satisfaction with counts and distribution; survey responses; job
   finding; founders' survival and revenue bands; the newest free-text answers with
   phone numbers removed), then a chart (trend by day for up to a month, by week up to
   13 weeks, by month beyond; whole-number axes; and the rating distribution) as a PNG,
   then CSV / XLSX buttons for the same period as a file.
   An empty period gives the same sections with zero counts.
Every command, button and form submit here is behind the admin guard; the export
buttons carry only the period, which is checked again on press.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from kernel.config import Settings
from kernel.core import (
    At,
    BadPayload,
    Button,
    CommandRoute,
    Ctx,
    FileOut,
    Invalid,
    Job,
    MenuItem,
    Reply,
    Router,
    on,
)
from kernel.forms import Answers, Extra, Field, FieldInput, Form
from kernel.payloads import OneOf, Pattern, Payload
from reports import chart, export, sections
from reports.period import PRESETS, Period, checked, custom, from_args, parse_date, preset
from reports.render import report_text
from reports.sections import Scope
from scheduler.digest import send_weekly_digest

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class PresetPeriod(Payload, prefix="st", action="p"):
    name: Annotated[str, OneOf(PRESETS)]


@dataclass(frozen=True)
class CustomPeriod(Payload, prefix="st", action="custom"):
    pass


@dataclass(frozen=True)
class Export(Payload, prefix="st"):
    """`st:csv|xlsx:<first>-<last>`: the format stands where other buttons have their action word."""

    fmt: Annotated[str, OneOf(export.FORMATS)]
    code: Annotated[str, Pattern(r"[0-9]{8}-[0-9]{8}")]  # Period.code(): YYYYMMDD-YYYYMMDD


def ask_period(ctx: Ctx) -> Reply:
    t = ctx.t
    return Reply(t("stats.ask_period"), [
        [Button(t(f"stats.period.{name}"), PresetPeriod(name).pack()) for name in PRESETS],
        [Button(t("stats.period.custom"), CustomPeriod().pack())],
    ])


async def report(ctx: Ctx, period: Period) -> list[Reply]:
    """The text, the chart and the export buttons for one period."""
    t = ctx.t
    scope = Scope(period, ctx.settings.tz)
    parts = await sections.build(ctx.session, scope)
    picture = await chart.png(ctx.session, scope, t)
    log.info("stats shown days=%s admin=%s", period.days, ctx.user.id)
    code = period.code()
    return [
        Reply(report_text(t, period, parts)),
        Reply("", file=FileOut(f"jobhub-{code}.png", picture, "image/png", t("stats.chart_caption",
                                                                              period=period.label()))),
        Reply(t("stats.export_ask"), [[Button("CSV", Export("csv", code).pack()),
                                       Button("XLSX", Export("xlsx", code).pack())]]),
    ]


async def stats_command(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    if not args:
        return [ask_period(ctx)]
    try:
        period = from_args(args, ctx.now.astimezone(ctx.settings.tz).date())
    except Invalid as exc:
        return [Reply(ctx.t(exc.key, **exc.params)), Reply(ctx.t("stats.usage"))]
    if period is None:
        return [Reply(ctx.t("stats.usage")), ask_period(ctx)]
    return await report(ctx, period)


async def export_file(ctx: Ctx, fmt: str, period: Period) -> list[Reply]:
    data, rows = await export.as_bytes(ctx.session, Scope(period, ctx.settings.tz), ctx.t, fmt)
    log.info("stats exported format=%s answers=%s admin=%s", fmt, rows, ctx.user.id)
    # The other format one press away: on KakaoTalk the report's buttons are gone by now.
    other = next(f for f in export.FORMATS if f != fmt)
    return [Reply(ctx.t("stats.exported", period=period.label(), n=rows),
                  [[Button(other.upper(), Export(other, period.code()).pack())]],
                  file=FileOut(export.file_name(period, fmt), data, export.MIME[fmt]))]


def _period(code: str) -> Period:
    """The period of an export button, or BadPayload for dates no calendar has (20261399)."""
    try:
        return Period.from_code(code)
    except ValueError as exc:
        raise BadPayload("no such dates") from exc


async def on_preset(ctx: Ctx, press: PresetPeriod) -> list[Reply]:
    return await report(ctx, preset(press.name, ctx.now.astimezone(ctx.settings.tz).date()))


async def on_custom(ctx: Ctx, _press: CustomPeriod) -> list[Reply]:
    return await ctx.app.start_form(ctx, "stats")


async def on_export(ctx: Ctx, press: Export) -> list[Reply]:
    try:
        return await export_file(ctx, press.fmt, _period(press.code))
    except Invalid as exc:
        return [Reply(ctx.t(exc.key, **exc.params))]


def _today(inp: FieldInput) -> dt.date:
    return inp.now.astimezone(inp.tz).date()


def parse_first(raw: str, inp: FieldInput) -> str:
    return parse_date(raw, _today(inp)).isoformat()


def parse_last(raw: str, inp: FieldInput) -> str:
    last = parse_date(raw, _today(inp))
    first = inp.answers.get("first")
    if isinstance(first, str):
        checked(dt.date.fromisoformat(first), last)
    return last.isoformat()


async def submit(ctx: Ctx, answers: Answers, _extra: Extra) -> list[Reply]:
    if not ctx.is_admin:
        raise Invalid("admin.only")
    return await report(ctx, custom(answers["first"], answers["last"]))


PERIOD_FORM = Form("stats", (Field("first", parse=parse_first), Field("last", parse=parse_last)), submit,
                   summary=False, opened_by=("stats",),
                   keep_draft=False)


def weekly_digest_at(settings: Settings) -> At | None:
    """The admins' weekly digest at WEEKLY_DIGEST ("off": None, no job); a start up to six hours
    late still sends it (its dedupe key keeps it to once a week)."""
    if settings.digest_at is None:
        return None
    day, hour, minute = settings.digest_at
    return At(hour, minute, days=day, grace=6 * 3600)


def build() -> Router:
    return Router(
        name="stats",
        admin=True,
        commands=[CommandRoute("stats", stats_command, describe="cmd.stats")],
        buttons=[on(PresetPeriod, on_preset), on(CustomPeriod, on_custom), on(Export, on_export)],
        forms=[PERIOD_FORM],
        menu=[MenuItem("menu.stats", "stats")],
        phrases={"통계": "stats", "실적": "stats", "stats": "stats"},
        jobs=[Job("digest", send_weekly_digest, at=weekly_digest_at)],
    )

