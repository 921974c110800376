"""Every HTTP route, tried as a stranger would through deploy/nginx.conf: what it cannot read
gets a 4xx with one WARNING line, never a 500 or an ERROR traceback, and changes nothing.

A real `serve` process (Telegram webhook, KakaoTalk skill, file links, /healthz, /metrics on one
port) against the fake Bot API; requests are written byte by byte where a client library would
refuse to send them (a header that is not UTF-8).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.cli.serve import serve
from kernel.config import Settings
from storage.db import create_engine, session_factory
from storage.models import User
from tests.conftest import make_settings
from tests.fake_kakao import BOT_ID, SECRET_HEADER, payload
from tests.fake_telegram import FakeTelegram

# Real processes or many generated examples: left out of the quick loop (`-m 'not slow'`), run by CI.
pytestmark = pytest.mark.slow

SKILL_SECRET = "skill-secret-for-boundary-tests"
WEBHOOK_SECRET = "webhook-secret-for-boundary-tests"
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    settings: Settings
    fake: FakeTelegram

    async def request(self, method: str, target: str, *, headers: list[tuple[bytes, bytes]] | None = None,
                      body: bytes = b"") -> tuple[int, bytes]:
        """One HTTP/1.1 request written as raw bytes; (status, body) of the answer."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = [f"{method} {target} HTTP/1.1".encode(), b"Host: bot.example.org", b"Connection: close",
                b"Content-Type: application/json", f"Content-Length: {len(body)}".encode()]
        head += [name + b": " + value for name, value in headers or []]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        status_line, _, rest = answer.partition(b"\r\n")
        return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]

    async def users(self) -> int:
        db = create_engine(self.settings.database_url)
        try:
            async with session_factory(db)() as session:
                return int(await session.scalar(select(func.count()).select_from(User)) or 0)
        finally:
            await db.dispose()


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with FakeTelegram() as fake:
        port = _free_port()
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'edge.sqlite3'}", telegram_bot_token="123:TEST",
            telegram_api_base_url=fake.base_url, webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
            webhook_secret=WEBHOOK_SECRET, webhook_port=port, kakao_skill_secret=SKILL_SECRET,
            kakao_bot_id=BOT_ID, public_base_url="https://bot.example.org")
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, telegram=True, kakao=True, stop=stop))
        try:
            await fake.wait_for(lambda c: c.method == "setWebhook", timeout=10)
            yield Server(port, settings, fake)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


def _problems(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in records if r.levelno >= logging.WARNING]


async def expect_refused(server: Server, caplog: pytest.LogCaptureFixture, case: str, method: str, target: str,
                         *, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"",
                         status: int | None = None) -> None:
    """A 4xx (`status` when given) with a JSON error, and exactly one WARNING line, no ERROR."""
    seen = len(caplog.records)
    got, answer = await server.request(method, target, headers=headers, body=body)
    lines = _problems(caplog.records[seen:])
    assert 400 <= got < 500 and (status is None or got == status), (case, got, answer[:200])
    assert json.loads(answer)["ok"] is False, (case, answer[:200])
    assert len(lines) == 1 and lines[0].startswith("WARNING"), (case, lines)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


KAKAO = "/kakao/skill"
GOOD_SKILL = [(SECRET_HEADER.encode(), SKILL_SECRET.encode())]
GOOD_HOOK = [(WEBHOOK_HEADER.encode(), WEBHOOK_SECRET.encode())]


