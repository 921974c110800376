"""In-process fake of the Telegram Bot API HTTP server, for tests and benchmarks.

JobHub's handlers are exercised through a *real* python-telegram-bot
``Application`` so that request encoding, error mapping, polling and webhooks
are covered too; only the server on the other end is fake.  Point PTB at it::

    async with FakeTelegram() as fake:
        app = (ApplicationBuilder().token("123:TEST")
               .base_url(fake.base_url).base_file_url(fake.file_url).build())
        ...
        fake.user_sends(42, "/start")
        reply = await fake.wait_reply(42)
        assert "Welcome" in reply.result["text"]

The fake validates the way Telegram does where bots commonly get it wrong
(text length, 64-byte ``callback_data``, "message is not modified", unknown
message ids, Telegram-HTML), so those bugs show up in tests rather than in
production.  Waiting is event driven (per-chat futures) so a benchmark can
drive hundreds of simulated users concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import json
import re
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["REPLY_METHODS", "Call", "FakeTelegram", "TelegramApiError", "Upload", "WebhookDelivery"]

JSONDict = dict[str, Any]
ChatKey = int | str
Predicate = Callable[["Call"], bool]

#: Methods whose successful call counts as "the bot replied" for ``wait_reply``.
REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument", "sendPhoto"})

# Form fields are plain strings and PTB JSON-encodes only non-string values, so
# JSON-looking values are decoded -- except in these free-text/identifier fields.
_STRING_PARAMS = frozenset({
    "text", "caption", "callback_query_id", "inline_message_id", "query", "secret_token", "url",
    "description", "short_description", "name", "title", "file_id", "document", "photo",
    "sticker", "video", "audio", "voice", "animation", "first_name", "last_name", "emoji",
    "phone_number", "payload", "start_parameter", "custom_emoji_id", "business_connection_id",
})
_JSON_LIKE = re.compile(r"-?\d+(\.\d+)?|true|false|null|[\[{].*", re.DOTALL)
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
})
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^<>]*>")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_BLOCKED = "Forbidden: bot was blocked by the user"
# A user who never opened the bot: Telegram answers one of these until they write to it.
_CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
_CHAT_NOT_FOUND = "Bad Request: chat not found"
_BAD_QUERY = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_DEFAULT_ERRORS = {400: "Bad Request: chat not found", 403: _BLOCKED, 500: "Internal Server Error",
                   502: "Bad Gateway"}


# Started fakes by their Bot API base URL, for `FakeTelegram.record_handled`.
_LIVE: dict[str, FakeTelegram] = {}


class TelegramApiError(Exception):
    """An API failure; raised by method implementations, sent as ``{"ok": false, ...}``."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {description}")


@dataclass
class Upload:
    """A file the bot uploaded (multipart) or referenced by URL; ``data`` holds its bytes."""

    filename: str | None
    data: bytes = field(repr=False)
    mime_type: str | None = None
    file_id: str = ""


@dataclass
class Call:
    """One Bot API request, recorded when it was answered (so ``result`` is known)."""

    method: str  # canonical spelling, e.g. "sendMessage", whatever case the client used
    params: JSONDict  # decoded: numbers/JSON objects parsed, uploads as Upload
    time: float  # wall-clock time the request arrived
    chat_id: ChatKey | None = None
    index: int = -1  # position in FakeTelegram.calls
    result: Any = None
    error_code: int | None = None
    description: str | None = None

    @property
    def ok(self) -> bool:
        """True if the request succeeded."""
        return self.error_code is None


@dataclass
class WebhookDelivery:
    """Outcome of POSTing one update to the webhook; ``status`` is 0 if the connection failed."""

    update_id: int
    url: str
    status: int
    error: str | None = None


@dataclass
class _Fault:
    chat_id: ChatKey | None
    method: str | None
    error: TelegramApiError
    remaining: int


