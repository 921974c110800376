"""Telegram channel (python-telegram-bot 22): updates in, replies out, outbox notifier.

Every private-chat update becomes an `Incoming` for the engine; the engine's replies
are rendered as messages with inline keyboards (split at 4096 characters, buttons on
the last part), edits of the message whose button was pressed where the reply asks for
it, documents for files, and photos or documents already on Telegram sent by file id
(a broadcast's attachment: the text as caption up to 1024 characters, else after it). A
broadcast file kept from another channel (a KakaoTalk admin's photo) is uploaded by the
first send, once per process even with the dispatcher's concurrent sends, and goes by the
returned file id from then on; that id is recorded on the broadcast in the database, so
another process or a restart reuses it instead of uploading again.
Every callback query is answered, with the engine's toast when there is one, so the
client never keeps a spinner. A shared contact (📎 → Contact) arrives as its phone number
typed, so the phone question takes it.

The command menu: everyone's list by default, and in each staff chat (admins, active
counselors) the list for their roles, set at start and again when someone joins as a
counselor or is deactivated (`Engine.roles_changed` → `refresh_commands`).

Long polling by default; with WEBHOOK_URL set, the shared aiohttp server
(`bot.channels.http`, the same one that serves KakaoTalk) receives the updates and refuses
any request without the right `X-Telegram-Bot-Api-Secret-Token` (403, nothing processed),
and with 400 a body that is no update the bot can read (`bot.channels.boundary`: size, JSON,
nesting, text; then `UPDATE`, the types of the fields the bot reads, and PTB's own parsing).

Replies and edits whose answer is not needed go as plain Bot API JSON, not PTB objects (`_call`): 2.21 → 1.69 ms
of CPU per message (bench/README.md, `throughput.py`, "Where JobHub's CPU went").
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

# Opt in to PTB's coming `retry_after: timedelta` now (the old float form is deprecated).
os.environ.setdefault("PTB_TIMEDELTA", "1")
from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.warnings import PTBUserWarning

from bot.channels.boundary import Refused, Shape, conforms, guarded, header_secret_ok, read_json
from bot.channels.telegram_http import AiohttpRequest
from bot.engine import Engine
from bot.logs import request_scope
from kernel import metrics
from kernel.config import Settings
from kernel.core import FileOut, FileTooBig, Incoming, Reply, Response
from kernel.core import split_text as core_split
from kernel.i18n import LOCALES, translator
from scheduler import outbox as dispatch
from storage import broadcasts, counselors, files

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

# Set while the outbox sends a broadcast's row with TELEGRAM_PAID_BROADCAST on: every message
# of that row goes with allow_paid_broadcast, whichever send path it takes (text, file id,
# upload), and PTB's limiter then paces it on the paid tier (1,000/s) instead of the free 30/s.
_PAID: ContextVar[bool] = ContextVar("telegram_paid_broadcast", default=False)


def _paid() -> bool | None:
    return True if _PAID.get() else None

CHANNEL = "telegram"
MAX_TEXT = 4096
MAX_CAPTION = 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024  # sendPhoto's limit; bigger images go as documents
UPLOADS_KEPT = 256
REPLY_RETRIES = 2
# A short pause between long polls lets updates arriving together come in one getUpdates
# (8 instead of 1 under load), at most 50 ms later.
POLL_INTERVAL = 0.05


# The fields `to_incoming` and the replies read, with their types: PTB builds its objects
# without checking them, so a chat id that is text would only fail after the turn.
_USER: Shape = {"id": int, "is_bot": bool, "first_name": str, "language_code": str}
_FILE: Shape = {"file_id": str}
_MESSAGE: Shape = {"message_id": int, "date": int, "chat": {"id": int, "type": str}, "from": _USER, "text": str,
                   "photo": [_FILE], "document": _FILE}
UPDATE: Shape = {"update_id": int, "message": _MESSAGE,
                 "callback_query": {"id": str, "from": _USER, "data": str, "message": _MESSAGE}}


def read_update(data: object, bot: Any) -> Update:
    """The update in a webhook's JSON, or `Refused` (400) when it is not one the bot can read."""
    if not isinstance(data, dict) or "update_id" not in data or not conforms(data, UPDATE):
        raise Refused(400, "malformed update", detail="not an update of the expected shape")
    try:
        update = Update.de_json(data, bot)
    except Exception as exc:  # PTB's parser is the decoder here: whatever it cannot read is not an update
        raise Refused(400, "malformed update", detail=f"not an update ({type(exc).__name__})") from None
    if update is None:
        raise Refused(400, "malformed update")
    return update


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    return core_split(text, limit)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, url=b.url) if b.url else InlineKeyboardButton(b.label, callback_data=b.payload)
          for b in row] for row in reply.buttons]
    )


