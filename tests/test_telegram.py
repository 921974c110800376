"""The real python-telegram-bot Application against the fake Bot API on 127.0.0.1.

Polling: a whole registration with button presses. Webhook: the right secret is
processed, a wrong or missing one gets 403 and nothing happens, a malformed body 400.
The outbox notifier maps Telegram's errors to the dispatcher's outcomes, and the aiohttp transport
maps network trouble to the errors PTB expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from telegram import Update

from bot.channels.telegram import TelegramChannel, build_application, split_text
from bot.cli.serve import run
from kernel.config import ConfigError, Settings
from kernel.core import Button
from scheduler import outbox as dispatch
from storage import counselors, users
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from tests.conftest import ADMIN_ID, make_settings
from tests.fake_telegram import FakeTelegram

USER = 4242
COUNSELOR = 7001


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def _settings(tmp_path: Path, fake: FakeTelegram, **overrides: Any) -> Settings:
    # Polling alone needs no HTTP server; the staff console would start one on WEBHOOK_PORT.
    overrides.setdefault("console_enabled", False)
    return make_settings(f"sqlite+aiosqlite:///{tmp_path / 'tg.sqlite3'}", telegram_bot_token="123:TEST",
                         telegram_api_base_url=fake.base_url, **overrides)


# Every update the Telegram channel finishes (turn done, every reply sent) is reported to the fake that
# sent it, whoever started the bot (BotProcess, or `serve` directly): `settle` waits for that.
_on_update = TelegramChannel.on_update


async def _counted(channel: TelegramChannel, update: Update, context: Any) -> None:
    try:
        await _on_update(channel, update, context)
    finally:
        FakeTelegram.record_handled(channel.application.bot.base_url, update.update_id)


TelegramChannel.on_update = _counted  # type: ignore[method-assign]


class BotProcess:
    """`bot.cli.serve.run` (`python -m bot run`) in a task, stopped at the end of the test."""

    def __init__(self, settings: Settings) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run(settings, stop=self.stop))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def _reply_text(fake: FakeTelegram, since: int) -> str:
    call = await fake.wait_reply(USER, since=since)
    return str(call.params.get("text", ""))


async def settle(fake: FakeTelegram) -> None:
    """Wait until the bot has handled every update pushed to the fake so far (a redelivery counts
    again): an answer can be several messages, and all of them are out when its turn is done."""
    await fake.wait_handled()


async def say(fake: FakeTelegram, text: str) -> str:
    since = len(fake.calls)
    fake.user_sends(USER, text)
    await fake.wait_reply(USER, since=since)
    await settle(fake)
    return "\n".join(str(c.params.get("text", "")) for c in fake.calls[since:] if c.chat_id == USER)


async def press(fake: FakeTelegram, label: str) -> str:
    message = next(m for m in reversed(fake.messages(USER)) if m.get("reply_markup"))
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    data = next(b["callback_data"] for b in buttons if label in b["text"])
    since = len(fake.calls)
    update = fake.user_presses(USER, message["message_id"], data)
    await fake.wait_for(lambda c: c.method == "answerCallbackQuery"
                        and c.params.get("callback_query_id") == update["callback_query"]["id"], since=since)
    await fake.wait_reply(USER, since=since)
    await settle(fake)
    return "\n".join(str(c.params.get("text", "")) for c in fake.calls[since:] if c.chat_id == USER)


async def test_polling_registration_with_buttons(tmp_path: Path, fake: FakeTelegram) -> None:
    bot = BotProcess(_settings(tmp_path, fake))
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        assert fake.get_commands(language_code="ko")[0]["description"] == "시작하기"
        assert any(c["command"] == "register" for c in fake.get_commands(language_code="en"))
        assert not any(c["command"] == "applications" for c in fake.get_commands())

        assert "서울일자리플러스센터" in await say(fake, "/start")
        assert "개인정보 수집" in await say(fake, "/register")
        assert "이름을 입력" in await press(fake, "동의합니다")
        # The answered question was edited in place: its buttons replaced by the answer.
        assert any(c.method == "editMessageText" and "→ ✅ 동의합니다" in c.params["text"] for c in fake.calls)
        for text in ("김서울", "1999"):
            await say(fake, text)
        await press(fake, "청년층")
        await press(fake, "대학교")
        for text in ("서울대학교", "웹 개발", "Python"):
            await say(fake, text)
        await press(fake, "마포구")
        assert "✅ 마포구" in fake.last_message(USER)["reply_markup"]["inline_keyboard"][3][1]["text"]
        await press(fake, "선택 완료")
        await press(fake, "4년제")
        await press(fake, "신입")
        await press(fake, "건너뛰기")
        assert "확인해 주세요" in await press(fake, "건너뛰기")
        assert "구직등록이 완료" in await press(fake, "제출")
        assert all(cid in fake.answered_callbacks for cid in
                   (c.params["callback_query_id"] for c in fake.calls if c.method == "answerCallbackQuery"))

        # A stale button: answered with a toast, and the person gets a clear line.
        old = next(m for m in fake.messages(USER) if m.get("reply_markup")
                   and m["reply_markup"]["inline_keyboard"][-1][0]["callback_data"].startswith("f"))
        data = old["reply_markup"]["inline_keyboard"][-1][0]["callback_data"]
        since = len(fake.calls)
        update = fake.user_presses(USER, old["message_id"], data)
        answer = await fake.wait_for(lambda c: c.method == "answerCallbackQuery", since=since)
        assert answer.params["callback_query_id"] == update["callback_query"]["id"]
        assert "만료" in answer.params.get("text", "")
        assert "만료" in (await fake.wait_reply(USER, since=since)).params["text"]
        await settle(fake)

        assert "이해하지 못해요" in await say_sticker(fake)
    finally:
        await bot.close()


async def test_a_shared_contact_answers_the_phone_question(tmp_path: Path, fake: FakeTelegram) -> None:
    bot = BotProcess(_settings(tmp_path, fake, demo_data=False))
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        await say(fake, "/register")
        await press(fake, "동의합니다")
        for text in ("김서울", "1999"):
            await say(fake, text)
        await press(fake, "청년층")
        await press(fake, "대학교")
        for text in ("서울대학교", "웹 개발", "Python"):
            await say(fake, text)
        await press(fake, "마포구")
        await press(fake, "선택 완료")
        await press(fake, "4년제")
        await press(fake, "신입")
        assert "휴대전화" in await press(fake, "건너뛰기")
        since = len(fake.calls)
        fake.user_sends_contact(USER, "821012345678")  # as Telegram gives it, without "+"
        await fake.wait_reply(USER, since=since)
        await settle(fake)
        summary = "\n".join(str(c.params.get("text", "")) for c in fake.calls[since:] if c.chat_id == USER)
        assert "확인해 주세요" in summary and "010-1234-5678" in summary
    finally:
        await bot.close()


async def test_run_loads_the_demo_set_on_an_empty_database_unless_switched_off(tmp_path: Path,
                                                                                 fake: FakeTelegram) -> None:
    for demo_data, expected in ((False, "아직 등록된 채용공고가 없어요"), (True, "먼저 구직등록")):
        settings = _settings(tmp_path / str(demo_data), fake, demo_data=demo_data)
        (tmp_path / str(demo_data)).mkdir()
        bot = BotProcess(settings)
        try:
            await fake.wait_for(lambda c: c.method == "deleteWebhook", since=len(fake.calls), timeout=10)
            assert expected in await say(fake, "/jobs")
            # The sample 기술교육원 courses come with the demo set, dates ahead of today.
            courses_said = await say(fake, "/courses")
            assert ("신청할 수 있는 과정이 없어요" in courses_said) is not demo_data, courses_said
        finally:
            await bot.close()


async def test_command_lists_per_role_set_at_start_and_when_a_role_changes(tmp_path: Path, fake: FakeTelegram) -> None:
    settings = _settings(tmp_path, fake)
    db = create_engine(settings.database_url)
    await upgrade(db)
    async with session_factory(db)() as s, s.begin():
        now = dt.datetime.now(dt.UTC)
        user, _ = await users.identify(s, "telegram", str(COUNSELOR), str(COUNSELOR), "ko", now)
        await counselors.create(s, user.id, "김지현", ["job_counselling"], now)
    await db.dispose()

    def names(chat: int | None, language: str = "ko") -> set[str]:
        scope = {"type": "chat", "chat_id": chat} if chat is not None else None
        return {c["command"] for c in fake.get_commands(scope, language)}

    bot = BotProcess(settings)
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        everyone, admin, counselor = names(None), names(ADMIN_ID), names(COUNSELOR)
        staff_only = {"referrals", "availability", "agenda", "myrating"}
        assert "myreferrals" in everyone and not everyone & (staff_only | {"invite", "stats"})
        assert {"availability", "agenda", "myrating", "referrals"} <= counselor and "invite" not in counselor
        assert {"invite", "stats", "referrals"} <= admin and "availability" not in admin
        assert names(COUNSELOR, "en") == counselor

        # /help says the same as the menu, per person.
        assert "/availability" not in await say(fake, "/help") and "/referrals" not in fake.last_message(USER)["text"]

        # The admin deactivates the counselor: their chat falls back to everyone's list.
        since = len(fake.calls)
        fake.user_sends(ADMIN_ID, "/counselors")
        await fake.wait_reply(ADMIN_ID, since=since)
        await settle(fake)
        for label in ("비활성화", "네, 비활성화"):
            message = next(m for m in reversed(fake.messages(ADMIN_ID)) if m.get("reply_markup"))
            data = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
                        if label in b["text"])
            since = len(fake.calls)
            fake.user_presses(ADMIN_ID, message["message_id"], data)
            await fake.wait_reply(ADMIN_ID, since=since)
            await settle(fake)
        # The last of the three (ko, en, no language) is the one without a language.
        await fake.wait_for(lambda c: c.method == "deleteMyCommands" and not c.params.get("language_code"),
                            since=since, timeout=10)
        assert names(COUNSELOR) == set()  # none of its own: Telegram shows everyone's
    finally:
        await bot.close()


async def say_sticker(fake: FakeTelegram) -> str:
    since = len(fake.calls)
    fake.user_sends_sticker(USER)
    return await _reply_text(fake, since)


async def test_admin_gets_application_and_decides_by_button(tmp_path: Path, fake: FakeTelegram) -> None:
    bot = BotProcess(_settings(tmp_path, fake))
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        assert any(c["command"] == "applications"
                   for c in fake.get_commands({"type": "chat", "chat_id": ADMIN_ID}, "ko"))
        await say(fake, "/membership")
        await press(fake, "예비 창업자")
        await say(fake, "서울팀")
        await say(fake, "동네 가게 주문을 돕는 앱입니다.")
        await press(fake, "교육")
        await press(fake, "아이디어")
        await press(fake, "2명")
        await press(fake, "동의합니다")
        before = len(fake.calls)
        await press(fake, "제출")
        note = await fake.wait_reply(ADMIN_ID, timeout=5, since=before)
        assert "새 공동회원 신청" in note.params["text"]
        approve = note.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        since = len(fake.calls)
        fake.user_presses(ADMIN_ID, note.result["message_id"], approve)
        result = await fake.wait_reply(USER, since=since, timeout=5)
        assert "승인되었어요" in result.params["text"]
        # The admin's message was edited to show the decision (the outbox may deliver first).
        await fake.wait_for(lambda c: c.method == "editMessageText" and c.chat_id == ADMIN_ID, since=since)
        assert "승인했어요" in fake.messages(ADMIN_ID)[-1]["text"]
    finally:
        await bot.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_checks_the_secret(tmp_path: Path, fake: FakeTelegram) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    settings = _settings(tmp_path, fake, webhook_url=url, webhook_secret="s3cret-token", webhook_port=port)
    bot = BotProcess(settings)
    try:
        await fake.wait_for(lambda c: c.method == "setWebhook", timeout=10)
        assert fake.webhook is not None and fake.webhook["secret_token"] == "s3cret-token"

        update = {"update_id": 999001, "message": {
            "message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"},
            "from": {"id": USER, "is_bot": False, "first_name": "X"}, "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=update, headers=headers) as resp:
                    assert resp.status == 403
            async with http.post(url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token":
                                                                     "s3cret-token"}) as resp:
                assert resp.status == 400
        since = len(fake.calls)
        fake.user_sends(USER, "/start")  # the fake POSTs it with the secret it was given
        call = await fake.wait_reply(USER, since=since)
        assert "서울일자리플러스센터" in call.params["text"]
        # The POST is answered once the turn is done and its reply sent (so a worker dying
        # mid-turn leaves it unanswered and Telegram delivers it again).
        [delivery] = await fake.wait_deliveries(1)
        assert delivery.status == 200
        # The refused POSTs ran nothing: the one welcome is this update's (its turn is done by now).
        assert [c.index for c in fake.calls if c.method == "sendMessage" and "서울일자리플러스센터" in
                c.params.get("text", "")] == [call.index]
    finally:
        await bot.close()


@contextlib.asynccontextmanager
async def notifier(tmp_path: Path, fake: FakeTelegram, **overrides: Any) -> AsyncIterator[TelegramChannel]:
    """The Telegram channel as the outbox's notifier, against the fake."""
    from bot.app import build_engine
    from storage.db import create_engine, session_factory

    settings = _settings(tmp_path, fake, **overrides)
    db = create_engine(settings.database_url)
    application = build_application(settings)
    channel = TelegramChannel(build_engine(settings, session_factory(db)), application)
    await application.initialize()
    try:
        yield channel
    finally:
        await application.shutdown()
        await db.dispose()


