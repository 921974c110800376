"""Broadcasts: an announcement to an audience segment, sent as one outbox row per person.

A broadcast's life (`Broadcast.status`):
  draft     composed and previewed, not confirmed (no outbox rows yet)
  sending   confirmed: its rows are in the outbox, the dispatcher works through them
  stopped   an admin stopped it; the rows still pending were cancelled
  done      no row left to send (nor a KakaoTalk delivery result to read); the final report
            went to the admin who sent it

The messages are ordinary outbox rows (kind `broadcast`) whose dedupe key is
`broadcast:<id>:<user_id>`: one row per person, whatever happens, and the key prefix is
how a broadcast finds its rows for progress, stopping and the report. A restart in the
middle resumes from the table: rows sent stay sent, pending ones are sent once.

Queueing writes the rows with multi-row INSERTs in batches (20,000 people in a few
seconds on SQLite) instead of one `outbox.enqueue` per person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audience import Recipient
from storage.audit import audit
from storage.models import Broadcast, KakaoTask, OutboxMessage

KIND = "broadcast"
BATCH = 2000
STATUSES = ("pending", "sending", "sent", "blocked", "failed", "cancelled")

_outbox: Table = OutboxMessage.__table__  # type: ignore[assignment]


def key_prefix(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}:"


def dedupe_key(broadcast_id: int, user_id: int) -> str:
    return f"{key_prefix(broadcast_id)}{user_id}"


def _rows_of(broadcast_id: int) -> Any:
    """The WHERE clause selecting one broadcast's outbox rows."""
    return (_outbox.c.kind == KIND) & _outbox.c.dedupe_key.startswith(key_prefix(broadcast_id), autoescape=True)


