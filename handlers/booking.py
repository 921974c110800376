"""Consultation booking: `/book`, `/mybookings`, cancel and reschedule.

What the user goes through with `/book`:
1. The bot checks they may book: job seekers (구직등록) see job counselling (취업상담),
   the document clinic (구직서류클리닉) and mentoring (청년취업멘토링); members of the startup
   centre see startup consulting (창업상담) and BM coaching; someone who is both sees
   both. Without either, the bot offers to register first and comes back to the booking.
   Someone who already holds the maximum of upcoming bookings is shown them instead.
   When no active counselor gives any of their consultation types, they are told so with
   the centre's contact (CENTRE_CONTACT), a 상담원 연결 button (when any counselor is
   active) and the menu, instead of a form with nothing to pick.
2. Consultation type → place (only places where that type is offered: the centre, a
   campus branch, a specialised high school, online; the campus branch or school the person's
   registration links to comes first, marked, and a 특성화고 is offered only to its own
   students) → a specific counselor, only when
   several give that type there ("상관없음" picks the least busy one) → day (the next
   days that have a free time) → time → an optional note for the counselor → summary.
3. Confirm: the booking is made under the database rule that one counselor's time can
   be held once. If someone took the time meanwhile, "방금 다른 분이 예약했어요" and fresh
   times are offered. The confirmation carries an .ics calendar file; the counselor is
   told at once; reminders are queued 24 h and 1 h before.

`/mybookings` lists upcoming bookings with 취소 (asks once more) and 변경 (the same
questions from the day on, keeping type and place). Both are refused after the cutoff
(CANCEL_CUTOFF_MINUTES before the start); every press re-checks in the database that
the booking is the presser's own and still booked.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kernel import parsers
from kernel.availability import booking_buffer, slots_between
from kernel.core import (
    Button,
    Card,
    CommandRoute,
    Ctx,
    FileOut,
    Invalid,
    MenuItem,
    Reply,
    Router,
    on,
    payload,
)
from kernel.forms import Answers, Choice, Extra, Field, Form
from kernel.i18n import Translator, day_label, duration, moment, place_name
from kernel.ics import ics
from kernel.payloads import Payload
from kernel.people import person_name
from scheduler import queue
from storage import bookings, campuses, coaching, counselors, memberships, seekers
from storage.db import advisory_xact_lock
from storage.models import Booking, Counselor, Place
from storage.slots import local_dt, pick_counselor

# --- buttons ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AskCancel(Payload, prefix="bk", action="c"):
    booking: int


@dataclass(frozen=True)
class ConfirmCancel(Payload, prefix="bk", action="cy"):
    booking: int


@dataclass(frozen=True)
class Reschedule(Payload, prefix="bk", action="r"):
    booking: int


@dataclass(frozen=True)
class KeepBooking(Payload, prefix="bk", action="keep"):
    pass


JOB_TYPES = ("job_counselling", "document_clinic", "mentoring")
STARTUP_TYPES = ("startup_consulting", "bm_coaching")


# --- who may book what ----------------------------------------------------------------------


async def entitled_types(ctx: Ctx) -> list[str]:
    allowed: list[str] = []
    if await seekers.get(ctx.session, ctx.user.id) is not None:
        allowed += JOB_TYPES
    member = await memberships.live(ctx.session, ctx.user.id)
    if member is not None and member.status == "approved":
        allowed += STARTUP_TYPES
    return allowed



def place_label(t: Translator, place: Place) -> str:
    if place.kind == "online":
        # Each counselor has an online room of their own: the name tells them apart.
        return t("place.online_named", name=place_name(t, place.name))
    if place.kind == "campus":
        return t("place.campus", name=place.name)
    return place_name(t, place.name)


when_label = moment


def _today(ctx: Ctx) -> dt.date:
    return ctx.now.astimezone(ctx.settings.tz).date()


# --- the form's computed choices ------------------------------------------------------------------


async def type_options(ctx: Ctx, _a: Answers) -> list[Choice]:
    offered = {t for c in await counselors.active(ctx.session) for t in c.types}
    return [Choice(t, f"type.{t}") for t in await entitled_types(ctx) if t in offered]


async def place_options(ctx: Ctx, a: Answers) -> list[Choice]:
    """Where the type is given; the person's own campus branch or school first. A partner
    특성화고's visiting hours are for its own students: nobody else is offered that school."""
    staff = await counselors.active(ctx.session, a["type"])
    place_ids = {w.place_id for w in await counselors.windows(ctx.session, [c.id for c in staff])}
    places = await counselors.places_by_id(ctx.session, sorted(place_ids))
    branch = await campuses.branch_of(ctx.session, ctx.user.id, campuses.directory(ctx.settings.campuses_file))
    home = (branch.kind, branch.place) if branch else None
    shown = [p for p in places.values() if p.kind != "high_school" or (p.kind, p.name) == home]
    order = {"centre": 0, "campus": 1, "high_school": 2, "online": 3}
    ordered = sorted(shown, key=lambda p: ((p.kind, p.name) != home, order.get(p.kind, 9), p.name))
    t = ctx.t
    return [Choice(str(p.id), text=t("place.home", place=place_label(t, p)) if (p.kind, p.name) == home
                   else place_label(t, p)) for p in ordered]