async def test_notifier_maps_platform_errors(tmp_path: Path, fake: FakeTelegram) -> None:
    async with notifier(tmp_path, fake) as channel:
        await channel.send("77", {"text": "안녕하세요", "buttons": [[{"label": "열기", "payload": "m:menu"}]]})
        assert fake.last_message(77)["text"] == "안녕하세요"
        fake.block(78)
        with pytest.raises(dispatch.Blocked):
            await channel.send("78", {"text": "x"})
        fake.fail_next(79, error_code=429, retry_after=7, times=5)
        with pytest.raises(dispatch.RetryAfter) as exc:
            await channel.send("79", {"text": "x"})
        assert exc.value.seconds == 7
        await channel.send("80", {"text": "가" * 9000})
        assert [len(m["text"]) for m in fake.messages(80)] == [4096, 4096, 808]


async def test_paid_broadcast_flag_goes_only_on_broadcasts_when_switched_on(tmp_path: Path, fake: FakeTelegram) -> None:
    """TELEGRAM_PAID_BROADCAST: a broadcast's messages carry allow_paid_broadcast (Telegram then
    takes up to 1,000/s, for 0.1 Star each); reminders and other queued messages never do, and
    nothing does while the setting is off."""
    from kernel.core import FileOut, Reply

    broadcast = {**Reply("📢 채용박람회 안내", [[Button("신청", "m:events")]]).to_payload(), "broadcast": True}
    reminder = Reply("⏰ 내일 10:00 상담이 있어요").to_payload()
    with_photo = {**Reply("📢 포스터", file=FileOut("poster.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
                                                  "image/png")).to_payload(), "broadcast": True}
    async with notifier(tmp_path, fake, telegram_paid_broadcast=True, outbox_rate=500) as channel:
        since = len(fake.calls)
        for chat, payload in ((91, broadcast), (92, reminder), (93, with_photo)):
            await channel.send(str(chat), payload)
        sent = {(c.chat_id, c.method): c.params.get("allow_paid_broadcast") for c in fake.calls[since:]
                if c.method.startswith("send")}
        assert sent == {(91, "sendMessage"): True, (92, "sendMessage"): None, (93, "sendMessage"): True,
                        (93, "sendPhoto"): True}, sent
    async with notifier(tmp_path, fake) as channel:
        since = len(fake.calls)
        await channel.send("94", broadcast)
        assert [c.params.get("allow_paid_broadcast") for c in fake.calls[since:] if c.method == "sendMessage"] == [None]


