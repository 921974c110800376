"""Kept per Kakao user: what an answer could not carry at once (`KakaoPage`: "더보기" pages,
messages for the next answer, an answer announced late), and the Event API calls whose result is
still to be read (`KakaoTask`, see `bot.channels.kakao_tasks`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation, Identity, KakaoPage, KakaoTask

MORE, LATE, OWED = "more", "late", "owed"
# Messages kept for a person who does not write for a long time: the newest ones.
MAX_LATE = 20


async def save_more(session: AsyncSession, user_key: str, token: str, pages: list[dict[str, Any]],
                    now: dt.datetime) -> None:
    row = await session.get(KakaoPage, (user_key, MORE))
    if row is None:
        session.add(KakaoPage(user_key=user_key, kind=MORE, token=token, pages=pages, created_at=now))
    else:
        row.token, row.pages, row.created_at = token, pages, now


async def next_page(session: AsyncSession, user_key: str, token: str | None) -> dict[str, Any] | None:
    """The next stored page for a "더보기" press (any token when None); None when stale."""
    row = (await session.scalars(select(KakaoPage).where(KakaoPage.user_key == user_key, KakaoPage.kind == MORE)
                                 .with_for_update())).first()
    if row is None or not row.pages or (token is not None and row.token != token):
        return None
    first, *rest = row.pages
    if rest:
        row.pages = rest
    else:
        await session.delete(row)
    return dict(first)


async def add_late(session: AsyncSession, user_key: str, template: dict[str, Any], now: dt.datetime) -> None:
    """Keep an answer or a message to show before the person's next answer."""
    row = (await session.scalars(select(KakaoPage).where(KakaoPage.user_key == user_key, KakaoPage.kind == LATE)
                                 .with_for_update())).first()
    if row is None:
        session.add(KakaoPage(user_key=user_key, kind=LATE, token="", pages=[template], created_at=now))
    else:
        row.pages = [*row.pages, template][-MAX_LATE:]


async def take_late(session: AsyncSession, user_key: str) -> list[dict[str, Any]]:
    """What is waiting for this person, in order, and forget it (one statement: runs on every answer)."""
    pages = await session.scalar(delete(KakaoPage).where(KakaoPage.user_key == user_key, KakaoPage.kind == LATE)
                                 .returning(KakaoPage.pages))
    return list(pages or [])


async def keep_owed(session: AsyncSession, user_key: str, entry: dict[str, Any], now: dt.datetime) -> None:
    """Keep an answer the person was told to fetch with their next message (`take_owed`); the
    channel's `entry` says what and since when."""
    row = (await session.scalars(select(KakaoPage).where(KakaoPage.user_key == user_key, KakaoPage.kind == OWED)
                                 .with_for_update())).first()
    if row is None:
        session.add(KakaoPage(user_key=user_key, kind=OWED, token="", pages=[entry], created_at=now))
    else:
        row.pages = [*row.pages, entry]


async def take_owed(session: AsyncSession, user_key: str) -> list[dict[str, Any]]:
    """The entries kept for this person, in order, and forget them (one statement: runs on every turn)."""
    pages = await session.scalar(delete(KakaoPage).where(KakaoPage.user_key == user_key, KakaoPage.kind == OWED)
                                 .returning(KakaoPage.pages))
    return list(pages or [])


