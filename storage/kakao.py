"""What a KakaoTalk answer could not carry at once, kept per Kakao user (see `KakaoPage`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import KakaoPage


async def save(session: AsyncSession, user_key: str, token: str, pages: list[dict[str, Any]], now: dt.datetime,
               *, late: bool = False) -> None:
    row = await session.get(KakaoPage, user_key)
    if row is None:
        session.add(KakaoPage(user_key=user_key, token=token, pages=pages, late=late, created_at=now))
    else:
        row.token, row.pages, row.late, row.created_at = token, pages, late, now


async def next_page(session: AsyncSession, user_key: str, token: str | None) -> dict[str, Any] | None:
    """The next stored page for a "더보기" press (any token when None); None when stale."""
    row = (await session.scalars(select(KakaoPage).where(KakaoPage.user_key == user_key).with_for_update())).first()
    if row is None or row.late or not row.pages or (token is not None and row.token != token):
        return None
    first, *rest = row.pages
    if rest:
        row.pages = rest
    else:
        await session.delete(row)
    return dict(first)


async def take_late(session: AsyncSession, user_key: str) -> list[dict[str, Any]]:
    """Answers finished after Kakao stopped waiting, to show before the next one (and forget)."""
    row = (await session.scalars(select(KakaoPage).where(KakaoPage.user_key == user_key,
                                                         KakaoPage.late.is_(True)).with_for_update())).first()
    if row is None:
        return []
    pages = list(row.pages)
    await session.execute(delete(KakaoPage).where(KakaoPage.user_key == user_key))
    return pages
