"""Joining one person's identities on two messengers (`/link`): codes and the merge.

The merge moves every row that belongs to the code's issuer to the person who typed the
code, then deletes the issuer's now empty `users` row. The tables are found from the
schema (every foreign key to `users.id`), so tables added later are merged too. Where
both sides hold a row the database allows only once (two job-seeker registrations, two
live memberships, both registered for the same event, two counselor records) the merge
is refused as a whole and names what clashes: which of the two to keep is the person's
decision, not ours, and they can delete or cancel one side first.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import advisory_xact_lock
from storage.models import (
    Base,
    EventRegistration,
    Identity,
    LinkAttempt,
    LinkCode,
    OutboxSubject,
    ServedFileSubject,
    User,
)

CODE_TTL = dt.timedelta(minutes=10)
# Wrong codes one person may type per window: a 6-digit code cannot be guessed in so few tries.
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(hours=1)
ROLE_RANK = {"user": 0, "counselor": 1, "admin": 2}


async def issue(session: AsyncSession, user_id: int, channel: str, now: dt.datetime) -> LinkCode:
    """A fresh code for this person (an older one of theirs is replaced)."""
    await session.execute(delete(LinkCode).where(LinkCode.expires_at <= now))
    await session.execute(delete(LinkCode).where(LinkCode.user_id == user_id))
    while True:
        code = f"{secrets.randbelow(1_000_000):06d}"
        if await session.scalar(select(LinkCode.id).where(LinkCode.code == code)) is None:
            break
    row = LinkCode(code=code, user_id=user_id, channel=channel, created_at=now, expires_at=now + CODE_TTL)
    session.add(row)
    await session.flush()
    return row


async def locked_out(session: AsyncSession, user_id: int, now: dt.datetime) -> bool:
    attempt = await session.get(LinkAttempt, user_id)
    return attempt is not None and attempt.window_start > now - FAILURE_WINDOW and attempt.failures >= MAX_FAILURES


async def record_failure(session: AsyncSession, user_id: int, now: dt.datetime) -> int:
    """Count a wrong code; returns the tries left in this window."""
    attempt = await session.get(LinkAttempt, user_id)
    if attempt is None:
        attempt = LinkAttempt(user_id=user_id, failures=0, window_start=now)
        session.add(attempt)
    elif attempt.window_start <= now - FAILURE_WINDOW:
        attempt.failures, attempt.window_start = 0, now
    attempt.failures += 1
    await session.flush()
    return max(0, MAX_FAILURES - attempt.failures)


async def find(session: AsyncSession, code: str, now: dt.datetime) -> LinkCode | None:
    return (await session.scalars(select(LinkCode).where(LinkCode.code == code, LinkCode.expires_at > now))).first()


@dataclass(frozen=True)
class Merged:
    moved: dict[str, int]


@dataclass(frozen=True)
class Conflict:
    table: str


def _user_columns() -> list[tuple[str, str]]:
    """(table, column) of every foreign key to users.id, in a stable order."""
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name == "users":
            continue
        for column in table.columns:
            if any(fk.column.table.name == "users" and fk.column.name == "id" for fk in column.foreign_keys):
                found.append((table.name, column.name))
    return found


async def merge(session: AsyncSession, source_id: int, target: User, now: dt.datetime) -> Merged | Conflict:
    """Move everything of `source_id` to `target` and delete the source, or change nothing."""
    for channel, external_id in (await session.execute(
            select(Identity.channel, Identity.external_id).where(Identity.user_id == source_id))).all():
        # The issuer may be in the middle of a turn on the other messenger: let it finish first.
        await advisory_xact_lock(session, "conv", channel, external_id)
    source = await session.get(User, source_id)
    if source is None:
        return Conflict("users")
    # Rows that only mattered to one side: the used code, wrong-code counters, and cancelled event
    # registrations the other side also has (a cancelled row is history, not a registration).
    await session.execute(delete(LinkCode).where(LinkCode.user_id.in_((source_id, target.id))))
    await session.execute(delete(LinkAttempt).where(LinkAttempt.user_id == source_id))
    other = EventRegistration.__table__.alias("other")
    for loser, keeper in ((source_id, target.id), (target.id, source_id)):
        await session.execute(delete(EventRegistration).where(
            EventRegistration.user_id == loser, EventRegistration.status == "cancelled",
            exists().where(and_(other.c.event_id == EventRegistration.event_id, other.c.user_id == keeper))))
    # A message or file about both sides (one agenda listing both) is about the one person once.
    for subject, held in ((OutboxSubject, OutboxSubject.outbox_id), (ServedFileSubject, ServedFileSubject.file_id)):
        also = subject.__table__.alias("also")
        await session.execute(delete(subject).where(subject.user_id == source_id, exists().where(
            and_(also.c[held.key] == held, also.c.user_id == target.id))))
    moved: dict[str, int] = {}
    outer = await session.begin_nested()
    for table_name, column in _user_columns():
        table = Base.metadata.tables[table_name]
        inner = await session.begin_nested()
        try:
            result = await session.execute(
                update(table).where(table.c[column] == source_id).values({column: target.id}))
        except IntegrityError:
            await inner.rollback()
            await outer.rollback()
            return Conflict(table_name)
        await inner.commit()
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            moved[table_name] = moved.get(table_name, 0) + count
    await outer.commit()
    if ROLE_RANK.get(source.role, 0) > ROLE_RANK.get(target.role, 0):
        target.role = source.role
    target.created_at = min(target.created_at, source.created_at)
    # Either side having said "no announcements" stays said.
    target.announcements_opt_out = target.announcements_opt_out or source.announcements_opt_out
    await session.execute(delete(User).where(User.id == source_id))
    session.expunge(source)
    return Merged(moved)
