"""Several workers on one PostgreSQL database, and what happens when parts of the set-up fail.

- Per-user order: two engines (two workers' worth of pools) on one database; a person's
  second message, arriving at the other worker while the first is still being handled,
  waits for it (the advisory lock per conversation), while another person's message goes
  straight through.
- Outbox failover: worker processes (`python -m bot serve`) against the fake Bot API; the
  one holding the outbox lead is killed with SIGKILL and another sends what is due, each
  message once.
- The database restarted during a conversation: the turn during the outage gets the polite
  "잠시 후 다시 시도해 주세요", nothing half-written, and the next turn works on its own.
- nginx in front of workers, one SIGKILLed under load: `bench/cluster.py --quick`'s run.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from bot.app import build_engine
from bot.i18n import translator
from storage.db import create_engine, session_factory
from tests.conftest import Chat, FakeClock, make_settings
from tests.pg import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
UNAVAILABLE = translator("ko")("error.unavailable")


@pytest.fixture
def pg_db(pg_server: PostgresServer | None) -> Iterator[tuple[PostgresServer, str]]:
    """A migrated database of its own on the session's PostgreSQL."""
    if pg_server is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    name = f"cluster_{os.getpid()}_{id(object())}"
    pg_server.create_database(name, template="jobhub_template")
    yield pg_server, name
    pg_server.drop_database(name)


@pytest_asyncio.fixture
async def two_workers(pg_db: tuple[PostgresServer, str]) -> AsyncIterator[tuple[Chat, Chat, str]]:
    """The same person as seen by two workers: each its own engine and connection pool."""
    server, name = pg_db
    settings = make_settings(server.url(name))
    clock = FakeClock()
    dbs = [create_engine(settings.database_url) for _ in range(2)]
    engines = [build_engine(settings, session_factory(db), clock=clock) for db in dbs]
    try:
        yield Chat(engines[0], 5001), Chat(engines[1], 5001), server.dsn(name)
    finally:
        for db in dbs:
            await db.dispose()


async def _waiting_on_locks(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                       "AND datname = current_database()"))
    finally:
        await conn.close()


async def _until(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    # A hang guard, not a timing assertion: a broken lock order would deadlock, not be slow.
    async def poll() -> None:
        while not await predicate():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), 30)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")


async def test_one_persons_messages_are_handled_in_arrival_order_across_workers(
        two_workers: tuple[Chat, Chat, str]) -> None:
    at_first, at_second, dsn = two_workers
    await at_first.send("/register")
    await at_first.press("동의합니다")
    assert "이름을 입력" in at_first.text

    # Hold the person's conversation row, so the first message's turn (lock taken, state read)
    # stops at its write: the second message arrives at the other worker meanwhile.
    blocker = await asyncpg.connect(dsn)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT 1 FROM conversations c JOIN identities i ON i.user_id = c.user_id "
                              "WHERE i.external_id = '5001' FOR UPDATE OF c")
        first = asyncio.create_task(at_first.send("김서울"))
        await _until(lambda: _lock_waiters(dsn, 1), "the first turn waits at its write")
        second = asyncio.create_task(at_second.send("1999"))
        await _until(lambda: _lock_waiters(dsn, 2), "the second turn waits for the first")

        # Someone else, on the second worker, is not held up by either.
        other = Chat(at_second.engine, 5002)
        await asyncio.wait_for(other.send("/start"), 30)
        assert "서울일자리플러스센터" in other.text
        assert not first.done() and not second.done()
        await tx.rollback()
    finally:
        await blocker.close()
    await asyncio.wait_for(asyncio.gather(first, second), 30)
    # In arrival order: the name, then the birth year; the form is at the next question.
    assert "출생연도" in at_first.text
    assert "청년층" in at_second.text
    conn = await asyncpg.connect(dsn)
    try:
        data = await conn.fetchval("SELECT c.data FROM conversations c JOIN identities i ON i.user_id = c.user_id "
                                   "WHERE i.external_id = '5001'")
    finally:
        await conn.close()
    answers = json.loads(data)["a"]
    assert answers["name"] == "김서울" and answers["birth_year"] == 1999


async def _lock_waiters(dsn: str, count: int) -> bool:
    return await _waiting_on_locks(dsn) >= count
