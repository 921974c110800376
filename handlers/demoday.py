"""Demo day (데모데이 / 창업기업설명회): member teams apply to pitch, admins pick the presenters.

What a member goes through with `/pitch`:
1. Only approved startup-centre members (공동회원) may apply; anyone else is told so, with a
   button to the membership (`/membership`: apply, or see where the application stands).
2. The open demo days are listed (published, application deadline still ahead, their
   audience includes the member); with exactly one the form starts at once. Either way the
   form opens with the demo day's title, date and application deadline. A demo day
   already applied for shows the application's state instead (the result only once the
   admins have announced it).
3. Team (the membership's team name offered as a button to keep) → one-line pitch (at most
   100 characters) → stage (창업준비 / 창업숙성 / 창업실행, the member's stage suggested) →
   deck link (optional: 건너뛰기 or "없음"; "drive.google.com/…" gets its https:// added)
   → funding sought in 만원 ("5000", "5천만원", "1억 5천") → consent (PIPA: the application
   is shared with the investors at the event) → summary → submit.
4. At submit everything is checked again (still a member, still open, one application per
   team and demo day, a database rule) and every admin gets the application with buttons.

What an admin goes through (`build_admin`, every route behind the one admin guard):
1. `/pitches` lists the demo days with their number of applications; `/pitches <id>` lists
   the applications ten at a time with 후보 선정 / 발표팀 선정 / 미선정 buttons. Every press
   re-reads the application in the database: a second press, or a second admin, gets
   "already decided" and nothing changes.
2. `/pitches <id> notify` (or 결과 알리기) tells every selected and every not-selected team
   exactly once (dedupe key `pitch:<application id>:result`); undecided ones are counted,
   not told, so the button can be pressed again after deciding them.
3. `/pitches <id> csv` (or CSV 내보내기) sends the presenter list for the investors, who are
   not users of the bot: UTF-8 with BOM so Excel opens it, one row per selected team (team,
   pitch, stage, deck link, funding sought in 만원, contact name when the applicant is also
   a registered job seeker); no phone numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from kernel import parsers
from kernel.core import (
    Button,
    CommandRoute,
    Ctx,
    FileOut,
    Reply,
    Router,
    on,
    payload,
    stamp,
    typed_int,
)
from kernel.forms import Answers, Choice, Extra, Field, FieldInput, Form, choices
from kernel.i18n import Translator, money
from kernel.payloads import OneOf, Payload, Stamp, same_record
from scheduler import queue
from storage import audience, events, memberships, pitches
from storage.audit import audit
from storage.models import Event, Membership, PitchApplication

log = logging.getLogger(__name__)

PAGE = 10
PITCH_MAX = 100
# How long after a demo day ended it still shows in `/pitches` (results, export).
ADMIN_LOOKBACK = dt.timedelta(days=60)
# Status shown on a decision button press, and the buttons each status still offers.
ACTIONS = {"sl": "shortlisted", "sel": "selected", "rej": "rejected"}
BUTTON_LABELS = {"sl": "pitch.btn_shortlist", "sel": "pitch.btn_select", "rej": "pitch.btn_reject"}


# --- buttons: a member's 신청 (`pit`), the admins' decisions and lists (`pia`) -----------------------


@dataclass(frozen=True)
class ApplyTo(Payload, prefix="pit"):
    event: int


@dataclass(frozen=True)
class PitchDecision(Payload, prefix="pia"):
    """`pia:<sl|sel|rej>:<application>:<stamp>`: the code of `ACTIONS` comes first, in place of an action word."""

    code: Annotated[str, OneOf(tuple(ACTIONS))]
    application: int
    proof: Stamp


@dataclass(frozen=True)
class PitchList(Payload, prefix="pia", action="ls"):
    event: int
    offset: int = 0


@dataclass(frozen=True)
class PitchNotify(Payload, prefix="pia", action="nt"):
    event: int


@dataclass(frozen=True)
class PitchCsv(Payload, prefix="pia", action="csv"):
    event: int


# Characters that make a spreadsheet cell a formula (CSV injection): such cells get a leading quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _stage_suggestion(answers: Answers, _inp: FieldInput) -> str | None:
    hint = answers.get("member_stage")
    return hint if isinstance(hint, str) else None


async def _team_options(ctx: Ctx, _answers: Answers) -> list[Choice]:
    row = await memberships.live(ctx.session, ctx.user.id)
    return [Choice(row.team_name, text=row.team_name)] if row is not None and row.team_name else []


NO_DECK = frozenset({"없음", "없어요", "없습니다", "아직없음", "아직", "none", "no", "nodeck", "-"})


def parse_deck_link(raw: str, inp: FieldInput) -> str | None:
    """The deck's address. People paste "drive.google.com/…" without the scheme: https:// is put
    in front of anything that starts like a host name. "없음" means no deck yet (the link is
    optional: teams often finish the deck after applying)."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if "".join(value.lower().split()) in NO_DECK:
        return None
    return parsers.web_link(value, inp)


