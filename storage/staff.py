"""Staff of the web console: roles, single-use sign-in links and browser sessions.

Secrets (a link's token, a session's cookie) are never stored: only their SHA-256, so the
database alone opens no session. Roles are read on every request, so a role removed or
changed takes effect at the next click; removing a role also ends the person's sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit
from storage.models import ConsoleLink, ConsoleSession, StaffRole

ROLES = ("admin", "counselor", "campus_manager", "reviewer", "viewer")
LINK_TTL = dt.timedelta(minutes=10)
# Sign-in links a person may ask for within an hour: enough for a lost phone and a second
# browser, too few to flood anyone's chat.
LINKS_PER_HOUR = 5


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


async def role_of(session: AsyncSession, user_id: int) -> str | None:
    row = await session.get(StaffRole, user_id)
    return row.role if row is not None else None


async def seed_admin(session: AsyncSession, user_id: int, now: dt.datetime) -> None:
    """A configured admin (ADMIN_TELEGRAM_IDS) becomes a console admin the first time they ask."""
    row = await session.get(StaffRole, user_id)
    if row is None:
        session.add(StaffRole(user_id=user_id, role="admin", granted_at=now))
        await audit(session, None, "staff.seed_admin", f"user:{user_id}", now)
    elif row.role != "admin":
        row.role = "admin"


async def set_role(session: AsyncSession, user_id: int, role: str | None, *, by: int, now: dt.datetime) -> None:
    """Grant, change or (None) remove a role; removing ends every session of the person."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    row = await session.get(StaffRole, user_id)
    old = row.role if row is not None else None
    if role is None:
        if row is not None:
            await session.delete(row)
        await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
    elif row is None:
        session.add(StaffRole(user_id=user_id, role=role, granted_by=by, granted_at=now))
    else:
        row.role, row.granted_by, row.granted_at = role, by, now
    await audit(session, by, "staff.role", f"user:{user_id}", now, {"from": old, "to": role})


async def staff(session: AsyncSession) -> list[StaffRole]:
    return list(await session.scalars(select(StaffRole).order_by(StaffRole.role, StaffRole.user_id)))


async def issue_link(session: AsyncSession, user_id: int, now: dt.datetime) -> str | None:
    """A fresh sign-in token, or None when the person asked LINKS_PER_HOUR times within the hour."""
    recent = await session.scalar(select(func.count()).select_from(ConsoleLink).where(
        ConsoleLink.user_id == user_id, ConsoleLink.created_at > now - dt.timedelta(hours=1)))
    if (recent or 0) >= LINKS_PER_HOUR:
        return None
    # Links older than the window are of no use any more, not even for counting.
    await session.execute(delete(ConsoleLink).where(ConsoleLink.user_id == user_id,
                                                    ConsoleLink.created_at <= now - dt.timedelta(hours=1)))
    token = secrets.token_urlsafe(32)
    session.add(ConsoleLink(token_hash=digest(token), user_id=user_id, created_at=now, expires_at=now + LINK_TTL))
    return token


async def redeem_link(session: AsyncSession, token: str, now: dt.datetime) -> int | None:
    """The person a valid, unused, unexpired link names (the link is used up), else None."""
    row = (await session.scalars(select(ConsoleLink).where(ConsoleLink.token_hash == digest(token))
                                 .with_for_update())).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    return row.user_id


async def link_valid(session: AsyncSession, token: str, now: dt.datetime) -> bool:
    row = await session.get(ConsoleLink, digest(token))
    return row is not None and row.used_at is None and row.expires_at > now


@dataclass(frozen=True)
class Opened:
    cookie: str
    csrf: str


async def open_session(session: AsyncSession, user_id: int, now: dt.datetime) -> Opened:
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(ConsoleSession(id_hash=digest(cookie), user_id=user_id, csrf=csrf, created_at=now, last_seen_at=now))
    return Opened(cookie, csrf)


@dataclass(frozen=True)
class Signed:
    user_id: int
    role: str
    csrf: str


async def signed_in(session: AsyncSession, cookie: str, now: dt.datetime, idle: dt.timedelta) -> Signed | None:
    """Who a cookie signs in (and the session kept alive), or None: unknown, idle too long, or
    the person no longer has a role."""
    row = await session.get(ConsoleSession, digest(cookie))
    if row is None:
        return None
    role = await role_of(session, row.user_id)
    if row.last_seen_at <= now - idle or role is None:
        await session.delete(row)
        return None
    # Written at most once a minute: a page's images and styles need not each write a row.
    if now - row.last_seen_at > dt.timedelta(minutes=1):
        row.last_seen_at = now
    return Signed(row.user_id, role, row.csrf)


async def end_session(session: AsyncSession, cookie: str) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == digest(cookie)))


async def purge(session: AsyncSession, now: dt.datetime, idle: dt.timedelta) -> None:
    """Used or expired links past the rate window and idle sessions: kept no longer than needed."""
    await session.execute(delete(ConsoleLink).where(ConsoleLink.created_at <= now - dt.timedelta(hours=1)))
    await session.execute(delete(ConsoleSession).where(ConsoleSession.last_seen_at <= now - idle))


# Where a sign-in link points, below the server's base URL: the chat room writes the link and
# the web console serves it.
SIGNIN_PATH = "/console/signin/"
