"""Every update is handled once: a redelivered Telegram update (a webhook retry, another worker
after a crash) is skipped by a database rule, with no reply and no change of state."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import logs
from bot.app import build_engine
from kernel.core import Incoming
from kernel.i18n import translator
from storage.db import create_engine, session_factory
from storage.models import Conversation, ProcessedUpdate, SeekerProfile
from tests.conftest import REGISTRATION, FakeClock, Harness, make_settings
from tests.fake_kakao import payload, texts_of
from tests.fake_telegram import FakeTelegram
from tests.test_telegram import USER, BotProcess, _free_port, settle

NAME_UPDATE = "700001"


def _name(user: str, update_id: str | None = NAME_UPDATE) -> Incoming:
    return Incoming("telegram", user, user, text="김서울", language_code="ko", update_id=update_id)


async def _step(harness: Harness, user: str) -> str | None:
    async with harness.sessions() as session:
        return await session.scalar(select(Conversation.step).where(Conversation.external_id == user))


async def test_the_same_update_twice_is_handled_once(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    chat = harness.chat(501)
    await chat.send("/register")
    await chat.press("동의합니다")
    first = await harness.engine.handle(_name("501"))
    assert "출생연도" in "\n".join(r.text for r in first.replies)
    step = await _step(harness, "501")
    with caplog.at_level(logging.INFO, logger="bot.engine"):
        again = await harness.engine.handle(_name("501"))
    # Handled as new, "김서울" would be a wrong birth year; skipped, it changes nothing, and the
    # person (whose answer may have died with the worker) is shown the open question again.
    assert [r.text for r in again.replies] == [r.text for r in first.replies if "출생연도" in r.text]
    assert await _step(harness, "501") == step
    skipped = [r.getMessage() for r in caplog.records if "duplicate update" in r.getMessage()]
    assert skipped == [f"duplicate update skipped channel=telegram update={NAME_UPDATE}"]
    # Another update with the same text is a new message, answered as usual.
    assert "출생연도" in "\n".join(r.text for r in (await harness.engine.handle(_name("501", "700002"))).replies)


async def test_a_turn_that_fails_is_not_marked_and_its_redelivery_is_handled(harness: Harness) -> None:
    chat = harness.chat(502)
    await chat.send("/register")
    await chat.press("동의합니다")
    broken = harness.engine.runner.text

    async def fail(*_args: object) -> list[object]:
        raise RuntimeError("handler bug")

    harness.engine.runner.text = fail  # type: ignore[method-assign]
    failed = await harness.engine.handle(_name("502"))
    assert [r.text for r in failed.replies] == [translator("ko")("error.generic")]
    harness.engine.runner.text = broken  # type: ignore[method-assign]
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0
    retried = await harness.engine.handle(_name("502"))
    assert "출생연도" in "\n".join(r.text for r in retried.replies)


async def test_two_workers_given_the_same_update_at_once_handle_it_once(harness: Harness, clock: FakeClock) -> None:
    chat = harness.chat(503)
    await chat.send("/register")
    await chat.press("동의합니다")
    # A second worker: its own engine and connection pool on the same database.
    db = create_engine(harness.settings.database_url)
    other = build_engine(harness.settings, session_factory(db), clock=clock)
    try:
        answers = await asyncio.gather(harness.engine.handle(_name("503")), other.handle(_name("503")))
    finally:
        await db.dispose()
    # One ran the turn; the other found it done and showed the same next question.
    assert all("출생연도" in "\n".join(r.text for r in a.replies) for a in answers)
    assert await _step(harness, "503") == "ask:birth_year"
    async with harness.sessions() as session:
        keys = (await session.scalars(select(ProcessedUpdate.update_key))).all()
    assert keys.count(NAME_UPDATE) == 1


async def test_a_redelivered_webhook_update_is_not_run_again(db_url: str, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(logs._RequestId())
    caplog.set_level(logging.INFO, logger="bot.engine")
    async with FakeTelegram() as fake:
        port = _free_port()
        url = f"http://127.0.0.1:{port}/telegram/hook"
        settings = make_settings(db_url, telegram_bot_token="123:TEST", telegram_api_base_url=fake.base_url,
                                 webhook_url=url, webhook_secret="s3cret", webhook_port=port)
        bot = BotProcess(settings)
        try:
            await fake.wait_for(lambda c: c.method == "setWebhook", timeout=10)
            update = fake.user_sends(USER, "/start")
            await fake.wait_reply(USER, since=0)
            await settle(fake)
            answered = [c for c in fake.calls if c.chat_id == USER and c.method == "sendMessage"]
            assert answered
            fake.push_update(update)  # Telegram retries: the same update_id again
            # Both POSTs answered: each answer comes after its turn, every reply of it sent.
            assert [d.status for d in await fake.wait_deliveries(2)] == [200, 200]
            await settle(fake)
            # Not run again (no second welcome); the person is shown where they are: the menu.
            again = [c for c in fake.calls if c.chat_id == USER and c.method == "sendMessage"][len(answered):]
            assert [c.params["text"] for c in again] == [translator("ko")("menu.title")]
            # The skipped delivery's log line carries the update's id as its request id.
            [skipped] = [r for r in caplog.records if "duplicate update" in r.getMessage()]
            assert getattr(skipped, "request_id", None) == f"tg-{update['update_id']}"
        finally:
            await bot.close()


async def test_a_kakao_submit_retried_by_the_platform_registers_once(harness: Harness) -> None:
    """KakaoTalk gives no request id: a retried request is the same button press again, which
    the form's version and last-pressed button answer with "already done" (sequential retries)
    or the per-person lock orders behind the first (concurrent ones)."""
    from tests.test_kakao import start_skill

    skill = await start_skill(harness)
    try:
        for key in ("k-retry", "k-retry-concurrent"):
            user = skill.user(key)
            await user.say("/register")
            for action, value in REGISTRATION:
                await (user.press(value) if action == "press" else user.say(value))
            submit = user.find("제출")
            assert submit is not None
            if key == "k-retry":
                await user.tap(submit)
                assert "구직등록이 완료" in user.text
                await user.tap(submit)  # the platform's retry of the same request
                assert user.text == "이미 처리되었어요"
            else:
                bodies = [payload(key, submit["messageText"], extra=submit["extra"]) for _ in range(2)]
                answers = await asyncio.gather(*(skill.post(b) for b in bodies))
                said = ["\n".join(texts_of(a["template"])) for _, a in answers]
                assert sum("구직등록이 완료" in s for s in said) == 1, said
        async with harness.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(SeekerProfile)) == 2
    finally:
        await skill.client.close()


async def test_handled_update_ids_are_forgotten_after_the_kept_hours(harness: Harness, clock: FakeClock) -> None:
    from bot.app import purge_updates

    await harness.engine.handle(Incoming("telegram", "504", "504", text="/start", command="start", update_id="9"))
    clock.advance(hours=harness.settings.processed_updates_keep_hours - 1)
    await purge_updates(harness.sessions, harness.settings, clock)
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1
    clock.advance(hours=2)
    await purge_updates(harness.sessions, harness.settings, clock)
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0
