"""Schema upgrades with Alembic, from the app (at start) and from `python -m bot db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


class BrokenReferences(RuntimeError):
    """An upgrade left rows referring to rows that do not exist; it was rolled back."""


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision`; safe to call on every start."""

    def _run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        # With foreign keys off nothing stops a migration from leaving a row that refers to nothing:
        # checked whenever one runs (a database broken before is not made worse, nor refused).
        checked = conn.dialect.name == "sqlite" and _pending(conn, cfg, revision)
        before = _broken(conn) if checked else 0
        command.upgrade(cfg, revision)
        if checked and (after := _broken(conn)) > before:
            raise BrokenReferences(f"upgrade to {revision} left {after - before} rows referring to nothing: "
                                   "rolled back")

    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite can change a table's key only by rebuilding it, and dropping the old table
            # with foreign keys on would delete every row referring to it. The switch works only
            # outside a transaction, so it is set on the driver before the upgrade's begins.
            await _foreign_keys(conn, on=False)
        try:
            async with conn.begin():
                await conn.run_sync(_run)
        finally:
            if sqlite:
                await _foreign_keys(conn, on=True)


def _pending(conn: Connection, cfg: Config, revision: str) -> bool:
    current = MigrationContext.configure(conn).get_current_revision()
    return current != ScriptDirectory.from_config(cfg).as_revision_number(revision)


def _broken(conn: Connection) -> int:
    return len(conn.exec_driver_sql("PRAGMA foreign_key_check").all())


async def _foreign_keys(conn: AsyncConnection, *, on: bool) -> None:
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    cursor = await driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    await cursor.close()
