"""The counselors' agenda: what is loaded, how it reads, and the daily morning message.

`/agenda` (in `handlers.counselor`) and the daily job both show sessions with the
same lines, so the loading and the wording live here, below the handlers, where the
scheduler can use them without importing a conversation module.

The daily job (`send_daily_agenda`, run by the scheduler at AGENDA_TIME, default 08:30):
1. Does nothing on Saturdays and Sundays (working days are Monday to Friday; public
   holidays are not known to the bot, a counselor with a day off simply has no sessions).
2. For every active counselor who has a session today, or who works today (a weekly
   window on this weekday and no day off), queues one message in the counselor's
   language: today's sessions with time, type, place, person, no-shows and note — or
   "오늘은 예약이 없어요" for a working day with nothing booked, so a quiet day is news
   too. A counselor who neither works nor has sessions today gets nothing.
3. The dedupe key `agenda:<counselor id>:<date>` makes a second run the same day (a
   restart, a catch-up run, a second worker) queue nothing new.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.config import Settings
from kernel.core import Button, Clock, Reply, payload
from kernel.i18n import Translator, day_label, place_name, translator
from storage import bookings, counselors, outbox, users
from storage.models import Place, User
from storage.slots import local_dt

log = logging.getLogger(__name__)

WORKING_DAYS = range(5)  # Monday to Friday
SHOWN = ("booked", "attended", "no_show")


@dataclass(frozen=True)
class AgendaItem:
    """One session as a counselor sees it."""

    booking_id: int
    user_id: int
    type: str
    status: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: Place
    person: str | None
    no_shows: int
    note: str | None
    created_at: dt.datetime  # what a button stamps, to prove it names this very booking


def day_bounds(day: dt.date, tz: dt.tzinfo, days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight of `day`, local midnight `days` later) in UTC."""
    return (local_dt(day, 0, tz).astimezone(dt.UTC),
            local_dt(day + dt.timedelta(days=days), 0, tz).astimezone(dt.UTC))


async def load(session: AsyncSession, counselor_id: int, start: dt.datetime, end: dt.datetime,
               statuses: tuple[str, ...] = SHOWN) -> list[AgendaItem]:
    """The counselor's sessions starting in [start, end), with the people's names and no-shows."""
    rows = await bookings.for_counselors(session, [counselor_id], start, end, statuses)
    if not rows:
        return []
    places = await counselors.places_by_id(session, [b.place_id for b in rows])
    people = [b.user_id for b in rows]
    names = await bookings.person_names(session, people)
    missed = await bookings.no_show_counts(session, people)
    return [AgendaItem(b.id, b.user_id, b.type, b.status, b.starts_at, b.ends_at, places[b.place_id],
                       names.get(b.user_id), missed.get(b.user_id, 0), b.note, b.created_at) for b in rows]


def date_text(t: Translator, day: dt.date) -> str:
    return day_label(t, day)


def place_text(t: Translator, place: Place) -> str:
    """Online sessions read as "화상 상담" with the link; other places by their name."""
    if place.kind == "online":
        return t("place_kind.online") + (f" ({place.video_link})" if place.video_link else "")
    return place_name(t, place.name)


def person_text(t: Translator, item: AgendaItem) -> str:
    name = item.person or t("agenda.no_name")
    return name + (t("agenda.no_shows", n=item.no_shows) if item.no_shows else "")


def span_text(item: AgendaItem, tz: dt.tzinfo) -> str:
    return f"{item.starts_at.astimezone(tz):%H:%M}–{item.ends_at.astimezone(tz):%H:%M}"


def item_text(t: Translator, item: AgendaItem, tz: dt.tzinfo, *, with_date: bool = False) -> str:
    """Two or three lines: when, what and where; who (with no-shows); the person's note."""
    when = span_text(item, tz)
    if with_date:
        when = f"{date_text(t, item.starts_at.astimezone(tz).date())} {when}"
    status = f" {t(f'agenda.status.{item.status}')}" if item.status != "booked" else ""
    lines = [t("agenda.item", when=when, type=t(f"type.{item.type}"), place=place_text(t, item.place)) + status,
             "   " + person_text(t, item)]
    if item.note:
        lines.append("   " + t("agenda.note", note=item.note))
    return "\n".join(lines)


def daily_reply(t: Translator, name: str, day: dt.date, items: list[AgendaItem], tz: dt.tzinfo) -> Reply:
    head = t("agenda.daily", name=name, date=date_text(t, day), n=len(items))
    body = "\n\n".join(item_text(t, item, tz) for item in items) if items else t("agenda.none_today")
    return Reply(f"{head}\n\n{body}", [[Button(t("agenda.open"), payload("m", "agenda"))]])


async def send_daily_agenda(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Queues today's agenda for each counselor who works or has sessions today; returns how many."""
    now = clock.now()
    tz = settings.tz
    today = now.astimezone(tz).date()
    if today.weekday() not in WORKING_DAYS:
        return 0
    start, end = day_bounds(today, tz)
    queued = 0
    async with sessions() as session, session.begin():
        staff = await counselors.active(session)
        ids = [c.id for c in staff]
        working = {w.counselor_id for w in await counselors.windows(session, ids) if w.weekday == today.weekday()}
        off = {cid for cid, _day in await counselors.days_off(session, ids, today, today)}
        for counselor in staff:
            items = await load(session, counselor.id, start, end, ("booked",))
            if not items and (counselor.id not in working or counselor.id in off):
                continue
            user = await session.get(User, counselor.user_id)
            identity = await users.reachable_identity(session, counselor.user_id)
            if user is None or identity is None:
                continue
            reply = daily_reply(translator(user.locale), counselor.display_name, today, items, tz)
            if await outbox.enqueue(session, channel=identity.channel, chat_id=identity.chat_id, user_id=user.id,
                                    kind="counselor.agenda", payload=reply.to_payload(), now=now,
                                    dedupe_key=f"agenda:{counselor.id}:{today.isoformat()}",
                                    about=[item.user_id for item in items]):
                queued += 1
    log.info("daily agenda queued=%s day=%s", queued, today.isoformat())
    return queued
