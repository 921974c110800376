"""Logs never carry names, phone numbers or secrets, at every LOG_LEVEL (DEBUG included).

A real `serve` process (Telegram webhook + KakaoTalk skill on one port) runs with the
project's logging set-up at DEBUG; a registration with a name and a phone number goes
through the Telegram webhook against the fake Bot API and another through the skill
endpoint, and everything written to the log is searched for the personal data and for
every secret configured (bot token, webhook secret, skill secret, file-link key, Event API key).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot import logs
from bot.cli.serve import serve
from tests.conftest import REGISTRATION, make_settings
from tests.fake_kakao import BOT_ID, SECRET_HEADER, KakaoUser
from tests.fake_kakao import payload as kakao_payload
from tests.fake_telegram import FakeTelegram
from tests.test_telegram import USER, press, say

# Real processes or many generated examples: left out of the quick loop (`-m 'not slow'`), run by CI.
pytestmark = pytest.mark.slow

TOKEN = "7000000001:AAH3xQzT-secret_part_of_the_bot_token9"
WEBHOOK_SECRET = "hook-Secret_4f9a1c77e2"
SKILL_SECRET = "skill-secret-8d2e6b0a51c3"
FILE_SECRET = "file-link-key-0c3f9e27d4"
REST_KEY = "kakao-rest-key-55aa17be"
SECRETS = (TOKEN, TOKEN.split(":")[1], WEBHOOK_SECRET, SKILL_SECRET, FILE_SECRET, REST_KEY)
# What the registration walk tells the bot, and the Telegram profile name.
PERSONAL = ("김서울", "서울대학교", "010-1234-5678", "1234-5678", "01012345678", "Python, SQL", "홍길동")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_a_registration_at_debug_logs_no_personal_data_and_no_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    async with FakeTelegram() as fake:
        port = _free_port()
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'log.sqlite3'}", telegram_bot_token=TOKEN,
            telegram_api_base_url=fake.base_url, webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
            webhook_secret=WEBHOOK_SECRET, webhook_port=port, kakao_skill_secret=SKILL_SECRET,
            kakao_bot_id=BOT_ID, file_link_secret=FILE_SECRET, kakao_rest_api_key=REST_KEY,
            log_level="DEBUG")
        capsys.readouterr()
        logs.setup(settings.log_level, settings.log_format, secrets=settings.secret_values)
        assert logging.getLogger("bot").isEnabledFor(logging.DEBUG)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, telegram=True, kakao=True, stop=stop))
        try:
            await fake.wait_for(lambda c: c.method == "setWebhook", timeout=10)
            assert fake.webhook is not None and fake.webhook["secret_token"] == WEBHOOK_SECRET
            fake.user_sends(USER, "/start", first_name="홍길동")
            await fake.wait_reply(USER)
            assert "개인정보 수집" in await say(fake, "/register")
            for action, value in REGISTRATION:
                await (press(fake, value) if action == "press" else say(fake, value))
            assert "구직등록이 완료" in await press(fake, "제출")

            async with aiohttp.ClientSession() as http:
                async def post(body: dict[str, object]) -> tuple[int, dict[str, object]]:
                    async with http.post(f"http://127.0.0.1:{port}/kakao/skill", json=body,
                                         headers={SECRET_HEADER: SKILL_SECRET}) as resp:
                        return resp.status, await resp.json()

                kakao_user = KakaoUser(post, "k-log-privacy")
                await kakao_user.say("/register")
                for action, value in REGISTRATION:
                    await (kakao_user.press(value) if action == "press" else kakao_user.say(value))
                await kakao_user.press("제출")
                assert "구직등록이 완료" in kakao_user.text
                # A refused request is logged (WARNING) without echoing what it carried.
                async with http.post(f"http://127.0.0.1:{port}/kakao/skill",
                                     json=kakao_payload("k-x", "김서울 010-1234-5678"),
                                     headers={SECRET_HEADER: "wrong"}) as resp:
                    assert resp.status == 403
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    captured = capsys.readouterr()
    written = captured.err + captured.out
    assert "webhook mode" in written  # the log was captured
    for secret in SECRETS:
        assert secret not in written, secret
    for personal in PERSONAL:
        assert personal not in written, personal


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_and_bot_api_urls_are_redacted_in_messages_arguments_and_tracebacks(
        fmt: str, capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    logs.setup("DEBUG", fmt, secrets=[WEBHOOK_SECRET, SKILL_SECRET])
    log = logging.getLogger("bot.test")
    # Another bot's token in the Bot API's URL shape is hidden too (a self-hosted server's URL, an old token).
    log.warning("calling %s", "https://api.telegram.org/bot123456:AAAbbbCCC-other_token_0123456789xyz/getMe")
    log.info("secret %s and %s", WEBHOOK_SECRET, {"secret_token": SKILL_SECRET})
    try:
        raise RuntimeError(f"failed with {SKILL_SECRET} at /file/bot{TOKEN}/photo.jpg")
    except RuntimeError:
        log.exception("boom")
    written = capsys.readouterr().err
    for secret in (WEBHOOK_SECRET, SKILL_SECRET, "AAAbbbCCC-other_token_0123456789xyz", TOKEN.split(":")[1]):
        assert secret not in written
    assert "calling https://api.telegram.org/bot[REDACTED]/getMe" in written
    assert "secret [REDACTED] and {'secret_token': '[REDACTED]'}" in written
    assert "Traceback" in written and "RuntimeError: failed with [REDACTED] at /file/bot[REDACTED]/photo.jpg" in written