async def test_file_links_that_cannot_be_read_are_refused(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    cases = {
        "a non-ASCII digit as expiry": "/files/x?e=%C2%B2&s=x",
        "an expiry of 5,000 digits": "/files/x?e=" + "9" * 5000 + "&s=x",
        "a negative expiry": "/files/x?e=-1&s=x",
        "no expiry nor signature": "/files/x",
        "a signature that is not UTF-8": "/files/x?e=1&s=%FF%FE",
        "a file id that is not UTF-8": "/files/%ED%A0%80?e=1&s=x",
        "a file id of odd characters": "/files/%00%0A..?e=1&s=x",
        "a forged signature": "/files/abcdef?e=99999999999&s=" + "0" * 32,
    }
    for case, target in cases.items():
        await expect_refused(server, caplog, case, "GET", target, status=403)


async def test_kakao_skill_refuses_what_it_cannot_read(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    good = payload("k-edge", "/start")

    def with_user_request(**changes: Any) -> bytes:
        body = json.loads(json.dumps(good))
        body["userRequest"].update(changes)
        return json.dumps(body).encode()

    await expect_refused(server, caplog, "a secret header of invalid UTF-8", "POST", KAKAO, status=403,
                         headers=[(SECRET_HEADER.encode(), b"\xff\xfe\xc3")], body=_json(good))
    await expect_refused(server, caplog, "a wrong secret", "POST", KAKAO, status=403,
                         headers=[(SECRET_HEADER.encode(), b"wrong")], body=_json(good))
    bodies: dict[str, bytes] = {
        "arrays nested 1,000 deep": _deep(1000),
        "objects nested 1,000 deep": b'{"a":' * 1000 + b"1" + b"}" * 1000,
        "nesting 100 deep inside a valid request": with_user_request(params={"x": json.loads(_deep(100))}),
        "an array": b"[1,2]",
        "null": b"null",
        "a string": b'"userRequest"',
        "an empty object": b"{}",
        "userRequest of the wrong type": _json({"userRequest": [1], "bot": {"id": BOT_ID}}),
        "user.id of the wrong type": with_user_request(user={"id": 5}),
        "a lone surrogate in user.id": with_user_request(user={"id": "k-\ud800"}),
        "a lone surrogate in the utterance": with_user_request(utterance="안녕\udfff"),
        "a NUL in the utterance": with_user_request(utterance="a\u0000b"),
        "a lone surrogate in an unread field": with_user_request(block={"name": "\ud83d"}),
        "a lone surrogate in a key": _json({**good, "\udc80": 1}),
        "a number of 5,000 digits": b'{"n": ' + b"1" * 5000 + b"}",
        "NaN": b'{"n": NaN}',
        "bytes that are not UTF-8": b'{"userRequest": "\xff"}',
        "not JSON": b"{not json",
        "nothing": b"",
    }
    for case, body in bodies.items():
        await expect_refused(server, caplog, case, "POST", KAKAO, headers=GOOD_SKILL, body=body)
    await expect_refused(server, caplog, "a body over the limit", "POST", KAKAO, headers=GOOD_SKILL,
                         body=_json(payload("k-edge", "가" * 70_000)), status=413)
    assert await server.users() == 0


async def test_kakao_odd_optional_fields_are_ignored_not_a_traceback(
        server: Server, caplog: pytest.LogCaptureFixture) -> None:
    """Fields the skill only may use (a callbackUrl, a sent image's URLs) that cannot be read count as absent."""
    for case, change in {
        "a callbackUrl that is no URL": {"callbackUrl": "http://["},
        "a callbackUrl with a port out of range": {"callbackUrl": "https://bot-api.kakao.com:99999/cb"},
    }.items():
        body = payload("k-odd", "/start")
        body["userRequest"].update(change)
        seen = len(caplog.records)
        status, answer = await server.request("POST", KAKAO, headers=GOOD_SKILL, body=_json(body))
        assert status == 200 and "서울일자리플러스센터" in answer.decode(), (case, answer[:300])
        assert [line.split(":")[0] for line in _problems(caplog.records[seen:])] == \
            ["WARNING bot.channels.kakao"], case
    for case, secure in {"nested 1,000 deep": _deep(1000).decode(), "not JSON": "{", "a list": "[1]"}.items():
        body = payload("k-odd", "")
        body["action"]["params"] = {"secureimage": secure, "media": secure}
        seen = len(caplog.records)
        status, answer = await server.request("POST", KAKAO, headers=GOOD_SKILL, body=_json(body))
        assert status == 200, (case, answer[:300])
        assert "텔레그램 챗봇으로 보내 주세요" in answer.decode(), case  # nothing readable was sent
        assert not _problems(caplog.records[seen:]), case


def _update(**message: Any) -> dict[str, Any]:
    base = {"message_id": 1, "date": 1_700_000_000, "chat": {"id": 4242, "type": "private"},
            "from": {"id": 4242, "is_bot": False, "first_name": "X"}, "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}
    base.update(message)
    return {"update_id": 500_001, "message": base}


async def test_telegram_webhook_refuses_what_it_cannot_read(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    await expect_refused(server, caplog, "a secret header of invalid UTF-8", "POST", WEBHOOK_PATH, status=403,
                         headers=[(WEBHOOK_HEADER.encode(), b"\xff\xfe\xc3")], body=_json(_update()))
    await expect_refused(server, caplog, "no secret", "POST", WEBHOOK_PATH, status=403, body=_json(_update()))
    press = {"update_id": 500_002, "callback_query": {
        "id": "1", "from": {"id": 4242, "is_bot": False, "first_name": "X"}, "chat_instance": "1", "data": 5}}
    bodies: dict[str, bytes] = {
        "arrays nested 1,000 deep": _deep(1000),
        "nesting 100 deep inside an update": _json(_update(reply_markup=json.loads(_deep(100)))),
        "[1,2]": b"[1,2]",
        "null": b"null",
        "a number": b"7",
        "an empty object": b"{}",
        "update_id of the wrong type": _json({**_update(), "update_id": "x"}),
        "update_id of 100 digits": _json({**_update(), "update_id": 10**100}),
        "update_id true": _json({**_update(), "update_id": True}),
        "a message that is a number": _json({"update_id": 1, "message": 5}),
        "a chat that is a list": _json(_update(chat=[])),
        "a chat id that is text": _json(_update(chat={"id": "abc", "type": "private"})),
        "a user id of 30 digits": _json(_update(**{"from": {"id": 10**30, "is_bot": False, "first_name": "X"}})),
        "a text that is a number": _json(_update(text=5)),
        "a text with a lone surrogate": _json(_update(text="/start\ud800")),
        "a text with a NUL": _json(_update(text="hi\u0000")),
        "a message without its date": _json({"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}}}),
        "button data that is a number": _json(press),
        "not JSON": b"{not json",
        "bytes that are not UTF-8": b'{"update_id": "\xff"}',
        "a body over the limit": _json(_update(text="가" * 400_000)),
    }
    for case, body in bodies.items():
        await expect_refused(server, caplog, case, "POST", WEBHOOK_PATH, headers=GOOD_HOOK, body=body)
    assert await server.users() == 0
    assert not any(c.method == "sendMessage" for c in server.fake.calls)
    # What Telegram really sends still works (and an update of a kind the bot ignores is accepted).
    seen = len(caplog.records)
    status, _ = await server.request("POST", WEBHOOK_PATH, headers=GOOD_HOOK,
                                     body=_json({"update_id": 500_003, "edited_message": _update()["message"]}))
    assert status == 200
    status, _ = await server.request("POST", WEBHOOK_PATH, headers=GOOD_HOOK, body=_json(_update()))
    assert status == 200 and any("서울일자리플러스센터" in m["text"] for m in server.fake.messages(4242))
    assert not _problems(caplog.records[seen:])


async def test_health_and_metrics_take_no_input(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    seen = len(caplog.records)
    for method, target in (("GET", "/healthz?x=%FF%00"), ("HEAD", "/healthz"), ("GET", "/metrics?name[]=%ED%A0"),
                           ("GET", "/healthz/%ED%A0%80")):
        status, _ = await server.request(method, target, headers=[(b"X-Odd", b"\xff\xfe")])
        assert status < 500, (method, target, status)
    status, _ = await server.request("POST", "/healthz", body=_deep(1000))
    assert status == 405
    status, _ = await server.request("GET", KAKAO)
    assert status == 405
    assert not _problems(caplog.records[seen:])
