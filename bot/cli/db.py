"""`python -m bot db upgrade|backup`, and the database set-up every command shares.

`migrated(settings)` opens DATABASE_URL, applies the schema migrations (as the app does
at every start) and hands out a session factory; the engine is closed when the block
ends, whatever happens in it. `db backup [--out FILE]` copies the database while the bot
runs (`storage.backup`: SQLite's online backup, or pg_dump).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.config import Settings
from storage.backup import BackupError, backup_sqlite, default_target, run_pg_dump
from storage.db import create_engine, session_factory
from storage.migrate import upgrade as upgrade_schema


@asynccontextmanager
async def migrated(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The database brought up to date, as a session factory for the block."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade_schema(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def upgrade(settings: Settings) -> None:
    """`db upgrade`: the migrations alone (opening `migrated` applies them; nothing else to do)."""
    async with migrated(settings):
        return


def backup(settings: Settings, out: str | None) -> int:
    """`db backup`: the exit code; a BackupError is one line on stderr."""
    url = settings.database_url
    target = Path(out) if out else default_target(url, dt.datetime.now())
    try:
        if url.startswith("sqlite"):
            done = backup_sqlite(url, target)
        else:
            done = run_pg_dump(url, target, shutil.which("pg_dump") or "pg_dump")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backup written: {done.path} ({done.size:,} bytes)")
    return 0