async def counselor_options(ctx: Ctx, a: Answers) -> list[Choice]:
    """A choice of person only when several give this type at this place."""
    staff = await counselors.active(ctx.session, a["type"])
    windows = await counselors.windows(ctx.session, [c.id for c in staff])
    here = {w.counselor_id for w in windows if str(w.place_id) == a["place"]}
    chosen = [c for c in staff if c.id in here]
    if len(chosen) < 2:
        return []
    return [Choice("any", "booking.any_counselor"), *(Choice(str(c.id), text=c.display_name) for c in chosen)]


async def day_options(ctx: Ctx, a: Answers) -> list[Choice]:
    """The next days with a free time; only the day the person named ("다음 주 화요일 상담 예약",
    kept as `want_day`) when it has one, the first time the day is asked (then it is chosen for
    them and said on top of the times; changing the day later offers them all)."""
    first = _today(ctx)
    last = first + dt.timedelta(days=ctx.settings.booking_horizon_days - 1)
    days = await slots_between(ctx, a["type"], int(a["place"]), a.get("counselor"), first, last, first_only=True)
    wanted = a.get("want_day")
    if isinstance(wanted, str) and "day" not in a:
        days = {d: v for d, v in days.items() if d.isoformat() == wanted} or days
    t = ctx.t
    return [Choice(d.isoformat(), text=t("booking.day", month=d.month, day=d.day, weekday=t(f"weekday.{d.weekday()}")))
            for d in sorted(days)]


async def time_options(ctx: Ctx, a: Answers) -> list[Choice]:
    day = dt.date.fromisoformat(a["day"])
    found = await slots_between(ctx, a["type"], int(a["place"]), a.get("counselor"), day, day)
    tz = ctx.settings.tz
    starts = sorted({s.starts_at for s in found.get(day, [])})
    return [Choice(s.astimezone(tz).strftime("%H:%M"), text=s.astimezone(tz).strftime("%H:%M")) for s in starts]


BOOKING_FIELDS = (
    Field("type", options=type_options, columns=1, resets=("place", "counselor", "day", "time")),
    Field("place", options=place_options, columns=1, resets=("counselor", "day", "time")),
    Field("counselor", options=counselor_options, optional=True, columns=1, resets=("day", "time")),
    Field("day", options=day_options, columns=3, resets=("time",)),
    Field("time", options=time_options, columns=4),
    Field("note", parse=parsers.text(300, newlines=True), optional=True),
)


# --- confirming ----------------------------------------------------------------------------------


async def _week_load(ctx: Ctx, ids: Sequence[int], day: dt.date) -> Counter[int]:
    tz = ctx.settings.tz
    monday = day - dt.timedelta(days=day.weekday())
    start = local_dt(monday, 0, tz).astimezone(dt.UTC)
    held = await bookings.for_counselors(ctx.session, ids, start, start + dt.timedelta(days=7))
    return Counter(b.counselor_id for b in held)