def keyboard_json(reply: Reply) -> dict[str, Any] | None:
    """The same inline keyboard as Bot API JSON, for the plain calls (no PTB objects to build)."""
    if not reply.buttons:
        return None
    return {"inline_keyboard": [[{"text": b.label, "url": b.url} if b.url else
                                 {"text": b.label, "callback_data": b.payload} for b in row]
                                for row in reply.buttons]}


def to_incoming(update: Update) -> Incoming | None:
    """The core's view of an update; None for what the bot ignores (groups, edits, channels)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type != "private" or user.is_bot:
        return None
    base: dict[str, Any] = {"channel": CHANNEL, "external_id": str(user.id), "chat_id": str(chat.id),
                            "language_code": user.language_code, "update_id": str(update.update_id),
                            "sender_name": user.full_name or (f"@{user.username}" if user.username else None)}
    if update.callback_query is not None:
        return Incoming(**base, button=update.callback_query.data or "")
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        command = Incoming.parse_command(message.text)
        if command is not None:
            return Incoming(**base, text=message.text, command=command[0], args=command[1])
        return Incoming(**base, text=message.text)
    if message.contact is not None and message.contact.phone_number:
        # A shared contact (📎 → Contact) is the number typed for them: the phone question takes it.
        # Telegram gives it without the "+" of its country code ("821012345678").
        number = message.contact.phone_number.strip()
        return Incoming(**base, text=number if number.startswith("+") else "+" + number)
    kind = next((k for k in ("sticker", "photo", "document", "voice", "video", "audio", "location", "contact")
                 if getattr(message, k, None)), "other")
    file_ref = file_name = None
    if kind == "photo":
        file_ref = message.photo[-1].file_id  # the sizes come smallest first
    elif kind == "document" and message.document is not None:
        file_ref, file_name = message.document.file_id, message.document.file_name
    return Incoming(**base, attachment=kind, file_ref=file_ref, file_name=file_name)


class TelegramChannel:
    """Connects an `Engine` to a PTB `Application`; also the outbox notifier for Telegram."""

    channel = CHANNEL

    def __init__(self, engine: Engine, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.engine = engine
        self.application = application
        # `_call` uses `Bot.do_api_request` on purpose for methods PTB also wraps (see there).
        # Set here rather than at import, so it also holds where warning filters are reset.
        warnings.filterwarnings("ignore", category=PTBUserWarning,
                                message=r"Please use 'Bot\.(sendMessage|editMessageText|sendPhoto|sendDocument)'")
        application.add_handler(TypeHandler(Update, self.on_update))
        application.add_error_handler(self.on_error)
        # The bot's username, known once getMe has answered (`start`): until then no t.me links.
        self.username: str | None = None
        engine.add_channel(self)
        # Kept files (a KakaoTalk admin's broadcast photo) already uploaded: "id@expires" -> (kind,
        # Telegram file id), or None when the file is gone; `_uploading` makes concurrent first sends wait.
        self._uploads: dict[str, tuple[str, str] | None] = {}
        self._uploading: dict[str, asyncio.Lock] = {}

    def start_link(self, payload: str) -> str | None:
        return None if self.username is None else f"https://t.me/{self.username}?start={payload}"

    async def fetch_file(self, file_ref: str) -> bytes:
        """A file a person sent, by its file_id (bots may download up to 20 MB)."""
        file = await self.application.bot.get_file(file_ref)
        if file.file_size and file.file_size > MAX_DOWNLOAD:
            raise FileTooBig(f"file of {file.file_size} bytes is over the bot download limit", MAX_DOWNLOAD)
        return bytes(await file.download_as_bytearray())

    async def on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        # Every log line of this update, here and in the engine, carries its id.
        with request_scope(f"tg-{update.update_id}"):
            await self._on_update(update)

    async def _on_update(self, update: Update) -> None:
        incoming = to_incoming(update)
        query = update.callback_query
        if incoming is None:
            if query is not None:
                await self._answer(query.id, None)
            return
        source = query.message if query is not None and isinstance(query.message, Message) else None

        async def deliver(response: Response) -> None:
            if query is not None:
                await self._answer(query.id, response.toast)
            # A person is waiting for this answer: let the limiter sit out a flood wait and retry.
            await self.render(int(incoming.chat_id), response, source, rate_limit_args=REPLY_RETRIES)

        # Sent inside the person's turn: the answer to their next message waits until this one is out.
        await self.engine.handle(incoming, deliver=deliver)

    async def _answer(self, query_id: str, text: str | None) -> None:
        try:
            await self.application.bot.answer_callback_query(query_id, text=text)
        except TelegramError as exc:
            # An answer can come too late (query older than ~15 s); the reply itself still goes out.
            log.info("callback answer failed: %s", exc)

    async def render(self, chat_id: int, response: Response, source: Message | None = None,
                     rate_limit_args: int | None = None) -> None:
        bot = self.application.bot
        for reply in response.replies:
            if not reply.text and not reply.file:
                continue
            if await self._send_attachment(chat_id, reply, rate_limit_args):
                continue
            if reply.edit and source is not None and len(reply.text) <= MAX_TEXT and await self._edit(source, reply):
                continue
            if reply.text:
                await self._send_text(chat_id, reply, rate_limit_args)
            if reply.file is not None:
                upload = InputFile(reply.file.data, filename=reply.file.filename)
                # A chart reads best inline; spreadsheets and calendars go as files.
                if reply.file.mime.startswith("image/"):
                    await bot.send_photo(chat_id, upload, caption=reply.file.caption, rate_limit_args=rate_limit_args,
                                         allow_paid_broadcast=_paid())
                else:
                    await bot.send_document(chat_id, upload, caption=reply.file.caption,
                                            rate_limit_args=rate_limit_args, allow_paid_broadcast=_paid())

    async def _send_attachment(self, chat_id: int, reply: Reply, rate_limit_args: int | None) -> bool:
        """A photo or document by its Telegram file id, or a kept file (`Reply.attachment.kept`,
        a KakaoTalk admin's broadcast photo) uploaded by its first send and by the file id that
        upload returned from then on. False when the reply has no such file (or the kept one is
        gone): then the text goes alone."""
        attachment = reply.attachment
        if attachment is None:
            return False
        own = attachment.ref(CHANNEL)
        if own is not None:
            kind, file_id = own
        elif attachment.kept is not None:
            stored = attachment.kept.id
            # A dictionary look-up per message once the file is up: no database query, no upload.
            # By expiry too: a file kept again after it was purged (same bytes, same id) is not "gone".
            key = f"{stored}@{attachment.kept.expires}"
            if key not in self._uploads and await self._upload_once(chat_id, reply, stored, key, attachment.kind,
                                                                    rate_limit_args):
                return True
            known = self._uploads.get(key)
            if known is None:
                return False
            kind, file_id = known
        else:
            return False
        if not file_id:
            return False
        fits = len(reply.text) <= MAX_CAPTION
        # By file id the answer is not needed: plain JSON, as for text (see `_call`).
        method, field = ("sendPhoto", "photo") if kind == "photo" else ("sendDocument", "document")
        await self._call(method, {"chat_id": chat_id, field: str(file_id),
                                  "caption": reply.text if fits and reply.text else None,
                                  "reply_markup": keyboard_json(reply) if fits else None}, rate_limit_args)
        if not fits:
            await self._send_text(chat_id, reply, rate_limit_args)
        return True

    async def _upload_once(self, chat_id: int, reply: Reply, stored: str, key: str, kind: str,
                           rate_limit_args: int | None) -> bool:
        """The first send of a kept file in this process: the file id another process (or an
        earlier run) recorded, else an upload to this chat; True when this chat got the file.

        Concurrent sends of the same broadcast wait here for the first upload instead of each
        uploading the bytes. If that upload fails (the recipient blocked the bot, a flood wait),
        the next one waiting uploads to its own recipient.
        """
        lock = self._uploading.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                if key in self._uploads:
                    return False
                try:
                    async with self.engine.sessions() as session:
                        known = await broadcasts.uploaded(session, stored, CHANNEL)
                        row = None if known else await files.fetch(session, stored, self.engine.clock.now())
                except SQLAlchemyError as exc:
                    # The database is away for a moment: the row is tried again, not failed for good.
                    raise dispatch.TransientError(f"kept file {stored}: {type(exc).__name__}") from exc
                if row is None:
                    if known is None:
                        log.warning("kept file %s is gone: the message goes without it", stored)
                    self._remember(key, known)
                    return False
                sent = await self._upload(chat_id, reply, kind, FileOut(row.filename, row.data, row.mime),
                                          rate_limit_args)
                if sent is None:
                    return True
                self._remember(key, sent)
                log.info("kept file %s uploaded once: %s file id remembered", stored, sent[0])
                try:
                    async with self.engine.sessions() as session, session.begin():
                        await broadcasts.remember_upload(session, stored, CHANNEL, *sent)
                except SQLAlchemyError:
                    log.warning("the file id of kept file %s was not recorded (this process keeps it)", stored)
                return True
        finally:
            if key in self._uploads:
                self._uploading.pop(key, None)

    def _remember(self, key: str, known: tuple[str, str] | None) -> None:
        while len(self._uploads) >= UPLOADS_KEPT:
            self._uploads.pop(next(iter(self._uploads)))
        self._uploads[key] = known

    async def _upload(self, chat_id: int, reply: Reply, kind: str, file: FileOut,
                      rate_limit_args: int | None) -> tuple[str, str] | None:
        """Upload a kept file with the text as caption when it fits (1024), otherwise the file
        first and the text after it. Returns the kind it went as and Telegram's file id for it."""
        bot = self.application.bot
        fits = len(reply.text) <= MAX_CAPTION
        caption = reply.text if fits and reply.text else None
        markup = keyboard(reply) if fits else None
        if kind == "photo" and len(file.data) > MAX_PHOTO_UPLOAD:
            kind = "document"
        message: Message | None = None
        if kind == "photo":
            try:
                message = await bot.send_photo(chat_id, InputFile(file.data, filename=file.filename), caption=caption,
                                               reply_markup=markup, rate_limit_args=rate_limit_args,
                                               allow_paid_broadcast=_paid())
            except BadRequest as exc:
                if not any(word in str(exc).lower() for word in ("photo", "image")):
                    raise
                # Telegram takes some images only as files (odd sizes or formats).
                log.info("an uploaded photo was refused (%s): sent as a document", exc)
                kind = "document"
        if message is None:
            message = await bot.send_document(chat_id, InputFile(file.data, filename=file.filename),
                                              caption=caption, reply_markup=markup, rate_limit_args=rate_limit_args,
                                              allow_paid_broadcast=_paid())
        if not fits:
            await self._send_text(chat_id, reply, rate_limit_args)
        if kind == "photo" and message.photo:
            return kind, message.photo[-1].file_id
        return (kind, message.document.file_id) if message.document is not None else None

    async def _send_text(self, chat_id: int, reply: Reply, rate_limit_args: int | None) -> None:
        """The text in parts of at most 4096 characters, the buttons on the last one."""
        parts = split_text(reply.text)
        for i, part in enumerate(parts):
            await self._call("sendMessage", {"chat_id": chat_id, "text": part,
                                             "reply_markup": keyboard_json(reply) if i == len(parts) - 1 else None},
                             rate_limit_args)

    async def _call(self, method: str, params: dict[str, Any], rate_limit_args: int | None = None) -> None:
        """A Bot API call whose answer is not needed, sent as plain JSON.

        `send_message` and friends build PTB objects for every button and parse the whole
        sent message back (keyboard included) into more of them: a third of the bot's CPU per
        message, for nothing. Errors are PTB's as usual (`BadRequest`, `RetryAfter` ...).
        """
        if _PAID.get() and method.startswith("send"):
            params = {**params, "allow_paid_broadcast": True}
        await self.application.bot.do_api_request(
            method, api_kwargs={k: v for k, v in params.items() if v is not None}, rate_limit_args=rate_limit_args)

    async def _edit(self, source: Message, reply: Reply) -> bool:
        try:
            await self._call("editMessageText", {"chat_id": source.chat_id, "message_id": source.message_id,
                                                 "text": reply.text, "reply_markup": keyboard_json(reply)})
            return True
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True
            log.info("edit failed, sending instead: %s", exc)
            return False

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(context.error, RetryAfter):
            # A reply still refused after the limiter's retries (the outbox counts its own).
            metrics.RATE_LIMITED.labels(CHANNEL).inc()
        log.error("telegram handler error: %s", context.error, exc_info=context.error)

    # --- outbox notifier -------------------------------------------------------------

    async def send(self, chat_id: str, message: dict[str, Any]) -> None:
        reply = Reply.from_payload(message)
        paid = _PAID.set(self.engine.settings.telegram_paid_broadcast and bool(message.get("broadcast")))
        try:
            # The dispatcher owns retries of queued messages: the limiter's default of no retries applies.
            await self.render(int(chat_id), Response([reply]))
        except Forbidden as exc:
            raise dispatch.Blocked(str(exc)) from exc
        except RetryAfter as exc:
            retry = exc.retry_after
            raise dispatch.RetryAfter(retry if isinstance(retry, (int, float)) else retry.total_seconds()) from exc
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise dispatch.Blocked(str(exc)) from exc
            raise
        except NetworkError as exc:
            raise dispatch.TransientError(str(exc)) from exc
        finally:
            _PAID.reset(paid)

    # --- set-up ------------------------------------------------------------------------

    async def publish_commands(self) -> None:
        """The command menu in Korean (default) and English: everyone's by default, and in each
        staff chat (admins, active counselors) the list for their roles."""
        await self._set_commands(BotCommandScopeDefault(), frozenset())
        async with self.engine.sessions() as session:
            counselor_chats = {int(c) for c in await counselors.active_chats(session, CHANNEL)}
        admins = set(self.engine.settings.admin_telegram_ids)
        for chat_id in sorted(admins | counselor_chats):
            await self._set_commands(BotCommandScopeChat(chat_id), self._roles(chat_id in admins,
                                                                               chat_id in counselor_chats))

    @staticmethod
    def _roles(admin: bool, counselor: bool) -> frozenset[str]:
        return frozenset({"admin"} if admin else set()) | frozenset({"counselor"} if counselor else set())

    async def _set_commands(self, scope: BotCommandScope, roles: frozenset[str]) -> None:
        bot = self.application.bot
        default = self.engine.settings.default_locale
        commands = self.engine.commands(roles)
        for locale in (*LOCALES, None):
            t = translator(locale or default)
            try:
                if isinstance(scope, BotCommandScopeChat) and not roles:
                    # No staff role (any more): the chat falls back to everyone's list.
                    await bot.delete_my_commands(scope=scope, language_code=locale)
                else:
                    await bot.set_my_commands([BotCommand(name, t(key)[:256]) for name, key in commands],
                                              scope=scope, language_code=locale)
            except TelegramError as exc:
                # A staff member who never opened the bot has no chat yet; that must not stop the start.
                log.warning("setMyCommands failed for a scope: %s", exc)

    async def refresh_commands(self, user_id: int) -> None:
        """One person's command lists after their role changed (`Engine.roles_changed`)."""
        async with self.engine.sessions() as session:
            chats = await counselors.chats_of(session, user_id, CHANNEL)
            counselor = await counselors.by_user(session, user_id)
        for external_id, chat_id in chats:
            admin = external_id.isdigit() and int(external_id) in self.engine.settings.admin_telegram_ids
            await self._set_commands(BotCommandScopeChat(int(chat_id)),
                                     self._roles(admin, counselor is not None and counselor.active))


def build_application(settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_url.removesuffix("/bot") + "/file/bot")
        # aiohttp instead of PTB's default httpx transport: half the CPU per API call (see telegram_http).
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connections=1))
        .rate_limiter(AIORateLimiter(overall_max_rate=settings.telegram_overall_rate, max_retries=0))
        .concurrent_updates(settings.telegram_concurrency)
    )
    if settings.webhook_mode:
        builder = builder.updater(None)
    return builder.build()


