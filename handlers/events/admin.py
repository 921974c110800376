"""Events, the admins' side (투자 아카데미, 데모데이, 창업스쿨, 네트워킹, 채용박람회): publish, edit, cancel.

What an admin goes through (the admin router, behind the one admin guard):
1. `/newevent`: kind → title → description → start → end → place or online link →
   capacity (1–10,000) → audience (everyone, job seekers, members, members at a stage
   → the stage, a campus → the university name) → registration deadline (skip: until
   the start) → the summary, where any answer can be corrected. Dates are typed the
   Korean way ("2026-03-20 14:00", "3/20 14:00", "3월 20일 14시"); an end before the
   start, a date in the past or a deadline after the start is refused with a clear line.
2. 제출 saves the event as a draft and shows the preview: the very card people will get.
   게시 publishes it and announces it to its audience through the outbox with a
   신청하기 button (people who opted out of announcements are left out); 임시 저장 keeps
   the draft for later (`/event <id>` → 게시). The publication is written to the audit
   trail with the audience and the counts.
3. `/event` lists the coming events; `/event <id>` shows one with its counts and
   check-in code, and 수정 (the same form; registered people are told what changed that
   concerns them, field by field: the title, the time, the place; a larger capacity only
   offers the new seats to the waiting list; the capacity cannot go below the seats taken), 행사 취소 (asks once
   more; everyone registered or waiting is told, their reminders withdrawn) and 참석 체크
   (the registered people, one button each to mark attendance).
"""


from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.events.common import Register, hold
from kernel import parsers
from kernel.core import (
    Button,
    CommandRoute,
    Ctx,
    Invalid,
    MenuItem,
    Reply,
    Router,
    on,
    payload,
    stamp,
    typed_int,
)
from kernel.forms import EDIT, Answers, Extra, Field, FieldInput, Form, choices
from kernel.i18n import Translator, translator
from kernel.payloads import Payload, Stamp, same_record
from scheduler.events import event_card, queue_offer, queue_reminders, queue_to, when_point, when_span
from storage import audience, bookings, events, outbox
from storage.audit import audit
from storage.memberships import STAGES
from storage.models import Event

log = logging.getLogger(__name__)

ADMIN_PAGE = 10
PEOPLE_PAGE = 20
AUDIENCES = ("everyone", "seekers", "members", "stage", "campus")


# --- the admin's buttons -------------------------------------------------------------------------


@dataclass(frozen=True)
class Publish(Payload, prefix="eva", action="pub"):
    event: int


@dataclass(frozen=True)
class KeepDraft(Payload, prefix="eva", action="draft"):
    event: int


@dataclass(frozen=True)
class EditEvent(Payload, prefix="eva", action="e"):
    event: int


@dataclass(frozen=True)
class AskCancelEvent(Payload, prefix="eva", action="x"):
    event: int


@dataclass(frozen=True)
class CancelEvent(Payload, prefix="eva", action="xy"):
    event: int


@dataclass(frozen=True)
class KeepEvent(Payload, prefix="eva", action="keep"):
    pass


@dataclass(frozen=True)
class ViewEvent(Payload, prefix="eva", action="v"):
    event: int


@dataclass(frozen=True)
class AdminEventsPage(Payload, prefix="eva", action="l"):
    offset: int


@dataclass(frozen=True)
class Attendance(Payload, prefix="eva", action="ppl"):
    event: int
    offset: int = 0


@dataclass(frozen=True)
class MarkAttended(Payload, prefix="eva", action="att"):
    """One registered person marked present; `offset` keeps the admin on their page."""

    registration: int
    proof: Stamp
    offset: int = 0


def audience_label(tr: Translator, spec: str) -> str:
    kind, _, value = spec.partition(":")
    if kind == "stage":
        return tr("event.audience_stage", stage=tr(f"stage.{value}"))
    if kind == "campus":
        return tr("event.audience_campus", name=value)
    return tr(f"event.audience.{kind}")


# --- the form's parsers (dates kept as local ISO strings, so the summary shows local time) ----------


def _local_iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def show_moment(value: Any, t: Translator) -> str:
    moment = _moment(str(value))
    assert moment.tzinfo is not None
    return when_point(t, moment, moment.tzinfo)


