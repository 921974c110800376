"""SQLite driven on the event loop (`storage.sqlite_loop`): waiting for other writers.

Another process writing the same file (a CSV import, a second bot process) holds
SQLite's write lock for a while. A turn that needs it waits without stopping the event
loop, goes on once the lock is free, and after the busy timeout answers politely and
changes nothing. Bulk inserts give back every row.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, insert, select

from bot.app import build_engine
from kernel.i18n import translator
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxMessage
from tests.conftest import START, FakeClock, Harness, RecordingNotifier, make_settings


async def _harness(path: Path, busy_timeout: float) -> Harness:
    settings = make_settings(f"sqlite+aiosqlite:///{path}")
    db = create_engine(settings.database_url, busy_timeout=busy_timeout)
    await upgrade(db)
    sessions = session_factory(db)
    clock = FakeClock()
    return Harness(build_engine(settings, sessions, clock=clock), settings, clock, sessions, RecordingNotifier())


@pytest_asyncio.fixture
async def patient(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await _harness(tmp_path / "db.sqlite3", busy_timeout=10)
    yield harness
    await harness.sessions.kw["bind"].dispose()


@pytest_asyncio.fixture
async def impatient(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await _harness(tmp_path / "db.sqlite3", busy_timeout=0.2)
    yield harness
    await harness.sessions.kw["bind"].dispose()


@contextlib.contextmanager
def other_writer(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection (as another process would) holding the write lock until committed."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE users SET locale = locale")
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
        conn.close()


async def test_a_turn_waits_for_another_writer_while_the_loop_keeps_running(patient: Harness,
                                                                            tmp_path: Path) -> None:
    chat = patient.chat(1)
    await chat.send("/register")
    with other_writer(tmp_path / "db.sqlite3") as writer:
        turn = asyncio.create_task(chat.press("동의합니다"))
        # Other chats' work goes on meanwhile: these sleeps return while the turn is held up.
        for _ in range(10):
            await asyncio.sleep(0.01)
        assert not turn.done()
        writer.execute("COMMIT")
        await asyncio.wait_for(turn, 10)
    assert "이름을 입력" in chat.text


async def test_a_lock_held_past_the_timeout_gets_a_polite_answer_and_changes_nothing(impatient: Harness,
                                                                                       tmp_path: Path) -> None:
    chat = impatient.chat(1)
    await chat.send("/register")
    with other_writer(tmp_path / "db.sqlite3"):
        await chat.press("동의합니다")
        assert chat.text == translator("ko")("error.unavailable")
    # The consent question is still open: the same button works now.
    await chat.press("동의합니다")
    assert "이름을 입력" in chat.text


async def test_a_second_engine_on_the_same_file_takes_turns(patient: Harness, tmp_path: Path) -> None:
    """Two engines (as two processes) writing at once: both sides' turns complete."""
    other = await _harness(tmp_path / "db.sqlite3", busy_timeout=10)
    try:
        chats = [patient.chat(10 + i) for i in range(5)] + [other.chat(20 + i) for i in range(5)]
        await asyncio.gather(*(c.send("/register") for c in chats))
        await asyncio.gather(*(c.press("동의합니다") for c in chats))
        assert all("이름을 입력" in c.text for c in chats)
    finally:
        await other.sessions.kw["bind"].dispose()


@pytest.mark.parametrize("rows", [3, 2_000])
async def test_bulk_inserts_write_every_row(patient: Harness, rows: int) -> None:
    values = [{"channel": "telegram", "chat_id": str(i), "kind": "x", "payload": {"text": str(i)},
               "due_at": START, "status": "pending", "attempts": 0, "created_at": START} for i in range(rows)]
    async with patient.sessions() as s, s.begin():
        await s.execute(insert(OutboxMessage), values)
    async with patient.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == rows
        last = await s.scalar(select(OutboxMessage.payload).where(OutboxMessage.chat_id == str(rows - 1)))
        assert last == {"text": str(rows - 1)}