async def _reserve(ctx: Ctx, a: Answers, reschedule: Booking | None) -> Booking:
    """Books the chosen time with the least busy free counselor; Invalid(field='time') if gone."""
    tz = ctx.settings.tz
    day = dt.date.fromisoformat(a["day"])
    hour, minute = map(int, a["time"].split(":"))
    start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz).astimezone(dt.UTC)
    if start < ctx.now + dt.timedelta(minutes=ctx.settings.booking_min_notice_minutes):
        raise Invalid("booking.too_soon", field="time", ahead=duration(ctx.t, ctx.settings.booking_min_notice_minutes))
    found = await slots_between(ctx, a["type"], int(a["place"]), a.get("counselor"), day, day)
    candidates = [s for s in found.get(day, []) if s.starts_at == start]
    load = await _week_load(ctx, [s.counselor_id for s in candidates], day)
    # The daily cap must hold with concurrent confirmations too. Every candidate's day is locked
    # up front in one order (counselor id): taken one by one in preference order, two people
    # confirming at once could each hold the counselor the other tries next, and PostgreSQL
    # would end one of the turns as a deadlock.
    for counselor_id in sorted({s.counselor_id for s in candidates}):
        await advisory_xact_lock(ctx.session, "counselor-day", counselor_id, day.isoformat())
    while candidates:
        slot = pick_counselor(candidates, load, prefer=int(a["counselor"]) if a.get("counselor") not in
                              (None, "any") else None)
        assert slot is not None
        candidates.remove(slot)
        # A counselor being deactivated at this moment (that locks the same row) must not get the booking.
        counselor = await counselors.get_for_update(ctx.session, slot.counselor_id)
        if counselor is None or not counselor.active:
            continue
        try:
            return await bookings.book(
                ctx.session, user_id=ctx.user.id, counselor_id=slot.counselor_id, place_id=slot.place_id,
                type_=a["type"], starts_at=slot.starts_at, ends_at=slot.ends_at, buffer=booking_buffer(ctx),
                now=ctx.now, note=a.get("note"), rescheduled_from=reschedule.id if reschedule else None)
        except bookings.SlotTaken:
            continue
    raise Invalid("booking.taken", field="time")


async def confirm(ctx: Ctx, a: Answers, extra: Extra) -> list[Reply]:
    """Makes (or moves) the booking, tells the counselor, queues reminders, sends the .ics."""
    t = ctx.t
    if a["type"] not in await entitled_types(ctx):
        raise Invalid("booking.not_entitled")
    old: Booking | None = None
    if extra.get("reschedule"):
        found = await _own_booking(ctx, int(extra["reschedule"]), action="reschedule")
        if isinstance(found, Reply):
            raise Invalid("booking.cannot_change")
        old = found
    elif await bookings.count_upcoming(ctx.session, ctx.user.id, ctx.now) >= ctx.settings.max_upcoming_bookings:
        raise Invalid("booking.too_many", n=ctx.settings.max_upcoming_bookings)
    booking = await _reserve(ctx, a, old)
    # A step of the 특성화고 coaching package (started from /campus) stays that step when moved.
    step = extra.get("coaching") or (await coaching.step_of(ctx.session, old.id) if old is not None else None)
    if step:
        await coaching.record(ctx.session, booking, int(step))
    if old is not None:
        await bookings.cancel(ctx.session, old, ctx.now, "rescheduled")
        await bookings.withdraw_reminders(ctx.session, old.id)
    place = (await counselors.places_by_id(ctx.session, [booking.place_id]))[booking.place_id]
    counselor = await counselors.get(ctx.session, booking.counselor_id)
    assert counselor is not None
    await _announce(ctx, booking, place, counselor, moved_from=old)
    text = t("booking.moved" if old else "booking.confirmed", **_details(t, booking, place, counselor, ctx))
    ics = FileOut(f"jobhub-booking-{booking.id}.ics", calendar_file(t, booking, place, counselor), "text/calendar",
                  caption=t("booking.ics_caption"))
    return [Reply(text, file=ics), await ctx.app.menu(ctx)]


def _details(t: Translator, booking: Booking, place: Place, counselor: Counselor, ctx: Ctx) -> dict[str, str]:
    return {"type": t(f"type.{booking.type}"), "place": place_label(t, place), "counselor": counselor.display_name,
            "when": when_label(t, booking.starts_at, ctx.settings.tz),
            "ahead": duration(t, ctx.settings.cancel_cutoff_minutes)}


def calendar_file(t: Translator, booking: Booking, place: Place, counselor: Counselor) -> bytes:
    location = place.video_link if place.kind == "online" and place.video_link else (place.address or place.name)
    description = t("booking.ics_description", counselor=counselor.display_name)
    if booking.note:
        description += "\n" + booking.note
    return ics(prodid="-//JobHub//Seoul Job Plus Center//KO", uid=f"booking-{booking.id}@jobhub",
               stamp=booking.created_at, start=booking.starts_at, end=booking.ends_at,
               summary=t("booking.ics_summary", type=t(f"type.{booking.type}")),
               location=f"{place_label(t, place)} — {location}" if location != place.name else location,
               description=description)


