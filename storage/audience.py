"""Audience segments, shared by event visibility, event announcements and broadcasts.

A segment is a short string stored with the event or broadcast:
  everyone                 every person who has talked to the bot
  seekers                  registered job seekers (구직등록)
  members                  approved startup-centre members (공동회원)
  stage:<stage>            members at preparation | maturation | execution
  campus:<name>            seekers whose school name contains <name> (캠퍼스점 audiences)
  recent:<days>            seekers registered in the last <days> days
  district:<code>          seekers who prefer that district (or anywhere in Seoul)
  track:<youth|middle>     seekers of that track
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.memberships import STAGES
from storage.models import Identity, Membership, SeekerProfile, User

KINDS = ("everyone", "seekers", "members", "stage", "campus", "recent", "district", "track")


class SegmentError(ValueError):
    """A segment string that does not parse."""


@dataclass(frozen=True)
class Segment:
    kind: str
    value: str = ""

    @classmethod
    def parse(cls, spec: str) -> Segment:
        kind, _, value = spec.partition(":")
        if kind not in KINDS:
            raise SegmentError(f"unknown segment {spec!r}")
        needs_value = kind in ("stage", "campus", "recent", "district", "track")
        if needs_value != bool(value):
            raise SegmentError(f"segment {spec!r}: value {'missing' if needs_value else 'not allowed'}")
        if kind == "stage" and value not in STAGES:
            raise SegmentError(f"unknown stage {value!r}")
        if kind == "track" and value not in ("youth", "middle"):
            raise SegmentError(f"unknown track {value!r}")
        if kind == "recent" and not (value.isdigit() and 1 <= int(value) <= 3650):
            raise SegmentError("recent:<days> needs 1 to 3650 days")
        return cls(kind, value)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind


@dataclass(frozen=True)
class Recipient:
    user_id: int
    channel: str
    chat_id: str
    locale: str


def _users(segment: Segment, now: dt.datetime) -> Select[int]:
    """The user ids in the segment, as a query (district is refined in Python)."""
    if segment.kind == "everyone":
        return select(User.id)
    if segment.kind in ("members", "stage"):
        query = select(Membership.user_id).where(Membership.status == "approved")
        if segment.kind == "stage":
            query = query.where(Membership.member_stage == segment.value)
        return query
    query = select(SeekerProfile.user_id)
    if segment.kind == "campus":
        query = query.where(SeekerProfile.school_name.contains(segment.value))
    elif segment.kind == "recent":
        query = query.where(SeekerProfile.registered_at >= now - dt.timedelta(days=int(segment.value)))
    elif segment.kind == "track":
        query = query.where(SeekerProfile.track == segment.value)
    return query


async def member_ids(session: AsyncSession, spec: str, now: dt.datetime) -> set[int]:
    segment = Segment.parse(spec)
    if segment.kind == "district":
        rows = await session.execute(select(SeekerProfile.user_id, SeekerProfile.districts))
        return {uid for uid, districts in rows.all() if not districts or segment.value in districts}
    return set(await session.scalars(_users(segment, now)))


async def includes(session: AsyncSession, spec: str, user_id: int, now: dt.datetime) -> bool:
    """Whether one person is in the segment (event visibility)."""
    segment = Segment.parse(spec)
    if segment.kind == "everyone":
        return True
    if segment.kind == "district":
        return user_id in await member_ids(session, spec, now)
    query = _users(segment, now)
    column = query.selected_columns[0]
    return (await session.scalar(query.where(column == user_id).limit(1))) is not None


async def recipients(session: AsyncSession, spec: str, now: dt.datetime, *,
                     announcements: bool = True) -> list[Recipient]:
    """Where to send: each person's newest identity that has not blocked the bot.

    `announcements=True` leaves out people who opted out in /settings (broadcasts, event
    announcements); reminders for one's own registrations pass False.
    """
    ids = await member_ids(session, spec, now)
    if not ids:
        return []
    query = (select(Identity.user_id, Identity.channel, Identity.chat_id, User.locale, Identity.id)
             .join(User, User.id == Identity.user_id)
             .where(Identity.blocked_at.is_(None)))
    if announcements:
        query = query.where(User.announcements_opt_out.is_(False))
    newest: dict[int, tuple[int, Recipient]] = {}
    for uid, channel, chat_id, locale, identity_id in (await session.execute(query)).all():
        if uid in ids and (uid not in newest or identity_id > newest[uid][0]):
            newest[uid] = (identity_id, Recipient(uid, channel, chat_id, locale))
    return [r for _, r in sorted(newest.values(), key=lambda pair: pair[1].user_id)]
