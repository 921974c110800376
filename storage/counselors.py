"""Counselors, their invitations, places, weekly availability and days off."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Availability, Counselor, Invite, Place, TimeOff

PLACE_KINDS = ("centre", "campus", "high_school", "online")


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
    invite = (await session.scalars(select(Invite).where(Invite.token == token).with_for_update())).first()
    if invite is None:
        raise InviteError("unknown")
    if invite.used_at is not None:
        raise InviteError("used")
    if invite.expires_at <= now:
        raise InviteError("expired")
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
