"""A person's replies leave in the order of their messages, however fast they type.

The answer to a message is sent inside that message's turn, while the person's lock is held
(in-process, and on PostgreSQL a session-level advisory lock held through the sending), so the
answer to their next message cannot overtake it: the question on screen is the one the bot
waits for. Tested with a slow first send through the real Telegram channel, and with two
workers on one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text

from bot.app import build_engine
from kernel.core import Incoming, Response
from storage.db import create_engine, lock_key, session_factory
from tests.conftest import FakeClock, make_settings
from tests.fake_telegram import Call, FakeTelegram
from tests.pg import PostgresServer
from tests.test_telegram import USER, BotProcess, _settings, press, say

QUERIES = [f"zq{i}" for i in range(1, 7)]


def _slow_first(seconds: float) -> object:
    """The first send after this call is slow, the others quick: without the order kept, the
    answer to the second message would reach the chat before the answer to the first."""
    first = itertools.count()

    def delay(_call: Call) -> float:
        return seconds if next(first) == 0 else 0.0

    return delay


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def _sent_texts(fake: FakeTelegram, count: int, since: int) -> list[str]:
    async def enough() -> None:
        while len([c for c in fake.calls[since:] if c.method == "sendMessage" and c.chat_id == USER]) < count:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(enough(), 20)
    return [str(c.params.get("text", "")) for c in fake.calls[since:] if c.method == "sendMessage"
            and c.chat_id == USER]


async def test_a_burst_of_messages_is_answered_in_order_on_telegram(tmp_path: Path, fake: FakeTelegram) -> None:
    bot = BotProcess(_settings(tmp_path, fake))
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        await say(fake, "/start")
        since = len(fake.calls)
        fake.send_delay = _slow_first(0.5)  # type: ignore[assignment]
        for query in QUERIES:
            fake.user_sends(USER, f"/firms {query}")
        texts = await _sent_texts(fake, len(QUERIES), since)
        shown = [next(q for q in QUERIES if f"'{q}'" in text) for text in texts]
        assert shown == QUERIES
    finally:
        await bot.close()


async def test_typing_the_answers_of_a_form_fast_keeps_questions_in_order(tmp_path: Path,
                                                                         fake: FakeTelegram) -> None:
    bot = BotProcess(_settings(tmp_path, fake))
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        await say(fake, "/register")
        await press(fake, "동의합니다")
        await say(fake, "김서울")
        await say(fake, "1998")
        await press(fake, "청년층")
        await press(fake, "대학교")
        since = len(fake.calls)
        fake.send_delay = _slow_first(0.5)  # type: ignore[assignment]
        for text in ("서강대학교", "웹 개발", "Python"):
            fake.user_sends(USER, text)
        texts = await _sent_texts(fake, 3, since)
        steps = [int(m.group(1)) for text in texts if (m := re.search(r"\[(\d+)/\d+\]", text))]
        assert len(steps) == 3 and steps == sorted(steps), texts
    finally:
        await bot.close()


async def test_two_workers_send_one_persons_answers_in_order(pg_server: PostgresServer | None,
                                                             tmp_path: Path) -> None:
    """Messages of one person taken by different workers are answered in the order they reached
    the person's lock. Each message gets a worker of its own (so none waits in a worker's own
    queue, which the tests above cover), and the next one is sent only once the previous one is
    at the lock, as the database shows: arrival order without a guess at how long that takes."""
    if pg_server is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    name = f"jobhub_order_{tmp_path.name[-12:].replace('-', '_')}"
    await pg_server.acreate_database(name, template="jobhub_template")
    settings = make_settings(pg_server.url(name))
    clock = FakeClock()
    dbs = [create_engine(settings.database_url) for _ in QUERIES]
    engines = [build_engine(settings, session_factory(db), clock=clock) for db in dbs]
    probe = create_engine(settings.database_url)
    # pg_locks shows a bigint advisory key as its high and low 32 bits.
    key = lock_key("conv", "telegram", "7100") & 0xFFFFFFFFFFFFFFFF
    delivered: list[str] = []
    finished = 0
    try:
        async def at_lock() -> int:
            async with probe.connect() as conn:
                found = await conn.scalar(text(
                    "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid::bigint = :high AND objid::bigint = :low"),
                    {"high": key >> 32, "low": key & 0xFFFFFFFF})
            return int(found or 0)

        async def turn(i: int, query: str) -> None:
            nonlocal finished

            async def deliver(response: Response) -> None:
                # The first answer is slow to send; the later ones would overtake it.
                await asyncio.sleep(0.4 if i == 0 else 0)
                delivered.append(query)

            inc = Incoming("telegram", "7100", "7100", text=f"/firms {query}", command="firms", args=(query,))
            await engines[i].handle(inc, deliver=deliver)
            finished += 1

        tasks = []
        for i, query in enumerate(QUERIES):
            tasks.append(asyncio.create_task(turn(i, query)))
            async with asyncio.timeout(30):
                while await at_lock() + finished < i + 1:
                    await asyncio.sleep(0.01)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        assert delivered == QUERIES
    finally:
        for db in [*dbs, probe]:
            await db.dispose()
        await pg_server.adrop_database(name)