def parse_start(raw: str, inp: FieldInput) -> str:
    start = parsers.local_datetime(raw, inp.now, inp.tz)
    if start <= inp.now:
        raise Invalid("event.in_past")
    return _local_iso(start)


def parse_end(raw: str, inp: FieldInput) -> str:
    start = _moment(inp.answers["starts_at"]) if inp.answers.get("starts_at") else None
    base = start.astimezone(inp.tz).date() if start else None
    end = parsers.local_datetime(raw, inp.now, inp.tz, base=base)
    if end <= inp.now:
        raise Invalid("event.in_past")
    if start is not None and end <= start:
        raise Invalid("event.end_before_start")
    return _local_iso(end)


def parse_deadline(raw: str, inp: FieldInput) -> str:
    deadline = parsers.local_datetime(raw, inp.now, inp.tz)
    if deadline <= inp.now:
        raise Invalid("event.in_past")
    if inp.answers.get("starts_at") and deadline > _moment(inp.answers["starts_at"]):
        raise Invalid("event.deadline_after_start")
    return _local_iso(deadline)


def parse_where(raw: str, _inp: FieldInput) -> str:
    value = parsers.clean(raw, max_len=200)
    if value.lower().startswith(("http://", "https://")):
        if " " in value or len(value) < 12:
            raise Invalid("event.bad_link")
        return value
    if len(value) > 120:
        raise Invalid("invalid.too_long", max=120, length=len(value))
    return value


def parse_capacity(raw: str, _inp: FieldInput) -> int:
    try:
        return parsers.integer(raw, low=1, high=events.MAX_CAPACITY, units=("명", "석", "seats", "people"))
    except Invalid:
        raise Invalid("event.capacity_range", high=events.MAX_CAPACITY) from None


EVENT_FIELDS = (
    Field("kind", choices=choices("event.kind", events.KINDS)),
    Field("title", parse=parsers.text(100)),
    Field("description", parse=parsers.text(1000, newlines=True)),
    Field("starts_at", parse=parse_start, show=show_moment),
    Field("ends_at", parse=parse_end, show=show_moment),
    Field("where", parse=parse_where),
    Field("capacity", parse=parse_capacity, show=lambda n, t: t("count.people", n=n)),
    Field("audience", choices=choices("event.audience", AUDIENCES),
          resets=("stage", "campus")),
    Field("stage", choices=choices("stage", STAGES), columns=3,
          when=lambda a: a.get("audience") == "stage"),
    Field("campus", parse=parsers.text(60), when=lambda a: a.get("audience") == "campus"),
    Field("deadline", parse=parse_deadline, show=show_moment, optional=True),
)

# Event columns and the form field each is asked in (for "what changed").
FIELD_OF = {"kind": "kind", "title": "title", "description": "description", "starts_at": "starts_at",
            "ends_at": "ends_at", "place": "where", "online_link": "where", "capacity": "capacity",
            "audience": "audience", "registration_deadline": "deadline"}


def _values(ctx: Ctx, a: Answers) -> dict[str, Any]:
    """The event's columns from the answers, checked together (an answer may have changed alone)."""
    start = _moment(a["starts_at"]).astimezone(dt.UTC)
    end = _moment(a["ends_at"]).astimezone(dt.UTC)
    if end <= start:
        raise Invalid("event.end_before_start", field="ends_at")
    if start <= ctx.now:
        raise Invalid("event.in_past", field="starts_at")
    deadline = _moment(a["deadline"]).astimezone(dt.UTC) if a.get("deadline") else start
    if deadline > start:
        raise Invalid("event.deadline_after_start", field="deadline")
    where = str(a["where"])
    online = where.lower().startswith(("http://", "https://"))
    spec = a["audience"]
    if spec == "stage":
        spec = f"stage:{a['stage']}"
    elif spec == "campus":
        spec = f"campus:{a['campus']}"
    audience.Segment.parse(spec)
    return {"kind": a["kind"], "title": a["title"], "description": a["description"], "starts_at": start,
            "ends_at": end, "place": None if online else where, "online_link": where if online else None,
            "capacity": int(a["capacity"]), "audience": spec, "registration_deadline": deadline}


