"""The durable outbox: every proactive message is a row here first (DESIGN.md §3).

A row's life: `pending` → `sending` (claimed by the dispatcher, committed before the
platform is called) → `sent` | `failed` | `blocked`, or back to `pending` (retry later,
flood wait, or claimed but not handed to the platform when the run stopped).
`cancelled` rows were withdrawn before they were claimed. `held` rows are for a staff member
who cannot be reached yet (never opened the bot, or blocked it): they go back to `pending`
when that person next writes (`release_held`), rather than being lost like `blocked` ones.

While a row is `sending`, `sent_at` holds the claim time (when sending began); it is
overwritten with the acceptance time when the row becomes `sent` and cleared on every
other outcome. That is how a row abandoned in `sending` by a crash is recognised
without another column (see `fail_stale` and `scheduler.outbox`).

The dispatcher settles rows in batches (`settle`, `defer`): one statement per batch
(executemany) instead of one transaction per row, which is what lets SQLite keep up
with a thousand messages a second.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias

from sqlalchemy import Table, bindparam, delete, event, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from storage.models import Identity, KakaoTask, OutboxMessage, OutboxSubject

# Who a message names or describes (besides its recipient): one person's id, or several.
About: TypeAlias = int | Iterable[int] | None

MAX_ERROR = 200
STALE_ERROR = "unknown: process stopped while sending"
HELD_ERROR = "waiting: the recipient cannot be reached until they write to the bot"

_table: Table = OutboxMessage.__table__  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Session.info keys. QUEUED: this transaction queued a row (set by whatever inserts one, so no
# caller has to remember to say so). WAKE: what to call once such a transaction has committed
# (the dispatcher's kick, set on the app's session factory by `wake_on_commit`).
QUEUED = "outbox.queued"
WAKE = "outbox.wake"


def mark_queued(session: AsyncSession | Session) -> None:
    """This transaction queued outbox rows: its commit wakes the dispatcher (`wake_on_commit`)."""
    session.info[QUEUED] = True


def wake_on_commit(sessions: async_sessionmaker[AsyncSession], wake: Callable[[], None]) -> None:
    """Every session of `sessions` whose committed transaction queued rows calls `wake` right after
    the commit, so queued messages go out now rather than at the dispatcher's next tick, whoever
    queued them (a turn, a background job, a periodic job, the dispatcher itself)."""
    sessions.configure(info={**sessions.kw.get("info", {}), WAKE: wake})


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(QUEUED, False):
        wake = session.info.get(WAKE)
        if wake is not None:
            try:
                wake()
            except Exception:
                # The rows are committed; the dispatcher's next tick sends them anyway.
                log.exception("waking the outbox dispatcher failed")


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    # Rows queued in a transaction that rolled back are gone: nothing to wake for, and the mark
    # must not carry over to the session's next transaction.
    session.info.pop(QUEUED, None)


async def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    kind: str,
    payload: dict[str, Any],
    now: dt.datetime,
    user_id: int | None = None,
    due_at: dt.datetime | None = None,
    dedupe_key: str | None = None,
    about: About = None,
) -> bool:
    """Queue a message; False when a message with the same dedupe key already exists.

    `about`: the people the message names or describes, when that is not only its recipient
    (an alert to staff about a seeker): erasing any of them deletes it (`forget`)."""
    row = OutboxMessage(
        user_id=user_id, channel=channel, chat_id=chat_id, kind=kind, payload=payload,
        due_at=due_at or now, status="pending", attempts=0, dedupe_key=dedupe_key, created_at=now,
    )
    subjects = people(about)
    if dedupe_key is None:
        session.add(row)
    else:
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            return False
    mark_queued(session)
    if subjects:
        await session.flush()  # the row's id, for its subjects
        session.add_all(OutboxSubject(outbox_id=row.id, user_id=person) for person in subjects)
    return True


def people(about: About) -> list[int]:
    """`about` as a sorted list of distinct ids."""
    if about is None:
        return []
    return [about] if isinstance(about, int) else sorted(set(about))


async def forget(session: AsyncSession, user_ids: Sequence[int]) -> int:
    """Erasure: delete every message about these people, whoever it is for and whatever its
    status (a queued alert about someone who is gone must not go out); returns how many."""
    if not user_ids:
        return 0
    about = select(OutboxSubject.outbox_id).where(OutboxSubject.user_id.in_(list(user_ids)))
    result = await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(about)))
    return int(getattr(result, "rowcount", 0) or 0)


class Due(NamedTuple):
    """What the dispatcher needs of a due row (plain columns: no ORM object per row)."""

    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    attempts: int
    due_at: dt.datetime
    last_error: str | None


_DUE_COLUMNS = [_table.c[name] for name in Due._fields]


async def due(session: AsyncSession, now: dt.datetime, limit: int, channels: list[str]) -> list[Due]:
    """The oldest due pending rows, in due order (served by `ix_outbox_status_due`).

    On PostgreSQL the rows are locked (`FOR UPDATE SKIP LOCKED`) until the caller's
    transaction ends, so a claim made in the same transaction never waits on, nor
    takes, a row that another transaction is changing; SQLite ignores the clause (its
    `BEGIN IMMEDIATE` already serialises writers).
    """
    c = _table.c
    result = await session.execute(
        select(*_DUE_COLUMNS)
        .where(c.status == "pending", c.due_at <= now, c.channel.in_(channels))
        .order_by(c.due_at, c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Due(*row) for row in result]


async def claim(session: AsyncSession, ids: Sequence[int], now: dt.datetime) -> set[int]:
    """Move pending rows to `sending`; returns the ids actually claimed.

    Conditional on `status = 'pending'`, so a row cancelled (or claimed elsewhere)
    since it was read is left alone: a row can be claimed once, whoever races.
    """
    if not ids:
        return set()
    result = await session.execute(
        update(_table)
        .where(_table.c.id.in_(list(ids)), _table.c.status == "pending")
        .values(status="sending", sent_at=now)
        .returning(_table.c.id)
    )
    return {int(i) for i in result.scalars()}


async def defer(session: AsyncSession, rows: Sequence[tuple[int, dt.datetime]], error: str) -> None:
    """Push still-pending rows to a later due time (per-chat pacing), in one statement."""
    if not rows:
        return
    await session.execute(
        update(_table)
        .where(_table.c.id == bindparam("b_id"), _table.c.status == "pending")
        .values(due_at=bindparam("b_due"), last_error=error[:MAX_ERROR]),
        [{"b_id": row_id, "b_due": due_at} for row_id, due_at in rows],
    )


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row.

    `status` is `sent` (then `at` is the acceptance time), `pending` (then `at` is
    the new due time) or a final `failed` / `blocked`.
    """

    id: int
    status: str
    attempts: int
    at: dt.datetime | None = None
    error: str | None = None


