"""Events (투자 아카데미, 데모데이, 창업스쿨, 네트워킹, 채용박람회 ...) and their registrations.

Capacity is a database rule: a seat is a number in 1..capacity and (event, seat_no) is
unique, so two people racing for the last seat cannot both get it. `register` takes
the lowest free seat inside a savepoint and tries the next one when the insert loses a
race; with no seat left it raises `Full` and the caller offers the waiting list.

A registration's life (one row per person and event, reused when they come back):
  registered  holds a seat
  waiting     on the waiting list (no seat), in order of created_at, id
  offered     a freed seat held for them until `offered_until` (confirm or pass it on)
  cancelled   no seat, not waiting; `offered_until` kept when it was an offer that ended
              (passed or run out), so a late press of its buttons can say the seat went on
A freed seat goes to the first person waiting (`offer_next`); passing or letting the
offer expire hands it to the next in line.

Entry point for the surveys issue: `attendees(session, event_id)` — the user ids who
checked in (attended_at set), and `ended_between` for the events that just finished.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event, EventRegistration, OutboxMessage

KINDS = ("academy", "demo_day", "startup_school", "networking", "job_fair", "other")
STATUSES = ("draft", "published", "cancelled")
SEATED = ("registered", "offered")
ACTIVE = ("registered", "offered", "waiting")
MAX_CAPACITY = 10_000
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 6
REMINDERS = ("r24", "r1")
# Fields an edit may change (what registered people are told about).
EDITABLE = ("kind", "title", "description", "starts_at", "ends_at", "place", "online_link", "capacity",
            "audience", "registration_deadline")


class Full(Exception):
    """No seat is free: the caller offers the waiting list."""


class CapacityTooLow(Exception):
    """An edit would leave fewer seats than people already holding one."""

    def __init__(self, seated: int) -> None:
        super().__init__(seated)
        self.seated = seated


@dataclass(frozen=True)
class Counts:
    registered: int
    offered: int
    waiting: int

    @property
    def seated(self) -> int:
        return self.registered + self.offered


def new_checkin_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    return "".join(text.split()).upper()


# --- events ----------------------------------------------------------------------------------------


async def create(
    session: AsyncSession, *, kind: str, title: str, description: str, starts_at: dt.datetime,
    ends_at: dt.datetime, place: str | None, online_link: str | None, capacity: int, audience: str,
    registration_deadline: dt.datetime, created_by: int | None, now: dt.datetime,
) -> Event:
    """A new event as a draft, with its check-in code."""
    event = Event(kind=kind, title=title, description=description, starts_at=starts_at, ends_at=ends_at,
                  place=place, online_link=online_link, capacity=capacity, audience=audience,
                  registration_deadline=registration_deadline, status="draft", checkin_code=new_checkin_code(),
                  created_by=created_by, created_at=now, updated_at=now)
    session.add(event)
    await session.flush()
    return event


async def get(session: AsyncSession, event_id: int, *, for_update: bool = False) -> Event | None:
    query = select(Event).where(Event.id == event_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def publish(session: AsyncSession, event: Event, now: dt.datetime) -> None:
    event.status = "published"
    event.published_at = now
    event.updated_at = now
    await session.flush()


async def update_event(session: AsyncSession, event: Event, values: dict[str, Any],
                       now: dt.datetime) -> dict[str, tuple[Any, Any]]:
    """Applies the changed fields; returns {field: (old, new)}. CapacityTooLow leaves it unchanged."""
    changes = {k: (getattr(event, k), v) for k, v in values.items() if k in EDITABLE and getattr(event, k) != v}
    if "capacity" in changes:
        seated = (await counts(session, event.id)).seated
        if changes["capacity"][1] < seated:
            raise CapacityTooLow(seated)
    for key, (_old, new) in changes.items():
        setattr(event, key, new)
    if changes:
        event.updated_at = now
        await session.flush()
    return changes


async def cancel_event(session: AsyncSession, event: Event, now: dt.datetime) -> list[EventRegistration]:
    """Cancels the event; returns the registrations that were active (to be told), now cancelled."""
    event.status = "cancelled"
    event.updated_at = now
    regs = list(await session.scalars(
        select(EventRegistration).where(EventRegistration.event_id == event.id,
                                        EventRegistration.status.in_(ACTIVE))
        .order_by(EventRegistration.id).with_for_update()))
    for reg in regs:
        reg.status = "cancelled"
        reg.seat_no = None
        reg.offered_until = None
        reg.updated_at = now
    await session.flush()
    return regs


async def upcoming(session: AsyncSession, now: dt.datetime, *, statuses: Sequence[str] = ("published",),
                   kind: str | None = None) -> list[Event]:
    """Events that have not started, soonest first."""
    query = select(Event).where(Event.status.in_(list(statuses)), Event.starts_at > now)
    if kind is not None:
        query = query.where(Event.kind == kind)
    return list(await session.scalars(query.order_by(Event.starts_at, Event.id)))


async def for_admin(session: AsyncSession, now: dt.datetime, limit: int, offset: int) -> tuple[list[Event], int]:
    """Drafts and published events that have not ended, soonest first, one page and the total."""
    where = (Event.status.in_(("draft", "published")), Event.ends_at > now)
    total = int(await session.scalar(select(func.count()).select_from(Event).where(*where)) or 0)
    rows = list(await session.scalars(select(Event).where(*where).order_by(Event.starts_at, Event.id)
                                      .limit(limit).offset(offset)))
    return rows, total


async def ended_between(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> list[Event]:
    """Published events that ended in [start, end) — for the satisfaction survey sweep."""
    return list(await session.scalars(
        select(Event).where(Event.status == "published", Event.ends_at >= start, Event.ends_at < end)
        .order_by(Event.ends_at, Event.id)))


async def by_code_on_day(session: AsyncSession, code: str, start: dt.datetime, end: dt.datetime) -> list[Event]:
    """Published events with that check-in code that start in [start, end) (the local day)."""
    return list(await session.scalars(
        select(Event).where(Event.status == "published", Event.checkin_code == normalise_code(code),
                            Event.starts_at >= start, Event.starts_at < end)))


async def by_code(session: AsyncSession, code: str) -> list[Event]:
    return list(await session.scalars(
        select(Event).where(Event.status == "published", Event.checkin_code == normalise_code(code))))


# --- registrations ---------------------------------------------------------------------------------


async def registration(session: AsyncSession, event_id: int, user_id: int, *,
                       for_update: bool = False) -> EventRegistration | None:
    query = select(EventRegistration).where(EventRegistration.event_id == event_id,
                                            EventRegistration.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def registration_by_id(session: AsyncSession, reg_id: int, *,
                             for_update: bool = False) -> EventRegistration | None:
    query = select(EventRegistration).where(EventRegistration.id == reg_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def registrations_of(session: AsyncSession, user_id: int,
                           event_ids: Sequence[int]) -> dict[int, EventRegistration]:
    if not event_ids:
        return {}
    rows = await session.scalars(select(EventRegistration).where(
        EventRegistration.user_id == user_id, EventRegistration.event_id.in_(list(event_ids))))
    return {r.event_id: r for r in rows}


async def active_event_ids(session: AsyncSession, user_id: int) -> set[int]:
    return set(await session.scalars(select(EventRegistration.event_id).where(
        EventRegistration.user_id == user_id, EventRegistration.status.in_(ACTIVE))))


async def counts(session: AsyncSession, event_id: int) -> Counts:
    return (await counts_of(session, [event_id]))[event_id]


async def counts_of(session: AsyncSession, event_ids: Sequence[int]) -> dict[int, Counts]:
    """`counts` of several events in one query (a list page)."""
    rows = await session.execute(
        select(EventRegistration.event_id, EventRegistration.status, func.count())
        .where(EventRegistration.event_id.in_(list(event_ids)))
        .group_by(EventRegistration.event_id, EventRegistration.status))
    by: dict[int, dict[str, int]] = {event_id: {} for event_id in event_ids}
    for event_id, status, n in rows.all():
        by[event_id][status] = int(n)
    return {event_id: Counts(found.get("registered", 0), found.get("offered", 0), found.get("waiting", 0))
            for event_id, found in by.items()}


async def _taken_seats(session: AsyncSession, event_id: int) -> set[int]:
    return set(await session.scalars(select(EventRegistration.seat_no).where(
        EventRegistration.event_id == event_id, EventRegistration.seat_no.is_not(None))))


def _free_seats(capacity: int, taken: set[int]) -> list[int]:
    return [n for n in range(1, capacity + 1) if n not in taken][:64]


async def register(session: AsyncSession, event: Event, user_id: int, now: dt.datetime) -> EventRegistration:
    """Takes the lowest free seat for the person (reusing their old row); Full when none is left.

    Each attempt runs in a savepoint: a seat another transaction took first fails on the
    unique (event, seat_no) rule and the next free seat is tried.
    """
    existing = await registration(session, event.id, user_id, for_update=True)
    for _round in range(5):
        free = _free_seats(event.capacity, await _taken_seats(session, event.id))
        if not free:
            raise Full
        for seat in free:
            try:
                async with session.begin_nested():
                    if existing is None:
                        reg = EventRegistration(event_id=event.id, user_id=user_id, status="registered",
                                                seat_no=seat, created_at=now, updated_at=now)
                        session.add(reg)
                    else:
                        reg = existing
                        reg.status, reg.seat_no, reg.offered_until = "registered", seat, None
                        reg.updated_at = now
                    await session.flush()
                return reg
            except IntegrityError:
                if existing is not None:
                    await session.refresh(existing)
                continue
    raise Full


async def join_waitlist(session: AsyncSession, event: Event, user_id: int, now: dt.datetime) -> EventRegistration:
    """Puts the person at the end of the waiting list (a returning person goes to the end too)."""
    existing = await registration(session, event.id, user_id, for_update=True)
    if existing is None:
        existing = EventRegistration(event_id=event.id, user_id=user_id, status="waiting", seat_no=None,
                                     created_at=now, updated_at=now)
        session.add(existing)
    else:
        existing.status, existing.seat_no, existing.offered_until = "waiting", None, None
        existing.created_at = existing.updated_at = now
    await session.flush()
    return existing


async def waiting_position(session: AsyncSession, reg: EventRegistration) -> int:
    """1 for the first in line."""
    ahead = await session.scalar(select(func.count()).select_from(EventRegistration).where(
        EventRegistration.event_id == reg.event_id, EventRegistration.status == "waiting",
        (EventRegistration.created_at < reg.created_at)
        | ((EventRegistration.created_at == reg.created_at) & (EventRegistration.id < reg.id))))
    return int(ahead or 0) + 1


def offer_deadline(event: Event, now: dt.datetime, hold: dt.timedelta) -> dt.datetime:
    """How long a freed seat is held: `hold`, but not past the registration deadline (or the start)."""
    limit = event.registration_deadline if event.registration_deadline > now else event.starts_at
    return min(now + hold, limit)


async def offer_next(session: AsyncSession, event: Event, seat_no: int, now: dt.datetime,
                     hold: dt.timedelta) -> EventRegistration | None:
    """Offers a freed seat to the first person waiting; None when nobody waits or it is too late."""
    until = offer_deadline(event, now, hold)
    if event.status != "published" or until <= now:
        return None
    first = (await session.scalars(
        select(EventRegistration).where(EventRegistration.event_id == event.id,
                                        EventRegistration.status == "waiting")
        .order_by(EventRegistration.created_at, EventRegistration.id).limit(1).with_for_update())).first()
    if first is None:
        return None
    first.status, first.seat_no, first.offered_until, first.updated_at = "offered", seat_no, until, now
    await session.flush()
    return first


async def _free(session: AsyncSession, reg: EventRegistration, now: dt.datetime) -> int | None:
    seat = reg.seat_no
    until = reg.offered_until if reg.status == "offered" else None
    reg.status, reg.seat_no, reg.offered_until, reg.updated_at = "cancelled", None, until, now
    # The seat must be free in the database before it is handed on (unique per event).
    await session.flush()
    return seat


async def cancel_registration(session: AsyncSession, event: Event, reg: EventRegistration, now: dt.datetime,
                              hold: dt.timedelta) -> EventRegistration | None:
    """Cancels a seat, an offer or a place in line; returns whom the freed seat was offered to."""
    seat = await _free(session, reg, now)
    return await offer_next(session, event, seat, now, hold) if seat is not None else None


async def confirm_offer(session: AsyncSession, reg: EventRegistration, now: dt.datetime) -> None:
    reg.status, reg.offered_until, reg.updated_at = "registered", None, now
    await session.flush()


async def offer_free_seats(session: AsyncSession, event: Event, now: dt.datetime,
                           hold: dt.timedelta) -> list[EventRegistration]:
    """After a capacity increase: every free seat goes to the next person waiting."""
    offered: list[EventRegistration] = []
    for seat in _free_seats(event.capacity, await _taken_seats(session, event.id)):
        reg = await offer_next(session, event, seat, now, hold)
        if reg is None:
            break
        offered.append(reg)
    return offered


async def expired_offers(session: AsyncSession, now: dt.datetime, limit: int = 200) -> list[EventRegistration]:
    """Offers whose hold ran out (not locked: re-read each with `registration_by_id(for_update=True)`)."""
    return list(await session.scalars(
        select(EventRegistration).where(EventRegistration.status == "offered",
                                        EventRegistration.offered_until <= now)
        .order_by(EventRegistration.offered_until, EventRegistration.id).limit(limit)))


async def people(session: AsyncSession, event_id: int, statuses: Sequence[str] = SEATED,
                 limit: int | None = None, offset: int = 0) -> list[EventRegistration]:
    query = (select(EventRegistration).where(EventRegistration.event_id == event_id,
                                             EventRegistration.status.in_(list(statuses)))
             .order_by(EventRegistration.seat_no, EventRegistration.created_at, EventRegistration.id).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return list(await session.scalars(query))


async def mark_attended(session: AsyncSession, reg: EventRegistration, now: dt.datetime) -> bool:
    """Records attendance; False when it was already recorded."""
    if reg.attended_at is not None:
        return False
    reg.attended_at = now
    reg.updated_at = now
    await session.flush()
    return True


async def check_in(session: AsyncSession, reg: EventRegistration, now: dt.datetime) -> str:
    """Staff marking a person present (the chat's attendance list, the console's check-in list):
    'done', 'already', or why not ('not_registered': no seat; 'not_found': event not published)."""
    if reg.status != "registered":
        return "not_registered"
    event = await get(session, reg.event_id)
    if event is None or event.status != "published":
        return "not_found"
    return "done" if await mark_attended(session, reg, now) else "already"


async def attendees(session: AsyncSession, event_id: int) -> list[int]:
    """The user ids who attended the event (checked in). Entry point for the satisfaction survey."""
    return list(await session.scalars(
        select(EventRegistration.user_id).where(EventRegistration.event_id == event_id,
                                                EventRegistration.attended_at.is_not(None))
        .order_by(EventRegistration.user_id)))


# --- reminders (outbox rows found again by their dedupe keys) --------------------------------------


REMINDER_KIND = "event.reminder"


def reminder_key(event_id: int, user_id: int, which: str, starts_at: dt.datetime) -> str:
    """One reminder of one start: an event moved after a reminder went out is reminded of again
    (with the event and the person alone, the new reminder's key was the sent one's)."""
    return f"event:{event_id}:{user_id}:{which}:{starts_at.astimezone(dt.UTC):%Y%m%d%H%M}"


def announce_key(event_id: int, user_id: int) -> str:
    return f"event:{event_id}:announce:{user_id}"


async def withdraw_reminders(session: AsyncSession, event_id: int, user_ids: Sequence[int]) -> int:
    """Withdraws the people's pending reminders for the event (a cancellation or a new time),
    whatever start they were for."""
    if not user_ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.user_id.in_(list(user_ids)), OutboxMessage.status == "pending",
               OutboxMessage.kind == REMINDER_KIND,
               OutboxMessage.dedupe_key.startswith(f"event:{event_id}:", autoescape=True))
        .values(status="cancelled", last_error="event registration cancelled or moved"))
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_withdrawn_reminders(session: AsyncSession, event: Event, user_id: int) -> None:
    """Drops withdrawn reminder rows so that a returning person gets fresh ones (dedupe keys are unique)."""
    keys = [reminder_key(event.id, user_id, which, event.starts_at) for which in REMINDERS]
    await session.execute(delete(OutboxMessage).where(OutboxMessage.dedupe_key.in_(keys),
                                                      OutboxMessage.status == "cancelled"))
