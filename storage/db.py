"""The async engine and the one session factory.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every
transaction starts with `BEGIN IMMEDIATE`: a conversation turn reads its state and
then writes it, and a deferred transaction that tries to upgrade to a write lock while
another writer holds it fails at once with "database is locked" instead of waiting.
Its driver calls run on the event loop (`storage.sqlite_loop`), not on aiosqlite's
thread, and the busy timeout is waited out with `asyncio.sleep`, not inside SQLite.
PostgreSQL serialises what must be serialised with transaction-level advisory locks.
Statement parameters are hidden from errors and echo (`hide_parameters`): an IntegrityError
logged with its traceback must not carry a name or a phone number.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import sqlite_loop

# Seconds a statement waits for another connection's lock on the SQLite file before failing.
BUSY_TIMEOUT = 30.0


def create_engine(url: str, *, echo: bool = False, busy_timeout: float = BUSY_TIMEOUT) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite takes one writer at a time anyway, and turns queued in the
        # pool wait in order, where turns queued in SQLite's busy handler sleep and retry
        # (long, unfair tails under load). Never hold a session while opening another.
        database = parsed.database or ":memory:"
        engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=120,
                                     hide_parameters=True,
                                     async_creator=sqlite_loop.connector(database, timeout=busy_timeout))
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True,
                               hide_parameters=True)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def lock_key(*parts: object) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock from any parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def advisory_xact_lock(session: AsyncSession, *parts: object) -> None:
    """Serialise with other workers until this transaction ends (PostgreSQL only).

    On SQLite `BEGIN IMMEDIATE` already makes writers take turns, so this is a no-op.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(*parts)})


@asynccontextmanager
async def held_lock(sessions: async_sessionmaker[AsyncSession], *parts: object) -> AsyncIterator[None]:
    """Serialise a piece of start-up work across the workers of one database (PostgreSQL: a
    session-level advisory lock on a connection of its own, held for the block; the work inside
    may use other sessions). On SQLite one process serves, and nothing is needed."""
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "postgresql":
        yield
        return
    key = lock_key(*parts)
    async with bind.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        await conn.commit()
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            await conn.commit()
