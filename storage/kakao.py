"""What a KakaoTalk answer could not carry at once, kept per Kakao user (see `KakaoPage`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import KakaoPage

MORE, LATE = "more", "late"
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


async def purge(session: AsyncSession, older_than: dt.datetime) -> int:
    """Forget pages nobody came back for (they may quote what the person told us)."""
    result = await session.execute(delete(KakaoPage).where(KakaoPage.created_at < older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
