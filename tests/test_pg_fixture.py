"""Checks for tests/pg.py, the throwaway PostgreSQL server."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

try:  # package import once tests/__init__.py exists, else rootdir-relative
    from tests.pg import PostgresServer, PostgresUnavailable, find_pg_bin
except ImportError:  # pragma: no cover - depends on how pytest sets sys.path
    from pg import PostgresServer, PostgresUnavailable, find_pg_bin


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


if find_pg_bin() is None:
    _reason = (
        "PostgreSQL server binaries not found: `apt-get install postgresql` "
        "or set PG_BIN to the directory holding initdb"
    )
    if _in_ci():
        pytest.fail(f"CI must not skip PostgreSQL tests: {_reason}", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


async def _exists(pg: PostgresServer, name: str) -> bool:
    conn = await asyncpg.connect(pg.dsn())
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def test_find_pg_bin() -> None:
    path = find_pg_bin()
    assert path is not None
    for name in ("initdb", "pg_ctl", "postgres"):
        assert (path / name).exists()


def test_missing_binaries_message(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PG_BIN", str(tmp_path))
    assert find_pg_bin() is None
    with pytest.raises(PostgresUnavailable) as excinfo:
        PostgresServer().start()
    message = str(excinfo.value)
    assert "apt-get install postgresql" in message and "PG_BIN" in message
    assert "\n" not in message


def test_server_properties(pg: PostgresServer) -> None:
    assert pg.running
    assert pg.host == "127.0.0.1"
    assert pg.user == "postgres"
    assert 0 < pg.port < 65536
    assert pg.url("jobhub") == f"postgresql+asyncpg://postgres@127.0.0.1:{pg.port}/jobhub"
    assert pg.startup_seconds is not None and pg.startup_seconds < 10
    assert pg.log_path.parent == pg.tmpdir and pg.log_path.exists()


@pytest.mark.asyncio
async def test_create_database_and_select_1(pg: PostgresServer) -> None:
    await pg.acreate_database("t_select")
    engine = create_async_engine(pg.url("t_select"))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
            settings = {
                name: (await conn.execute(text(f"show {name}"))).scalar_one()
                for name in ("fsync", "synchronous_commit", "server_encoding", "max_connections")
            }
        assert settings == {
            "fsync": "off",
            "synchronous_commit": "off",
            "server_encoding": "UTF8",
            "max_connections": "200",
        }
    finally:
        await engine.dispose()
        await pg.adrop_database("t_select")


@pytest.mark.asyncio
async def test_create_from_template(pg: PostgresServer) -> None:
    await pg.acreate_database("t_template")
    engine = create_async_engine(pg.url("t_template"))
    async with engine.begin() as conn:
        await conn.execute(text("create table job (id int primary key, title text)"))
        await conn.execute(text("insert into job values (1, '바리스타')"))
    await engine.dispose()  # a template must have no open connections

    await pg.acreate_database("t_clone", template="t_template")
    engine = create_async_engine(pg.url("t_clone"))
    try:
        async with engine.connect() as conn:
            title = (await conn.execute(text("select title from job where id = 1"))).scalar_one()
        assert title == "바리스타"
    finally:
        await engine.dispose()
        await pg.adrop_database("t_clone")
        await pg.adrop_database("t_template")


@pytest.mark.asyncio
async def test_drop_with_open_connection(pg: PostgresServer) -> None:
    # The sync variants must work even though this test runs inside a loop.
    pg.create_database("t_busy")
    engine = create_async_engine(pg.url("t_busy"))
    conn = await engine.connect()
    try:
        await conn.execute(text("select 1"))
        pg.drop_database("t_busy")  # WITH (FORCE) terminates `conn`
        assert not await _exists(pg, "t_busy")
    finally:
        await conn.invalidate()
        await engine.dispose()


def test_sync_create_drop_without_loop(pg: PostgresServer) -> None:
    pg.create_database("t_sync")
    pg.create_database("t_sync_copy", template="t_sync")
    pg.drop_database("t_sync_copy")
    pg.drop_database("t_sync")
    pg.drop_database("t_sync")  # dropping a missing database is a no-op


def test_stop_removes_everything() -> None:
    server = PostgresServer()
    with server:
        tmpdir, port = server.tmpdir, server.port
        assert tmpdir is not None and tmpdir.is_dir()
        with socket.create_connection((server.host, port), timeout=2):
            pass
    assert not server.running
    assert not tmpdir.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        server.url("x")
