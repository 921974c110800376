"""Events: how an event reads, the messages queued about it, and the periodic offer sweep.

The card (`event_card`) is the one rendering of an event: the admin's preview, the
announcement and the `/events` list all show it, so what an admin previews is exactly
what people get. It lives here, below the handlers, so the scheduler can use it too.

The periodic job (`expire_offers`, every minute): a freed seat offered to the first
person on the waiting list is held until `offered_until` (EVENT_OFFER_HOURS, capped by
the registration deadline or the start). When the hold runs out unanswered:
1. the offer is withdrawn and the person is told their turn passed;
2. the seat goes to the next person waiting, who gets the offer with 자리 확정 /
   양보하기 buttons and their own deadline; with nobody waiting the seat is simply free.
Each registration is re-read under a row lock and re-checked, so a confirmation at the
same moment, a second worker or a second run never hands one seat on twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.config import Settings
from kernel.core import Button, Clock, Reply, payload
from kernel.i18n import Translator, day_label, moment, translator
from kernel.payloads import Payload
from storage import events, outbox, users
from storage.models import Event, EventRegistration, User

log = logging.getLogger(__name__)

EXPIRY_INTERVAL_SECONDS = 60


# --- wording -----------------------------------------------------------------------------------------


when_point = moment


def when_span(tr: Translator, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> str:
    a, b = start.astimezone(tz), end.astimezone(tz)
    if a.date() == b.date():
        return tr("event.when_same_day", day=day_label(tr, a), start=a.strftime("%H:%M"), end=b.strftime("%H:%M"))
    return tr("event.when_range", start=when_point(tr, start, tz), end=when_point(tr, end, tz))


def where_text(tr: Translator, event: Event) -> str:
    parts = [p for p in (event.place, event.online_link) if p]
    return " · ".join(parts) if parts else tr("event.where_tba")


def event_card(tr: Translator, event: Event, tz: dt.tzinfo) -> str:
    """The event as everyone sees it (preview, announcement, /events)."""
    return tr("event.card", kind=tr(f"event.kind.{event.kind}"), title=event.title,
              when=when_span(tr, event.starts_at, event.ends_at, tz), where=where_text(tr, event),
              capacity=event.capacity, deadline=when_point(tr, event.registration_deadline, tz),
              description=event.description)


@dataclass(frozen=True)
class ConfirmOffer(Payload, prefix="ev", action="ok"):
    """Take the seat held for you (handlers.events.public answers it)."""

    event: int


@dataclass(frozen=True)
class PassOffer(Payload, prefix="ev", action="pass"):
    """Let the held seat go to the next person waiting."""

    event: int


def offer_reply(tr: Translator, event: Event, reg: EventRegistration, tz: dt.tzinfo) -> Reply:
    assert reg.offered_until is not None
    return Reply(tr("event.offer", title=event.title, when=when_span(tr, event.starts_at, event.ends_at, tz),
                    until=when_point(tr, reg.offered_until, tz)),
                 [[Button(tr("event.offer_confirm"), ConfirmOffer(event.id).pack()),
                   Button(tr("event.offer_pass"), PassOffer(event.id).pack())]])


def reminder_reply(tr: Translator, event: Event, which: str, tz: dt.tzinfo) -> Reply:
    return Reply(tr(f"event.reminder_{which}", title=event.title,
                    when=when_span(tr, event.starts_at, event.ends_at, tz), where=where_text(tr, event)),
                 [[Button(tr("menu.events"), payload("m", "events"))]])


# --- queueing ----------------------------------------------------------------------------------------


async def queue_to(session: AsyncSession, user_id: int, render: Callable[[Translator], Reply], *, kind: str,
                   now: dt.datetime, dedupe_key: str | None = None, due_at: dt.datetime | None = None) -> bool:
    """Queue a message for one person in their language; False if unreachable or already queued."""
    user = await session.get(User, user_id)
    identity = await users.reachable_identity(session, user_id)
    if user is None or identity is None:
        return False
    return await outbox.enqueue(session, channel=identity.channel, chat_id=identity.chat_id, user_id=user_id,
                                kind=kind, payload=render(translator(user.locale)).to_payload(), now=now,
                                dedupe_key=dedupe_key, due_at=due_at)


async def queue_offer(session: AsyncSession, event: Event, reg: EventRegistration, now: dt.datetime,
                      tz: dt.tzinfo) -> bool:
    return await queue_to(session, reg.user_id, lambda tr: offer_reply(tr, event, reg, tz), kind="event.offer",
                          now=now)


async def queue_reminders(session: AsyncSession, event: Event, user_id: int, now: dt.datetime,
                          tz: dt.tzinfo) -> int:
    """Reminders 24 h and 1 h before (those still ahead); they come even to people who opted out."""
    await events.forget_withdrawn_reminders(session, event, user_id)
    queued = 0
    for which, before in (("r24", dt.timedelta(hours=24)), ("r1", dt.timedelta(hours=1))):
        due = event.starts_at - before
        if due <= now:
            continue

        def render(tr: Translator, which: str = which) -> Reply:
            return reminder_reply(tr, event, which, tz)

        queued += await queue_to(session, user_id, render, kind=events.REMINDER_KIND, now=now, due_at=due,
                                 dedupe_key=events.reminder_key(event.id, user_id, which, event.starts_at))
    return queued


def _expired_render(title: str) -> Callable[[Translator], Reply]:
    return lambda tr: Reply(tr("event.offer_expired", title=title))


# --- the periodic job --------------------------------------------------------------------------------


async def expire_offers(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Hands on every seat whose offer ran out; returns how many offers expired."""
    hold = dt.timedelta(hours=settings.event_offer_hours)
    tz = settings.tz
    expired = 0
    async with sessions() as session, session.begin():
        now = clock.now()
        for candidate in await events.expired_offers(session, now):
            reg = await events.registration_by_id(session, candidate.id, for_update=True)
            if reg is None or reg.status != "offered" or reg.offered_until is None or reg.offered_until > now:
                continue
            event = await events.get(session, reg.event_id)
            if event is None:
                continue
            user_id = reg.user_id
            nxt = await events.cancel_registration(session, event, reg, now, hold)
            expired += 1
            await queue_to(session, user_id, _expired_render(event.title), kind="event.offer_expired", now=now)
            if nxt is not None:
                await queue_offer(session, event, nxt, now, tz)
            log.info("event offer expired event=%s registration=%s next=%s", event.id, reg.id,
                     nxt.id if nxt else None)
    return expired