def test_outbox_rate_above_telegrams_free_limit_needs_paid_broadcast(tmp_path: Path, fake: FakeTelegram) -> None:
    with pytest.raises(ConfigError, match=r"setting OUTBOX_RATE is invalid: .*TELEGRAM_PAID_BROADCAST=true"):
        _settings(tmp_path, fake, outbox_rate=100)
    assert _settings(tmp_path, fake, outbox_rate=100, telegram_paid_broadcast=True).outbox_rate == 100
    # KakaoTalk alone (no Telegram token) is not bound by Telegram's limit.
    assert make_settings("sqlite+aiosqlite://", outbox_rate=100).outbox_rate == 100


def test_split_text_keeps_everything() -> None:
    text = "\n".join(f"줄 {i} " + "가" * 50 for i in range(300))
    parts = split_text(text)
    assert all(len(p) <= 4096 for p in parts)
    assert "".join(p.replace("\n", "") for p in parts) == text.replace("\n", "")


async def test_booking_confirmation_carries_an_ics_document(tmp_path: Path, fake: FakeTelegram) -> None:
    from storage import counselors, users
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade
    from tests.test_booking import seed_seeker

    settings = _settings(tmp_path, fake)
    db = create_engine(settings.database_url)
    await upgrade(db)
    sessions = session_factory(db)
    now = dt.datetime.now(dt.UTC)
    async with sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", "800", "800", "ko", now)
        c = await counselors.create(s, user.id, "김상담", ["document_clinic"], now)
        online = await counselors.place(s, "online", "화상", video_link="https://meet.example.org/jobhub")
        for weekday in range(7):
            await counselors.add_window(s, c.id, online.id, weekday, 0, 24 * 60)
    await seed_seeker(sessions, USER, now)
    await db.dispose()
    bot = BotProcess(settings)
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        asked = await say(fake, "/book")
        # One type of consultation at one place: both given for the person, the day asked first.
        assert "구직서류클리닉" in asked and "화상" in asked and "날짜" in asked
        day = next(m for m in reversed(fake.messages(USER)) if m.get("reply_markup"))
        first_day = day["reply_markup"]["inline_keyboard"][1][0]["text"]  # tomorrow or later
        await press(fake, first_day)
        times = next(m for m in reversed(fake.messages(USER)) if m.get("reply_markup"))
        await press(fake, times["reply_markup"]["inline_keyboard"][0][0]["text"])
        await press(fake, "건너뛰기")
        since = len(fake.calls)
        await press(fake, "제출")
        doc = await fake.wait_for(lambda c: c.method == "sendDocument", since=since)
        upload = doc.params["document"]
        assert upload.filename.endswith(".ics") and b"https://meet.example.org/jobhub" in upload.data
    finally:
        await bot.close()


