"""Events, the people's side: see the coming events, register, wait for a seat, check in.

What a person goes through:
1. `/events`: the coming events they may attend (their audience), five at a time, each
   with its details and 신청하기 / 대기 신청 / 신청 취소.
2. 신청하기 takes a seat (a database rule: two people never get the same seat, the
   capacity holds under concurrent presses), confirms with an .ics calendar file and
   queues reminders 1 day and 1 hour before. Registering twice or after the deadline is
   refused with a clear line. When full, 대기 신청 puts them on the waiting list.
3. A cancellation frees the seat: the first person waiting is offered it with a
   deadline (EVENT_OFFER_HOURS) and 자리 확정 / 양보하기; passing or letting it expire
   (`scheduler.events.expire_offers`) hands it to the next in line. Pressing 자리 확정
   again after it worked says the seat is theirs (with its number), not that the offer
   is gone.
4. On the event day, `/checkin CODE` (the code shown at the venue) records attendance;
   the attendees are what the satisfaction survey uses (`storage.events.attendees`).
Every press re-checks in the database: the admin role, that the registration is the
presser's own, the event's status, start and deadline.
"""


from __future__ import annotations

import logging
from collections.abc import Sequence

from handlers.events.common import (
    PAGE,
    AskUnregister,
    EventsPage,
    JoinWaitlist,
    KeepSeat,
    Register,
    Unregister,
    hold,
)
from kernel.core import (
    Button,
    Card,
    CommandRoute,
    Ctx,
    FileOut,
    Job,
    MenuItem,
    Reply,
    Router,
    arg_int,
    on,
)
from kernel.i18n import Translator
from kernel.ics import ics
from scheduler.agenda import day_bounds
from scheduler.events import (
    EXPIRY_INTERVAL_SECONDS,
    ConfirmOffer,
    PassOffer,
    event_card,
    expire_offers,
    queue_offer,
    queue_reminders,
    when_point,
    when_span,
    where_text,
)
from storage import audience, events
from storage.models import Event, EventRegistration

log = logging.getLogger(__name__)


def calendar_file(tr: Translator, event: Event) -> bytes:
    return ics(prodid="-//JobHub//Seoul Startup Center//KO", uid=f"event-{event.id}@jobhub", stamp=event.updated_at,
               start=event.starts_at, end=event.ends_at, summary=f"[{tr(f'event.kind.{event.kind}')}] {event.title}",
               location=where_text(tr, event), url=event.online_link, description=event.description)


async def _status_line(ctx: Ctx, event: Event, reg: EventRegistration | None) -> tuple[str, list[Button]]:
    t, tz = ctx.t, ctx.settings.tz
    if reg is not None and reg.status == "registered":
        return t("event.you_registered", seat=reg.seat_no or 0), [Button(t("event.unregister"),
                                                                          AskUnregister(event.id).pack())]
    if reg is not None and reg.status == "offered" and reg.offered_until is not None:
        return t("event.you_offered", until=when_point(t, reg.offered_until, tz)), [
            Button(t("event.offer_confirm"), ConfirmOffer(event.id).pack()),
            Button(t("event.offer_pass"), PassOffer(event.id).pack())]
    if reg is not None and reg.status == "waiting":
        position = await events.waiting_position(ctx.session, reg)
        return t("event.you_waiting", n=position), [Button(t("event.unregister"), AskUnregister(event.id).pack())]
    if event.registration_deadline <= ctx.now:
        return t("event.closed"), []
    left = event.capacity - (await events.counts(ctx.session, event.id)).seated
    if left > 0:
        return t("event.seats_left", n=left), [Button(t("event.register"), Register(event.id).pack())]
    return t("event.full_short"), [Button(t("event.join_waitlist"), JoinWaitlist(event.id).pack())]