def _answers(event: Event, tz: dt.tzinfo) -> Answers:
    """The form's answers for an existing event (editing)."""
    kind, _, value = event.audience.partition(":")
    a: Answers = {"kind": event.kind, "title": event.title, "description": event.description,
                  "starts_at": _local_iso(event.starts_at.astimezone(tz)),
                  "ends_at": _local_iso(event.ends_at.astimezone(tz)),
                  "where": event.online_link if event.online_link and not event.place else (event.place or ""),
                  "capacity": event.capacity, "audience": kind if kind in AUDIENCES else "everyone",
                  "deadline": _local_iso(event.registration_deadline.astimezone(tz))}
    if kind == "stage":
        a["stage"] = value
    if kind == "campus":
        a["campus"] = value
    return a


async def save_event(ctx: Ctx, a: Answers, extra: Extra) -> list[Reply]:
    """New: saved as a draft and previewed. Edit: applied, and the people concerned are told."""
    if not ctx.is_admin:
        # The form outlives the command that opened it: check the role again at submit.
        raise Invalid("admin.only")
    values = _values(ctx, a)
    if extra.get("event") is None:
        created = await events.create(ctx.session, created_by=ctx.user.id, now=ctx.now, **values)
        await audit(ctx.session, ctx.user.id, "event.create", f"event:{created.id}", ctx.now,
                    {"audience": created.audience, "capacity": created.capacity})
        log.info("event created event=%s admin=%s", created.id, ctx.user.id)
        return [preview(ctx, created)]
    found = await events.get(ctx.session, int(extra["event"]), for_update=True)
    if found is None or found.status == "cancelled" or found.starts_at <= ctx.now:
        raise Invalid("event.not_editable")
    event = found
    try:
        changes = await events.update_event(ctx.session, event, values, ctx.now)
    except events.CapacityTooLow as exc:
        raise Invalid("event.capacity_below", field="capacity", n=exc.seated) from None
    if not changes:
        return [Reply(ctx.t("event.no_changes")), await admin_card(ctx, event)]
    told = await _after_edit(ctx, event, changes) if event.status == "published" else 0
    await audit(ctx.session, ctx.user.id, "event.edit", f"event:{event.id}", ctx.now,
                {"fields": sorted(changes), "notified": told})
    log.info("event edited event=%s fields=%s notified=%s", event.id, sorted(changes), told)
    if not any(column in NOTIFIED for column in changes):
        return [Reply(ctx.t("event.edited_quietly")), await admin_card(ctx, event)]
    return [Reply(ctx.t("event.edited", n=told)), await admin_card(ctx, event)]


def _show_change(tr: Translator, column: str, value: Any, tz: dt.tzinfo) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, dt.datetime):
        return when_point(tr, value, tz)
    if column == "kind":
        return tr(f"event.kind.{value}")
    if column == "audience":
        return audience_label(tr, str(value))
    if column == "capacity":  # with its counter: "정원: 20 → 25" read as bare numbers
        return tr("count.people", n=int(value))
    return str(value)


def change_lines(tr: Translator, changes: dict[str, tuple[Any, Any]], tz: dt.tzinfo) -> str:
    lines = []
    for column in events.EDITABLE:
        if column not in changes:
            continue
        label = tr(f"label.newevent.{FIELD_OF[column]}")
        old, new = changes[column]
        if column == "description":
            lines.append(tr("event.change_description", label=label))
        else:
            lines.append(tr("event.change_line", label=label, old=_show_change(tr, column, old, tz),
                            new=_show_change(tr, column, new, tz)))
    return "\n".join(lines)


# What registered people are told about when an admin edits an event: what changes where and when
# they go, or what they signed up for. A larger capacity, another audience, a later deadline or a
# reworded description are the admins' business (the waiting list gets its offers separately).
NOTIFIED = ("title", "starts_at", "ends_at", "place", "online_link")