def add_webhook(web_app: web.Application, channel: TelegramChannel, settings: Settings) -> None:
    """Telegram's POSTs on the shared HTTP server (`bot.channels.http`), read by `bot.channels.boundary`."""
    path = urlparse(settings.webhook_url).path or "/"
    application = channel.application

    async def receive(request: web.Request) -> web.Response:
        if not header_secret_ok(request, SECRET_HEADER, settings.webhook_secret):
            raise Refused(403, "forbidden", detail="wrong or missing secret")
        update = read_update(await read_json(request, MAX_BODY), application.bot)
        # Handled before the answer, not queued: a worker that dies mid-turn leaves the POST
        # unanswered, so Telegram (and nginx, on to the next worker) delivers it again instead
        # of it vanishing with the process.
        try:
            await channel.on_update(update, None)  # type: ignore[arg-type]
        except TelegramError as exc:
            # The turn is committed (the engine answers every failure itself); only the reply
            # failed. A retried POST would run the turn again, so this one counts as delivered.
            log.error("webhook reply failed: %s", exc)
        return web.json_response({"ok": True})

    web_app.router.add_post(path, guarded("telegram webhook", receive))


async def start(app: App) -> TelegramChannel:
    """Build and start the PTB application on the app's engine; updates flow after `connect`."""
    settings = app.settings
    application = build_application(settings)
    channel = TelegramChannel(app.engine, application)
    app.dispatcher.add_notifier(channel)
    await application.initialize()
    channel.username = application.bot.username
    await channel.publish_commands()
    app.engine.role_listeners.append(channel.refresh_commands)
    await application.start()
    return channel


async def connect(channel: TelegramChannel, settings: Settings) -> None:
    """Webhook (the HTTP server listens by now) or long polling."""
    application = channel.application
    if settings.webhook_mode:
        await application.bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret,
                                          allowed_updates=["message", "callback_query"])
        log.info("webhook mode on %s:%s", settings.webhook_listen, settings.webhook_port)
    else:
        assert application.updater is not None
        await application.bot.delete_webhook()
        await application.updater.start_polling(allowed_updates=["message", "callback_query"],
                                                poll_interval=POLL_INTERVAL, timeout=10)
        log.info("polling for updates")


async def stop(channel: TelegramChannel) -> None:
    application = channel.application
    if channel.refresh_commands in channel.engine.role_listeners:
        channel.engine.role_listeners.remove(channel.refresh_commands)
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()

