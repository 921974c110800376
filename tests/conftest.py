"""Shared fixtures: a database per test on SQLite and on PostgreSQL, a clock, and a chat driver.

Storage and conversation tests take the `db_url` fixture, which is parametrised over
both engines. PostgreSQL comes from `tests.pg` (a throwaway cluster started once per
run); each test gets its own database cloned from a migrated template, so tests never
see each other's rows. Without PostgreSQL binaries the PostgreSQL half is skipped
locally, but fails under CI (CI must not silently skip it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import settings as hypothesis_settings

from bot.app import build_engine
from bot.engine import Engine
from kernel.config import Settings, load_settings
from kernel.core import Incoming, Reply, Response
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from tests.pg import PostgresServer, PostgresUnavailable, find_pg_bin

# The fuzz tests (tests/test_fuzz_*.py): "ci" runs on every test run, sized to add about a minute;
# `pytest --hypothesis-profile=long` runs 100,000 examples per test (docs/checks.md, bench/README.md).
# No deadline: a turn's time depends on the database and the machine, not on the input.
hypothesis_settings.register_profile("ci", max_examples=600, deadline=None, print_blob=True)
hypothesis_settings.register_profile("long", max_examples=100_000, deadline=None, print_blob=True)
hypothesis_settings.load_profile("ci")

ADMIN_ID = 9001
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Seoul
_db_counter = itertools.count()


class FakeClock:
    """Injected time: tests move it instead of sleeping."""

    def __init__(self, now: dt.datetime = START) -> None:
        self._now = now

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += dt.timedelta(**delta)


# --- databases -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer | None]:
    if find_pg_bin() is None:
        if os.environ.get("CI"):
            raise PostgresUnavailable("PostgreSQL binaries not found under CI: install the postgresql package")
        yield None
        return
    server = PostgresServer().start()

    async def _template() -> None:
        await server.acreate_database("jobhub_template")
        engine = create_engine(server.url("jobhub_template"))
        await upgrade(engine)
        await engine.dispose()

    # This fixture may first be requested from inside a running loop (an async fixture).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _template()).result()
    yield server
    server.stop()


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
        return
    server: PostgresServer | None = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    name = f"jobhub_t{os.getpid()}_{next(_db_counter)}"
    await server.acreate_database(name, template="jobhub_template")
    yield server.url(name)
    await server.adrop_database(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": db_url, "admin_telegram_ids": str(ADMIN_ID), "_env_file": None,
                              "telegram_bot_token": "", "webhook_url": "", "webhook_secret": "",
                              # Tests start with no firms and load what they need (tests/test_jobs.demo).
                              "demo_data": False}
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


# --- the conversation harness ------------------------------------------------------------


@dataclass
class FetchingChannel:
    """A channel that only hands over the files people send (the engine's `Channel`), in place
    of Telegram's getFile."""

    fetch: Callable[[str], Awaitable[bytes]]
    channel: str = "telegram"

    async def fetch_file(self, file_ref: str) -> bytes:
        return await self.fetch(file_ref)

    def start_link(self, _payload: str) -> str | None:
        return None


@dataclass
class Sent:
    channel: str
    chat_id: str
    message: dict[str, Any]


@dataclass
class RecordingNotifier:
    """An outbox notifier that keeps what it was asked to send."""

    channel: str = "telegram"
    sent: list[Sent] = field(default_factory=list)

    async def send(self, chat_id: str, message: dict[str, Any]) -> None:
        self.sent.append(Sent(self.channel, chat_id, message))

    def to(self, chat_id: int | str) -> list[dict[str, Any]]:
        return [s.message for s in self.sent if s.chat_id == str(chat_id)]


class Chat:
    """One person talking to the engine, the way a channel would pass their messages."""

    def __init__(self, engine: Engine, user_id: int | str, channel: str = "telegram", language: str = "ko") -> None:
        self.engine = engine
        self.user_id = str(user_id)
        self.channel = channel
        self.language = language
        self.response = Response()
        self.last_buttons: dict[str, str] = {}

    def _incoming(self, **kw: Any) -> Incoming:
        return Incoming(channel=self.channel, external_id=self.user_id, chat_id=self.user_id,
                        language_code=self.language, **kw)

    async def _handle(self, inc: Incoming) -> Response:
        self.response = await self.engine.handle(inc)
        for reply in self.response.replies:
            if reply.buttons:
                self.last_buttons = {b.label: b.payload for row in reply.buttons for b in row if b.payload}
        return self.response

    async def send(self, text: str) -> Response:
        command = Incoming.parse_command(text)
        if command is not None:
            return await self._handle(self._incoming(text=text, command=command[0], args=command[1]))
        return await self._handle(self._incoming(text=text))

    async def attach(self, kind: str) -> Response:
        return await self._handle(self._incoming(attachment=kind))

    async def press_payload(self, payload: str) -> Response:
        return await self._handle(self._incoming(button=payload))

    def payload_for(self, label: str) -> str:
        """The payload of the newest button whose label contains `label`."""
        matches = [p for text, p in self.last_buttons.items() if label in text]
        if not matches:
            raise AssertionError(f"no button {label!r}; buttons: {list(self.last_buttons)}")
        return matches[0]

    async def press(self, label: str) -> Response:
        return await self.press_payload(self.payload_for(label))

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.response.replies)

    @property
    def replies(self) -> list[Reply]:
        return self.response.replies


@dataclass
class Harness:
    engine: Engine
    settings: Settings
    clock: FakeClock
    sessions: Any
    notifier: RecordingNotifier

    def chat(self, user_id: int | str, **kw: Any) -> Chat:
        return Chat(self.engine, user_id, **kw)

    async def deliver(self) -> int:
        from scheduler.outbox import Dispatcher

        dispatcher = Dispatcher(self.sessions, [self.notifier], clock=self.clock, rate=10_000, per_chat_interval=0,
                                settings=self.settings)
        return await dispatcher.run_once()


@pytest_asyncio.fixture
async def harness(settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    db = create_engine(settings.database_url)
    await upgrade(db)
    sessions = session_factory(db)
    engine = build_engine(settings, sessions, clock=clock)
    yield Harness(engine, settings, clock, sessions, RecordingNotifier())
    await db.dispose()


# --- a registration walk used by several tests ------------------------------------------

REGISTRATION = [
    ("press", "동의합니다"), ("send", "김서울"), ("send", "1999"), ("press", "청년층"), ("press", "대학교"),
    ("send", "서울대학교"), ("send", "웹 개발, 데이터 분석"), ("send", "Python, SQL"),
    ("press", "마포구"), ("press", "서대문구"), ("press", "선택 완료"), ("press", "4년제"),
    ("send", "2"), ("send", "3000"), ("send", "010-1234-5678"),
]


async def register(chat: Chat) -> None:
    await chat.send("/register")
    for action, value in REGISTRATION:
        await (chat.press(value) if action == "press" else chat.send(value))
    assert "확인해 주세요" in chat.text, chat.text
    await chat.press("제출")
    assert "구직등록이 완료" in chat.text, chat.text