async def _announce(ctx: Ctx, booking: Booking, place: Place, counselor: Counselor,
                    moved_from: Booking | None) -> None:
    """The counselor hears of it at once; the person gets reminders 24 h and 1 h before."""
    name = await person_name(ctx, booking.user_id)
    tz = ctx.settings.tz
    kind = "booking.moved" if moved_from is not None else "booking.new"

    def to_counselor(tr: Translator) -> Reply:
        text = tr("counselor.booking_new", name=name, type=tr(f"type.{booking.type}"), place=place_label(tr, place),
                  when=when_label(tr, booking.starts_at, tz), note=booking.note or tr("booking.no_note"))
        if moved_from is not None:
            text = tr("counselor.booking_moved", old=when_label(tr, moved_from.starts_at, tz)) + "\n" + text
        return Reply(text)

    await queue.to_user(ctx.session, counselor.user_id, to_counselor, now=ctx.now, kind=kind, about=booking.user_id)
    if moved_from is not None and moved_from.counselor_id != booking.counselor_id:
        await _tell_counselor_cancelled(ctx, moved_from, name)
    for which, before in bookings.REMINDERS:
        due = booking.starts_at - before
        if due <= ctx.now:
            continue

        def remind(tr: Translator, which: str = which) -> Reply:
            return Reply(tr(f"booking.reminder_{which}", type=tr(f"type.{booking.type}"), place=place_label(tr, place),
                            when=when_label(tr, booking.starts_at, tz), counselor=counselor.display_name),
                         [[Button(tr("menu.mybookings"), payload("m", "mybookings"))]])

        await queue.to_user(ctx.session, ctx.user.id, remind, now=ctx.now, kind="booking.reminder",
                            dedupe_key=bookings.reminder_key(booking.id, which), due_at=due)


async def _tell_counselor_cancelled(ctx: Ctx, booking: Booking, name: str) -> None:
    counselor = await counselors.get(ctx.session, booking.counselor_id)
    if counselor is None:
        return
    tz = ctx.settings.tz
    await queue.to_user(ctx.session, counselor.user_id, lambda tr: Reply(tr(
        "counselor.booking_cancelled", name=name, type=tr(f"type.{booking.type}"),
        when=when_label(tr, booking.starts_at, tz))), now=ctx.now, kind="booking.cancelled", about=booking.user_id)


BOOKING_FORM = Form("booking", BOOKING_FIELDS, confirm, opened_by=("book",))


# --- commands and buttons ------------------------------------------------------------------------


