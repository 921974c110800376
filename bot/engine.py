"""The conversation engine: one pipeline every channel calls for every message.

For each `Incoming` it takes the person's lock (in-process, plus a PostgreSQL advisory
lock so several workers keep one person's messages in order), opens one transaction,
resolves who is writing and where they are in a conversation, routes the message
(command, button, typed text, attachment) and saves the state. A failure rolls the
whole turn back, so the person stays exactly where they were and gets a polite line
instead of a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel import metrics, payloads
from kernel.config import Settings
from kernel.core import (
    UNSTORABLE,
    Background,
    BadPayload,
    Button,
    ButtonRoute,
    Channel,
    Clock,
    CommandRoute,
    Ctx,
    FileUnavailable,
    Handler,
    Incoming,
    Job,
    MenuItem,
    Reply,
    Response,
    Router,
    SystemClock,
    payload,
)
from kernel.forms import Extra, Form, FormRunner, Mode, Step, norm
from kernel.i18n import LOCALES, pick_locale, translator
from matching.text import plain
from storage import conversations, updates, users
from storage.db import advisory_xact_lock, lock_key
from storage.models import Conversation

log = logging.getLogger(__name__)

Finish = Callable[[Ctx, Response], Awaitable[None]]
Deliver = Callable[[Response], Awaitable[None]]
# A channel's answer in place of routing the message, in the same turn; None: route as usual.
Instead = Callable[[Ctx], Awaitable[Response | None]]

# A person who comes back to a half-filled form after this long is asked before we go on.
RESUME_AFTER = dt.timedelta(hours=1)
# Commands that still work inside a mode (a live chat); the mode answers all others.
MODE_COMMANDS = {"end", "help", "lang"}
# Typed as a phrase inside a form, these run and then ask the form's question again.
INSIDE_FORM_COMMANDS = {"help", "lang"}
# Typed text longer than this (normalised) is a sentence, not a menu phrase or command word:
# it is not fuzzy-matched, which also keeps the cost of matching bounded.
PHRASE_MAX_CHARS = 40
# rapidfuzz ratio (0-100) from which typed text counts as a known phrase (spaces and case are
# already ignored by `norm`): one wrong letter in a phrase of seven or more still starts its
# command, a different short word does not.
PHRASE_MIN_SCORE = 85


def plausible_payload(data: str) -> bool:
    """Could the bot have sent this? Printable ASCII within Telegram's 64 bytes: every payload the
    bot makes is (`kernel.payloads`, `kernel.core.payload`), so anything else is refused before any handler sees it."""
    return 0 < len(data) <= 64 and data.isascii() and data.isprintable()


def clean(inc: Incoming) -> Incoming:
    """The message with text that cannot be stored made storable: NUL and lone surrogates
    (`UNSTORABLE`) become U+FFFD, which every database and log takes, so odd input gets an
    answer instead of a failed write."""
    changes: dict[str, Any] = {}
    for name in ("text", "button", "command"):
        value = getattr(inc, name)
        if value is not None and UNSTORABLE.search(value):
            changes[name] = UNSTORABLE.sub("\ufffd", value)
    if any(UNSTORABLE.search(a) for a in inc.args):
        changes["args"] = tuple(UNSTORABLE.sub("\ufffd", a) for a in inc.args)
    return dataclasses.replace(inc, **changes) if changes else inc


class KeyedLock:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Any, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock, users_ = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users_ + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users_ = self._locks[key]
            if users_ <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users_ - 1)


# The buttons of the last answer, kept in the conversation while no form or live chat holds it:
# label (letters and digits only) -> payload. A label on two different buttons is left out.
SHOWN = "shown"
SHOWN_MAX = 40


def remember_buttons(conv: Conversation, response: Response) -> None:
    if conv.flow is not None:
        return
    seen: dict[str, str | None] = {}
    for reply in response.replies:
        for button in (b for row in reply.buttons for b in row if b.payload and not b.url):
            key = plain(button.label)
            if key:
                seen[key] = button.payload if seen.get(key, button.payload) == button.payload else None
    shown = {key: data for key, data in list(seen.items())[:SHOWN_MAX] if data is not None}
    # What a feature keeps between screens while no form is open (a filtered /jobs) stays.
    kept = {k: v for k, v in conv.data.items() if k != SHOWN} if isinstance(conv.data, dict) else {}
    conv.data = {**kept, SHOWN: shown} if shown else kept


def typed_button(conv: Conversation, text: str, now: dt.datetime) -> str | None:
    """The payload of the last answer's button whose label the typed text is, if any. Only for
    a screen just shown: a word typed the next day answers no question of yesterday's."""
    if conv.flow is not None or not isinstance(conv.data, dict) or conv.updated_at < now - RESUME_AFTER:
        return None
    shown = conv.data.get(SHOWN)
    found = shown.get(plain(text)) if isinstance(shown, dict) else None
    return found if isinstance(found, str) else None


