"""Counselors, their invitations, places, weekly availability and days off."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Availability, Counselor, Identity, Invite, Place, TimeOff, User

PLACE_KINDS = ("centre", "campus", "high_school", "online")
# The consultation types a counselor may give (names in the catalogs as `type.<key>`).
CONSULTATION_TYPES = ("job_counselling", "document_clinic", "mentoring", "startup_consulting", "bm_coaching")
# The centre's own place, created with this name the first time someone works there.
CENTRE_NAME = "서울일자리플러스센터"


class InviteError(Exception):
    """The invitation cannot be used; `reason` is 'unknown', 'used' or 'expired'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def create_invite(session: AsyncSession, role: str, created_by: int | None, now: dt.datetime,
                        ttl: dt.timedelta) -> Invite:
    invite = Invite(token=secrets.token_urlsafe(18), role=role, created_by=created_by, created_at=now,
                    expires_at=now + ttl)
    session.add(invite)
    await session.flush()
    return invite


async def redeem_invite(session: AsyncSession, token: str, user_id: int, now: dt.datetime) -> Invite:
    """Marks the invitation used by `user_id`; a second use or an expired link raises InviteError."""
    invite = await check_invite(session, token, now, for_update=True)
    invite.used_at, invite.used_by = now, user_id
    return invite


async def by_user(session: AsyncSession, user_id: int) -> Counselor | None:
    return (await session.scalars(select(Counselor).where(Counselor.user_id == user_id))).first()


async def get(session: AsyncSession, counselor_id: int) -> Counselor | None:
    return await session.get(Counselor, counselor_id)


async def create(session: AsyncSession, user_id: int, display_name: str, types: Sequence[str],
                 now: dt.datetime) -> Counselor:
    counselor = await by_user(session, user_id)
    if counselor is None:
        counselor = Counselor(user_id=user_id, display_name=display_name, types=list(types), active=True,
                              created_at=now)
        session.add(counselor)
    else:
        counselor.display_name, counselor.types, counselor.active = display_name, list(types), True
        counselor.deactivated_at = None
    await session.flush()
    return counselor


async def active(session: AsyncSession, type_: str | None = None) -> list[Counselor]:
    rows = list(await session.scalars(select(Counselor).where(Counselor.active.is_(True)).order_by(Counselor.id)))
    return [c for c in rows if type_ is None or type_ in c.types]


async def all_counselors(session: AsyncSession) -> list[Counselor]:
    return list(await session.scalars(select(Counselor).order_by(Counselor.active.desc(), Counselor.id)))


async def place(session: AsyncSession, kind: str, name: str, *, address: str | None = None,
                video_link: str | None = None) -> Place:
    """The place of that kind and name, created on first use."""
    if kind not in PLACE_KINDS:
        raise ValueError(f"unknown place kind {kind!r}")
    found = (await session.scalars(select(Place).where(Place.kind == kind, Place.name == name))).first()
    if found is None:
        found = Place(kind=kind, name=name, address=address, video_link=video_link)
        session.add(found)
        await session.flush()
    else:
        found.address = address or found.address
        found.video_link = video_link or found.video_link
    return found


async def places_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Place]:
    if not ids:
        return {}
    return {p.id: p for p in await session.scalars(select(Place).where(Place.id.in_(set(ids))))}


async def windows(session: AsyncSession, counselor_ids: Sequence[int] | None = None) -> list[Availability]:
    query = select(Availability).order_by(Availability.weekday, Availability.start_minute)
    if counselor_ids is not None:
        query = query.where(Availability.counselor_id.in_(list(counselor_ids)))
    return list(await session.scalars(query))


class OverlapError(Exception):
    """A new window overlaps an existing one of the same counselor on that weekday."""


async def add_window(session: AsyncSession, counselor_id: int, place_id: int, weekday: int, start_minute: int,
                     end_minute: int) -> Availability:
    """Adds a weekly window; inverted or overlapping hours are refused (ValueError / OverlapError)."""
    if not 0 <= weekday <= 6:
        raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
    if not 0 <= start_minute < end_minute <= 24 * 60:
        raise ValueError("the window must start before it ends, within one day")
    if start_minute % 10 or end_minute % 10:
        raise ValueError("windows start and end on a 10-minute mark")
    for other in await windows(session, [counselor_id]):
        if other.weekday == weekday and other.start_minute < end_minute and start_minute < other.end_minute:
            raise OverlapError(f"overlaps window {other.id}")
    window = Availability(counselor_id=counselor_id, place_id=place_id, weekday=weekday, start_minute=start_minute,
                          end_minute=end_minute)
    session.add(window)
    await session.flush()
    return window