async def _after_edit(ctx: Ctx, event: Event, changes: dict[str, tuple[Any, Any]]) -> int:
    """Tells everyone registered, offered or waiting what changed that concerns them (`NOTIFIED`);
    moves reminders; fills new seats."""
    tz = ctx.settings.tz
    people = await events.people(ctx.session, event.id, events.ACTIVE)
    told = 0
    theirs = {column: change for column, change in changes.items() if column in NOTIFIED}
    for reg in people if theirs else []:
        told += await queue_to(ctx.session, reg.user_id, lambda tr: Reply(
            tr("event.changed", title=event.title) + "\n" + change_lines(tr, theirs, tz) + "\n\n"
            + event_card(tr, event, tz)), kind="event.changed", now=ctx.now)
    if "starts_at" in changes:
        seated = [r.user_id for r in people if r.status == "registered"]
        await events.withdraw_reminders(ctx.session, event.id, seated)
        for user_id in seated:
            await queue_reminders(ctx.session, event, user_id, ctx.now, tz)
    if "capacity" in changes:
        for reg in await events.offer_free_seats(ctx.session, event, ctx.now, hold(ctx)):
            await queue_offer(ctx.session, event, reg, ctx.now, tz)
    if "audience" in changes:
        await announce(ctx, event, "event.announce_audience")
    return told


EVENT_FORM = Form("newevent", EVENT_FIELDS, save_event, opened_by=("newevent",))


# --- the admin side ------------------------------------------------------------------------------


def preview(ctx: Ctx, event: Event) -> Reply:
    t = ctx.t
    return Reply(t("event.preview_title") + "\n\n" + event_card(t, event, ctx.settings.tz), [
        [Button(t("event.publish"), Publish(event.id).pack()),
         Button(t("event.keep_draft"), KeepDraft(event.id).pack())],
        [Button(t("event.edit"), EditEvent(event.id).pack())],
    ])


async def admin_card(ctx: Ctx, event: Event) -> Reply:
    """One event as the admin sees it: the card, its status, counts and check-in code."""
    t = ctx.t
    n = await events.counts(ctx.session, event.id)
    text = "\n\n".join([
        t("event.admin_head", id=event.id, status=t(f"event.status.{event.status}")),
        event_card(t, event, ctx.settings.tz),
        t("event.admin_counts", registered=n.registered, offered=n.offered, waiting=n.waiting,
          capacity=event.capacity, audience=audience_label(t, event.audience), code=event.checkin_code),
    ])
    rows: list[list[Button]] = []
    if event.status == "draft":
        rows.append([Button(t("event.publish"), Publish(event.id).pack())])
    if event.status != "cancelled" and event.starts_at > ctx.now:
        rows.append([Button(t("event.edit"), EditEvent(event.id).pack()),
                     Button(t("event.cancel_event"), AskCancelEvent(event.id).pack())])
    if event.status == "published":
        rows.append([Button(t("event.attendance"), Attendance(event.id, 0).pack())])
    return Reply(text, rows)


async def _admin_event(ctx: Ctx, event_id: int, *, for_update: bool = False) -> Event | Reply:
    event = await events.get(ctx.session, event_id, for_update=for_update)
    return event if event is not None else Reply(ctx.t("event.not_found"))