async def purge(session: AsyncSession, older_than: dt.datetime) -> int:
    """Forget pages nobody came back for (they may quote what the person told us)."""
    result = await session.execute(delete(KakaoPage).where(KakaoPage.created_at < older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- Event API tasks ---------------------------------------------------------------------------

_tasks: Table = KakaoTask.__table__  # type: ignore[assignment]


async def remember_task(session: AsyncSession, *, task_id: str, user_key: str, outbox_id: int | None,
                        now: dt.datetime, check_at: dt.datetime) -> None:
    session.add(KakaoTask(task_id=task_id, user_key=user_key, outbox_id=outbox_id, created_at=now,
                          next_check_at=check_at, attempts=0))


class Task(NamedTuple):
    """A claimed task: what the check needs (plain columns)."""

    id: int
    task_id: str
    user_key: str
    outbox_id: int | None
    created_at: dt.datetime
    attempts: int


async def claim_tasks(session: AsyncSession, now: dt.datetime, limit: int, until: dt.datetime) -> list[Task]:
    """The oldest unchecked tasks due by `now`, claimed until `until` (`next_check_at` moves
    there, `attempts` goes up by one), so another worker's check leaves them alone.

    On PostgreSQL the rows are read `FOR UPDATE SKIP LOCKED` and the update is conditional
    on the row still being due, so two workers racing never claim one task both."""
    c = _tasks.c
    ids = list(await session.scalars(
        select(c.id).where(c.checked_at.is_(None), c.next_check_at <= now)
        .order_by(c.next_check_at, c.id).limit(limit).with_for_update(skip_locked=True)))
    if not ids:
        return []
    result = await session.execute(
        update(_tasks).where(c.id.in_(ids), c.checked_at.is_(None), c.next_check_at <= now)
        .values(next_check_at=until, attempts=c.attempts + 1)
        .returning(c.id, c.task_id, c.user_key, c.outbox_id, c.created_at, c.attempts))
    return sorted((Task(*row) for row in result), key=lambda task: task.id)


async def expire_tasks(session: AsyncSession, created_before: dt.datetime, now: dt.datetime, *,
                       asked: bool = True) -> int:
    """Give up on due tasks still without a final answer since before `created_before` (with
    `asked`, only those asked about at least once); returns how many."""
    c = _tasks.c
    query = update(_tasks).where(c.checked_at.is_(None), c.created_at < created_before, c.next_check_at <= now)
    if asked:
        query = query.where(c.attempts > 0)
    result = await session.execute(query.values(checked_at=now, outcome="expired"))
    return int(getattr(result, "rowcount", 0) or 0)


async def finish_tasks(session: AsyncSession, outcomes: Sequence[tuple[int, str]], now: dt.datetime) -> None:
    """Record final answers, (task row id, delivered | failed), one executemany."""
    if outcomes:
        await session.execute(
            update(_tasks).where(_tasks.c.id == bindparam("b_id"), _tasks.c.checked_at.is_(None))
            .values(checked_at=now, outcome=bindparam("b_outcome")),
            [{"b_id": row_id, "b_outcome": outcome} for row_id, outcome in outcomes])


async def retry_tasks(session: AsyncSession, later: Sequence[tuple[int, dt.datetime]]) -> None:
    """Ask again about these (task row id, when): not final yet, or the answer could not be had."""
    if later:
        await session.execute(
            update(_tasks).where(_tasks.c.id == bindparam("b_id"), _tasks.c.checked_at.is_(None))
            .values(next_check_at=bindparam("b_at")),
            [{"b_id": row_id, "b_at": at} for row_id, at in later])


async def to_mark_blocked(session: AsyncSession, sent: Sequence[tuple[str, dt.datetime]]) -> list[str]:
    """Of these (user key, when a message to it was accepted that did not arrive), the keys to
    mark blocked: not marked yet, and their person has not written since (writing again makes
    one reachable, `storage.users.seen`). When they last wrote is their conversation's time,
    kept exactly on every turn (`users.last_seen_at` is recorded only to the hour)."""
    if not sent:
        return []
    rows = await session.execute(
        select(Identity.chat_id, Conversation.updated_at)
        .outerjoin(Conversation, (Conversation.channel == Identity.channel)
                   & (Conversation.external_id == Identity.external_id))
        .where(Identity.channel == "kakao", Identity.chat_id.in_({key for key, _ in sent}),
               Identity.blocked_at.is_(None)))
    wrote = {key: at for key, at in rows.all()}
    return sorted({key for key, at in sent if key in wrote and (wrote[key] is None or wrote[key] <= at)})


async def purge_tasks(session: AsyncSession, before: dt.datetime) -> int:
    """Delete checked tasks (they name a Kakao user) accepted before `before`."""
    result = await session.execute(
        delete(KakaoTask).where(KakaoTask.checked_at.is_not(None), KakaoTask.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