def _deck(value: str | None, t: Translator) -> str:
    return value or t("pitch.no_deck")


def _funding(value: int, t: Translator) -> str:
    return money(t, value)


PITCH_FIELDS = (
    Field("team", parse=parsers.text(60), options=_team_options, columns=1),
    Field("pitch", parse=parsers.text(PITCH_MAX)),
    Field("stage", choices=choices("stage", memberships.STAGES), suggest=_stage_suggestion,
          columns=1),
    Field("deck_link", parse=parse_deck_link, optional=True),
    Field("funding", parse=parsers.funding, show=_funding),
    Field("consent", choices=(Choice("yes", "consent.agree"), Choice("no", "consent.refuse")), refuse="no",
          columns=1),
)


# --- shared texts ------------------------------------------------------------------------------------


def event_label(t: Translator, event: Event, tz: dt.tzinfo) -> str:
    return t("pitch.event_label", title=event.title, date=event.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"))


def application_text(t: Translator, row: PitchApplication, tz: dt.tzinfo) -> str:
    """How an application reads for an admin (the team, never the person's name or phone)."""
    return t("pitch.admin_application", id=row.id, team=row.team, status=t(f"pitch.status.{row.status}"),
             pitch=row.pitch, stage=t(f"stage.{row.stage}"), funding=_funding(row.funding_sought, t),
             deck=_deck(row.deck_link, t), date=row.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"))


def decision_buttons(t: Translator, row: PitchApplication) -> list[list[Button]]:
    codes = [code for code, status in ACTIONS.items() if row.status in pitches.ALLOWED_FROM[status]]
    if not codes:
        return []
    proof = stamp(row.created_at)
    return [[Button(t(BUTTON_LABELS[code]), PitchDecision(code, row.id, proof).pack()) for code in codes]]


# --- members ----------------------------------------------------------------------------------------


async def _approved_member(ctx: Ctx) -> Membership | None:
    row = await memberships.live(ctx.session, ctx.user.id)
    return row if row is not None and row.status == "approved" else None


def _members_only(t: Translator) -> list[Reply]:
    return [Reply(t("pitch.members_only"), [[Button(t("menu.membership"), payload("m", "membership"))]])]


async def _may_apply(ctx: Ctx, event: Event | None) -> bool:
    return (event is not None and pitches.is_open(event, ctx.now)
            and await audience.includes(ctx.session, event.audience, ctx.user.id, ctx.now))


async def _status_text(ctx: Ctx, event: Event, row: PitchApplication) -> str:
    t = ctx.t
    # A decision stays "under review" for the team until the admins announce the results.
    shown = row.status if row.status in pitches.FINAL and await pitches.told(ctx.session, row.id) else "applied"
    return t("pitch.already", event=event_label(t, event, ctx.settings.tz), team=row.team,
             status=t(f"pitch.member_status.{shown}"))


async def _start(ctx: Ctx, event: Event, member: Membership) -> list[Reply]:
    """The form, headed by the demo day it applies to (its title, date and deadline)."""
    t, tz = ctx.t, ctx.settings.tz
    deadline = event.registration_deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    head = Reply(t("pitch.applying_to", event=event_label(t, event, tz), deadline=deadline))
    return [head, *await ctx.app.start_form(ctx, "pitch", extra={"event": event.id},
                                             answers={"member_stage": member.member_stage})]


async def pitch(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/pitch [event id]`: the open demo days, or straight to the form when there is one."""
    t, tz = ctx.t, ctx.settings.tz
    member = await _approved_member(ctx)
    if member is None:
        return _members_only(t)
    event_id = typed_int(args[0]) if args else None
    if event_id is not None:
        return await _apply_to(ctx, event_id, member)
    found = [e for e in await pitches.open_demo_days(ctx.session, ctx.now)
             if await audience.includes(ctx.session, e.audience, ctx.user.id, ctx.now)]
    if not found:
        return [Reply(t("pitch.none_open")), await ctx.app.menu(ctx)]
    mine = await pitches.of_user(ctx.session, ctx.user.id, [e.id for e in found])
    if len(found) == 1 and found[0].id not in mine:
        return await _start(ctx, found[0], member)
    lines = [t("pitch.choose")]
    rows: list[list[Button]] = []
    for event in found:
        if event.id in mine:
            lines.append(await _status_text(ctx, event, mine[event.id]))
        else:
            deadline = event.registration_deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            lines.append(t("pitch.open_line", event=event_label(t, event, tz), deadline=deadline))
            rows.append([Button(t("pitch.apply_button", title=event.title[:40]), ApplyTo(event.id).pack())])
    if not rows:
        return [Reply("\n\n".join(lines[1:])), await ctx.app.menu(ctx)]
    return [Reply("\n\n".join(lines), rows)]


async def _apply_to(ctx: Ctx, event_id: int, member: Membership) -> list[Reply]:
    event = await events.get(ctx.session, event_id)
    if event is None or not await _may_apply(ctx, event):
        return [Reply(ctx.t("pitch.closed")), await ctx.app.menu(ctx)]
    mine = await pitches.of_user(ctx.session, ctx.user.id, [event.id])
    if event.id in mine:
        return [Reply(await _status_text(ctx, event, mine[event.id])), await ctx.app.menu(ctx)]
    return await _start(ctx, event, member)


async def on_button(ctx: Ctx, press: ApplyTo) -> list[Reply]:
    """Apply to that demo day; checked again like a typed `/pitch <id>`."""
    event_id = press.event
    member = await _approved_member(ctx)
    if member is None:
        return _members_only(ctx.t)
    return await _apply_to(ctx, event_id, member)


async def submit(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    """Stores the application after checking everything again, and tells the admins."""
    t, tz = ctx.t, ctx.settings.tz
    if await _approved_member(ctx) is None:
        return _members_only(t)
    event = await events.get(ctx.session, int(extra["event"]))
    if event is None or not await _may_apply(ctx, event):
        return [Reply(t("pitch.closed")), await ctx.app.menu(ctx)]
    try:
        row = await pitches.apply(ctx.session, event.id, ctx.user.id, answers, ctx.now)
    except pitches.AlreadyApplied:
        return [Reply(t("pitch.already_short")), await ctx.app.menu(ctx)]
    log.info("pitch application id=%s event=%s user=%s", row.id, event.id, ctx.user.id)
    await queue.to_admins(
        ctx.session, ctx.settings,
        lambda tr: Reply(tr("pitch.admin_new", event=event_label(tr, event, tz)) + "\n\n"
                         + application_text(tr, row, tz), decision_buttons(tr, row)),
        now=ctx.now, kind="pitch.new", dedupe_key=f"pitch:{row.id}:new", about=row.user_id,
    )
    return [Reply(t("pitch.submitted", team=row.team, event=event_label(t, event, tz))), await ctx.app.menu(ctx)]


PITCH_FORM = Form("pitch", PITCH_FIELDS, submit, opened_by=("pitch",))


def build() -> Router:
    return Router(
        name="demoday",
        commands=[CommandRoute("pitch", pitch, describe="cmd.pitch")],
        buttons=[on(ApplyTo, on_button)],
        forms=[PITCH_FORM],
        phrases={"데모데이": "pitch", "데모데이 신청": "pitch", "창업기업설명회": "pitch", "demo day": "pitch"},
    )


# --- admins -----------------------------------------------------------------------------------------


async def _demo_day(ctx: Ctx, event_id: int) -> Event | None:
    event = await events.get(ctx.session, event_id)
    return event if event is not None and event.kind == pitches.KIND else None


async def pitches_command(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/pitches`, `/pitches <id>`, `/pitches <id> notify`, `/pitches <id> csv`."""
    t = ctx.t
    if not args:
        return await demo_days(ctx)
    action = args[1].lower() if len(args) > 1 else "list"
    event_id = typed_int(args[0])
    if event_id is None or action not in ("list", "notify", "csv"):
        return [Reply(t("pitch.admin_usage"))]
    if action == "notify":
        return await announce(ctx, event_id)
    if action == "csv":
        return await export(ctx, event_id)
    return await applications(ctx, event_id, 0)


async def demo_days(ctx: Ctx) -> list[Reply]:
    t, tz = ctx.t, ctx.settings.tz
    found = await pitches.demo_days_for_admin(ctx.session, ctx.now - ADMIN_LOOKBACK)
    if not found:
        return [Reply(t("pitch.admin_no_demo_days"))]
    rows = [[Button(t("pitch.admin_event_button", event=event_label(t, event, tz)[:48], n=n),
                    PitchList(event.id, 0).pack())] for event, n in found]
    return [Reply(t("pitch.admin_demo_days"), rows)]


async def applications(ctx: Ctx, event_id: int, offset: int) -> list[Reply]:
    """One page of a demo day's applications, each with the decisions it still allows."""
    t, tz = ctx.t, ctx.settings.tz
    event = await _demo_day(ctx, event_id)
    if event is None:
        return [Reply(t("pitch.admin_not_found"))]
    counts = await pitches.counts(ctx.session, event.id)
    total = sum(counts.values())
    head = t("pitch.admin_counts", event=event_label(t, event, tz), total=total, **counts)
    if total == 0:
        return [Reply(head)]
    rows = await pitches.for_event(ctx.session, event.id, PAGE, offset)
    out = [Reply(head), *(Reply(application_text(t, row, tz), decision_buttons(t, row)) for row in rows)]
    footer = [[Button(t("pitch.btn_notify"), PitchNotify(event.id).pack()),
               Button(t("pitch.btn_csv"), PitchCsv(event.id).pack())]]
    if offset + PAGE < total:
        footer.append([Button(t("admin.next_page"), PitchList(event.id, offset + PAGE).pack())])
    out.append(Reply(t("pitch.admin_footer", id=event.id), footer))
    return out


async def decide(ctx: Ctx, press: PitchDecision) -> list[Reply]:
    """후보 선정 / 발표팀 선정 / 미선정, re-checked on the locked row."""
    t, tz = ctx.t, ctx.settings.tz
    status = ACTIONS[press.code]
    row = await pitches.get_for_update(ctx.session, press.application)
    if row is None or not same_record(press.proof, row.created_at):
        return [Reply(t("pitch.admin_not_found"))]
    if row.status not in pitches.ALLOWED_FROM[status]:
        return [Reply(t("pitch.already_decided", id=row.id, team=row.team,
                        status=t(f"pitch.status.{row.status}")))]
    await pitches.decide(ctx.session, row, status, admin_id=ctx.user.id, now=ctx.now)
    log.info("pitch decision id=%s status=%s admin=%s", row.id, status, ctx.user.id)
    text = t("pitch.decided", id=row.id, team=row.team, status=t(f"pitch.status.{status}"))
    return [Reply(text + "\n\n" + application_text(t, row, tz), decision_buttons(t, row), edit=True)]


def _result(row: PitchApplication, event: Event, tz: dt.tzinfo) -> queue.Render:
    key = "pitch.result_selected" if row.status == "selected" else "pitch.result_rejected"
    team = row.team
    return lambda tr: Reply(tr(key, team=team, event=event_label(tr, event, tz)))


async def announce(ctx: Ctx, event_id: int) -> list[Reply]:
    """Tells each decided team its result once; undecided applications wait for another press."""
    t, tz = ctx.t, ctx.settings.tz
    event = await _demo_day(ctx, event_id)
    if event is None:
        return [Reply(t("pitch.admin_not_found"))]
    rows = await pitches.decided(ctx.session, event.id)
    sent = 0
    for row in rows:
        sent += await queue.to_user(ctx.session, row.user_id, _result(row, event, tz), now=ctx.now, kind="pitch.result",
                                    dedupe_key=pitches.result_key(row.id))
    counts = await pitches.counts(ctx.session, event.id)
    await audit(ctx.session, ctx.user.id, "pitch.notify", f"event:{event.id}", ctx.now,
                {"selected": counts["selected"], "rejected": counts["rejected"], "queued": sent})
    log.info("pitch results event=%s queued=%s admin=%s", event.id, sent, ctx.user.id)
    return [Reply(t("pitch.notified", selected=counts["selected"], rejected=counts["rejected"], sent=sent,
                    undecided=counts["applied"] + counts["shortlisted"]))]


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def presenters_csv(t: Translator, found: Sequence[pitches.Presenter]) -> bytes:
    """The presenter list as CSV, UTF-8 with BOM (Excel in Korea opens it without mojibake)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([t(f"pitch.csv_{col}") for col in ("team", "pitch", "stage", "deck", "funding", "contact")])
    for p in found:
        writer.writerow([_cell(p.team), _cell(p.pitch), t(f"stage.{p.stage}"), _cell(p.deck_link),
                         str(p.funding_sought), _cell(p.contact_name or "")])
    return buffer.getvalue().encode("utf-8-sig")


async def export(ctx: Ctx, event_id: int) -> list[Reply]:
    t, tz = ctx.t, ctx.settings.tz
    event = await _demo_day(ctx, event_id)
    if event is None:
        return [Reply(t("pitch.admin_not_found"))]
    found = await pitches.presenters(ctx.session, event.id)
    if not found:
        return [Reply(t("pitch.csv_empty"))]
    await audit(ctx.session, ctx.user.id, "pitch.export", f"event:{event.id}", ctx.now, {"rows": len(found)})
    log.info("pitch presenters exported event=%s rows=%s admin=%s", event.id, len(found), ctx.user.id)
    caption = t("pitch.csv_caption", event=event_label(t, event, tz), n=len(found))
    file = FileOut(f"demoday-{event.id}-presenters.csv", presenters_csv(t, found), "text/csv", caption=caption,
                   about=tuple(p.user_id for p in found))
    return [Reply(caption, file=file)]


def build_admin() -> Router:
    return Router(
        name="demoday_admin",
        admin=True,
        commands=[CommandRoute("pitches", pitches_command, describe="cmd.pitches")],
        buttons=[on(PitchDecision, decide),
                 on(PitchList, lambda ctx, press: applications(ctx, press.event, press.offset)),
                 on(PitchNotify, lambda ctx, press: announce(ctx, press.event)),
                 on(PitchCsv, lambda ctx, press: export(ctx, press.event))],
    )

