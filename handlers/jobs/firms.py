"""Admins' side of firms and postings: import, close / reopen / edit a posting, referral outcomes.

Every command, button and form here is behind the one admin guard (`admin=True`).
What an admin goes through:
1. Import: sending a CSV or JSON file to the bot (console: `/file PATH`; `/import`
   explains the columns) imports firms and postings (`storage.firm_import`): the bot
   answers at once with the number of rows, shows progress for large files, and ends
   with a report: added, changed, unchanged, and every rejected row with its line and
   why. Sending the same file again changes nothing.
2. `/posting 번호` (the posting's number or reference), or 채용공고 보기 after
   `/firms 이름`, shows a posting with 마감 / 다시 열기 / 수정. Closing hides it from
   seekers at once (referrals already asked for stay with the counselors); editing asks
   which answer to change (title, duties, salary range, deadline, hours), then confirm.
3. `/outcomes` lists referral outcomes per firm (요청 · 알선 · 채용 · 불발), ten firms a page,
   all time; 이번 달 / 이번 분기 / 올해, or `/outcomes 2026-01-01 2026-03-31`, count each
   step in the period it happened in (a referral asked for in March and hired in April
   counts as asked for in March and as a hire in April).
A posting deleted or changed by an import while an admin was looking is re-read on
every press; a press on a deleted posting says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.jobs.postings import details_text, local_today
from kernel import parsers
from kernel.core import (
    Button,
    CommandRoute,
    Ctx,
    FileUnavailable,
    Invalid,
    MenuItem,
    Reply,
    Router,
    on,
    payload,
    typed_int,
)
from kernel.forms import EDIT, Answers, Extra, Field, FieldInput, Form
from kernel.i18n import Translator, money, translator
from kernel.payloads import Payload
from reports.period import PRESETS, from_args
from storage import firm_import, firms, outbox, referrals
from storage.audit import audit
from storage.firm_import import BadFile, ImportReport
from storage.models import Firm, Posting

log = logging.getLogger(__name__)

PAGE = 10
REPORT_LINES = 50  # rejected rows listed in the chat; the CLI lists all


@dataclass(frozen=True)
class ClosePosting(Payload, prefix="pa", action="c"):
    posting: int


@dataclass(frozen=True)
class ReopenPosting(Payload, prefix="pa", action="o"):
    posting: int


@dataclass(frozen=True)
class EditPosting(Payload, prefix="pa", action="e"):
    posting: int


# --- import ---------------------------------------------------------------------------------------------


def report_text(t: Translator, report: ImportReport, limit: int | None = None) -> str:
    f, p = report.firms, report.postings
    lines = [t("import.report", rows=report.rows, fa=f.added, fu=f.updated, fn=f.unchanged, pa=p.added,
               pu=p.updated, pn=p.unchanged, rejected=len(report.rejected))]
    shown = report.rejected if limit is None else report.rejected[:limit]
    for kind, line, key, params in shown:
        lines.append(t("import.rejected_line", kind=t(f"import.kind.{kind}"), line=line, reason=t(key, **params)))
    if len(shown) < len(report.rejected):
        lines.append(t("import.more_rejected", n=len(report.rejected) - len(shown)))
    return "\n".join(lines)


async def on_file(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """An admin sent a document outside any form: import it as firms and postings."""
    kind, ref = args
    if not ctx.is_admin or kind != "document":
        return []
    t = ctx.t
    try:
        data = await ctx.app.fetch_file(ref, ctx.incoming.channel)
        rows = firm_import.read(data)
    except FileUnavailable:
        return [Reply(t("import.cannot_read"))]
    except BadFile as exc:
        return [Reply(t("import.failed", reason=t(exc.key, **exc.params)))]
    if not len(rows):
        return [Reply(t("import.failed", reason=t("import.empty")))]
    channel, chat_id, user_id = ctx.identity.channel, ctx.identity.chat_id, ctx.user.id
    now, today, locale = ctx.now, local_today(ctx.now, ctx.settings), ctx.user.locale
    await audit(ctx.session, user_id, "firms.import", "firms", now, {"rows": len(rows)})

    async def job(sessions: async_sessionmaker[AsyncSession]) -> None:
        tr = translator(locale)

        async def say(text: str, kind: str) -> None:
            async with sessions() as session, session.begin():
                await outbox.enqueue(session, channel=channel, chat_id=chat_id, user_id=user_id, kind=kind,
                                     payload=Reply(text).to_payload(), now=now)

        async def progress(done: int, total: int) -> None:
            await say(tr("import.progress", done=f"{done:,}", total=f"{total:,}", pct=done * 100 // total),
                      "import.progress")

        last_quarter = 0

        async def on_chunk(done: int, total: int) -> None:
            # Large files report each quarter; small ones just get the report.
            nonlocal last_quarter
            quarter = done * 4 // total
            if total > firm_import.CHUNK and done < total and quarter > last_quarter:
                last_quarter = quarter
                await progress(done, total)

        report = await firm_import.import_rows(sessions, rows, now=now, today=today, progress=on_chunk)
        log.info("chat import done rows=%s rejected=%s user=%s", report.rows, len(report.rejected), user_id)
        await say(report_text(tr, report, REPORT_LINES), "import.report")

    ctx.later.append(job)
    return [Reply(t("import.started", n=f"{len(rows):,}"))]


async def import_help(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    return [Reply(ctx.t("import.help"))]


# --- one posting ------------------------------------------------------------------------------------------------


def admin_buttons(t: Translator, posting: Posting) -> list[list[Button]]:
    toggle = (Button(t("posting.close"), ClosePosting(posting.id).pack()) if posting.status == "open"
              else Button(t("posting.reopen"), ReopenPosting(posting.id).pack()))
    return [[toggle, Button(t("posting.edit"), EditPosting(posting.id).pack())]]


def admin_card(ctx: Ctx, posting: Posting, firm: Firm, note: str | None = None, *, edit: bool = False) -> Reply:
    t = ctx.t
    head = t("posting.admin_head", id=posting.id, ref=posting.ref, status=t(f"posting.status.{posting.status}"))
    body = details_text(t, posting, firm, local_today(ctx.now, ctx.settings), None)
    return Reply("\n".join(filter(None, [note, head, body])), admin_buttons(t, posting), edit=edit)


async def show_posting(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    if not args:
        return [Reply(t("posting.ask_id"))]
    wanted = args[0].strip()
    posting_id = typed_int(wanted)
    found = await firms.get_posting(ctx.session, posting_id) if posting_id is not None else None
    if found is None:
        by_ref = (await firms.by_ref(ctx.session, [wanted[:40]])).get(wanted[:40])
        found = await firms.get_posting(ctx.session, by_ref.id) if by_ref else None
    if found is None:
        return [Reply(t("posting.not_found", id=wanted[:40]))]
    return [admin_card(ctx, *found)]


async def set_status(ctx: Ctx, posting_id: int, status: str) -> list[Reply]:
    t = ctx.t
    found = await firms.get_posting(ctx.session, posting_id)
    if found is None:
        return [Reply(t("jobs.gone"))]
    posting, firm = found
    if not await firms.change_status(ctx.session, posting, status, by=ctx.user.id, now=ctx.now):
        return [admin_card(ctx, posting, firm, t(f"posting.already_{status}"), edit=True)]
    return [admin_card(ctx, posting, firm, t(f"posting.now_{status}"), edit=True)]


async def start_edit(ctx: Ctx, posting_id: int) -> list[Reply]:
    found = await firms.get_posting(ctx.session, posting_id)
    if found is None:
        return [Reply(ctx.t("jobs.gone"))]
    posting = found[0]
    answers = {"title": posting.title, "duties": posting.duties, "salary_min": posting.salary_min,
               "salary_max": posting.salary_max, "deadline": posting.deadline.isoformat() if posting.deadline
               else None, "hours": posting.hours}
    return await ctx.app.start_form(ctx, "posting_edit", answers=answers, extra={"id": posting.id}, mode="edit",
                                    step=EDIT)


def parse_deadline(raw: str, inp: FieldInput) -> str:
    """'2026-04-30', '2026.4.30', '4/30' or '4월 30일' -> ISO date, today or later."""
    value = unicodedata.normalize("NFKC", raw).strip().replace(" ", "")
    today = inp.now.astimezone(inp.tz).date()
    match = (re.fullmatch(r"(\d{4})[-./년](\d{1,2})[-./월](\d{1,2})일?\.?", value)
             or re.fullmatch(r"()(\d{1,2})[-./월](\d{1,2})일?", value))
    if match is None:
        raise Invalid("invalid.date")
    try:
        day = dt.date(int(match[1] or today.year), int(match[2]), int(match[3]))
    except ValueError:
        raise Invalid("invalid.date") from None
    if not match[1] and day < today:
        day = day.replace(year=today.year + 1)
    if day < today:
        raise Invalid("invalid.deadline_past")
    return day.isoformat()


def parse_salary(raw: str, _inp: FieldInput) -> int:
    return parsers.integer(raw, low=0, high=100_000, units=("만원", "만"))


def _salary(value: int, t: Translator) -> str:
    return t("seeker.salary", amount=money(t, value))


async def save_edit(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    if not ctx.is_admin:
        raise Invalid("admin.only")
    found = await firms.get_posting(ctx.session, int(extra["id"]))
    if found is None:
        raise Invalid("jobs.gone")
    low, high = answers.get("salary_min"), answers.get("salary_max")
    if low is not None and high is not None and high < low:
        raise Invalid("posting.salary_order", field="salary_max")
    posting, firm = found
    values = {"title": answers["title"], "duties": answers["duties"], "salary_min": low, "salary_max": high,
              "deadline": dt.date.fromisoformat(answers["deadline"]) if answers.get("deadline") else None,
              "hours": answers.get("hours")}
    _, outcome = await firms.upsert_posting(ctx.session, posting.ref, posting.firm_id, values, ctx.now, posting)
    if outcome == "updated":
        await audit(ctx.session, ctx.user.id, "posting.edit", f"posting:{posting.id}", ctx.now)
    return [admin_card(ctx, posting, firm, ctx.t("posting.saved" if outcome == "updated" else "posting.unchanged"))]


EDIT_FORM = Form("posting_edit", (
    Field("title", parse=parsers.text(100)),
    Field("duties", parse=parsers.text(2000, newlines=True)),
    Field("salary_min", parse=parse_salary, optional=True, show=_salary),
    Field("salary_max", parse=parse_salary, optional=True, show=_salary),
    Field("deadline", parse=parse_deadline, optional=True),
    Field("hours", parse=parsers.text(60), optional=True),
), save_edit)


# --- outcomes per firm ---------------------------------------------------------------------------------------------


async def outcomes(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/outcomes` all time; `/outcomes month|quarter|year` or two dates for a period; the
    buttons carry the period's code (or `all`) and the page offset."""
    t = ctx.t
    words = list(args)
    offset = 0
    if words and typed_int(words[-1], hi=999_999) is not None:
        offset = int(words.pop())
    if words == ["all"]:
        words = []
    try:
        period = from_args(words, ctx.now.astimezone(ctx.settings.tz).date()) if words else None
    except Invalid as exc:
        return [Reply(t(exc.key, **exc.params)), Reply(t("outcomes.usage"))]
    if words and period is None:
        return [Reply(t("outcomes.usage"))]
    rows, total = await referrals.per_firm(ctx.session, PAGE, offset,
                                           period.bounds(ctx.settings.tz) if period else None)
    periods = [[Button(t(f"stats.period.{name}"), payload("m", "outcomes", name)) for name in PRESETS]
               + [Button(t("outcomes.all_time"), payload("m", "outcomes", "all"))]]
    if not rows:
        return [Reply(t("outcomes.none_period", period=period.label()) if period else t("outcomes.none"), periods)]
    lines = [t("outcomes.title", n=total) if period is None else
             t("outcomes.title_period", n=total, period=period.label())]
    lines += [t("outcomes.line", name=r.name, requested=r.requested, referred=r.referred, hired=r.hired,
                declined=r.declined) for r in rows]
    code = period.code() if period else "all"
    more = [[Button(t("admin.next_page"), payload("m", "outcomes", code, offset + PAGE))]] if offset + PAGE < total \
        else []
    return [Reply("\n".join(lines), more + periods)]


def build() -> Router:
    return Router(
        name="firms_admin",
        admin=True,
        commands=[CommandRoute("import", import_help, describe="cmd.import"),
                  CommandRoute("posting", show_posting, describe="cmd.posting"),
                  CommandRoute("outcomes", outcomes, describe="cmd.outcomes")],
        buttons=[on(ClosePosting, lambda ctx, press: set_status(ctx, press.posting, "closed")),
                 on(ReopenPosting, lambda ctx, press: set_status(ctx, press.posting, "open")),
                 on(EditPosting, lambda ctx, press: start_edit(ctx, press.posting))],
        forms=[EDIT_FORM],
        menu=[MenuItem("menu.outcomes", "outcomes", order=65)],
        files=[on_file],
    )
