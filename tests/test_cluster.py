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
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.app import build_engine
from deploy.cluster import Cluster
from kernel.core import Reply
from kernel.i18n import translator
from storage import outbox
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxMessage
from tests.conftest import Chat, FakeClock, make_settings
from tests.fake_telegram import FakeTelegram
from tests.pg import PostgresServer, find_pg_bin

# Real processes or many generated examples: left out of the quick loop (`-m 'not slow'`), run by CI.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
UNAVAILABLE = translator("ko")("error.unavailable")
CHAT = 777001


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


# --- worker processes --------------------------------------------------------------------------------


def _nginx_or_skip() -> None:
    from deploy.cluster import find_nginx

    if find_nginx() is None:
        if os.environ.get("CI"):
            pytest.fail("nginx not found under CI: install the nginx package")
        pytest.skip("nginx not found (apt-get install nginx)")


def _leader(cluster: Cluster) -> int | None:
    holders = [i for i in range(cluster.count) if cluster.alive(i)
               and "took the leader lock" in cluster.log_path(i).read_text(errors="replace")]
    return holders[0] if len(holders) == 1 else None


async def _enqueue(dsn_url: str, texts: list[str]) -> None:
    db = create_engine(dsn_url)
    try:
        async with session_factory(db)() as session, session.begin():
            for text in texts:
                await outbox.enqueue(session, channel="telegram", chat_id=str(CHAT), kind="notice",
                                     payload=Reply(text).to_payload(), now=dt.datetime.now(dt.UTC))
    finally:
        await db.dispose()


async def _all_sent(dsn_url: str, texts: list[str]) -> bool:
    db = create_engine(dsn_url)
    try:
        async with session_factory(db)() as session:
            rows = (await session.execute(select(OutboxMessage.status, OutboxMessage.payload))).all()
    finally:
        await db.dispose()
    sent = {str(payload.get("text")) for status, payload in rows if status == "sent"}
    return all(status != "pending" for status, _ in rows) and set(texts) <= sent


def _received(fake: FakeTelegram) -> list[str]:
    return [str(c.params.get("text")) for c in fake.calls if c.method == "sendMessage" and c.ok and c.chat_id == CHAT]


async def test_the_outbox_lead_moves_to_another_worker_when_its_holder_is_killed(
        pg_server: PostgresServer | None) -> None:
    if pg_server is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    async with FakeTelegram() as fake:
        cluster = Cluster(2, pg=pg_server, database=f"failover_{os.getpid()}", nginx=False,
                          env={"TELEGRAM_BOT_TOKEN": "123:FAILOVER", "TELEGRAM_API_BASE_URL": fake.base_url,
                               "LOG_LEVEL": "INFO", "OUTBOX_TICK_SECONDS": "0.5"})
        try:
            await asyncio.to_thread(cluster.start)
            before = [f"알림 {n}" for n in range(10)]
            await _enqueue(cluster.database_url, before)
            await _until(lambda: _async(sorted(_received(fake)) == sorted(before)), "the first ten sent")
            leader = _leader(cluster)
            assert leader is not None, [cluster.log_tail(i) for i in range(2)]
            await asyncio.to_thread(cluster.kill, leader, signal.SIGKILL)

            after = [f"알림 {n}" for n in range(10, 30)]
            await _enqueue(cluster.database_url, after)
            await _until(lambda: _async(len(_received(fake)) >= 30), "the next twenty sent by the other worker")
            # Nothing left to send: no row pending and the twenty recorded as sent. A row the killed
            # leader left `sending` is never sent again, so any duplicate has reached the fake by now.
            await _until(lambda: _all_sent(cluster.database_url, after), "the next twenty recorded as sent")
            # Every message once: nothing due lost, nothing delivered sent again.
            assert sorted(_received(fake)) == sorted(before + after)
            survivor = 1 - leader
            assert "took the leader lock" in cluster.log_path(survivor).read_text(errors="replace")
        finally:
            await asyncio.to_thread(cluster.stop)


async def _async(value: bool) -> bool:
    return value


# --- the database restarted under a conversation ------------------------------------------------------


async def test_a_database_restart_gets_a_polite_answer_and_the_next_turn_works(
        pg_server: PostgresServer | None) -> None:
    if pg_server is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    # Its own server: this one is stopped and started again.
    server = await asyncio.to_thread(PostgresServer().start)
    try:
        server.create_database("restart")
        settings = make_settings(server.url("restart"))
        db = create_engine(settings.database_url)
        try:
            await upgrade(db)
            engine = build_engine(settings, session_factory(db), clock=FakeClock())
            chat = Chat(engine, 6001)
            await chat.send("/register")
            await chat.press("동의합니다")
            await chat.send("김서울")
            assert "출생연도" in chat.text

            await asyncio.to_thread(server.pause)
            await chat.send("1999")
            assert chat.text == UNAVAILABLE  # no traceback, the catalog's polite line

            await asyncio.to_thread(server.resume)
            # The pool finds its connections dead (pre-ping) and opens new ones on its own; the
            # answer lost in the outage was not half-written: the form waits for the birth year.
            await chat.send("1999")
            assert "청년층" in chat.text
            await chat.press("청년층")
            assert "학교는 어디" in chat.text
        finally:
            await db.dispose()
    finally:
        await asyncio.to_thread(server.stop)


# --- nginx and workers under load, one killed ---------------------------------------------------------


def test_nginx_and_workers_under_load_with_one_killed() -> None:
    """`bench/cluster.py --quick`: 20 people register and book through nginx and 2 workers, one
    worker SIGKILLed halfway, then again with PostgreSQL stopped halfway for 3 s and started
    again; every person finishes, the database holds each registration and booking once with
    the script's answers."""
    _nginx_or_skip()
    if find_pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries not found under CI")
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "cluster.py"), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] in (["1"], ["2"])]
    assert [r[0] for r in rows] == ["1", "2", "2"] and all(r[1] == "20" for r in rows)
    assert "SIGKILL" in rows[1] and "PostgreSQL" in rows[2]
    # The people who wrote during the outage were answered politely and wrote again (the
    # 14th figure of a row: "unavailable").
    assert int(rows[2][13]) > 0, result.stdout
