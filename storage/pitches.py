"""Demo-day pitch applications (데모데이 발표 신청): applying, deciding, telling, exporting.

One application per person and event is a database rule (unique (event_id, user_id));
`apply` turns the lost race into `AlreadyApplied`. An application's life:
  applied      waiting for the admins
  shortlisted  후보: still to be decided
  selected     발표팀: presents at the demo day (final)
  rejected     미선정 (final)
Final decisions are never changed; a press on a decided application is answered
"already decided" by the caller after `get_for_update`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit
from storage.models import Event, OutboxMessage, PitchApplication, SeekerProfile

KIND = "demo_day"
STATUSES = ("applied", "shortlisted", "selected", "rejected")
FINAL = ("selected", "rejected")
# What each decision may follow: shortlisting only a fresh application, the final ones either.
ALLOWED_FROM = {"shortlisted": ("applied",), "selected": ("applied", "shortlisted"),
                "rejected": ("applied", "shortlisted")}


class AlreadyApplied(Exception):
    """The person already has an application for this demo day."""


@dataclass(frozen=True)
class Presenter:
    """One row of the presenter list handed to investors (no phone numbers)."""

    team: str
    pitch: str
    stage: str
    deck_link: str
    funding_sought: int
    contact_name: str | None
    user_id: int  # the applicant: erasing them takes an export of the list along


def is_open(event: Event, now: dt.datetime) -> bool:
    """A demo day that takes pitch applications: published and before its deadline."""
    return event.kind == KIND and event.status == "published" and event.registration_deadline > now


async def open_demo_days(session: AsyncSession, now: dt.datetime) -> list[Event]:
    """Published demo days whose application deadline is still ahead, soonest first."""
    query = select(Event).where(Event.kind == KIND, Event.status == "published",
                                Event.registration_deadline > now)
    return list(await session.scalars(query.order_by(Event.starts_at, Event.id)))


async def demo_days_for_admin(session: AsyncSession, since: dt.datetime, limit: int = 20) -> list[tuple[Event, int]]:
    """Demo days (not drafts) that end after `since`, with their number of applications."""
    count = (select(func.count()).select_from(PitchApplication)
             .where(PitchApplication.event_id == Event.id).scalar_subquery())
    query = (select(Event, count).where(Event.kind == KIND, Event.status != "draft", Event.ends_at > since)
             .order_by(Event.starts_at, Event.id).limit(limit))
    return [(event, int(n or 0)) for event, n in (await session.execute(query)).all()]


async def of_user(session: AsyncSession, user_id: int, event_ids: Sequence[int]) -> dict[int, PitchApplication]:
    """The person's applications for these events, by event id."""
    if not event_ids:
        return {}
    rows = await session.scalars(select(PitchApplication).where(
        PitchApplication.user_id == user_id, PitchApplication.event_id.in_(list(event_ids))))
    return {row.event_id: row for row in rows}


async def apply(session: AsyncSession, event_id: int, user_id: int, values: dict[str, Any],
                now: dt.datetime) -> PitchApplication:
    """Stores the application; `AlreadyApplied` when the person applied for this event before.

    No deck link yet is kept as "" (the column stays NOT NULL: exports and old rows read the same)."""
    row = PitchApplication(
        event_id=event_id, user_id=user_id, team=values["team"], pitch=values["pitch"], stage=values["stage"],
        deck_link=values.get("deck_link") or "", funding_sought=values["funding"], status="applied", created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise AlreadyApplied from None
    return row


async def get_for_update(session: AsyncSession, application_id: int) -> PitchApplication | None:
    query = select(PitchApplication).where(PitchApplication.id == application_id).with_for_update()
    return (await session.scalars(query)).first()


async def for_event(session: AsyncSession, event_id: int, limit: int, offset: int = 0) -> list[PitchApplication]:
    """Applications in the order they came in."""
    query = (select(PitchApplication).where(PitchApplication.event_id == event_id)
             .order_by(PitchApplication.created_at, PitchApplication.id).limit(limit).offset(offset))
    return list(await session.scalars(query))


async def counts(session: AsyncSession, event_id: int) -> dict[str, int]:
    """How many applications of the event are in each status (every status present, maybe 0)."""
    rows = await session.execute(select(PitchApplication.status, func.count())
                                 .where(PitchApplication.event_id == event_id).group_by(PitchApplication.status))
    found = {status: int(n) for status, n in rows.all()}
    return {status: found.get(status, 0) for status in STATUSES}


async def decided(session: AsyncSession, event_id: int) -> list[PitchApplication]:
    """Selected and rejected applications: those to be told the result."""
    query = (select(PitchApplication).where(PitchApplication.event_id == event_id,
                                            PitchApplication.status.in_(FINAL))
             .order_by(PitchApplication.id))
    return list(await session.scalars(query))


async def decide(session: AsyncSession, row: PitchApplication, status: str, *, admin_id: int,
                 now: dt.datetime) -> None:
    """Moves the application on; the caller checked `ALLOWED_FROM` on the locked row."""
    old = row.status
    row.status = status
    if status in FINAL:
        row.decided_at = now
    await audit(session, admin_id, f"pitch.{status}", f"pitch:{row.id}", now,
                {"event": row.event_id, "from": old})
    await session.flush()


async def presenters(session: AsyncSession, event_id: int) -> list[Presenter]:
    """The selected teams, with the applicant's name when they are also a registered job seeker."""
    query = (select(PitchApplication, SeekerProfile.name)
             .outerjoin(SeekerProfile, SeekerProfile.user_id == PitchApplication.user_id)
             .where(PitchApplication.event_id == event_id, PitchApplication.status == "selected")
             .order_by(PitchApplication.created_at, PitchApplication.id))
    return [Presenter(row.team, row.pitch, row.stage, row.deck_link, row.funding_sought, name, row.user_id)
            for row, name in (await session.execute(query)).all()]


def result_key(application_id: int) -> str:
    """The outbox dedupe key of the result message: each team is told once."""
    return f"pitch:{application_id}:result"


async def told(session: AsyncSession, application_id: int) -> bool:
    """Whether the team's result has been announced (its message is in the outbox)."""
    query = select(OutboxMessage.id).where(OutboxMessage.dedupe_key == result_key(application_id))
    return (await session.scalar(query.limit(1))) is not None