async def test_queued_message_with_a_chart_arrives_as_a_photo(tmp_path: Path, fake: FakeTelegram) -> None:
    """The weekly digest: text with a button, then the chart from the outbox row as an inline photo."""
    from kernel.core import FileOut, Reply

    async with notifier(tmp_path, fake) as channel:
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        reply = Reply("📊 주간 실적", [[Button("통계", "m:stats")]], file=FileOut("week.png", png, "image/png"))
        since = len(fake.calls)
        await channel.send(str(ADMIN_ID), reply.to_payload())
        assert next(m.get("text") for m in fake.messages(ADMIN_ID)) == "📊 주간 실적"
        photo = await fake.wait_for(lambda c: c.method == "sendPhoto", since=since)
        assert photo.params["photo"].data == png


async def test_transport_maps_network_trouble_to_transient_errors(tmp_path: Path) -> None:
    """The aiohttp transport: no server, or one that never answers, is a `NetworkError`
    (`TimedOut`) for PTB, which the outbox notifier turns into a retry later."""
    from telegram.error import NetworkError, TimedOut

    from bot.app import build_engine
    from bot.channels.telegram_http import AiohttpRequest
    from storage.db import create_engine, session_factory

    release = asyncio.Event()

    async def hang(_request: aiohttp.web.Request) -> aiohttp.web.Response:
        await release.wait()  # longer than the read timeout; let go at the end of the test
        return aiohttp.web.json_response({"ok": True, "result": True})

    app = aiohttp.web.Application()
    app.router.add_post("/{tail:.*}", hang)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"http://127.0.0.1:{port}/bot123:TEST/getMe")
        with pytest.raises(NetworkError):
            await request.post(f"http://127.0.0.1:{_free_port()}/bot123:TEST/getMe")
    finally:
        await request.shutdown()
        release.set()
        await runner.cleanup()

    closed = f"http://127.0.0.1:{_free_port()}/bot"
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'tg.sqlite3'}", telegram_bot_token="123:TEST",
                             telegram_api_base_url=closed)
    db = create_engine(settings.database_url)
    application = build_application(settings)
    channel = TelegramChannel(build_engine(settings, session_factory(db)), application)
    await application.bot.request.initialize()  # not the whole bot: its getMe would fail the same way
    try:
        with pytest.raises(dispatch.TransientError):
            await channel.send("77", {"text": "안녕하세요"})
    finally:
        await application.bot.request.shutdown()
        await db.dispose()


async def test_transport_uses_the_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                            fake: FakeTelegram) -> None:
    """HTTP(S)_PROXY is honoured as with PTB's default transport, and NO_PROXY bypasses it."""
    from bot.channels.telegram_http import AiohttpRequest

    seen: list[str] = []

    async def proxy(request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        seen.append(str(request.url))
        return aiohttp.web.json_response({"ok": True, "result": True})

    # A low-level server: a proxied request's target is the absolute URL, which no route matches.
    runner = aiohttp.web.ServerRunner(aiohttp.web.Server(proxy))
    await runner.setup()
    port = _free_port()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        request = AiohttpRequest()
        await request.initialize()
        await request.post("http://api.example.org/bot123:TEST/close")
        await request.shutdown()
        assert seen == ["http://api.example.org/bot123:TEST/close"]

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        request = AiohttpRequest()
        await request.initialize()
        await request.post(f"{fake.base_url}123:TEST/getMe")
        await request.shutdown()
        assert len(seen) == 1 and fake.calls[-1].method == "getMe"
    finally:
        await runner.cleanup()