async def book(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """Starts the booking after the entitlement and the upcoming-bookings limit are checked.
    `/book 2026-12-08` (the front door, from "다음 주 화요일 상담 예약") picks that day when it is free."""
    t = ctx.t
    if ctx.conv.flow == "booking":
        return await ctx.app.start_form(ctx, "booking")
    if not await entitled_types(ctx):
        return [Reply(t("booking.register_first"), [
            [Button(t("booking.register_then_book"), payload("m", "register", "book"))],
            [Button(t("menu.membership"), payload("m", "membership"))],
        ])]
    if await bookings.count_upcoming(ctx.session, ctx.user.id, ctx.now) >= ctx.settings.max_upcoming_bookings:
        return [Reply(t("booking.too_many", n=ctx.settings.max_upcoming_bookings)), *await my_bookings(ctx, ())]
    if not await type_options(ctx, {}):
        return await nobody_to_book(ctx)
    wanted = _iso_day(args[0]) if args else None
    return await ctx.app.start_form(ctx, "booking", answers={"want_day": wanted.isoformat()} if wanted else None)


def _iso_day(text: str) -> dt.date | None:
    """A day given as YYYY-MM-DD, else None (anything else after /book is ignored, as before)."""
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


async def nobody_to_book(ctx: Ctx) -> list[Reply]:
    """Entitled, but no active counselor gives their consultations yet: instead of a form whose
    first question has nothing to pick, where else to turn (the centre's contact, a person now,
    the other services)."""
    t = ctx.t
    lines = [t("booking.no_counselor")]
    contact = ctx.settings.centre_contact.strip()
    if contact:
        lines.append(t("booking.centre_contact", contact=contact))
    rows: list[list[Button]] = []
    if await counselors.active(ctx.session):
        # Someone to talk to (within OPENING_HOURS; /human says the hours otherwise).
        lines.append(t("booking.try_human", hours=ctx.settings.opening_hours))
        rows.append([Button(t("menu.human"), payload("m", "human"))])
    lines.append(t("booking.other_services"))
    return [Reply("\n\n".join(lines), rows), await ctx.app.menu(ctx)]


async def my_bookings(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/mybookings [YYYY-MM-DD]`: the upcoming bookings; with a day (the front door, from "내일
    상담 취소할게요") only that day's, or all of them under a line saying that day has none."""
    t = ctx.t
    upcoming = await bookings.upcoming_for_user(ctx.session, ctx.user.id, ctx.now)
    if not upcoming:
        return [Reply(t("booking.none"), [[Button(t("menu.book"), payload("m", "book"))]])]
    day = _iso_day(args[0]) if args else None
    that_day = [b for b in upcoming if b.starts_at.astimezone(ctx.settings.tz).date() == day]
    out = []
    if day is not None and not that_day:
        out.append(Reply(t("booking.none_that_day", day=day_label(t, day))))
    upcoming = that_day or upcoming
    places = await counselors.places_by_id(ctx.session, [b.place_id for b in upcoming])
    out.append(Reply(t("booking.list_title", n=len(upcoming))))
    for b in upcoming:
        counselor = await counselors.get(ctx.session, b.counselor_id)
        name = counselor.display_name if counselor else "-"
        text = t("booking.item", type=t(f"type.{b.type}"), place=place_label(t, places[b.place_id]),
                 when=when_label(t, b.starts_at, ctx.settings.tz), counselor=name)
        out.append(Reply(text, [[Button(t("booking.cancel"), AskCancel(b.id).pack()),
                                 Button(t("booking.reschedule"), Reschedule(b.id).pack())]],
                         card=Card.of(t(f"type.{b.type}"), when_label(t, b.starts_at, ctx.settings.tz),
                                      place_label(t, places[b.place_id]) + " · " + name)))
    return out


async def _own_booking(ctx: Ctx, booking_id: int, *, action: str) -> Booking | Reply:
    """The presser's own live booking, still before the cutoff, or the reply that says why not."""
    t = ctx.t
    booking = await bookings.get(ctx.session, booking_id, for_update=True)
    if booking is None or booking.user_id != ctx.user.id:
        return Reply(t("booking.not_found"))
    if booking.status != "booked" or booking.starts_at <= ctx.now:
        return Reply(t("booking.not_active"))
    cutoff = dt.timedelta(minutes=ctx.settings.cancel_cutoff_minutes)
    if booking.starts_at - ctx.now < cutoff:
        return Reply(t(f"booking.too_late_{action}", ahead=duration(t, ctx.settings.cancel_cutoff_minutes)))
    return booking


async def ask_cancel(ctx: Ctx, press: AskCancel) -> list[Reply]:
    found = await _own_booking(ctx, press.booking, action="cancel")
    if isinstance(found, Reply):
        return [found]
    t = ctx.t
    return [Reply(t("booking.cancel_confirm", when=when_label(t, found.starts_at, ctx.settings.tz)),
                  [[Button(t("booking.cancel_yes"), ConfirmCancel(found.id).pack()),
                    Button(t("booking.cancel_no"), KeepBooking().pack())]])]


async def do_cancel(ctx: Ctx, press: ConfirmCancel) -> list[Reply]:
    found = await _own_booking(ctx, press.booking, action="cancel")
    if isinstance(found, Reply):
        return [found]
    await bookings.cancel(ctx.session, found, ctx.now, "by_user")
    await bookings.withdraw_reminders(ctx.session, found.id)
    await _tell_counselor_cancelled(ctx, found, await person_name(ctx, ctx.user.id))
    t = ctx.t
    return [Reply(t("booking.cancelled", when=when_label(t, found.starts_at, ctx.settings.tz)), edit=True),
            await ctx.app.menu(ctx)]


async def reschedule(ctx: Ctx, press: Reschedule) -> list[Reply]:
    """The same questions from the day on, keeping the type and the place."""
    found = await _own_booking(ctx, press.booking, action="reschedule")
    if isinstance(found, Reply):
        return [found]
    places = await counselors.places_by_id(ctx.session, [found.place_id])
    t = ctx.t
    labels = {"type": t(f"type.{found.type}"), "place": place_label(t, places[found.place_id])}
    return await ctx.app.start_form(ctx, "booking", answers={"type": found.type, "place": str(found.place_id)},
                                    extra={"reschedule": found.id}, mode="edit", labels=labels)


async def keep(ctx: Ctx, _press: KeepBooking) -> list[Reply]:
    return [Reply(ctx.t("booking.kept"), edit=True)]


def build() -> Router:
    return Router(
        name="booking",
        commands=[
            CommandRoute("book", book, describe="cmd.book"),
            CommandRoute("mybookings", my_bookings, describe="cmd.mybookings"),
        ],
        buttons=[on(AskCancel, ask_cancel), on(ConfirmCancel, do_cancel), on(Reschedule, reschedule),
                 on(KeepBooking, keep)],
        forms=[BOOKING_FORM],
        menu=[MenuItem("menu.book", "book", order=20), MenuItem("menu.mybookings", "mybookings", order=21)],
        phrases={"상담예약": "book", "예약": "book", "상담": "book", "내예약": "mybookings", "book": "book"},
    )