async def create_draft(
    session: AsyncSession, *, admin_id: int, audience: dict[str, Any], text: str,
    attachment: dict[str, Any] | None, button_label: str | None, button_url: str | None,
    recipients: int, now: dt.datetime,
) -> Broadcast:
    row = Broadcast(created_by=admin_id, audience=audience, text=text, attachment=attachment,
                    button_label=button_label, button_url=button_url, status="draft", recipients=recipients,
                    created_at=now)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, broadcast_id: int, *, for_update: bool = False) -> Broadcast | None:
    query = select(Broadcast).where(Broadcast.id == broadcast_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def queue(session: AsyncSession, broadcast: Broadcast, recipients: Sequence[Recipient],
                payload: dict[str, Any], now: dt.datetime) -> int:
    """Confirm a draft: one pending outbox row per recipient, written in batches; returns the count."""
    rows = [{"user_id": r.user_id, "channel": r.channel, "chat_id": r.chat_id, "kind": KIND, "payload": payload,
             "due_at": now, "status": "pending", "attempts": 0, "dedupe_key": dedupe_key(broadcast.id, r.user_id),
             "created_at": now} for r in recipients]
    for start in range(0, len(rows), BATCH):
        await session.execute(insert(_outbox), rows[start:start + BATCH])
    if rows:
        outbox.mark_queued(session)
    broadcast.status = "sending"
    broadcast.recipients = len(rows)
    broadcast.created_at = now
    return len(rows)


async def counts(session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    """How many of the broadcast's rows are in each outbox status (every status present, 0 if none)."""
    result = await session.execute(
        select(_outbox.c.status, func.count()).where(_rows_of(broadcast_id)).group_by(_outbox.c.status)
    )
    found = {str(status): int(n) for status, n in result.all()}
    return {status: found.get(status, 0) for status in (*STATUSES, *sorted(set(found) - set(STATUSES)))}


async def stop(session: AsyncSession, broadcast: Broadcast, now: dt.datetime) -> int:
    """Stop a broadcast: its pending rows are cancelled (rows in flight finish); returns how many."""
    result = await session.execute(
        update(_outbox).where(_rows_of(broadcast.id), _outbox.c.status == "pending")
        .values(status="cancelled", last_error="broadcast stopped")
    )
    broadcast.status = "stopped"
    broadcast.finished_at = now
    return int(getattr(result, "rowcount", 0) or 0)


async def stop_by(session: AsyncSession, broadcast: Broadcast, *, by: int,
                  now: dt.datetime) -> tuple[int, dict[str, int]]:
    """A staff member stops a sending broadcast (chat and console alike): what is pending is
    cancelled, on the audit log with the figures so far; returns how many were cancelled and the counts."""
    cancelled = await stop(session, broadcast, now)
    figures = await counts(session, broadcast.id)
    await audit(session, by, "broadcast.stop", f"broadcast:{broadcast.id}", now,
                {"cancelled": cancelled, "sent": figures["sent"], "blocked": figures["blocked"],
                 "failed": figures["failed"]})
    return cancelled, figures


async def recent(session: AsyncSession, limit: int) -> list[Broadcast]:
    """The newest confirmed broadcasts (drafts left out)."""
    return list(await session.scalars(
        select(Broadcast).where(Broadcast.status != "draft").order_by(Broadcast.id.desc()).limit(limit)
    ))


async def sending(session: AsyncSession) -> list[Broadcast]:
    return list(await session.scalars(select(Broadcast).where(Broadcast.status == "sending").order_by(Broadcast.id)))


async def open_rows(session: AsyncSession, broadcast_id: int) -> int:
    """Rows still to go (pending, or claimed and in flight), and rows sent to KakaoTalk whose
    delivery result is not read yet (they may still turn out blocked: the report waits)."""
    unchecked = exists().where(KakaoTask.outbox_id == _outbox.c.id, KakaoTask.checked_at.is_(None))
    return int(await session.scalar(
        select(func.count()).select_from(_outbox)
        .where(_rows_of(broadcast_id), or_(_outbox.c.status.in_(("pending", "sending")),
                                           (_outbox.c.status == "sent") & unchecked))
    ) or 0)


async def finish(session: AsyncSession, broadcast: Broadcast, now: dt.datetime) -> bool:
    """Mark a sending broadcast done once nothing is left to send; False while rows remain."""
    if broadcast.status != "sending" or await open_rows(session, broadcast.id):
        return False
    broadcast.status = "done"
    broadcast.finished_at = now
    return True


# --- a broadcast's kept photo or file (`handlers.broadcast.keep_attachment`) ---------------------


def platform_ref(attachment: dict[str, Any], channel: str) -> tuple[str, str] | None:
    """(kind, the platform's file id) of a broadcast's attachment on `channel`: the admin's own
    reference when they sent it there, else the one the first upload there returned."""
    if attachment.get("channel") == channel and attachment.get("ref"):
        return str(attachment["kind"]), str(attachment["ref"])
    upload = (attachment.get("uploads") or {}).get(channel)
    if isinstance(upload, dict) and upload.get("id"):
        return str(upload.get("kind") or attachment["kind"]), str(upload["id"])
    return None


def _carrying(file_id: str) -> Any:
    return Broadcast.attachment["file"].as_string() == file_id


async def uploaded(session: AsyncSession, file_id: str, channel: str) -> tuple[str, str] | None:
    """(kind, file id) on `channel` of a kept file, from any broadcast that carried it; None if never there."""
    for attachment in await session.scalars(select(Broadcast.attachment).where(_carrying(file_id))
                                            .order_by(Broadcast.id.desc())):
        found = platform_ref(attachment or {}, channel)
        if found is not None:
            return found
    return None


async def remember_upload(session: AsyncSession, file_id: str, channel: str, kind: str, platform_id: str) -> None:
    """Record the platform's id of a kept file after its first upload, on every broadcast carrying it."""
    for row in await session.scalars(select(Broadcast).where(_carrying(file_id))):
        value = dict(row.attachment or {})
        value["uploads"] = {**(value.get("uploads") or {}), channel: {"kind": kind, "id": platform_id}}
        row.attachment = value  # a new dict: the JSON column sees the change