async def list_events(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/events [offset]`."""
    return await events_page(ctx, arg_int(args, 0, default=0))


async def events_page(ctx: Ctx, offset: int) -> list[Reply]:
    """The coming events the person may attend (or is registered for), a page at a time."""
    t, tz = ctx.t, ctx.settings.tz
    mine = await events.active_event_ids(ctx.session, ctx.user.id)
    shown = [e for e in await events.upcoming(ctx.session, ctx.now)
             if e.id in mine or await audience.includes(ctx.session, e.audience, ctx.user.id, ctx.now)]
    if not shown:
        return [Reply(t("event.none"))]
    page = shown[offset:offset + PAGE]
    regs = await events.registrations_of(ctx.session, ctx.user.id, [e.id for e in page])
    out = [Reply(t("event.list_title", n=len(shown)))]
    for event in page:
        line, buttons = await _status_line(ctx, event, regs.get(event.id))
        out.append(Reply(event_card(t, event, tz) + "\n\n" + line, [buttons] if buttons else [],
                         card=Card.of(event.title, when_span(t, event.starts_at, event.ends_at, tz), line)))
    if offset + PAGE < len(shown):
        out.append(Reply(t("event.more", n=len(shown) - offset - PAGE),
                         [[Button(t("event.next_page"), EventsPage(offset + PAGE).pack())]]))
    return out


async def _open_event(ctx: Ctx, event_id: int) -> Event | Reply:
    """A published event that has not started and that the person may attend."""
    t = ctx.t
    event = await events.get(ctx.session, event_id)
    if event is None or event.status == "draft":
        return Reply(t("event.not_found"))
    if event.status == "cancelled":
        return Reply(t("event.is_cancelled", title=event.title))
    if event.starts_at <= ctx.now:
        return Reply(t("event.started", title=event.title))
    mine = await events.registration(ctx.session, event.id, ctx.user.id)
    if (mine is None or mine.status not in events.ACTIVE) and not await audience.includes(
            ctx.session, event.audience, ctx.user.id, ctx.now):
        return Reply(t("event.not_for_you"))
    return event


async def _confirmed(ctx: Ctx, event: Event, reg: EventRegistration) -> list[Reply]:
    """The confirmation with the .ics; reminders 1 day and 1 hour before."""
    t, tz = ctx.t, ctx.settings.tz
    await queue_reminders(ctx.session, event, ctx.user.id, ctx.now, tz)
    ics = FileOut(f"jobhub-event-{event.id}.ics", calendar_file(t, event), "text/calendar",
                  caption=t("event.ics_caption"))
    text = t("event.registered", title=event.title, when=when_span(t, event.starts_at, event.ends_at, tz),
             where=where_text(t, event), seat=reg.seat_no or 0)
    return [Reply(text, [[Button(t("event.unregister"), AskUnregister(event.id).pack())]], file=ics)]


async def _already(ctx: Ctx, event: Event, reg: EventRegistration | None) -> Reply | None:
    t = ctx.t
    if reg is None or reg.status == "cancelled":
        return None
    if reg.status == "registered":
        return Reply(t("event.already_registered", title=event.title, seat=reg.seat_no or 0))
    if reg.status == "offered":
        line, buttons = await _status_line(ctx, event, reg)
        return Reply(line, [buttons])
    return Reply(t("event.already_waiting", title=event.title, n=await events.waiting_position(ctx.session, reg)))


async def _joinable(ctx: Ctx, event_id: int) -> Event | Reply:
    """The open event the presser is not registered or waiting for, before its deadline."""
    found = await _open_event(ctx, event_id)
    if isinstance(found, Reply):
        return found
    already = await _already(ctx, found, await events.registration(ctx.session, found.id, ctx.user.id))
    if already is not None:
        return already
    if found.registration_deadline <= ctx.now:
        return Reply(ctx.t("event.deadline_passed", title=found.title))
    return found


async def register(ctx: Ctx, event_id: int) -> list[Reply]:
    t = ctx.t
    found = await _joinable(ctx, event_id)
    if isinstance(found, Reply):
        return [found]
    event = found
    try:
        reg = await events.register(ctx.session, event, ctx.user.id, ctx.now)
    except events.Full:
        return [Reply(t("event.full", title=event.title),
                      [[Button(t("event.join_waitlist"), JoinWaitlist(event.id).pack())]])]
    log.info("event registration event=%s user=%s seat=%s", event.id, ctx.user.id, reg.seat_no)
    return await _confirmed(ctx, event, reg)


async def join_waitlist(ctx: Ctx, event_id: int) -> list[Reply]:
    t = ctx.t
    found = await _joinable(ctx, event_id)
    if isinstance(found, Reply):
        return [found]
    event = found
    if (await events.counts(ctx.session, event.id)).seated < event.capacity:
        return await register(ctx, event_id)  # a seat came free meanwhile
    reg = await events.join_waitlist(ctx.session, event, ctx.user.id, ctx.now)
    log.info("event waiting list event=%s user=%s", event.id, ctx.user.id)
    return [Reply(t("event.waiting", title=event.title, n=await events.waiting_position(ctx.session, reg)),
                  [[Button(t("event.unregister"), AskUnregister(event.id).pack())]], edit=True)]


async def _own(ctx: Ctx, event_id: int, statuses: Sequence[str]) -> tuple[Event, EventRegistration] | Reply:
    """The presser's own registration in one of `statuses`, for an event that has not started."""
    t = ctx.t
    event = await events.get(ctx.session, event_id)
    reg = await events.registration(ctx.session, event_id, ctx.user.id, for_update=True)
    if event is None or reg is None or reg.status not in statuses:
        return Reply(t("event.no_registration"))
    if event.status != "published":
        return Reply(t("event.is_cancelled", title=event.title))
    if event.starts_at <= ctx.now:
        return Reply(t("event.started", title=event.title))
    return event, reg


async def ask_unregister(ctx: Ctx, event_id: int) -> list[Reply]:
    found = await _own(ctx, event_id, events.ACTIVE)
    if isinstance(found, Reply):
        return [found]
    event, _reg = found
    t = ctx.t
    return [Reply(t("event.unregister_confirm", title=event.title),
                  [[Button(t("event.unregister_yes"), Unregister(event.id).pack()),
                    Button(t("event.no"), KeepSeat().pack())]])]


async def _hand_on(ctx: Ctx, event: Event, reg: EventRegistration) -> None:
    """Frees the person's seat (or place in line) and offers the seat to the next person waiting."""
    nxt = await events.cancel_registration(ctx.session, event, reg, ctx.now, hold(ctx))
    await events.withdraw_reminders(ctx.session, event.id, [ctx.user.id])
    if nxt is not None:
        await queue_offer(ctx.session, event, nxt, ctx.now, ctx.settings.tz)
        log.info("event seat offered event=%s registration=%s", event.id, nxt.id)


async def unregister(ctx: Ctx, event_id: int) -> list[Reply]:
    found = await _own(ctx, event_id, events.ACTIVE)
    if isinstance(found, Reply):
        return [found]
    event, reg = found
    await _hand_on(ctx, event, reg)
    log.info("event registration cancelled event=%s user=%s", event.id, ctx.user.id)
    return [Reply(ctx.t("event.unregistered", title=event.title), edit=True)]


async def _offer_already_answered(ctx: Ctx, event_id: int) -> Reply:
    """A late press of an offer's buttons, said as what happened rather than "no longer valid":
    after 자리 확정 the seat is theirs; after 양보하기 (or the hold running out) it went on."""
    t = ctx.t
    event = await events.get(ctx.session, event_id)
    reg = await events.registration(ctx.session, event_id, ctx.user.id)
    if event is None or reg is None:
        return Reply(t("event.offer_gone"))
    if reg.status == "registered":
        return Reply(t("event.already_registered", title=event.title, seat=reg.seat_no or 0),
                     [[Button(t("event.unregister"), AskUnregister(event.id).pack())]])
    if reg.status == "cancelled" and reg.offered_until is not None:
        return Reply(t("event.offer_handed_on", title=event.title))
    return Reply(t("event.offer_gone"))


async def confirm_offer(ctx: Ctx, event_id: int) -> list[Reply]:
    found = await _own(ctx, event_id, ("offered",))
    if isinstance(found, Reply):
        return [await _offer_already_answered(ctx, event_id)]
    event, reg = found
    if reg.offered_until is None or reg.offered_until <= ctx.now:
        return [Reply(ctx.t("event.offer_gone"))]
    await events.confirm_offer(ctx.session, reg, ctx.now)
    log.info("event offer confirmed event=%s user=%s", event.id, ctx.user.id)
    return await _confirmed(ctx, event, reg)


async def pass_offer(ctx: Ctx, event_id: int) -> list[Reply]:
    found = await _own(ctx, event_id, ("offered",))
    if isinstance(found, Reply):
        return [await _offer_already_answered(ctx, event_id)]
    event, reg = found
    await _hand_on(ctx, event, reg)
    log.info("event offer passed event=%s user=%s", event.id, ctx.user.id)
    return [Reply(ctx.t("event.passed", title=event.title), edit=True)]


async def keep(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    return [Reply(ctx.t("event.kept"), edit=True)]


async def check_in(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/checkin CODE` on the event day: attendance for a registered person."""
    t, tz = ctx.t, ctx.settings.tz
    if not args:
        return [Reply(t("event.checkin_usage"))]
    code = events.normalise_code("".join(args))
    start, end = day_bounds(ctx.now.astimezone(tz).date(), tz)
    today = await events.by_code_on_day(ctx.session, code, start, end)
    if not today:
        other = await events.by_code(ctx.session, code) if len(code) == events.CODE_LENGTH else []
        return [Reply(t("event.checkin_not_today" if other else "event.checkin_unknown"))]
    for event in today:
        reg = await events.registration(ctx.session, event.id, ctx.user.id, for_update=True)
        if reg is None or reg.status != "registered":
            continue
        if not await events.mark_attended(ctx.session, reg, ctx.now):
            return [Reply(t("event.checkin_already", title=event.title))]
        log.info("event check-in event=%s user=%s", event.id, ctx.user.id)
        return [Reply(t("event.checked_in", title=event.title))]
    return [Reply(t("event.checkin_not_registered", title=today[0].title))]


async def typed_code(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """A check-in code typed on its own (no /checkin) on the day of an event: check in."""
    code = events.normalise_code(args[0]) if args else ""
    if len(code) != events.CODE_LENGTH or not code.isalnum():
        return []
    start, end = day_bounds(ctx.now.astimezone(ctx.settings.tz).date(), ctx.settings.tz)
    if not await events.by_code_on_day(ctx.session, code, start, end):
        return []
    return await check_in(ctx, (code,))


def build() -> Router:
    """The people's side: /events, registration, waiting list, /checkin."""
    return Router(
        name="events",
        commands=[
            CommandRoute("events", list_events, describe="cmd.events"),
            CommandRoute("checkin", check_in, describe="cmd.checkin"),
        ],
        buttons=[on(EventsPage, lambda ctx, press: events_page(ctx, press.offset)),
                 on(Register, lambda ctx, press: register(ctx, press.event)),
                 on(JoinWaitlist, lambda ctx, press: join_waitlist(ctx, press.event)),
                 on(AskUnregister, lambda ctx, press: ask_unregister(ctx, press.event)),
                 on(Unregister, lambda ctx, press: unregister(ctx, press.event)),
                 on(ConfirmOffer, lambda ctx, press: confirm_offer(ctx, press.event)),
                 on(PassOffer, lambda ctx, press: pass_offer(ctx, press.event)),
                 on(KeepSeat, lambda ctx, _press: keep(ctx, ()))],
        menu=[MenuItem("menu.events", "events", order=25)],
        phrases={"행사": "events", "이벤트": "events", "행사목록": "events", "events": "events"},
        text=[typed_code],
        # A freed seat offered to the first person waiting passes on when its hold runs out.
        jobs=[Job("event-offers", expire_offers, every=EXPIRY_INTERVAL_SECONDS)],
    )