async def remove_window(session: AsyncSession, counselor_id: int, window_id: int) -> bool:
    result = await session.execute(
        delete(Availability).where(Availability.id == window_id, Availability.counselor_id == counselor_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def days_off(session: AsyncSession, counselor_ids: Sequence[int], first: dt.date,
                   last: dt.date) -> set[tuple[int, dt.date]]:
    rows = await session.scalars(select(TimeOff).where(TimeOff.counselor_id.in_(list(counselor_ids)),
                                                       TimeOff.day >= first, TimeOff.day <= last))
    return {(r.counselor_id, r.day) for r in rows}


async def add_day_off(session: AsyncSession, counselor_id: int, day: dt.date, note: str | None = None) -> None:
    exists = (await session.scalars(select(TimeOff).where(TimeOff.counselor_id == counselor_id,
                                                          TimeOff.day == day))).first()
    if exists is None:
        session.add(TimeOff(counselor_id=counselor_id, day=day, note=note))
        await session.flush()


# --- additions for the counselors' own side (handlers.counselor, bot.cli.counselors) ------------


async def check_invite(session: AsyncSession, token: str, now: dt.datetime, *, for_update: bool = False) -> Invite:
    """The invitation if it could still be redeemed, without using it (InviteError otherwise).

    Opening the link only checks it; the invitation is used at the end of the onboarding,
    so someone who stops half-way can open the same link again.
    """
    query = select(Invite).where(Invite.token == token)
    invite = (await session.scalars(query.with_for_update() if for_update else query)).first()
    if invite is None:
        raise InviteError("unknown")
    if invite.used_at is not None:
        raise InviteError("used")
    if invite.expires_at <= now:
        raise InviteError("expired")
    return invite


async def get_for_update(session: AsyncSession, counselor_id: int) -> Counselor | None:
    """The counselor row locked until the transaction ends (deactivation vs. new bookings)."""
    return (await session.scalars(select(Counselor).where(Counselor.id == counselor_id).with_for_update())).first()


async def deactivate(session: AsyncSession, counselor: Counselor, now: dt.datetime) -> None:
    """No new bookings from now on; the caller cancels the future sessions."""
    counselor.active = False
    counselor.deactivated_at = now
    user = await session.get(User, counselor.user_id)
    if user is not None and user.role == "counselor":
        user.role = "user"
    await session.flush()


async def centre_place(session: AsyncSession) -> Place:
    """The centre's place: the one already stored, or CENTRE_NAME created on first use."""
    found = (await session.scalars(select(Place).where(Place.kind == "centre").order_by(Place.id).limit(1))).first()
    return found if found is not None else await place(session, "centre", CENTRE_NAME)


async def places_of_kind(session: AsyncSession, kind: str) -> list[Place]:
    return list(await session.scalars(select(Place).where(Place.kind == kind).order_by(Place.name)))


def video_link_ok(url: str) -> bool:
    """An online place needs a link people can open: http(s), a host with a dot, no spaces."""
    if not url or len(url) > 200 or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and "." in host and not host.startswith(".")


async def time_off_from(session: AsyncSession, counselor_id: int, first: dt.date) -> list[TimeOff]:
    return list(await session.scalars(select(TimeOff).where(TimeOff.counselor_id == counselor_id,
                                                            TimeOff.day >= first).order_by(TimeOff.day)))


async def remove_day_off(session: AsyncSession, counselor_id: int, time_off_id: int) -> dt.date | None:
    """Removes one of the counselor's own days off; None when it is not theirs or already gone."""
    row = (await session.scalars(select(TimeOff).where(TimeOff.id == time_off_id,
                                                       TimeOff.counselor_id == counselor_id))).first()
    if row is None:
        return None
    day = row.day
    await session.delete(row)
    await session.flush()
    return day


async def telegram_user(session: AsyncSession, telegram_id: str) -> User | None:
    """The user behind a Telegram id, without touching `last_seen_at` (bulk import is not a visit)."""
    return (await session.scalars(
        select(User).join(Identity, Identity.user_id == User.id)
        .where(Identity.channel == "telegram", Identity.external_id == telegram_id))).first()


async def active_chats(session: AsyncSession, channel: str) -> list[str]:
    """The chats on `channel` of everyone who is an active counselor (their command lists differ)."""
    return list(await session.scalars(
        select(Identity.chat_id).join(Counselor, Counselor.user_id == Identity.user_id)
        .where(Counselor.active.is_(True), Identity.channel == channel)))


async def chats_of(session: AsyncSession, user_id: int, channel: str) -> list[tuple[str, str]]:
    """(external id, chat id) of one person on `channel`."""
    return [(e, c) for e, c in (await session.execute(
        select(Identity.external_id, Identity.chat_id).where(Identity.user_id == user_id,
                                                              Identity.channel == channel))).all()]