async def settle(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Record the outcomes of claimed rows: one executemany per kind of outcome.

    `sent` is recorded unconditionally (the platform accepted it: that is the truth,
    even if a stale-claim sweep got there first); the others only while the row is
    still `sending`, so they never overwrite a verdict reached elsewhere.
    """
    sent = [o for o in outcomes if o.status == "sent"]
    retry = [o for o in outcomes if o.status == "pending"]
    final = [o for o in outcomes if o.status not in ("sent", "pending")]
    c = _table.c
    if sent:
        await session.execute(
            update(_table).where(c.id == bindparam("b_id"))
            .values(status="sent", sent_at=bindparam("b_at"), attempts=bindparam("b_attempts"), last_error=None),
            [{"b_id": o.id, "b_at": o.at, "b_attempts": o.attempts} for o in sent],
        )
    if retry:
        await session.execute(
            update(_table).where(c.id == bindparam("b_id"), c.status == "sending")
            .values(status="pending", due_at=bindparam("b_at"), attempts=bindparam("b_attempts"),
                    last_error=bindparam("b_error"), sent_at=None),
            [{"b_id": o.id, "b_at": o.at, "b_attempts": o.attempts, "b_error": _clip(o.error)} for o in retry],
        )
    if final:
        await session.execute(
            update(_table).where(c.id == bindparam("b_id"), c.status == "sending")
            .values(status=bindparam("b_status"), attempts=bindparam("b_attempts"),
                    last_error=bindparam("b_error"), sent_at=None),
            [{"b_id": o.id, "b_status": o.status, "b_attempts": o.attempts, "b_error": _clip(o.error)}
             for o in final],
        )


async def fail_stale(session: AsyncSession, claimed_before: dt.datetime) -> list[int]:
    """Rows claimed before `claimed_before` and never settled: mark them failed, return their ids.

    Whether the platform got such a row is unknown, so it is not sent again (see
    `scheduler.outbox` for why).
    """
    result = await session.execute(
        update(_table)
        .where(_table.c.status == "sending", _table.c.sent_at < claimed_before)
        .values(status="failed", last_error=STALE_ERROR, sent_at=None)
        .returning(_table.c.id)
    )
    return sorted(int(i) for i in result.scalars())


async def withdraw(session: AsyncSession, dedupe_keys: Sequence[str], reason: str) -> int:
    """Cancel the rows with these keys that were not sent yet (a booking or registration that
    was cancelled or moved takes its reminders along); returns how many."""
    if not dedupe_keys:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key.in_(list(dedupe_keys)), OutboxMessage.status == "pending")
        .values(status="cancelled", last_error=reason))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def skip_chats(session: AsyncSession, chats: Sequence[tuple[str, str, dt.datetime]]) -> None:
    """These (channel, chat id, when) blocked the bot: their pending messages will not be sent
    (one executemany for the batch, served by `ix_outbox_chat_status`)."""
    if not chats:
        return
    c = _table.c
    await session.execute(
        update(_table)
        .where(c.channel == bindparam("b_channel"), c.chat_id == bindparam("b_chat"), c.status == "pending")
        .values(status="blocked", last_error="blocked by the user"),
        [{"b_channel": channel, "b_chat": chat_id} for channel, chat_id, _at in chats],
    )


async def held_chats(session: AsyncSession, chats: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (channel, chat id) have messages held for them already."""
    if not chats:
        return set()
    c = _table.c
    rows = await session.execute(
        select(c.channel, c.chat_id).distinct()
        .where(c.chat_id.in_({chat_id for _channel, chat_id in chats}), c.status == "held"))
    return {(channel, chat_id) for channel, chat_id in rows.all()} & set(chats)


async def hold_chats(session: AsyncSession, chats: Sequence[tuple[str, str]], *,
                     not_kinds: Collection[str] = ()) -> None:
    """These staff chats cannot be reached yet: their pending messages wait for them (`release_held`),
    except those of `not_kinds`, which are skipped as for anyone who blocked the bot."""
    if not chats:
        return
    c = _table.c
    params = [{"b_channel": channel, "b_chat": chat_id} for channel, chat_id in chats]
    of_chat = (c.channel == bindparam("b_channel"), c.chat_id == bindparam("b_chat"), c.status == "pending")
    for kind in not_kinds:  # one executemany each: IN lists do not go with executemany
        await session.execute(
            update(_table).where(*of_chat, c.kind == kind)
            .values(status="blocked", last_error="blocked by the user"), params)
    await session.execute(update(_table).where(*of_chat).values(status="held", last_error=HELD_ERROR), params)


async def release_held(session: AsyncSession, channel: str, chat_id: str) -> int:
    """The person behind this chat wrote to the bot: what was held for them is sent now, in the
    order it was queued (their due times are past); returns how many."""
    c = _table.c
    result = await session.execute(
        update(_table).where(c.channel == channel, c.chat_id == chat_id, c.status == "held")
        .values(status="pending", last_error=None))
    return int(getattr(result, "rowcount", 0) or 0)


async def undelivered(session: AsyncSession, ids: Sequence[int], status: str, error: str) -> None:
    """Rows recorded `sent` that the platform reported later as not delivered (KakaoTalk's
    task results): they get the final status they would have had at once on Telegram."""
    if ids:
        await session.execute(
            update(_table).where(_table.c.id.in_(list(ids)), _table.c.status == "sent")
            .values(status=status, last_error=error[:MAX_ERROR]))


def _clip(error: str | None) -> str | None:
    return error[:MAX_ERROR] if error else None


class Backlog(NamedTuple):
    """What waits: rows due now, how long the oldest has waited, chats that blocked the bot."""

    due: int
    lag_seconds: float
    blocked_chats: int


async def backlog(session: AsyncSession, now: dt.datetime) -> Backlog:
    """Read for metrics and the health check (served by `ix_outbox_status_due`)."""
    c = _table.c
    due, oldest = (await session.execute(
        select(func.count(), func.min(c.due_at)).where(c.status == "pending", c.due_at <= now))).one()
    if isinstance(oldest, str):  # SQLite hands aggregates back untyped
        oldest = dt.datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    blocked = await session.scalar(select(func.count()).select_from(Identity).where(Identity.blocked_at.is_not(None)))
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return Backlog(int(due or 0), lag, int(blocked or 0))


async def purge_finished(session: AsyncSession, before: dt.datetime) -> int:
    """Delete rows that are done with (sent, failed, blocked, cancelled) and were due before
    `before`: they keep message texts, and nothing reads them after a while. Rows held that long
    for staff who never came to the bot go too: alerts that old are stale, and their texts
    (applicants' names and phone numbers) are kept no longer than any other message's."""
    # A row whose KakaoTalk delivery is still to be checked stays (deleting it would take the
    # task with it, and a person who blocked the channel would never be marked).
    unchecked = exists().where(KakaoTask.outbox_id == OutboxMessage.id, KakaoTask.checked_at.is_(None))
    result = await session.execute(delete(OutboxMessage).where(
        OutboxMessage.status.in_(("sent", "failed", "blocked", "cancelled", "held")), OutboxMessage.due_at < before,
        ~unchecked))
    return int(getattr(result, "rowcount", 0) or 0)