class Engine:
    """Routes messages to the features registered by `bot.app`; implements `AppServices`."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        routers: Sequence[Router],
        *,
        clock: Clock | None = None,
        extra_admins: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock or SystemClock()
        self.routers = list(routers)
        self.extra_admins = set(extra_admins)
        self._locks = KeyedLock()
        self._commands: dict[str, CommandRoute] = {}
        # Button routes by prefix; one prefix belongs to one router, so one admin guard covers it.
        self._buttons: dict[str, list[ButtonRoute[Any]]] = {}
        self._menu: list[MenuItem] = []
        self._phrases: dict[str, str] = {}
        self._deep_links: dict[str, Handler] = {}
        self._modes: dict[str, Handler] = {}
        self._text: list[Handler] = []
        self._files: list[Handler] = []
        # The routers' periodic jobs, for the scheduler (`bot.app`).
        self.jobs: list[Job] = []
        # The channels this engine serves, by name (`add_channel`): they fetch what people send
        # and make the links of `deep_link`.
        self.channels: dict[str, Channel] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Called with a person's id after their role changed (`roles_changed`); channels add theirs.
        self.role_listeners: list[Callable[[int], Awaitable[None]]] = []
        forms: list[Form] = []
        for router in self.routers:
            if router.admin:
                router = dataclasses.replace(
                    router,
                    commands=[dataclasses.replace(c, admin=True) for c in router.commands],
                    buttons=[dataclasses.replace(b, admin=True) for b in router.buttons],
                    menu=[dataclasses.replace(m, admin=True) for m in router.menu],
                )
            for cmd in router.commands:
                if cmd.name in self._commands:
                    raise ValueError(f"command /{cmd.name} registered twice")
                self._commands[cmd.name] = cmd
            self._add_buttons(router)
            forms.extend(router.forms)
            self._deep_links.update(router.deep_links)
            self._modes.update(router.modes)
            self._text.extend(router.text)
            self._files.extend(router.files)
            for job in router.jobs:
                if any(job.name == other.name for other in self.jobs):
                    raise ValueError(f"job {job.name!r} declared twice")
                self.jobs.append(job)
            self._menu.extend(router.menu)
            self._phrases.update({norm(k): v for k, v in router.phrases.items()})
        self._menu.sort(key=lambda item: item.order)
        for item in self._menu:
            for loc in LOCALES:
                self._phrases.setdefault(norm(translator(loc)(item.label)), item.payload)
        self._phrase_keys = list(self._phrases)
        self.runner = FormRunner(forms, self.menu, self._service)

    def _add_buttons(self, router: Router) -> None:
        """Register a router's button kinds; a prefix is one router's, with one guard for all its
        kinds, told apart by their action words (a kind without one, decoded last, takes what the
        others do not)."""
        mine: dict[str, list[ButtonRoute[Any]]] = {}
        for btn in router.buttons:
            if btn.prefix in self._buttons or payloads.reserved(btn.prefix):
                raise ValueError(f"button prefix {btn.prefix!r} taken")
            routes = mine.setdefault(btn.prefix, [])
            key = (btn.codec.action, btn.codec.action_at)
            if any((r.codec.action, r.codec.action_at) == key for r in routes):
                raise ValueError(f"button kind {btn.codec.head()!r} registered twice")
            if routes and (routes[0].admin, routes[0].guard) != (btn.admin, btn.guard):
                raise ValueError(f"button prefix {btn.prefix!r} with different guards")
            routes.append(btn)
        for prefix, routes in mine.items():
            self._buttons[prefix] = sorted(routes, key=lambda r: r.codec.action is None)

    # --- AppServices ---------------------------------------------------------------

    def form(self, name: str) -> Form:
        return self.runner.forms[name]

    async def start_form(
        self, ctx: Ctx, name: str, *, answers: dict[str, Any] | None = None, extra: Extra | None = None,
        mode: Mode = "new", step: Step | None = None, labels: dict[str, str] | None = None,
    ) -> list[Reply]:
        return await self.runner.start(ctx, name, answers=answers, extra=extra, mode=mode, step=step, labels=labels)

    async def menu(self, ctx: Ctx) -> Reply:
        """The main menu, with a way back into an unfinished form on top."""
        t = ctx.t
        rows: list[list[Button]] = []
        if ctx.conv.flow in self.runner.forms and self.runner.forms[ctx.conv.flow].keep_draft:
            rows.append([Button(t("menu.resume", title=t(f"title.{ctx.conv.flow}")), "m:resume")])
        buttons = []
        for item in self._menu:
            if item.admin and not ctx.is_admin:
                continue
            if item.visible is not None and not await item.visible(ctx):
                continue
            buttons.append(Button(t(item.label), payload("m", item.payload)))
        rows += [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
        return Reply(t("menu.title"), rows)

    def commands(self, roles: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
        """(command, description key) pairs for someone with `roles` ("admin", "counselor"; none:
        everyone's list), for /help and a channel's command list."""
        return [(c.name, c.describe) for c in self._commands.values()
                if c.describe and ("admin" in roles if c.admin else not c.roles or bool(roles & set(c.roles)))]

    def roles_changed(self, ctx: Ctx, user_id: int) -> None:
        """Someone became or stopped being a counselor: once the turn is committed, each channel
        that keeps per-person command lists (Telegram) redoes theirs."""
        async def tell(_sessions: Any) -> None:
            for listener in self.role_listeners:
                await listener(user_id)

        ctx.later.append(tell)

    def add_channel(self, channel: Channel) -> None:
        """Serve `channel`: its files are fetched by it, its links offered. Registered again under
        the same name (a test's fake in place of the real one), the later one serves."""
        self.channels[channel.channel] = channel

    def deep_link(self, payload: str) -> str:
        """The first registered channel's link for `/start <payload>`; where none has one (the
        console, KakaoTalk), the command itself."""
        for channel in self.channels.values():
            link = channel.start_link(payload)
            if link is not None:
                return link
        return f"/start {payload}"

    async def run_deep_link(self, ctx: Ctx, payload: str) -> list[Reply] | None:
        """Replies for a `/start <payload>` a feature registered, or None when nobody claims it."""
        for prefix, handler in self._deep_links.items():
            if payload.startswith(prefix):
                return await handler(ctx, (payload[len(prefix):],))
        return None

    async def fetch_file(self, file_ref: str, channel: str | None = None) -> bytes:
        """The file through the channel it was sent on, never another's (a Kakao URL is no
        Telegram file_id)."""
        served = self.channels.get(channel or "")
        if served is None or not file_ref:
            raise FileUnavailable("this channel cannot hand over files")
        try:
            return await served.fetch_file(file_ref)
        except FileUnavailable:
            raise
        except Exception as exc:
            log.info("file download failed: %s", type(exc).__name__)
            raise FileUnavailable(str(exc)) from exc

    def _start_later(self, jobs: Sequence[Background]) -> None:
        for job in jobs:
            task = asyncio.create_task(self._run_later(job))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _run_later(self, job: Background) -> None:
        try:
            await job(self.sessions)
        except Exception:
            log.exception("background job failed")

    async def idle(self) -> None:
        """Wait until the work started after earlier turns has finished (tests; shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # --- the pipeline --------------------------------------------------------------

    async def handle(self, inc: Incoming, *, finish: Finish | None = None, instead: Instead | None = None,
                     deliver: Deliver | None = None) -> Response:
        """One turn. `finish` is a channel's last step inside the turn's transaction (KakaoTalk
        renders there, so the files and pages it stores commit with the turn, in one write);
        `instead` its first, which may answer in place of routing (KakaoTalk: a late answer).
        `deliver` sends the response after the commit while the person's turn still holds their
        lock (Telegram), so their next message's answer cannot overtake this one's."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            response, outcome = await self._turn(clean(inc), finish, deliver, instead)
        finally:
            metrics.UPDATES.labels(inc.channel, outcome).inc()
            metrics.HANDLER_SECONDS.labels(inc.channel).observe(time.perf_counter() - started)
        return response

    async def _turn(self, inc: Incoming, finish: Finish | None, deliver: Deliver | None = None,
                    instead: Instead | None = None) -> tuple[Response, str]:
        key = (inc.channel, inc.external_id)
        later: list[Background] = []
        async with self._locks.hold(key), self._person_lock(key) as bind:
            try:
                async with self.sessions(**bind) as session, session.begin():
                    if not bind:
                        await advisory_xact_lock(session, "conv", *key)
                    if inc.update_id is not None:
                        await updates.claim(session, inc.channel, inc.update_id, self.clock.now())
                    ctx = await self._context(session, inc)
                    response = await instead(ctx) if instead is not None else None
                    if response is None:
                        response = await self._route(ctx)
                        remember_buttons(ctx.conv, response)
                    ctx.conv.updated_at = ctx.now
                    if finish is not None:
                        await finish(ctx, response)
                    later = ctx.later
                outcome = "ok"
            except updates.Duplicate:
                # A redelivery: Telegram sends an update again only when its POST failed, i.e. the
                # worker that ran the turn died (or stalled) before answering, and its reply may
                # never have gone out. The turn is not run again; the person is shown where they
                # are (the open question, or the menu), so nobody is left waiting for an answer.
                log.info("duplicate update skipped channel=%s update=%s", inc.channel, inc.update_id)
                response, outcome = await self._where_now(inc, bind), "duplicate"
            except BadPayload as exc:
                # Whatever the handler wrote before it found the payload bad is rolled back with
                # the turn; the answer is built in a transaction of its own.
                what = "button payload" if inc.button is not None else "command arguments"
                log.info("unreadable %s channel=%s: %s", what, inc.channel, exc)
                response, outcome = await self._where_now(inc, bind, expired=True), "expired"
            except (OperationalError, DBAPIError, OSError, ConnectionError):
                log.exception("database unavailable channel=%s", inc.channel)
                response, outcome = Response([Reply(self._t(inc)("error.unavailable"))]), "unavailable"
            except Exception:
                log.exception("turn failed channel=%s", inc.channel)
                response, outcome = Response([Reply(self._t(inc)("error.generic"))]), "error"
            if deliver is not None:
                await deliver(response)
        self._start_later(later)
        return response, outcome

    @asynccontextmanager
    async def _person_lock(self, key: tuple[str, str]) -> AsyncIterator[dict[str, Any]]:
        """Keyword arguments for the turn's sessions that keep the person's other workers waiting
        until this turn's answer is sent, not only until its commit (PostgreSQL: a session-level
        advisory lock on a connection held through the delivery). On SQLite one process serves
        the chats, and the in-process lock is enough."""
        bind = self.sessions.kw.get("bind")
        if bind is None or bind.dialect.name != "postgresql":
            yield {}
            return
        try:
            conn = await bind.connect()
        except Exception:
            # The database is away: the turn fails the usual way, with its polite line.
            yield {}
            return
        lock = lock_key("conv", *key)
        try:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock})
            await conn.commit()
            yield {"bind": conn}
        finally:
            try:
                if conn.in_transaction():
                    await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock})
                await conn.commit()
            except Exception:
                # A lock must never go back to the pool with its connection: dropping the
                # connection ends its session, and the lock with it.
                log.warning("person lock not released cleanly: connection dropped")
                with contextlib.suppress(Exception):
                    await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()

    async def _where_now(self, inc: Incoming, bind: dict[str, Any], *, expired: bool = False) -> Response:
        try:
            async with self.sessions(**bind) as session, session.begin():
                if not bind:
                    await advisory_xact_lock(session, "conv", inc.channel, inc.external_id)
                ctx = await self._context(session, inc)
                if expired and inc.button is None:
                    # A typed command whose arguments are no ids or numbers of ours (`/event ²`).
                    return Response([Reply(ctx.t("command.bad_args", command="/" + (inc.command or "")[:32])),
                                     *await self.where_you_were(ctx)])
                if expired:
                    return Response(await self._expired(ctx), toast=ctx.t("button.expired_short"))
                # Shown again with the very buttons of the answer that may have been lost: a tap
                # on either message works, none is made stale.
                return Response(await self.where_you_were(ctx, fresh=False))
        except Exception:
            log.exception("showing where a person is failed channel=%s", inc.channel)
            return Response()

    def _t(self, inc: Incoming) -> Any:
        return translator(pick_locale(inc.language_code, self.settings.default_locale))

    async def _context(self, session: AsyncSession, inc: Incoming) -> Ctx:
        now = self.clock.now()
        locale = pick_locale(inc.language_code, self.settings.default_locale)
        user, identity, conv = await conversations.open_turn(session, inc.channel, inc.external_id, inc.chat_id,
                                                             locale, now)
        is_admin = self._is_admin(inc)
        if not is_admin and user.role == "admin":
            # Accounts linked with /link: an admin's Telegram identity makes them admin on KakaoTalk too.
            is_admin = any(self._is_admin(Incoming(channel, external_id, external_id)) for channel, external_id in
                           await users.identities_of(session, user.id))
        # The role mirrors the config, so removing an admin from the config takes effect at once.
        if is_admin and user.role != "admin":
            user.role = "admin"
        elif not is_admin and user.role == "admin":
            user.role = "user"
        return Ctx(incoming=inc, session=session, settings=self.settings, now=now, user=user, identity=identity,
                   conv=conv, t=translator(user.locale), is_admin=is_admin, app=self)

    def _is_admin(self, inc: Incoming) -> bool:
        if (inc.channel, inc.external_id) in self.extra_admins:
            return True
        return inc.channel == "telegram" and inc.external_id.isdigit() and int(inc.external_id) in (
            self.settings.admin_telegram_ids
        )

    async def _route(self, ctx: Ctx) -> Response:
        inc, conv, t = ctx.incoming, ctx.conv, ctx.t
        expired = bool(conv.flow) and conv.updated_at < ctx.now - dt.timedelta(hours=self.settings.draft_ttl_hours)
        if expired:
            conv.flow = conv.step = None
            conv.data, conv.paused = {}, False
        active = bool(conv.flow) and not conv.paused
        mode = self._modes.get(conv.flow or "") if active else None
        if inc.button is not None:
            if mode is not None and inc.button.startswith("m:"):
                # The menu would start something else in the middle of a live chat.
                return Response([Reply(t("mode.busy"))], toast=t("mode.busy"))
            return await self._button(ctx, inc.button)
        if mode is not None and inc.command not in MODE_COMMANDS:
            return Response(await mode(ctx, (inc.text,) if inc.text is not None else ()))
        if inc.command is not None:
            return Response(await self.run_command(ctx, inc.command, inc.args))
        if inc.text is None:
            if active and inc.attachment is not None and self.runner.takes_attachment(ctx):
                # A question that takes a photo or file (a broadcast's attachment).
                if conv.updated_at < ctx.now - RESUME_AFTER:
                    return Response([self.runner.offer_resume(ctx)])
                return Response(await self.runner.attachment(ctx, inc.attachment, inc.file_ref))
            if active:
                return Response([Reply(t("input.text_expected"))])
            for claim in self._files:
                replies = await claim(ctx, (inc.attachment or "", inc.file_ref or ""))
                if replies:
                    return Response(replies)
            return Response([Reply(t("input.unsupported")), await self.menu(ctx)])
        if active:
            if conv.updated_at < ctx.now - RESUME_AFTER:
                return Response([self.runner.offer_resume(ctx)])
            command = self._phrases.get(norm(inc.text))
            if command is not None and command.split(":")[0] in INSIDE_FORM_COMMANDS:
                # "도움말", "english": answered, then the question again (not saved as an answer).
                name, *args = command.split(":")
                return Response(await self.run_command(ctx, name, tuple(args)))
            return Response(await self.runner.text(ctx, inc.text))
        if expired:
            return Response([Reply(t("form.expired", hours=self.settings.draft_ttl_hours)), await self.menu(ctx)])
        pressed = typed_button(conv, inc.text, ctx.now)
        if pressed is not None:
            # What a button of the last answer says, typed (KakaoTalk users type as often as they
            # tap): a press, with every check a press gets.
            return await self._button(ctx, pressed)
        command = self._phrase(inc.text)
        if command is not None:
            name, *args = command.split(":")
            return Response(await self.run_command(ctx, name, tuple(args)))
        for claim in self._text:
            replies = await claim(ctx, (inc.text,))
            if replies:
                return Response(replies)
        return Response([Reply(t("input.not_understood")), await self.menu(ctx)])

    def _service(self, text: str) -> str | None:
        """The command a service's name typed inside a form starts ("채용정보" -> "jobs"): only an
        exact phrase (no fuzzy match: an answer that merely resembles one is an answer), and not
        the ones that keep the form where it is (help, language), run directly instead."""
        command = self._phrases.get(norm(text))
        if command is None or command.split(":")[0] in INSIDE_FORM_COMMANDS:
            return None
        return command

    def _phrase(self, text: str) -> str | None:
        key = norm(text)
        if not key or len(key) > PHRASE_MAX_CHARS:
            return None
        if key in self._phrases:
            return self._phrases[key]
        hit = process.extractOne(key, self._phrase_keys, scorer=fuzz.ratio, score_cutoff=PHRASE_MIN_SCORE)
        return self._phrases[hit[0]] if hit else None

    async def run_command(self, ctx: Ctx, name: str, args: Sequence[str]) -> list[Reply]:
        t = ctx.t
        route = self._commands.get(name)
        if route is None:
            return [Reply(t("command.unknown", command="/" + name[:32]))]
        if route.admin and not ctx.is_admin:
            log.info("admin command refused command=%s user=%s", name, ctx.user.id)
            return [Reply(t("admin.only"))]
        return await route.handler(ctx, args)

    async def _button(self, ctx: Ctx, data: str) -> Response:
        """A pressed button. Decoding the payload is the only step that may answer "expired"
        (`BadPayload`, raised by the route's codec); any other failure of a
        handler is a bug, rolled back and logged as one by `_turn`."""
        conv, t = ctx.conv, ctx.t
        if not plausible_payload(data):
            raise BadPayload("not a payload the bot sends")
        head, _, rest = data.partition(":")
        version = payloads.form_version(head)
        if version is not None:
            # A form's button while no form is open (none, or a live chat begun since) is stale too.
            if conv.flow not in self.runner.forms or version != conv.version:
                if data == conv.last_button:
                    return Response(toast=t("button.already"))
                return Response(await self._expired(ctx), toast=t("button.expired_short"))
            conv.last_button = data
            return Response(await self.runner.button(ctx, rest))
        if head == payloads.MENU_HEAD:
            if rest == "resume" and conv.flow in self.runner.forms:
                conv.paused = False
                return Response(self.runner.prompt(ctx))
            name, *args = rest.split(":")
            if name in self._commands:
                return Response(await self.run_command(ctx, name, tuple(args)))
            raise BadPayload(f"no menu entry {name[:20]!r}")
        routes = self._buttons.get(head)
        if routes is None:
            raise BadPayload(f"no button route {head[:20]!r}")
        # The guard comes before decoding, so a non-admin learns nothing of what the payload names.
        if routes[0].admin and not ctx.is_admin:
            log.info("admin button refused prefix=%s user=%s", head, ctx.user.id)
            return Response([Reply(t("admin.only"))], toast=t("admin.only"))
        if routes[0].guard is not None:
            refused = await routes[0].guard(ctx)
            if refused is not None:
                return Response(refused)
        route = next((r for r in routes if r.codec.matches(data)), None)
        if route is None:
            raise BadPayload(f"no button kind {data[:20]!r}")
        return Response(await route.handler(ctx, route.codec.unpack(data)))

    async def _expired(self, ctx: Ctx) -> list[Reply]:
        return [Reply(ctx.t("button.expired")), *await self.where_you_were(ctx)]

    async def where_you_were(self, ctx: Ctx, *, fresh: bool = True) -> list[Reply]:
        """The open form's current question, nothing inside a live chat, else the menu."""
        if ctx.conv.flow in self._modes and not ctx.conv.paused:
            return []
        if ctx.conv.flow in self.runner.forms and not ctx.conv.paused:
            return self.runner.prompt(ctx, fresh=fresh)
        return [await self.menu(ctx)]