def _chat_key(value: Any) -> ChatKey | None:
    """Normalise chat ids so 42, "42" and 42.0-free JSON all index the same chat."""
    if value is None or isinstance(value, int):
        return value
    text = str(value)
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _decode(key: str, value: Any) -> Any:
    if isinstance(value, str) and key not in _STRING_PARAMS and _JSON_LIKE.fullmatch(value):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _utf16_len(text: str) -> int:
    """Telegram entity offsets/lengths are in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _parse_html(text: str) -> str:
    """Strip Telegram-HTML tags like the server does, rejecting markup it rejects."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while (lt := text.find("<", pos)) != -1:
        out.append(text[pos:lt])
        offset = len(text[:lt].encode())
        match = _TAG.match(text, lt)
        if match is None:
            raise _bad(f"can't parse entities: Unclosed start tag at byte offset {offset}")
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _bad(f'can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset {offset}')
        if not closing:
            stack.append(name)
        elif stack and stack[-1] == name:
            stack.pop()
        else:
            expected = f'expected "</{stack[-1]}>", ' if stack else ""
            raise _bad(f'can\'t parse entities: Unmatched end tag at byte offset {offset}, '
                       f'{expected}found "</{name}>"')
        pos = match.end()
    if stack:
        raise _bad(f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    out.append(text[pos:])
    return html.unescape("".join(out))


class FakeTelegram:
    """Fake Bot API server on 127.0.0.1 (random port) plus a driver/observer API for tests.

    State is kept in memory and only touched from the event loop, so no locking is needed.
    """

    def __init__(self, *, bot_id: int = 7_000_000_001, username: str = "jobhub_test_bot",
                 first_name: str = "JobHub Test", webhook_retry: float | None = None) -> None:
        """`webhook_retry`: like Telegram, POST a failed update again after this many seconds
        (growing), until it is accepted, and POST different chats' updates concurrently (up to
        setWebhook's max_connections), each chat's in order. None: one POST per update, one at
        a time (deterministic, for tests of the webhook itself)."""
        self.webhook_retry = webhook_retry
        # Seconds each sendMessage takes before it is recorded (None: at once).
        self.send_delay: Callable[[Call], float] | None = None
        self.bot_user: JSONDict = {
            "id": bot_id, "is_bot": True, "first_name": first_name, "username": username,
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        self.answered_callbacks: dict[str, str | None] = {}  # callback query id -> answer text
        self.uploads: list[Upload] = []
        self.files: dict[str, Upload] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}  # (scope JSON, lang) -> commands
        self.webhook: JSONDict | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        # Updates pushed so far, per update_id (a redelivery counts again), and those the bot under test
        # reported handled (`record_handled`): `wait_handled` waits for the second to catch up.
        self.pushed: Counter[int] = Counter()
        self.handled: Counter[int] = Counter()
        self._bot_from = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        self._pending: list[JSONDict] = []
        self._last_update_id = 100_000_000
        self._new_update = asyncio.Event()
        self._webhook_queue: asyncio.Queue[JSONDict] = asyncio.Queue()
        self._webhook_error: tuple[int, str] | None = None
        self._chats: dict[ChatKey, dict[int, JSONDict]] = {}
        self._msg_ids: dict[ChatKey, int] = {}
        self._users: dict[int, JSONDict] = {}
        self._callback_ids: set[str] = set()
        self._ids = itertools.count(1)
        self._faults: list[_Fault] = []
        self._blocked: set[ChatKey] = set()
        self._not_started: dict[ChatKey, TelegramApiError] = {}
        self._replies: dict[ChatKey, list[Call]] = {}
        self._reply_waiters: dict[ChatKey, list[asyncio.Future[Call]]] = {}
        self._waiters: list[tuple[Predicate, asyncio.Future[Call]]] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        self._port: int | None = None
        self._closing = False
        handlers: dict[str, Callable[[JSONDict], Awaitable[Any]]] = {
            "getMe": self._get_me, "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook, "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info, "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands, "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message, "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message, "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document, "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action, "getFile": self._get_file,
            "close": self._true, "logOut": self._true,
        }
        self._methods = {name.lower(): (name, fn) for name, fn in handlers.items()}

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind a free port on 127.0.0.1 and start serving (and delivering webhooks)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        # Telegram waits about a minute for a webhook's answer before it counts the POST as failed.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10 if self.webhook_retry is None
                                                                            else 60))
        self._worker = asyncio.create_task(self._deliver_webhooks())
        _LIVE[self.base_url] = self

    async def stop(self) -> None:
        """Release long polls, stop webhook delivery and close the server; idempotent."""
        if self._port is not None:
            _LIVE.pop(self.base_url, None)
        self._closing = True
        self._wake_pollers()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:PORT``."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder.base_url``; PTB appends ``TOKEN/method``."""
        return f"{self.url}/bot"

    @property
    def file_url(self) -> str:
        """For ``ApplicationBuilder.base_file_url``; PTB appends ``TOKEN/file_path``."""
        return f"{self.url}/file/bot"

    # ------------------------------------------------------------------ HTTP layer
    async def _handle_api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        canonical, impl = self._methods.get(name.lower(), (name, None))
        call = Call(canonical, {}, time.time())
        payload: JSONDict
        try:
            call.result = await self._dispatch(request, call, impl)
        except TelegramApiError as err:
            call.error_code, call.description = err.error_code, err.description
            payload = {"ok": False, "error_code": err.error_code, "description": err.description}
            if err.retry_after is not None:
                payload["parameters"] = {"retry_after": err.retry_after}
        else:
            payload = {"ok": True, "result": call.result}
        self._record(call)
        return web.json_response(payload, status=call.error_code or 200)

    async def _dispatch(self, request: web.Request, call: Call,
                        impl: Callable[[JSONDict], Awaitable[Any]] | None) -> Any:
        try:
            call.params = await self._read_params(request)
            call.chat_id = _chat_key(call.params.get("chat_id"))
            self._inject_faults(call)
            if self.send_delay is not None and call.method == "sendMessage":
                # A slow network for some sends (a test's choice): what is sent meanwhile overtakes.
                await asyncio.sleep(self.send_delay(call))
            return await impl(call.params) if impl is not None else True
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # malformed parameters
            raise _bad(f"invalid parameters for {call.method}: {exc!r}") from exc

    async def _read_params(self, request: web.Request) -> JSONDict:
        """Merge query string and JSON / urlencoded / multipart body; uploads become Upload."""
        raw: JSONDict = dict(request.query)
        if request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                raw.update(body if isinstance(body, dict) else {})
            else:
                for key, value in (await request.post()).items():
                    raw[key] = (Upload(value.filename, value.file.read(), value.content_type)
                                if isinstance(value, web.FileField) else value)
        params = {key: _decode(key, value) for key, value in raw.items()}
        for key, value in params.items():  # sendMediaGroup-style "attach://<part>" references
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.get(value[9:], value)
        return params

    async def _handle_file(self, request: web.Request) -> web.Response:
        upload = self.files.get(request.match_info["path"].removeprefix("files/"))
        if upload is None:
            raise web.HTTPNotFound()
        return web.Response(body=upload.data, content_type=upload.mime_type or "application/octet-stream")

    def _inject_faults(self, call: Call) -> None:
        lower = call.method.lower()
        for fault in self._faults:
            if fault.chat_id in (None, call.chat_id) and fault.method in (None, lower):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                raise fault.error
        if call.chat_id is not None and call.chat_id in self._blocked:
            raise TelegramApiError(403, _BLOCKED)
        if call.chat_id is not None and call.chat_id in self._not_started:
            raise self._not_started[call.chat_id]

    def _record(self, call: Call) -> None:
        """Append to ``calls`` and wake exactly the waiters that care (no scanning of history)."""
        call.index = len(self.calls)
        self.calls.append(call)
        if call.ok and call.method in REPLY_METHODS and call.chat_id is not None:
            self._replies.setdefault(call.chat_id, []).append(call)
            for future in self._reply_waiters.pop(call.chat_id, ()):
                if not future.done():
                    future.set_result(call)
        if self._waiters:
            still_waiting = []
            for predicate, future in self._waiters:
                if future.done():
                    continue
                try:
                    matched = predicate(call)
                except Exception as exc:  # surface predicate bugs in the waiting test
                    future.set_exception(exc)
                    continue
                if matched:
                    future.set_result(call)
                else:
                    still_waiting.append((predicate, future))
            self._waiters = still_waiting

    # ------------------------------------------------------------------ updates & webhooks
    def _wake_pollers(self) -> None:
        event, self._new_update = self._new_update, asyncio.Event()
        event.set()

    async def _get_updates(self, p: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise TelegramApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                        "active; use deleteWebhook to delete the webhook first")
        offset = int(p.get("offset") or 0)
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        timeout = float(p.get("timeout") or 0)
        if not self._pending and timeout > 0 and not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        return self._pending[:limit] if self.webhook is None else []

    async def _set_webhook(self, p: JSONDict) -> bool:
        url = str(p.get("url") or "")
        if not url:
            return await self._delete_webhook(p)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self._drop_pending()
        self.webhook = {"url": url, "secret_token": secret,
                        "max_connections": int(p.get("max_connections") or 40),
                        "allowed_updates": p.get("allowed_updates")}
        for update in self._pending:
            self._webhook_queue.put_nowait(update)
        self._pending.clear()
        self._wake_pollers()
        return True

    async def _delete_webhook(self, p: JSONDict) -> bool:
        self.webhook = None
        if p.get("drop_pending_updates"):
            self._drop_pending()
        return True

    def _drop_pending(self) -> None:
        self._pending.clear()
        while not self._webhook_queue.empty():
            self._webhook_queue.get_nowait()

    async def _get_webhook_info(self, p: JSONDict) -> JSONDict:
        hook = self.webhook or {}
        info: JSONDict = {"url": hook.get("url", ""), "has_custom_certificate": False,
                          "pending_update_count": len(self._pending) + self._webhook_queue.qsize()}
        if hook:
            info["max_connections"] = hook["max_connections"]
            if hook["allowed_updates"] is not None:
                info["allowed_updates"] = hook["allowed_updates"]
        if self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _deliver_webhooks(self) -> None:
        """POST queued updates: one at a time, or per chat in order with retries (`webhook_retry`)."""
        if self.webhook_retry is not None:
            await self._deliver_webhooks_concurrently(self.webhook_retry)
            return
        while True:
            update = await self._webhook_queue.get()
            await self._post_update(update)

    async def _post_update(self, update: JSONDict) -> bool:
        """One POST of one update; True when the webhook accepted it."""
        hook, session = self.webhook, self._session
        if hook is None or session is None:  # webhook removed meanwhile: back to getUpdates
            self._pending.append(update)
            self._wake_pollers()
            return True
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]} if hook["secret_token"] else {}
        try:
            async with session.post(hook["url"], json=update, headers=headers) as response:
                status = response.status
                error = None if status < 300 else f"Wrong response from the webhook: {status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, error = 0, f"Connection failed: {exc!r}"
        self.webhook_deliveries.append(WebhookDelivery(update["update_id"], hook["url"], status, error))
        if error is not None:
            self._webhook_error = (int(time.time()), error)
        return error is None

    async def _deliver_webhooks_concurrently(self, retry: float) -> None:
        chats: dict[Any, list[JSONDict]] = {}
        tasks: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore((self.webhook or {}).get("max_connections", 40))

        async def drain(key: Any) -> None:
            queue = chats[key]
            while queue:
                delay = retry
                async with slots:
                    while not await self._post_update(queue[0]):
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 5.0)
                queue.pop(0)
            del chats[key]

        try:
            while True:
                self._route_update(await self._webhook_queue.get(), chats, tasks, drain)
        finally:
            for task in tasks:
                task.cancel()

    @staticmethod
    def _route_update(update: JSONDict, chats: dict[Any, list[JSONDict]], tasks: set[asyncio.Task[None]],
                      drain: Callable[[Any], Awaitable[None]]) -> None:
        """Queue behind the same chat's updates in flight, or start that chat's sender."""
        body = update.get("message") or (update.get("callback_query") or {}).get("message") or {}
        key = _chat_key((body.get("chat") or {}).get("id")) or update["update_id"]
        if key in chats:
            chats[key].append(update)
            return
        chats[key] = [update]
        task = asyncio.create_task(drain(key))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    # ------------------------------------------------------------------ commands
    @staticmethod
    def _command_key(scope: Any, language_code: Any) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), str(language_code or "")

    async def _set_my_commands(self, p: JSONDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("command description must be non-empty")
        key = self._command_key(p.get("scope"), p.get("language_code"))
        self.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    async def _get_my_commands(self, p: JSONDict) -> list[JSONDict]:
        return list(self.commands.get(self._command_key(p.get("scope"), p.get("language_code")), []))

    async def _delete_my_commands(self, p: JSONDict) -> bool:
        self.commands.pop(self._command_key(p.get("scope"), p.get("language_code")), None)
        return True

    def get_commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """Commands stored for exactly this scope + language (``[]`` if none), like getMyCommands."""
        return list(self.commands.get(self._command_key(scope, language_code), []))

    # ------------------------------------------------------------------ messages
    def _chat(self, key: ChatKey) -> JSONDict:
        if isinstance(key, str):  # "@channelusername"
            return {"id": -1_000_000_000_000 - zlib.crc32(key.encode()), "type": "channel",
                    "title": key, "username": key.lstrip("@")}
        if key < 0:
            kind = "supergroup" if str(key).startswith("-100") else "group"
            return {"id": key, "type": kind, "title": "JobHub test group"}
        return {"id": key, "type": "private", "first_name": self._users.get(key, {}).get("first_name", "Test")}

    def _require_chat(self, p: JSONDict) -> ChatKey:
        chat = _chat_key(p.get("chat_id"))
        if chat is None or chat == "":
            raise _bad("chat_id is empty")
        return chat

    def _new_message(self, chat: ChatKey, sender: JSONDict, content: JSONDict) -> JSONDict:
        """Store a message; ids are per chat and shared by user and bot, as in private chats."""
        message_id = self._msg_ids.get(chat, 0) + 1
        self._msg_ids[chat] = message_id
        message = {"message_id": message_id, "from": sender, "chat": self._chat(chat),
                   "date": int(time.time()), **content}
        self._chats.setdefault(chat, {})[message_id] = message
        return message

    @staticmethod
    def _public(message: JSONDict) -> JSONDict:
        """Copy as Telegram returns it: only inline keyboards are echoed in ``reply_markup``."""
        message = copy.deepcopy(message)
        markup = message.get("reply_markup")
        if markup is not None and "inline_keyboard" not in markup:
            del message["reply_markup"]
        return message

    @staticmethod
    def _text(p: JSONDict, key: str = "text", limit: int = 4096) -> str | None:
        value = p.get(key)
        if value is None and key == "caption":
            return None
        text = "" if value is None else str(value)
        if str(p.get("parse_mode") or "").lower() == "html":
            text = _parse_html(text)
        if key == "text" and not text.strip():
            raise _bad("message text is empty")
        if len(text) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        return text

    @staticmethod
    def _markup(p: JSONDict) -> JSONDict | None:
        markup = p.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
        return markup

    def _content(self, p: JSONDict, **content: Any) -> JSONDict:
        caption = self._text(p, "caption", 1024)
        if caption is not None:
            content["caption"] = caption
        markup = self._markup(p)
        if markup is not None:
            content["reply_markup"] = markup
        return content

    def _find_message(self, p: JSONDict, action: str) -> JSONDict:
        chat = self._require_chat(p)
        try:
            message = self._chats.get(chat, {}).get(int(p.get("message_id")))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            message = None
        if message is None:
            raise _bad(f"message to {action} not found")
        if action == "edit" and message["from"].get("id") != self.bot_user["id"]:
            raise _bad("message can't be edited")
        return message

    async def _send_message(self, p: JSONDict) -> JSONDict:
        chat = self._require_chat(p)
        content = self._content(p, text=self._text(p))
        if isinstance(p.get("entities"), list):
            content["entities"] = p["entities"]
        return self._public(self._new_message(chat, self._bot_from, content))

    async def _edit_message_text(self, p: JSONDict) -> JSONDict | bool:
        text, markup = self._text(p), self._markup(p)
        if p.get("inline_message_id"):
            return True
        message = self._find_message(p, "edit")
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        return self._apply_edit(message, {"text": text, "reply_markup": markup})

    async def _edit_message_reply_markup(self, p: JSONDict) -> JSONDict | bool:
        markup = self._markup(p)
        if p.get("inline_message_id"):
            return True
        message = self._find_message(p, "edit")
        return self._apply_edit(message, {"reply_markup": markup})

    def _apply_edit(self, message: JSONDict, changes: JSONDict) -> JSONDict:
        """Telegram rejects no-op edits; an edit without reply_markup removes the keyboard."""
        if all(message.get(key) == value for key, value in changes.items()):
            raise _bad(_NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        return self._public(message)

    async def _delete_message(self, p: JSONDict) -> bool:
        message = self._find_message(p, "delete")
        del self._chats[self._require_chat(p)][message["message_id"]]
        return True

    async def _answer_callback_query(self, p: JSONDict) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        if query_id not in self._callback_ids or query_id in self.answered_callbacks:
            raise TelegramApiError(400, _BAD_QUERY)
        self.answered_callbacks[query_id] = p.get("text")
        return True

    def _register_file(self, upload: Upload, kind: str) -> str:
        upload.file_id = f"fake-{kind}-{next(self._ids)}"
        self.files[upload.file_id] = upload
        return upload.file_id

    def _file(self, p: JSONDict, kind: str) -> Upload:
        value = p.get(kind)
        if isinstance(value, Upload):
            self.uploads.append(value)
            self._register_file(value, kind)
            return value
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            upload = Upload(value.rsplit("/", 1)[-1] or None, b"")
            self._register_file(upload, kind)
            return upload
        if value is None:
            raise _bad(f"there is no {kind} in the request")
        raise _bad("wrong file identifier/HTTP URL specified")

    def _photo_sizes(self, upload: Upload) -> list[JSONDict]:
        thumb_id = f"{upload.file_id}-thumb"
        self.files[thumb_id] = upload
        size = len(upload.data)
        return [{"file_id": thumb_id, "file_unique_id": f"u{thumb_id}", "width": 90, "height": 90,
                 "file_size": min(size, 1024)},
                {"file_id": upload.file_id, "file_unique_id": f"u{upload.file_id}", "width": 800,
                 "height": 600, "file_size": size}]

    @staticmethod
    def _document(upload: Upload) -> JSONDict:
        document = {"file_id": upload.file_id, "file_unique_id": f"u{upload.file_id}",
                    "file_name": upload.filename, "mime_type": upload.mime_type,
                    "file_size": len(upload.data)}
        return {key: value for key, value in document.items() if value is not None}

    async def _send_document(self, p: JSONDict) -> JSONDict:
        chat = self._require_chat(p)
        content = self._content(p, document=self._document(self._file(p, "document")))
        return self._public(self._new_message(chat, self._bot_from, content))

    async def _send_photo(self, p: JSONDict) -> JSONDict:
        chat = self._require_chat(p)
        content = self._content(p, photo=self._photo_sizes(self._file(p, "photo")))
        return self._public(self._new_message(chat, self._bot_from, content))

    async def _get_file(self, p: JSONDict) -> JSONDict:
        file_id = str(p.get("file_id") or "")
        if file_id not in self.files:
            raise _bad("invalid file_id")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}",
                "file_size": len(self.files[file_id].data), "file_path": f"files/{file_id}"}

    async def _send_chat_action(self, p: JSONDict) -> bool:
        self._require_chat(p)
        return True

    async def _get_me(self, p: JSONDict) -> JSONDict:
        return dict(self.bot_user)

    async def _true(self, p: JSONDict) -> bool:
        return True

    # ------------------------------------------------------------------ fault injection
    def fail_next(self, chat_id: int | str | None, method: str | None = None, error_code: int = 429,
                  description: str | None = None, retry_after: int | None = None, times: int = 1) -> None:
        """Make the next ``times`` calls for ``chat_id`` (None = any call) and ``method``
        (None = any, case-insensitive) fail.  429 defaults to ``retry_after=1``."""
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (f"Too Many Requests: retry after {retry_after}" if error_code == 429
                           else _DEFAULT_ERRORS.get(error_code, f"Error {error_code}"))
        error = TelegramApiError(error_code, description, retry_after)
        self._faults.append(_Fault(_chat_key(chat_id), method.lower() if method else None, error, times))

    def block(self, chat_id: int | str) -> None:
        """Simulate the user blocking the bot: every call with this chat_id gets 403."""
        self._blocked.add(_chat_key(chat_id))  # type: ignore[arg-type]

    def unblock(self, chat_id: int | str) -> None:
        """Undo :meth:`block`."""
        self._blocked.discard(_chat_key(chat_id))  # type: ignore[arg-type]

    def never_started(self, chat_id: int | str, *, unknown: bool = False) -> None:
        """Simulate a user who never opened the bot: calls to their chat get 403 "bot can't
        initiate conversation with a user" (``unknown``: 400 "chat not found", Telegram's answer
        for an id it has no chat for) until they write to the bot (any ``user_*`` driver call)."""
        error = TelegramApiError(400, _CHAT_NOT_FOUND) if unknown else TelegramApiError(403, _CANT_INITIATE)
        self._not_started[_chat_key(chat_id)] = error  # type: ignore[index]

    def _started(self, user_id: int) -> None:
        self._not_started.pop(user_id, None)

    # ------------------------------------------------------------------ driver (simulated users)
    def push_update(self, raw: JSONDict) -> JSONDict:
        """Queue a raw update (or POST it to the webhook); assigns ``update_id`` if missing."""
        update_id = int(raw.get("update_id") or self._last_update_id + 1)
        self._last_update_id = max(self._last_update_id, update_id)
        update = {**raw, "update_id": update_id}
        self.pushed[update_id] += 1
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self._callback_ids.add(str(query["id"]))
        if self.webhook is not None:
            self._webhook_queue.put_nowait(update)
        else:
            self._pending.append(update)
            self._wake_pollers()
        return update

    def _user(self, user_id: int, first_name: str | None, language_code: str | None) -> JSONDict:
        """The user's profile; None keeps what an earlier driver call set (initially "Test"/"ko").
        Every driver call goes through here: the user wrote, so the bot may write to them."""
        self._started(user_id)
        user = self._users.setdefault(user_id, {"id": user_id, "is_bot": False, "first_name": "Test",
                                                "language_code": "ko"})
        if first_name is not None:
            user["first_name"] = first_name
        if language_code is not None:
            user["language_code"] = language_code
        return dict(user)

    def _user_message(self, user_id: int, first_name: str | None, language_code: str | None,
                      content: JSONDict) -> JSONDict:
        user = self._user(user_id, first_name, language_code)
        return self.push_update({"message": copy.deepcopy(self._new_message(user_id, user, content))})

    def user_sends(self, user_id: int, text: str, *, first_name: str | None = None,
                   language_code: str | None = None) -> JSONDict:
        """A private text message; a leading ``/command`` gets a bot_command entity."""
        content: JSONDict = {"text": text}
        if command := _COMMAND.match(text):
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())}]
        return self._user_message(user_id, first_name, language_code, content)

    def user_sends_sticker(self, user_id: int, *, first_name: str | None = None, language_code: str | None = None,
                           emoji: str = "👍") -> JSONDict:
        """A sticker, the typical "unexpected input" a bot must cope with."""
        n = next(self._ids)
        sticker = {"file_id": f"fake-sticker-{n}", "file_unique_id": f"ufake-sticker-{n}", "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": emoji}
        return self._user_message(user_id, first_name, language_code, {"sticker": sticker})

    def user_sends_contact(self, user_id: int, phone_number: str, *, own: bool = True,
                           first_name: str | None = None, language_code: str | None = None) -> JSONDict:
        """A shared contact (📎 → Contact), the person's own by default, its number as Telegram gives it."""
        user = self._user(user_id, first_name, language_code)
        contact: JSONDict = {"phone_number": phone_number, "first_name": user["first_name"]}
        if own:
            contact["user_id"] = user_id
        return self._user_message(user_id, first_name, language_code, {"contact": contact})

    def user_sends_photo(self, user_id: int, *, caption: str | None = None, data: bytes = b"\xff\xd8\xff\xe0fake",
                         first_name: str | None = None, language_code: str | None = None) -> JSONDict:
        """A photo whose bytes the bot can fetch with getFile + download."""
        upload = Upload("photo.jpg", data, "image/jpeg")
        self._register_file(upload, "photo")
        content: JSONDict = {"photo": self._photo_sizes(upload)}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user_id, first_name, language_code, content)

    def user_sends_document(self, user_id: int, filename: str, data: bytes,
                            mime_type: str = "application/octet-stream", *, first_name: str | None = None,
                            language_code: str | None = None) -> JSONDict:
        """A document (e.g. a CV) whose bytes the bot can fetch with getFile + download."""
        upload = Upload(filename, data, mime_type)
        self._register_file(upload, "document")
        return self._user_message(user_id, first_name, language_code, {"document": self._document(upload)})

    def user_presses(self, user_id: int, message_id: int, data: str, *, first_name: str | None = None,
                     language_code: str | None = None) -> JSONDict:
        """Press an inline button of bot message ``message_id`` in the user's private chat."""
        message = self._chats.get(user_id, {}).get(message_id)
        if message is None:
            raise LookupError(f"no message {message_id} in chat {user_id}")
        query_id = str(4_000_000_000_000 + next(self._ids))
        query = {"id": query_id, "from": self._user(user_id, first_name, language_code),
                 "message": self._public(message), "chat_instance": f"{user_id}000", "data": data}
        return self.push_update({"callback_query": query})

    # ------------------------------------------------------------------ observation
    def messages(self, chat_id: int | str) -> list[JSONDict]:
        """Bot messages in the chat as they are now (after edits, without deleted ones)."""
        chat = self._chats.get(_chat_key(chat_id), {})  # type: ignore[arg-type]
        return [copy.deepcopy(m) for m in chat.values() if m["from"].get("id") == self.bot_user["id"]]

    def last_message(self, chat_id: int | str) -> JSONDict | None:
        """The newest existing bot message in the chat, or None."""
        chat = self._chats.get(_chat_key(chat_id), {})  # type: ignore[arg-type]
        for message in reversed(chat.values()):
            if message["from"].get("id") == self.bot_user["id"]:
                return copy.deepcopy(message)
        return None

    async def wait_for(self, predicate: Predicate, timeout: float = 5.0, *, since: int | None = None) -> Call:
        """Wait for a call matching ``predicate`` recorded from now on (or from index ``since``)."""
        if since is not None:
            for call in self.calls[since:]:
                if predicate(call):
                    return call
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AssertionError(f"no matching Bot API call within {timeout}s; last calls:\n"
                                 f"{self.describe_calls()}") from None

    @staticmethod
    def record_handled(api_url: str, update_id: int) -> None:
        """Called by the bot under test when it has finished an update (``api_url``: the bot's Bot API
        address, which names the fake that sent it)."""
        for base_url, fake in _LIVE.items():
            if api_url.startswith(base_url):
                fake.handled[update_id] += 1

    async def wait_handled(self, timeout: float = 10.0) -> None:
        """Wait until every update pushed so far has been reported handled as often as it was pushed."""
        def behind() -> dict[int, int]:
            return {i: n - self.handled[i] for i, n in self.pushed.items() if self.handled[i] < n}

        async def caught_up() -> None:
            while behind():
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(caught_up(), timeout)
        except TimeoutError:
            raise AssertionError(f"updates not handled within {timeout}s (id: how many): {behind()}") from None

    async def wait_deliveries(self, count: int, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Wait until ``count`` webhook POSTs have been answered (each answer comes after the bot's turn)."""
        async def answered() -> None:
            while len(self.webhook_deliveries) < count:
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(answered(), timeout)
        except TimeoutError:
            raise AssertionError(f"{len(self.webhook_deliveries)} of {count} webhook deliveries answered "
                                 f"within {timeout}s") from None
        return self.webhook_deliveries[:count]

    async def wait_reply(self, chat_id: int | str, timeout: float = 5.0, *, since: int | None = None) -> Call:
        """Wait for the next successful sendMessage/editMessageText/sendDocument/sendPhoto to the
        chat (or the first one at index >= ``since``).  ``result`` holds the Message dict."""
        key = _chat_key(chat_id)
        assert key is not None
        if since is not None:
            found = None
            for call in reversed(self._replies.get(key, [])):
                if call.index < since:
                    break
                found = call
            if found is not None:
                return found
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._reply_waiters.setdefault(key, []).append(future)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            with contextlib.suppress(KeyError, ValueError):
                self._reply_waiters[key].remove(future)
            raise AssertionError(f"no reply to chat {key} within {timeout}s; last calls:\n"
                                 f"{self.describe_calls()}") from None

    def describe_calls(self, last: int = 10) -> str:
        """The last ``last`` calls except getUpdates, one per line, for assertion messages."""
        lines = []
        for call in [c for c in self.calls[-(last * 5):] if c.method != "getUpdates"][-last:]:
            outcome = "ok" if call.ok else f"{call.error_code} {call.description}"
            lines.append(f"  #{call.index} {call.method} chat={call.chat_id} -> {outcome} {call.params!r:.200}")
        return "\n".join(lines) or "  (none)"
