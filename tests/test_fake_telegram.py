"""The fake Bot API server must behave like Telegram as seen by real python-telegram-bot code.

Everything goes through ``telegram.Bot`` / ``telegram.ext.Application`` (or raw HTTP for
protocol details PTB hides), so a passing suite means PTB's encoding and error mapping agree
with the fake.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

try:  # package import once tests/__init__.py exists, else rootdir-relative
    from tests.fake_telegram import FakeTelegram
except ImportError:  # pragma: no cover
    from fake_telegram import FakeTelegram  # type: ignore[no-redef]

TOKEN = "123456:TEST-TOKEN"


def keyboard(data: str = "apply:1") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Apply", callback_data=data)]])


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest_asyncio.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.file_url) as client:
        yield client


async def raw_call(fake: FakeTelegram, method: str, **params: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(f"{fake.base_url}{TOKEN}/{method}",
                                                                json=params) as response:
        return await response.json()


@pytest.mark.asyncio
async def test_get_me_and_protocol_details(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "jobhub_test_bot" and me.can_join_groups
    assert fake.url.startswith("http://127.0.0.1:") and fake.base_url == f"{fake.url}/bot"

    # GET + case-insensitive method name
    async with aiohttp.ClientSession() as session, session.get(f"{fake.base_url}{TOKEN}/GETME") as response:
        assert (await response.json())["result"]["username"] == "jobhub_test_bot"
    assert fake.calls[-1].method == "getMe"

    sent = await raw_call(fake, "sendmessage", chat_id=5, text="json body")
    assert sent["ok"] and sent["result"]["chat"] == {"id": 5, "type": "private", "first_name": "Test"}
    assert (await raw_call(fake, "setMyName", name="x")) == {"ok": True, "result": True}
    assert fake.calls[-1].method == "setMyName" and fake.calls[-1].params == {"name": "x"}
    error = await raw_call(fake, "sendMessage", chat_id=5, text="")
    assert error == {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
    malformed = await raw_call(fake, "getUpdates", offset="soon")
    assert malformed["error_code"] == 400 and "invalid parameters" in malformed["description"]


@pytest.mark.asyncio
async def test_send_edit_delete_with_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(42, "첫 번째 공고", reply_markup=keyboard())
    assert first.message_id == 1 and first.reply_markup == keyboard() and first.from_user.is_bot
    second = await bot.send_message(42, "second")
    assert second.message_id == 2 and (await bot.send_message(43, "other")).message_id == 1
    first_call = next(c for c in fake.calls if c.method == "sendMessage")
    assert first_call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "apply:1"

    edited = await bot.edit_message_text("edited", chat_id=42, message_id=1, reply_markup=keyboard())
    assert isinstance(edited, type(first)) and edited.text == "edited" and edited.edit_date
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("edited", chat_id=42, message_id=1, reply_markup=keyboard())
    await bot.edit_message_text("edited", chat_id=42, message_id=1)  # no markup: keyboard removed
    assert "reply_markup" not in fake.messages(42)[0]
    await bot.edit_message_reply_markup(chat_id=42, message_id=1, reply_markup=keyboard("b"))
    assert fake.messages(42)[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "b"
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=999)

    assert await bot.delete_message(42, second.message_id)
    assert [m["text"] for m in fake.messages(42)] == ["edited"] and fake.last_message(42)["message_id"] == 1
    with pytest.raises(BadRequest, match=r"(?i)not found"):
        await bot.delete_message(42, second.message_id)

    await bot.send_message(42, "x" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(42, "  ")

    html = await bot.send_message(42, "<b>공고</b> &amp; <a href='https://x.kr'>link</a>", parse_mode="HTML")
    assert html.text == "공고 & link"
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(42, "salary < 3000", parse_mode="HTML")  # unescaped "<"
    with pytest.raises(BadRequest, match=r'(?i)Unsupported start tag "br"'):
        await bot.send_message(42, "line<br>break", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't find end tag"):
        await bot.send_message(42, "<b>unclosed", parse_mode="HTML")


@pytest.mark.asyncio
async def test_callback_data_longer_than_64_bytes_is_rejected(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(1, "ok", reply_markup=keyboard("x" * 64))
    await bot.send_message(1, "ok", reply_markup=keyboard("가" * 21))  # 63 bytes UTF-8
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(1, "too long", reply_markup=keyboard("가" * 22))  # 66 bytes
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.edit_message_reply_markup(chat_id=1, message_id=1, reply_markup=keyboard("y" * 65))
    assert len(fake.messages(1)) == 2


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:.*retry_after.*")  # PTB's int -> timedelta migration notice
async def test_fault_injection_and_blocking(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next(42, "SENDMESSAGE", retry_after=3)
    await bot.send_message(43, "other chat unaffected")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(42, "flood")
    assert caught.value.retry_after in (3, timedelta(seconds=3))  # type depends on PTB_TIMEDELTA
    assert fake.calls[-1].error_code == 429 and not fake.calls[-1].ok
    await bot.send_message(42, "retried")  # only `times=1`

    fake.fail_next(42, error_code=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_chat_action(42, "typing")
    await bot.send_chat_action(42, "typing")

    fake.block(42)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(42, "hello?")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(42, "typing")
    await bot.send_message(43, "still fine")
    fake.unblock(42)
    await bot.send_message(42, "welcome back")
    assert [m["text"] for m in fake.messages(42)] == ["retried", "welcome back"]


@pytest.mark.asyncio
async def test_a_user_who_never_started_the_bot_is_reached_once_they_write(fake: FakeTelegram, bot: Bot) -> None:
    fake.never_started(50)
    fake.never_started(51, unknown=True)
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await bot.send_message(50, "hello?")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(51, "hello?")
    fake.user_sends(50, "/start")
    await bot.send_message(50, "welcome")
    assert [m["text"] for m in fake.messages(50)] == ["welcome"]
    with pytest.raises(BadRequest):
        await bot.send_message(51, "still nobody")


@pytest.mark.asyncio
async def test_uploads_are_recorded_and_downloadable(fake: FakeTelegram, bot: Bot) -> None:
    pdf = b"%PDF-1.4 fake cv \x00\xff"
    message = await bot.send_document(42, document=pdf, filename="cv.pdf", caption="이력서",
                                      reply_markup=keyboard())
    assert message.document.file_name == "cv.pdf" and message.document.file_size == len(pdf)
    assert message.document.mime_type == "application/pdf" and message.caption == "이력서"
    assert message.reply_markup == keyboard()
    call = fake.calls[-1]
    assert call.method == "sendDocument" and call.chat_id == 42 and call.params["caption"] == "이력서"
    assert call.params["document"].data == pdf and call.params["reply_markup"]["inline_keyboard"]
    assert fake.uploads[-1].filename == "cv.pdf" and fake.uploads[-1].data == pdf

    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == pdf
    again = await bot.send_document(43, document=message.document.file_id)  # resend by file_id
    assert again.document.file_id == message.document.file_id and len(fake.uploads) == 1

    photo = await bot.send_photo(42, photo=b"\x89PNG fake", filename="chart.png")
    assert photo.photo[-1].file_size == 9 and fake.uploads[-1].filename == "chart.png"
    assert (await fake.wait_reply(42, since=call.index)).method == "sendDocument"


@pytest.mark.asyncio
async def test_my_commands_per_scope_and_language(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "시작하기")], language_code="ko")
    await bot.set_my_commands([BotCommand("admin", "Admin")], scope=BotCommandScopeChat(42))
    assert [c.command for c in await bot.get_my_commands(language_code="ko")] == ["start"]
    assert await bot.get_my_commands() == ()
    assert fake.get_commands({"type": "chat", "chat_id": 42})[0]["command"] == "admin"
    await bot.delete_my_commands(language_code="ko")
    assert fake.get_commands(language_code="ko") == []
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Command", "x")])


@pytest.mark.asyncio
async def test_get_updates_long_polling_offset_and_limit(fake: FakeTelegram) -> None:
    started = time.monotonic()
    assert (await raw_call(fake, "getUpdates", timeout=0.3))["result"] == []
    assert 0.25 <= time.monotonic() - started < 1.0

    poll = asyncio.create_task(raw_call(fake, "getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    pushed = fake.user_sends(7, "/start job_42")
    updates = (await asyncio.wait_for(poll, 1))["result"]
    assert time.monotonic() - started < 0.5  # returned promptly, not after the timeout
    assert updates == [pushed]
    assert pushed["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    assert (await raw_call(fake, "getUpdates"))["result"] == [pushed]  # not confirmed yet
    ids = [fake.user_sends(7, f"m{i}")["update_id"] for i in range(3)]
    assert ids == [pushed["update_id"] + 1 + i for i in range(3)]
    batch = (await raw_call(fake, "getUpdates", offset=pushed["update_id"] + 1, limit=2))["result"]
    assert [u["update_id"] for u in batch] == ids[:2]
    assert [u["update_id"] for u in (await raw_call(fake, "getUpdates", offset=-1))["result"]] == ids[2:]
    assert (await raw_call(fake, "getUpdates", offset=ids[-1] + 1))["result"] == []


@pytest.mark.asyncio
async def test_application_polling_echo_command_and_button(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text("start:" + " ".join(context.args or []))

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(update.message.text, reply_markup=keyboard("press"))

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("pressed!")
        await query.edit_message_text(f"pressed {query.data}")

    app = ApplicationBuilder().token(TOKEN).base_url(fake.base_url).base_file_url(fake.file_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(on_button))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        fake.user_sends(42, "/start job_7")
        assert (await fake.wait_reply(42)).result["text"] == "start:job_7"

        fake.user_sends(42, "안녕하세요", first_name="민수")
        reply = await fake.wait_reply(42)
        assert reply.method == "sendMessage" and reply.result["text"] == "안녕하세요"
        assert reply.result["chat"]["first_name"] == "민수"

        update = fake.user_presses(42, reply.result["message_id"], "press")
        assert update["callback_query"]["from"]["first_name"] == "민수"  # profile is remembered
        edit = await fake.wait_reply(42)
        assert edit.method == "editMessageText" and edit.result["text"] == "pressed press"
        assert fake.answered_callbacks[update["callback_query"]["id"]] == "pressed!"
        assert fake.last_message(42)["text"] == "pressed press"

        async def user(user_id: int) -> str:  # many concurrent users, each awaiting its own reply
            fake.user_sends(user_id, f"hello {user_id}")
            return (await fake.wait_reply(user_id)).result["text"]

        assert await asyncio.gather(*(user(1000 + i) for i in range(30))) == [
            f"hello {1000 + i}" for i in range(30)
        ]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.mark.asyncio
async def test_webhook_delivery_with_secret_token(fake: FakeTelegram, bot: Bot) -> None:
    received: asyncio.Queue[tuple[str | None, dict[str, Any]]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        received.put_nowait((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(status=500 if request.path == "/broken" else 200)

    async def deliveries(count: int) -> None:
        async with asyncio.timeout(2):
            while len(fake.webhook_deliveries) < count:
                await asyncio.sleep(0.005)

    receiver = web.Application()
    receiver.router.add_post("/{name}", hook)
    runner = web.AppRunner(receiver, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        with pytest.raises(BadRequest, match=r"(?i)secret token"):
            await bot.set_webhook(f"{base}/hook", secret_token="not allowed!")
        assert await bot.set_webhook(f"{base}/hook", secret_token="s3cret_token-1")
        assert (await bot.get_webhook_info()).url == f"{base}/hook"
        with pytest.raises(Conflict):
            await bot.get_updates()

        sent = fake.user_sends(7, "via webhook")
        secret, body = await asyncio.wait_for(received.get(), 2)
        assert secret == "s3cret_token-1" and body == sent
        await deliveries(1)
        assert fake.webhook_deliveries[0].status == 200 and fake.webhook_deliveries[0].error is None

        await bot.set_webhook(f"{base}/broken")
        fake.user_sends(7, "again")
        secret, _ = await asyncio.wait_for(received.get(), 2)
        assert secret is None
        await deliveries(2)
        assert fake.webhook_deliveries[1].status == 500
        assert "500" in (await bot.get_webhook_info()).last_error_message

        await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
        queued = fake.user_sends(7, "polling again")
        assert [u.update_id for u in await bot.get_updates()] == [queued["update_id"]]
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_driver_updates_parse_and_waiting_helpers(fake: FakeTelegram, bot: Bot) -> None:
    command = fake.user_sends(9, "/start@jobhub_test_bot abc")
    assert Update.de_json(command, bot).message.entities[0].length == len("/start@jobhub_test_bot")
    assert Update.de_json(fake.user_sends_sticker(9), bot).message.sticker.emoji == "👍"
    photo = Update.de_json(fake.user_sends_photo(9, data=b"jpegbytes", caption="사진"), bot).message
    assert bytes(await (await photo.photo[-1].get_file()).download_as_bytearray()) == b"jpegbytes"
    cv = Update.de_json(fake.user_sends_document(9, "cv.hwp", b"hwp"), bot).message.document
    assert cv.file_name == "cv.hwp" and bytes(await (await cv.get_file()).download_as_bytearray()) == b"hwp"
    raw = fake.push_update({"message": {"message_id": 99, "date": 0, "chat": {"id": 9, "type": "private"},
                                        "text": "raw"}})
    assert raw["update_id"] > command["update_id"]

    with pytest.raises(LookupError):
        fake.user_presses(9, 12345, "x")
    sent = await bot.send_message(9, "pick", reply_markup=keyboard())
    press = fake.user_presses(9, sent.message_id, "apply:1")["callback_query"]
    assert press["message"]["message_id"] == sent.message_id and press["data"] == "apply:1"
    assert await bot.answer_callback_query(press["id"])
    assert fake.answered_callbacks == {press["id"]: None}
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query(press["id"])  # answering twice fails like Telegram

    assert (await fake.wait_for(lambda c: c.method == "sendMessage", since=0)).result["text"] == "pick"
    assert (await fake.wait_reply(9, since=0)).result["text"] == "pick"
    waiter = asyncio.create_task(fake.wait_for(lambda c: c.method == "deleteMessage"))
    await asyncio.sleep(0)
    await bot.delete_message(9, sent.message_id)
    assert (await waiter).params["message_id"] == sent.message_id
    with pytest.raises(AssertionError, match=r"(?i)deleteMessage"):
        await fake.wait_for(lambda c: c.method == "nope", timeout=0.05)
    with pytest.raises(AssertionError, match=r"(?i)no reply to chat 9"):
        await fake.wait_reply(9, timeout=0.05)