async def event_command(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/event` lists the coming events; `/event <id>` opens one."""
    if args:
        event_id = typed_int(args[0])
        if event_id is None:
            return [Reply(ctx.t("event.usage"))]
        found = await _admin_event(ctx, event_id)
        return [found if isinstance(found, Reply) else await admin_card(ctx, found)]
    return await admin_list(ctx, 0)


async def admin_list(ctx: Ctx, offset: int) -> list[Reply]:
    t, tz = ctx.t, ctx.settings.tz
    rows, total = await events.for_admin(ctx.session, ctx.now, ADMIN_PAGE, offset)
    new = [Button(t("event.new"), payload("m", "newevent"))]
    if not rows:
        return [Reply(t("event.admin_none"), [new])]
    buttons = [[Button(t("event.admin_line", id=e.id, title=e.title, when=when_point(t, e.starts_at, tz),
                         status=t(f"event.status.{e.status}")), ViewEvent(e.id).pack())] for e in rows]
    if offset + ADMIN_PAGE < total:
        buttons.append([Button(t("event.next_page"), AdminEventsPage(offset + ADMIN_PAGE).pack())])
    buttons.append(new)
    return [Reply(t("event.admin_list", n=total), buttons)]


async def new_event(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    return await ctx.app.start_form(ctx, "newevent")


async def view(ctx: Ctx, event_id: int) -> list[Reply]:
    found = await _admin_event(ctx, event_id)
    return [found if isinstance(found, Reply) else await admin_card(ctx, found)]


async def publish(ctx: Ctx, event_id: int) -> list[Reply]:
    """Publishes a draft and announces it to its audience (opted-out people left out)."""
    t = ctx.t
    found = await _admin_event(ctx, event_id, for_update=True)
    if isinstance(found, Reply):
        return [found]
    event = found
    if event.status != "draft":
        return [Reply(t("event.not_draft", status=t(f"event.status.{event.status}")))]
    if event.registration_deadline <= ctx.now or event.starts_at <= ctx.now:
        return [Reply(t("event.too_late_to_publish")), await admin_card(ctx, event)]
    await events.publish(ctx.session, event, ctx.now)
    queued = await announce(ctx, event, "event.publish")
    log.info("event published event=%s admin=%s queued=%s", event.id, ctx.user.id, queued)
    return [Reply(t("event.published", title=event.title, n=queued), edit=True)]


async def announce(ctx: Ctx, event: Event, action: str) -> int:
    """Announces the event to its audience (opted-out people left out) and audits it.

    The dedupe key is per event and person, so announcing again after the audience grew
    reaches only the people who have not heard of it yet.
    """
    tz = ctx.settings.tz
    recipients = await audience.recipients(ctx.session, event.audience, ctx.now)
    queued = 0
    for r in recipients:
        tr = translator(r.locale)
        reply = Reply(tr("event.announce") + "\n\n" + event_card(tr, event, tz),
                      [[Button(tr("event.register"), Register(event.id).pack())]])
        queued += await outbox.enqueue(ctx.session, channel=r.channel, chat_id=r.chat_id, user_id=r.user_id,
                                       kind="event.announce", payload=reply.to_payload(), now=ctx.now,
                                       dedupe_key=events.announce_key(event.id, r.user_id))
    await audit(ctx.session, ctx.user.id, action, f"event:{event.id}", ctx.now,
                {"audience": event.audience, "recipients": len(recipients), "queued": queued})
    return queued


async def keep_draft(ctx: Ctx, event_id: int) -> list[Reply]:
    found = await _admin_event(ctx, event_id)
    if isinstance(found, Reply):
        return [found]
    return [Reply(ctx.t("event.draft_saved", id=found.id), edit=True)]


async def edit(ctx: Ctx, event_id: int) -> list[Reply]:
    found = await _admin_event(ctx, event_id)
    if isinstance(found, Reply):
        return [found]
    if found.status == "cancelled" or found.starts_at <= ctx.now:
        return [Reply(ctx.t("event.not_editable"))]
    return await ctx.app.start_form(ctx, "newevent", answers=_answers(found, ctx.settings.tz),
                                    extra={"event": found.id}, mode="edit", step=EDIT)


async def ask_cancel_event(ctx: Ctx, event_id: int) -> list[Reply]:
    found = await _admin_event(ctx, event_id)
    if isinstance(found, Reply):
        return [found]
    t = ctx.t
    return [Reply(t("event.cancel_event_confirm", title=found.title),
                  [[Button(t("event.cancel_event_yes"), CancelEvent(found.id).pack()),
                    Button(t("event.no"), KeepEvent().pack())]])]


async def cancel_event(ctx: Ctx, event_id: int) -> list[Reply]:
    """Cancels the event: everyone registered, offered or waiting is told; reminders are withdrawn."""
    t, tz = ctx.t, ctx.settings.tz
    found = await _admin_event(ctx, event_id, for_update=True)
    if isinstance(found, Reply):
        return [found]
    event = found
    if event.status == "cancelled":
        return [Reply(t("event.already_cancelled"))]
    was_published = event.status == "published"
    regs = await events.cancel_event(ctx.session, event, ctx.now)
    await events.withdraw_reminders(ctx.session, event.id, [r.user_id for r in regs])
    told = 0
    if was_published:
        for reg in regs:
            told += await queue_to(ctx.session, reg.user_id, lambda tr: Reply(tr(
                "event.cancelled_notice", title=event.title, when=when_span(tr, event.starts_at, event.ends_at, tz))),
                kind="event.cancelled", now=ctx.now, dedupe_key=f"event:{event.id}:cancelled:{reg.user_id}")
    await audit(ctx.session, ctx.user.id, "event.cancel", f"event:{event.id}", ctx.now,
                {"registrations": len(regs), "notified": told})
    log.info("event cancelled event=%s admin=%s notified=%s", event.id, ctx.user.id, told)
    return [Reply(t("event.event_cancelled", title=event.title, n=told), edit=True)]


async def keep_event(ctx: Ctx, _press: KeepEvent) -> list[Reply]:
    return [Reply(ctx.t("event.kept_event"), edit=True)]


async def attendance(ctx: Ctx, event_id: int, offset: int) -> list[Reply]:
    """The registered people, a page at a time, one button each to mark attendance."""
    t = ctx.t
    found = await _admin_event(ctx, event_id)
    if isinstance(found, Reply):
        return [found]
    event = found
    regs = await events.people(ctx.session, event.id, ("registered",), PEOPLE_PAGE, offset)
    n = await events.counts(ctx.session, event.id)
    attended = len(await events.attendees(ctx.session, event.id))
    if not regs:
        return [Reply(t("event.attendance_none", title=event.title))]
    names = await bookings.person_names(ctx.session, [r.user_id for r in regs])
    rows = []
    for reg in regs:
        name = names.get(reg.user_id) or t("event.no_name", id=reg.user_id)
        mark = "✅" if reg.attended_at else "☐"
        rows.append([Button(f"{mark} {reg.seat_no}. {name}",
                            MarkAttended(reg.id, stamp(reg.created_at), offset).pack())])
    if offset + PEOPLE_PAGE < n.registered:
        rows.append([Button(t("event.next_page"), Attendance(event.id, offset + PEOPLE_PAGE).pack())])
    return [Reply(t("event.attendance_title", title=event.title, attended=attended, registered=n.registered), rows)]


async def mark_attended(ctx: Ctx, press: MarkAttended) -> list[Reply]:
    reg = await events.registration_by_id(ctx.session, press.registration, for_update=True)
    if reg is None or not same_record(press.proof, reg.created_at):
        return [Reply(ctx.t("event.attendance_not_registered"))]
    outcome = await events.check_in(ctx.session, reg, ctx.now)
    if outcome in ("not_registered", "not_found"):
        return [Reply(ctx.t("event.attendance_not_registered" if outcome == "not_registered" else "event.not_found"))]
    log.info("attendance marked event=%s registration=%s admin=%s", reg.event_id, reg.id, ctx.user.id)
    replies = await attendance(ctx, reg.event_id, press.offset)
    for reply in replies:
        reply.edit = True
    return replies


def build() -> Router:
    """The admins' side: /newevent, /event, publishing, editing, cancelling, attendance."""
    return Router(
        name="events_admin",
        admin=True,
        commands=[
            CommandRoute("newevent", new_event, describe="cmd.newevent"),
            CommandRoute("event", event_command, describe="cmd.event"),
        ],
        buttons=[on(Publish, lambda ctx, press: publish(ctx, press.event)),
                 on(KeepDraft, lambda ctx, press: keep_draft(ctx, press.event)),
                 on(EditEvent, lambda ctx, press: edit(ctx, press.event)),
                 on(AskCancelEvent, lambda ctx, press: ask_cancel_event(ctx, press.event)),
                 on(CancelEvent, lambda ctx, press: cancel_event(ctx, press.event)),
                 on(KeepEvent, keep_event),
                 on(Attendance, lambda ctx, press: attendance(ctx, press.event, press.offset)),
                 on(MarkAttended, mark_attended),
                 on(ViewEvent, lambda ctx, press: view(ctx, press.event)),
                 on(AdminEventsPage, lambda ctx, press: admin_list(ctx, press.offset))],
        forms=[EVENT_FORM],
        menu=[MenuItem("menu.events_admin", "event")],
    )
