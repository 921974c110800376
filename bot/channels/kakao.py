"""KakaoTalk channel: a Kakao i Open Builder skill server, a renderer and an outbox notifier.

Open Builder POSTs every utterance of the blocks that use our skill to `KAKAO_SKILL_PATH`
(`../shared/reference/kakao-skill-api.md`). Each request goes:

1. Checks (`bot.channels.boundary`, the same for every route): the shared secret header
   (missing or wrong: 403, nothing processed), the body size (413), JSON that can be read
   (400: see there), the required fields `userRequest.user.id` and `userRequest.utterance`
   as strings (400), the bot id when `KAKAO_BOT_ID` is set (403). Every refusal is a small
   JSON error and one WARNING line, never a traceback; unknown fields are ignored, and
   optional ones that cannot be read (a callbackUrl, a sent image's URLs) count as absent.
2. `to_incoming`: the person is the botUserKey (`userRequest.user.id`). A quick reply or
   card button we rendered carries its payload in `extra`, which Kakao hands back as
   `action.clientExtra`, so a press reaches the core as a button, not as typed text.
   A photo or file sent arrives as a URL (`sent_file`): it becomes an attachment whose
   `file_ref` is that URL, downloaded on demand by `KakaoSkill.fetch_file` (the engine's
   fetcher for this channel) from Kakao's hosts only, https, no redirects, size-capped.
   Anything sent without a URL is answered with where files can go instead (Telegram, the CLI).
3. The engine's replies become a SkillResponse 2.0 (`Renderer`, `paginate`): text in
   simpleText bubbles of at most 1000 characters (split at line breaks, never cut), the
   last reply's choices as quick replies, other replies' buttons and links as textCard
   buttons, lists (replies with a `Card` hint: events, postings, bookings) as carousels
   of textCards, files (and a broadcast's photo) as a link to a signed, expiring URL served
   by this app. What does not fit one answer (3 outputs, 10 quick replies) is kept in the
   database and the answer ends with a "더보기" quick reply that brings the next page.
4. Time: Kakao waits 5 seconds. A turn still running after `KAKAO_CALLBACK_AFTER_SECONDS`
   is answered with `useCallback` when the block has a callbackUrl (the result is then
   POSTed there); without one, at `KAKAO_DEADLINE_SECONDS` the person is told it is
   still being prepared and to send any message. Their next message then only fetches
   that answer, quick replies and all, and is not handled itself (otherwise whatever they
   sent would become the answer to the question that was still coming): see `Late`.

Proactive messages (reminders, notifications, broadcasts) go through the outbox to Kakao's
Event API (`KakaoNotifier`), one call per message and user; the calls' task results tell later
who blocked the channel (`bot.channels.kakao_tasks`). Without the Event API
configured, `HoldingNotifier` keeps them to show before the answer to the person's next
message instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any
from urllib.parse import quote, urlparse

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.boundary import Refused, guarded, header_secret_ok, loads, read_json, same_secret
from bot.engine import Engine
from bot.logs import request_scope
from kernel.config import Settings
from kernel.core import (
    Attachment,
    Button,
    Clock,
    Ctx,
    FileOut,
    FileTooBig,
    FileUnavailable,
    Incoming,
    Reply,
    Response,
    clip,
    split_text,
)
from kernel.forms import PINNED_CODES
from kernel.i18n import Translator, pick_locale, translator
from kernel.payloads import form_version
from scheduler import outbox as dispatch
from storage import files
from storage import kakao as pages_store
from storage.db import advisory_xact_lock
from storage.models import Identity, User

log = logging.getLogger(__name__)

CHANNEL = "kakao"
VERSION = "2.0"
MAX_TEXT = 1000
MAX_OUTPUTS = 3
MAX_QUICK_REPLIES = 10
MAX_LABEL = 14
CARD_BUTTONS = 3
CARD_TITLE = 50
CARD_TEXT = 400
CAROUSEL_TEXT = 128
CAROUSEL_ITEMS = 10
MAX_USER_KEY = 128
EXTRA_PAYLOAD = "payload"
EXTRA_MORE = "more"
# What a file link's id and expiry look like (`file_url`); nothing else is read further.
FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
EXPIRES = re.compile(r"[0-9]{1,12}")
# Sends at the platform's limit: Kakao documents no rate; the Event API takes up to 100 users a call.
EVENT_API_TIMEOUT = 10.0
FILE_TIMEOUT = 20.0

Json = dict[str, Any]


class BadRequest(Exception):
    """A request we refuse with 400; the message is the JSON error's text."""



# --- request → Incoming --------------------------------------------------------------------


def _field(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def extra_of(body: Json) -> Json:
    extra = _field(body, "action", "clientExtra")
    return extra if isinstance(extra, dict) else {}


def to_incoming(body: Any) -> Incoming:
    """The core's view of a SkillPayload; BadRequest when a required field is missing."""
    if not isinstance(body, dict) or not isinstance(body.get("userRequest"), dict):
        raise BadRequest("userRequest is required")
    user_key = _field(body, "userRequest", "user", "id")
    if not isinstance(user_key, str) or not user_key.strip() or len(user_key) > MAX_USER_KEY:
        raise BadRequest("userRequest.user.id is required")
    utterance = _field(body, "userRequest", "utterance")
    if not isinstance(utterance, str):
        raise BadRequest("userRequest.utterance is required")
    lang = _field(body, "userRequest", "lang")
    language = "ko" if lang in ("ko", "kr", None) else str(lang)[:8]
    base: Json = {"channel": CHANNEL, "external_id": user_key, "chat_id": user_key, "language_code": language}
    pressed = extra_of(body).get(EXTRA_PAYLOAD)
    if isinstance(pressed, str) and pressed:
        return Incoming(**base, button=pressed[:64])
    command = Incoming.parse_command(utterance.strip())
    if command is not None:
        return Incoming(**base, text=utterance.strip(), command=command[0], args=command[1])
    sent = sent_file(body)
    if sent is not None:
        return Incoming(**base, attachment=sent[0], file_ref=sent[1])
    if not utterance:
        # Something sent without a text or a URL we can read (a file KakaoTalk does not pass on).
        # Only a truly empty utterance: spaces typed are text, answered as text (not "send files
        # to Telegram").
        return Incoming(**base, attachment="other")
    return Incoming(**base, text=utterance)


def _media_kind(kind: object) -> str:
    return {"image": "photo", "photo": "photo", "video": "video"}.get(str(kind).lower(), "document")


def sent_file(body: Json) -> tuple[str, str] | None:
    """(kind, URL) of a photo or file a person sent, or None.

    Two shapes: an upload (`flow.trigger.type` IMAGE_UPLOAD) with `params.media`
    {type, url} in the action's or the request's params (reference §1, seen, unverified),
    and the secure-image plugin (`sys.plugin.secureimage`), whose `action.params.secureimage`
    is a JSON string with `secureUrls` "List(url1, url2)" (secondary sources); its first URL
    is taken. The URL is only a reference here: `KakaoSkill.fetch_file` decides whether it
    may be downloaded (https, Kakao's hosts, size).
    """
    for media in (_field(body, "action", "params", "media"), _field(body, "userRequest", "params", "media")):
        if isinstance(media, str):
            try:
                media = loads(media)
            except ValueError:
                media = None
        if isinstance(media, dict) and isinstance(media.get("url"), str) and media["url"].strip():
            return _media_kind(media.get("type", "image")), media["url"].strip()
    secure = _field(body, "action", "params", "secureimage")
    if isinstance(secure, str):
        try:
            secure = loads(secure)
        except ValueError:
            secure = None
    urls = secure.get("secureUrls") if isinstance(secure, dict) else None
    if isinstance(urls, str):
        inner = urls.strip()
        if inner.startswith("List(") and inner.endswith(")"):
            inner = inner[5:-1]
        first = inner.split(",")[0].strip()
        if first:
            return "photo", first
    return None


# --- Reply → SkillResponse -------------------------------------------------------------------


def short(label: str, limit: int = MAX_LABEL) -> str:
    """A button label within Kakao's limit; the full label still goes out as the message text.
    Cut after a whole word when one ends in the second half ("💬 Talk to a…", not "Talk to a p…")."""
    if len(label) <= limit:
        return label
    cut = label.rfind(" ", 0, limit)
    if cut >= limit // 2:
        return label[:cut].rstrip(" (·,") + "…"
    return clip(label, limit)


@dataclass
class Rendered:
    """Outputs and quick replies in order, each within its own limits, not yet paged."""

    outputs: list[Json] = field(default_factory=list)
    quick_replies: list[Json] = field(default_factory=list)
    # A form question's way on (선택 완료, 이전) among the quick replies: repeated on every page.
    pinned: list[Json] = field(default_factory=list)
    # The question again on each "더보기" page (with what is ticked so far), instead of a bare "more".
    again: str | None = None


StoreFile = Callable[[FileOut], Awaitable[str]]
# The signed link to a reply's kept attachment (a broadcast's photo), None when it has none.
LinkFile = Callable[[Attachment], str | None]


class Renderer:
    """Turns the engine's replies into SkillResponse components (see the module docstring)."""

    def __init__(self, t: Translator, *, store_file: StoreFile | None = None, link_file: LinkFile | None = None,
                 block_id: str = "") -> None:
        self.t = t
        self.store_file = store_file
        self.link_file = link_file
        self.block_id = block_id

    def _action(self, button: Button) -> Json:
        assert button.payload is not None
        out: Json = {"label": short(button.label), "messageText": button.label,
                     "extra": {EXTRA_PAYLOAD: button.payload}}
        if self.block_id:
            out.update(action="block", blockId=self.block_id)
        else:
            out["action"] = "message"
        return out

    def _card_button(self, button: Button) -> Json:
        if button.url:
            return {"label": short(button.label), "action": "webLink", "webLinkUrl": button.url}
        return self._action(button)

    @staticmethod
    def text_card(description: str, buttons: Sequence[Json], title: str | None = None) -> Json:
        card: Json = {"description": description}
        if title:
            card["title"] = title
        if buttons:
            card["buttons"] = list(buttons)
        return card

    @staticmethod
    def _fits_carousel(reply: Reply) -> bool:
        assert reply.card is not None
        return (len(reply.card.title) <= CARD_TITLE and 0 < len(reply.card.summary) <= CAROUSEL_TEXT
                and sum(len(row) for row in reply.buttons) <= CARD_BUTTONS)

    async def render(self, replies: Sequence[Reply], toast: str | None = None, *, quick: bool = True) -> Rendered:
        """`quick=False`: every button on cards (for messages shown before another answer)."""
        out = Rendered()
        texts: list[str] = []  # consecutive plain texts, joined into as few bubbles as fit
        cards: list[Json] = []

        def flush_text() -> None:
            if texts:
                for part in split_text("\n\n".join(texts), MAX_TEXT):
                    out.outputs.append({"simpleText": {"text": part}})
                texts.clear()

        def add_text(text: str) -> None:
            if texts and len("\n\n".join([*texts, text])) > MAX_TEXT:
                flush_text()
            texts.append(text)

        def flush_cards() -> None:
            for i in range(0, len(cards), CAROUSEL_ITEMS):
                chunk = cards[i:i + CAROUSEL_ITEMS]
                if len(chunk) == 1:
                    out.outputs.append({"textCard": chunk[0]})
                else:
                    out.outputs.append({"carousel": {"type": "textCard", "items": chunk}})
            cards.clear()

        def add_card_buttons(text: str, buttons: list[Button], note_key: str) -> None:
            """The text and its buttons in one textCard when they fit, else text then cards of 3."""
            rendered = [self._card_button(b) for b in buttons]
            if len(text) <= CARD_TEXT and len(rendered) <= CARD_BUTTONS and text.strip():
                flush_text()
                out.outputs.append({"textCard": self.text_card(text, rendered)})
                return
            if text.strip():
                add_text(text)
            flush_text()
            for i in range(0, len(rendered), CARD_BUTTONS):
                out.outputs.append({"textCard": self.text_card(self.t(note_key), rendered[i:i + CARD_BUTTONS])})

        quick_index = max((i for i, r in enumerate(replies)
                           if r.card is None and any(b.payload and not b.url for row in r.buttons for b in row)),
                          default=-1) if quick else -1
        for index, reply in enumerate(replies):
            buttons = [b for row in reply.buttons for b in row]
            if reply.card is not None and self._fits_carousel(reply):
                flush_text()
                cards.append(self.text_card(reply.card.summary, [self._card_button(b) for b in buttons],
                                            title=reply.card.title))
                continue
            flush_cards()
            text = reply.text
            attached = self.link_file(reply.attachment) if reply.attachment and self.link_file else None
            if reply.attachment and attached is None:
                text = "\n\n".join(filter(None, [text, self.t("kakao.attached")]))
            links = [b for b in buttons if b.url]
            presses = [b for b in buttons if b.payload and not b.url]
            if index == quick_index:
                out.quick_replies.extend(self._action(b) for b in presses)
                if any(_form_code(b.payload) is not None for b in presses):
                    out.again = clip(text, MAX_TEXT)
                    out.pinned = [self._action(b) for b in presses if _form_code(b.payload) in PINNED_CODES]
                presses = []
            if links or presses:
                add_card_buttons(text, [*presses, *links], "kakao.links" if not presses else "kakao.choose")
            elif text.strip():
                add_text(text)
            if reply.file is not None:
                flush_text()
                out.outputs.append({"textCard": await self._file_card(reply.file)})
            if attached is not None and reply.attachment is not None:
                flush_text()
                out.outputs.append({"textCard": self._attachment_card(reply.attachment, attached)})
        flush_cards()
        if not out.outputs and toast:
            add_text(toast)
        flush_text()
        if not out.outputs:
            out.outputs.append({"simpleText": {"text": self.t("kakao.done")}})
        return out

    async def _file_card(self, file: FileOut) -> Json:
        description = "\n".join(filter(None, [file.filename, file.caption]))
        if len(description) > CARD_TEXT:
            description = file.filename[:CARD_TEXT]
        if self.store_file is None:
            return self.text_card(description, [], title=self.t("kakao.file_title"))
        url = await self.store_file(file)
        return self.text_card(description, [{"label": short(self.t("kakao.download")), "action": "webLink",
                                              "webLinkUrl": url}], title=self.t("kakao.file_title"))

    def _attachment_card(self, attachment: Attachment, url: str) -> Json:
        photo = attachment.kind == "photo"
        label = self.t("kakao.open_photo" if photo else "kakao.download")
        return self.text_card(self.t("kakao.attachment_card"), [{"label": short(label), "action": "webLink",
                                                                 "webLinkUrl": url}],
                              title=self.t("kakao.photo_title" if photo else "kakao.file_title"))


def _form_code(data: str | None) -> str | None:
    """The code of a form's button ("f12:done" -> "done"), None for any other payload."""
    head, _, code = (data or "").partition(":")
    return code if form_version(head) is not None else None


def paginate(rendered: Rendered, t: Translator, token: str, *, focus: str | None = None) -> list[Json]:
    """SkillResponse templates of at most 3 outputs and 10 quick replies; every page but the
    last ends with a "더보기" quick reply (extra carries `token`) that brings the next one.

    A form question's choices are paged with its way on (`Rendered.pinned`: 선택 완료, 이전) on
    every page and the question repeated above each further page, so a 25-district multi-select
    is never a maze; the last page always has choices of its own.

    `focus`: the form code of the choice just ticked ("t17"). Its page comes first and the others
    follow round in order, so ticking on page 3 answers with page 3, not page 1 again."""
    more = {"label": t("kakao.more"), "action": "message", "messageText": t("kakao.more"),
            "extra": {EXTRA_MORE: token}}
    outputs = list(rendered.outputs)
    pinned = [q for q in rendered.pinned if q in rendered.quick_replies]
    quick = [q for q in rendered.quick_replies if q not in pinned]
    pages: list[Json] = []
    while len(outputs) > MAX_OUTPUTS:
        pages.append({"outputs": outputs[:MAX_OUTPUTS], "quickReplies": [more]})
        outputs = outputs[MAX_OUTPUTS:]
    room = MAX_QUICK_REPLIES - 1 - len(pinned)
    again = [{"simpleText": {"text": rendered.again or t("kakao.more_choices")}}]
    if focus is not None and len(quick) + len(pinned) > MAX_QUICK_REPLIES:
        at = next((i for i, q in enumerate(quick) if _form_code(q.get("extra", {}).get(EXTRA_PAYLOAD)) == focus), 0)
        start = at - at % room
        quick = quick[start:] + quick[:start]
    while len(quick) + len(pinned) > MAX_QUICK_REPLIES:
        pages.append({"outputs": outputs, "quickReplies": [*quick[:room], *pinned, more]})
        outputs = again
        quick = quick[room:]
    last: Json = {"outputs": outputs}
    if not pages and len(rendered.quick_replies) <= MAX_QUICK_REPLIES:
        # One page: the replies in the order the bot gave them (⬅️ 이전 before ✖️ 취소, as on Telegram).
        quick, pinned = list(rendered.quick_replies), []
    if quick or pinned:
        last["quickReplies"] = [*quick, *pinned]
    pages.append(last)
    return pages


def skill_response(template: Json) -> Json:
    return {"version": VERSION, "template": template}


def still_working(t: Translator) -> Json:
    return {"outputs": [{"simpleText": {"text": t("kakao.still_working")}}]}


def merge_templates(first: Sequence[Json], then: Json) -> Rendered:
    """Answers kept for later, shown before a new one (re-paged together)."""
    merged = Rendered()
    for page in first:
        merged.outputs.extend(page.get("outputs", []))
    merged.outputs.extend(then.get("outputs", []))
    merged.quick_replies = list(then.get("quickReplies", []))
    return merged


# --- signed file links -------------------------------------------------------------------------


def sign(key: bytes, file_id: str, expires: int) -> str:
    return hmac.new(key, f"{file_id}.{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def file_url(settings: Settings, file_id: str, expires: int) -> str:
    return f"{settings.base_url}/files/{file_id}?e={expires}&s={sign(settings.file_links_key, file_id, expires)}"


def attachment_url(settings: Settings, attachment: Attachment) -> str | None:
    """The signed link to a reply's kept attachment (`Attachment.kept`); None without one, or
    without the expiry the link is signed with."""
    kept = attachment.kept
    if kept is None or kept.expires is None:
        return None
    return file_url(settings, kept.id, kept.expires)


# --- the skill server --------------------------------------------------------------------------


def _dumps(data: Any) -> str:
    # Korean as UTF-8, not \uXXXX escapes: half the bytes on the wire.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(eq=False)
class Late:
    """One turn's race with Kakao's deadline, and what became of its answer.

    When the deadline passes first, the person is told to send any message (`announced_at`,
    wall-clock time, comparable across workers). A message that arrives after that notice
    only fetches the answer and is not handled itself: otherwise what they sent would become
    the answer to the question that was still coming. One that arrived before it (two quick
    messages) is handled as usual, the late answer shown before its own.

    * The turn keeps its answer for that message (`storage.kakao.keep_owed`, stamped with
      `announced_at`) in its own transaction when the notice went out before it finished
      (`kept`). The person's next turn waits for this one (their lock, on every worker) and
      finds it there (`KakaoSkill._turn`'s `instead`).
    * A turn that failed (rolled back, its apology is the answer) or finished just as the
      notice went out kept nothing itself: `template` is handed over in this process to the
      person's next turn (`taken`), or else stored by `KakaoSkill._keep_late` once the turn is
      over; on another worker, a message arriving meanwhile is handled as usual.
    * A worker that dies mid-turn keeps nothing (the turn rolls back): the next message is
      handled as usual.
    """

    announced_at: float | None = None
    # Names the answer's entry in the database, so a message that finds it there does not take it twice.
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    kept: bool = False
    template: Json | None = None
    taken: bool = False
    # A message that arrived before the notice was handled meanwhile: shown before the next answer.
    superseded: bool = False

    def entry(self, template: Json) -> Json:
        return {"id": self.id, "at": self.announced_at, "answer": template}


class KakaoSkill:
    """The skill endpoint, file links and the late/paged answers of one app."""

    channel = CHANNEL

    def __init__(self, engine: Engine, settings: Settings, *, http: aiohttp.ClientSession | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.sessions = engine.sessions
        self._http = http
        self._background: set[asyncio.Task[Any]] = set()
        self._guarded = guarded("kakao skill", self._receive)
        # Per person, this worker's late turns that ended without keeping their answer (`Late`).
        self._unkept: dict[str, list[Late]] = {}

        engine.add_channel(self)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(self.settings.kakao_skill_path, self.receive)
        app.router.add_get("/files/{file_id}", guarded("file link", self.serve_file))
        app.on_cleanup.append(self._close)

    async def _close(self, _app: web.Application) -> None:
        if self._background:
            await asyncio.wait(set(self._background), timeout=10)
        if self._http is not None:
            await self._http.close()

    def _t(self, inc: Incoming) -> Translator:
        return translator(pick_locale(inc.language_code, self.settings.default_locale))

    # --- request checks ------------------------------------------------------------------

    async def receive(self, request: web.Request) -> web.StreamResponse:
        # KakaoTalk sends no request id: a fresh one tags this request's log lines (and its turn's,
        # which runs in a task that inherits it, callback and late answer included).
        with request_scope(f"kk-{secrets.token_hex(6)}"):
            return await self._guarded(request)

    async def _receive(self, request: web.Request) -> web.Response:
        if not header_secret_ok(request, self.settings.kakao_skill_secret_header, self.settings.kakao_skill_secret):
            raise Refused(403, "forbidden", detail="wrong or missing secret")
        body = await read_json(request, self.settings.kakao_max_body)
        bot_id = self.settings.kakao_bot_id
        if bot_id and str(_field(body, "bot", "id") or "").rstrip("!") != bot_id.rstrip("!"):
            raise Refused(403, "unknown bot", detail="a request for another bot")
        try:
            incoming = to_incoming(body)
        except BadRequest as exc:
            raise Refused(400, str(exc)) from None
        try:
            return web.json_response(await self.answer(incoming, body), dumps=_dumps)
        except Exception:
            log.exception("kakao skill answer failed")
            return web.json_response(skill_response({"outputs": [
                {"simpleText": {"text": self._t(incoming)("error.generic")}}]}), dumps=_dumps)

    # --- answering -------------------------------------------------------------------------

    async def answer(self, incoming: Incoming, body: Json) -> Json:
        t = self._t(incoming)
        user_key = incoming.external_id
        if incoming.attachment == "other":
            # Nothing reached us to read: say where files can be sent instead of "not understood".
            return skill_response({"outputs": [{"simpleText": {"text": t("kakao.files_elsewhere")}}]})
        token = extra_of(body).get(EXTRA_MORE)
        if isinstance(token, str) or (incoming.text is not None and incoming.text.strip() == t("kakao.more")):
            async with self.sessions() as session, session.begin():
                page = await pages_store.next_page(session, user_key, token if isinstance(token, str) else None)
            if page is not None:
                return skill_response(page)
            if isinstance(token, str):
                # An old "더보기": the engine answers it like any expired button.
                incoming = Incoming(CHANNEL, user_key, user_key, button="kakao:more",
                                    language_code=incoming.language_code)
        callback = self._callback_url(body)
        late = Late()
        arrived = time.time()
        turn = asyncio.create_task(self._turn(incoming, late, arrived))
        self._keep(turn)
        wait = self.settings.kakao_callback_after_seconds if callback else self.settings.kakao_deadline_seconds
        done, _ = await asyncio.wait({turn}, timeout=wait)
        if done:
            return skill_response(turn.result())
        if callback:
            log.info("kakao answer switches to the callback")
            self._keep(asyncio.create_task(self._post_callback(turn, callback)))
            return {"version": VERSION, "useCallback": True, "data": {"text": t("kakao.wait")}}
        log.warning("kakao answer not ready within %.1f s: kept for the next message",
                    self.settings.kakao_deadline_seconds)
        late.announced_at = time.time()
        self._keep(asyncio.create_task(self._keep_late(turn, late, user_key)))
        return skill_response(still_working(t))

    async def _combine(self, session: AsyncSession, user_key: str, pages: list[Json], t: Translator,
                       now: dt.datetime) -> Json:
        """The late answer to fetch; several (two messages sent together, both late) as one,
        the last one's quick replies kept, paged again."""
        if len(pages) == 1:
            return pages[0]
        token = secrets.token_hex(4)
        combined = paginate(merge_templates(pages[:-1], pages[-1]), t, token)
        if len(combined) > 1:
            await pages_store.save_more(session, user_key, token, combined[1:], now)
        return combined[0]

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _callback_url(self, body: Json) -> str | None:
        url = _field(body, "userRequest", "callbackUrl")
        if not isinstance(url, str):
            return None
        try:
            parsed = urlparse(url)
            host, _port = (parsed.hostname or "").lower(), parsed.port  # .port: ValueError when out of range
        except ValueError:
            log.warning("callbackUrl that is no URL: ignored")
            return None
        if parsed.scheme in ("http", "https") and any(
                host == allowed or host.endswith("." + allowed) for allowed in self.settings.kakao_callback_hosts):
            return url
        log.warning("callbackUrl on a host not allowed: ignored")
        return None

    async def _turn(self, incoming: Incoming, late: Late, arrived: float) -> Json:
        """One engine turn, rendered inside its transaction; what does not fit is stored for "더보기".
        A late answer the person was told to fetch since `arrived` is the answer instead (see `Late`)."""
        user_key = incoming.external_id
        rendered: list[Json] = []
        fetched: list[Json] = []

        async def instead(ctx: Ctx) -> Response | None:
            answers: list[Json] = []
            entries = await pages_store.take_owed(ctx.session, user_key)
            for entry in entries:
                if entry["at"] <= arrived:
                    answers.append(entry["answer"])
                else:  # this message was sent before that notice: handled, the answer shown first
                    await pages_store.add_late(ctx.session, user_key, entry["answer"], ctx.now)
            stored = {entry.get("id") for entry in entries}
            for other in self._unkept.get(user_key, []):
                if other.taken or other.superseded or other.id in stored or other.template is None \
                        or other.announced_at is None:
                    continue
                if other.announced_at <= arrived:
                    answers.append(other.template)
                    other.taken = True
                else:
                    other.superseded = True
            if not answers:
                return None
            fetched.append(await self._combine(ctx.session, user_key, answers, ctx.t, ctx.now))
            return Response()

        async def finish(ctx: Ctx, response: Response) -> None:
            template = fetched[0] if fetched else await self._render_in(
                ctx.session, incoming, response, ctx.user.id, translator(ctx.user.locale), ctx.now)
            late.kept = late.announced_at is not None
            if late.announced_at is not None:
                await pages_store.keep_owed(ctx.session, user_key, late.entry(template), ctx.now)
            rendered.append(template)

        response = await self.engine.handle(incoming, finish=finish, instead=instead)
        if rendered:
            template = rendered[0]
        else:
            # The turn failed and was rolled back: its apology alone, without the database.
            late.kept = False
            t = self._t(incoming)
            template = paginate(await Renderer(t).render(response.replies, response.toast), t, "")[0]
        if late.announced_at is not None and not late.kept:
            late.template = template
            self._unkept.setdefault(user_key, []).append(late)
        return template

    async def render(self, incoming: Incoming, response: Response) -> Json:
        """Render a response outside a turn (its own transaction)."""
        now = self.engine.clock.now()
        async with self.sessions() as session, session.begin():
            user_id = await session.scalar(select(Identity.user_id).where(
                Identity.channel == CHANNEL, Identity.external_id == incoming.external_id))
            t = await self._user_translator(session, incoming.external_id) or self._t(incoming)
            return await self._render_in(session, incoming, response, user_id, t, now)

    async def _render_in(self, session: AsyncSession, incoming: Incoming, response: Response, user_id: int | None,
                         t: Translator, now: dt.datetime) -> Json:
        user_key = incoming.external_id

        async def store(file: FileOut) -> str:
            ttl = dt.timedelta(minutes=self.settings.file_link_ttl_minutes)
            row = await files.store(session, user_id=user_id, filename=file.filename, mime=file.mime,
                                    data=file.data, now=now, ttl=ttl, about=file.about)
            return file_url(self.settings, row.id, int(row.expires_at.timestamp()))

        renderer = Renderer(t, store_file=store, link_file=partial(attachment_url, self.settings),
                            block_id=self.settings.kakao_button_block_id)
        rendered = await renderer.render(response.replies, response.toast)
        late = await pages_store.take_late(session, user_key)
        if late:
            merged = merge_templates(late, {"outputs": rendered.outputs, "quickReplies": rendered.quick_replies})
            rendered = replace(merged, pinned=rendered.pinned, again=rendered.again)
        token = secrets.token_hex(4)
        code = _form_code(incoming.button)
        pages = paginate(rendered, t, token, focus=code if code and code.startswith("t") else None)
        if len(pages) > 1:
            await pages_store.save_more(session, user_key, token, pages[1:], now)
        return pages[0]

    async def _user_translator(self, session: AsyncSession, user_key: str) -> Translator | None:
        locale = await session.scalar(select(User.locale).join(Identity, Identity.user_id == User.id).where(
            Identity.channel == CHANNEL, Identity.external_id == user_key))
        return translator(locale) if locale else None

    async def _post_callback(self, turn: asyncio.Task[Json], url: str) -> None:
        try:
            template = await turn
            http = self._client()
            async with http.post(url, json=skill_response(template),
                                 timeout=aiohttp.ClientTimeout(total=EVENT_API_TIMEOUT)) as resp:
                answer = await resp.json(content_type=None)
                if resp.status != 200 or not isinstance(answer, dict) or answer.get("status") != "SUCCESS":
                    log.warning("kakao callback refused: http=%s status=%s", resp.status,
                                answer.get("status") if isinstance(answer, dict) else None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("kakao callback failed: %s", exc)

    async def _keep_late(self, turn: asyncio.Task[Json], late: Late, user_key: str) -> None:
        """Store what a late turn did not keep itself (see `Late`), unless a message took it meanwhile."""
        await turn
        if late.template is None:
            return
        try:
            async with self.sessions() as session, session.begin():
                # Under the person's lock, as their turns take it (on SQLite, beginning takes the
                # write lock): a turn that took or passed over the answer meanwhile is over.
                await session.connection()
                await advisory_xact_lock(session, "conv", CHANNEL, user_key)
                if late.taken:
                    return
                if late.superseded:
                    await pages_store.add_late(session, user_key, late.template, self.engine.clock.now())
                else:
                    await pages_store.keep_owed(session, user_key, late.entry(late.template), self.engine.clock.now())
        finally:
            unkept = self._unkept.get(user_key, [])
            if late in unkept:
                unkept.remove(late)
            if not unkept:
                self._unkept.pop(user_key, None)

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    # --- files people send ------------------------------------------------------------------

    @staticmethod
    def start_link(_payload: str) -> str | None:
        return None  # a KakaoTalk channel has no link that carries a payload

    async def fetch_file(self, url: str) -> bytes:
        """The bytes behind a sent photo's or file's URL: https on Kakao's hosts only
        (`KAKAO_FILE_HOSTS`), no redirects, at most `KAKAO_MAX_FILE_BYTES`; FileUnavailable otherwise."""
        parsed = urlparse(url)
        host = (parsed.hostname or "").lower()
        if parsed.scheme != "https" and not (parsed.scheme == "http" and host in self.settings.kakao_file_hosts
                                             and host in ("127.0.0.1", "localhost")):
            raise FileUnavailable("only https links are fetched")
        if not any(host == allowed or host.endswith("." + allowed) for allowed in self.settings.kakao_file_hosts):
            log.warning("a sent file on a host not allowed: not fetched")
            raise FileUnavailable("file host not allowed")
        limit = self.settings.kakao_max_file_bytes
        try:
            async with self._client().get(url, allow_redirects=False,
                                          timeout=aiohttp.ClientTimeout(total=FILE_TIMEOUT)) as resp:
                if resp.status != 200:
                    raise FileUnavailable(f"HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > limit:
                    raise FileTooBig(f"file of {resp.content_length} bytes is over the limit", limit)
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise FileTooBig("file over the limit", limit)
                    chunks.append(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FileUnavailable(f"download failed: {type(exc).__name__}") from exc
        return b"".join(chunks)

    # --- file links ------------------------------------------------------------------------

    async def serve_file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        expires, signature = request.query.get("e", ""), request.query.get("s", "")
        if not (FILE_ID.fullmatch(file_id) and EXPIRES.fullmatch(expires)) or not same_secret(
                signature, sign(self.settings.file_links_key, file_id, int(expires))):
            raise Refused(403, "invalid link", detail="a file link not signed by us")
        now = self.engine.clock.now()
        if int(expires) <= now.timestamp():
            raise Refused(410, "link expired", level=logging.INFO)
        async with self.sessions() as session:
            row = await files.fetch(session, file_id, now)
        if row is None:
            raise Refused(410, "link expired", detail="link to a file no longer kept", level=logging.INFO)
        disposition = f"attachment; filename*=UTF-8''{quote(row.filename)}"
        return web.Response(body=row.data, content_type=row.mime.split(";")[0],
                            headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"})


# --- proactive messages: Kakao's Event API -------------------------------------------------------


class KakaoNotifier:
    """Outbox notifier for KakaoTalk users through the Event API (one user and message per call).

    The event block (name `KAKAO_EVENT_NAME`) shows `{{#current.event.data.text}}`, and a
    link button to `{{#current.event.data.link}}` when there is one. A broadcast's photo or
    file is a signed link: the link button's when the message has no link of its own, else
    written in the text; `data.file` carries it too, for a block with a second button. Text
    over Kakao's 1000 characters goes out as several events, in order. Kakao's answer only says
    the request was accepted: each accepted `taskId` is remembered with its recipient and
    outbox row (`storage.kakao.remember_task`), and `bot.channels.kakao_tasks` reads the
    task results later, marking those the message did not reach as blocked.
    """

    channel = CHANNEL

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock, *,
                 http: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.url = settings.kakao_event_api_url.format(bot_id=settings.kakao_bot_id)
        self._http = http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def send(self, chat_id: str, message: Json) -> None:
        reply = Reply.from_payload(message)
        link = next((b.url for row in reply.buttons for b in row if b.url), None)
        text = reply.text or " "
        attached = attachment_url(self.settings, reply.attachment) if reply.attachment else None
        if reply.attachment:
            text += "\n\n" + self._attachment_note(attached, has_link=link is not None)
            link = link or attached
        for part in split_text(text, MAX_TEXT):
            data: Json = {"text": part}
            if link:
                data["link"] = link
            if attached:
                data["file"] = attached
            answer = await self._post({"event": {"name": self.settings.kakao_event_name, "data": data},
                                       "user": [{"type": "botUserKey", "id": chat_id}]})
            await self._remember(answer.get("taskId"), chat_id)

    def _attachment_note(self, url: str | None, *, has_link: bool) -> str:
        """What the text says of its photo or file: where the link button opens it, or the link
        itself when the button is the broadcast's own (one event per message, not two: each costs)."""
        t = translator(self.settings.default_locale)
        if url is None:
            return t("kakao.attached")
        return t("kakao.attached_url", url=url) if has_link else t("kakao.attached_button")

    async def _remember(self, task_id: object, user_key: str) -> None:
        """Keep an accepted call's task to read its result later. The message is on its way
        whatever happens here, so a failure is logged, never raised (that would fail the row)."""
        if not isinstance(task_id, (str, int)) or not str(task_id).strip() or len(str(task_id)) > 64:
            log.warning("event api accepted a message without a usable taskId: its delivery cannot be checked")
            return
        now = self.clock.now()
        try:
            async with self.sessions() as session, session.begin():
                await pages_store.remember_task(
                    session, task_id=str(task_id), user_key=user_key, outbox_id=dispatch.SENDING_ROW.get(), now=now,
                    check_at=now + dt.timedelta(seconds=self.settings.kakao_task_check_seconds))
        except Exception as exc:  # the send succeeded: only the later check is lost
            log.warning("event api task %s not remembered (%s): its delivery will not be checked",
                        task_id, type(exc).__name__)

    async def _post(self, body: Json) -> Json:
        """Kakao's answer to an accepted call; the dispatcher's outcomes otherwise."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        headers = {"Authorization": f"KakaoAK {self.settings.kakao_rest_api_key}"}
        started = time.monotonic()
        try:
            async with self._http.post(self.url, json=body, headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=EVENT_API_TIMEOUT)) as resp:
                try:
                    answer = await resp.json(content_type=None)
                except ValueError:
                    answer = None
                status = resp.status
                retry = resp.headers.get("Retry-After", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise dispatch.TransientError(f"event api: {type(exc).__name__}") from exc
        log.debug("event api %s in %.0f ms", status, (time.monotonic() - started) * 1000)
        if status == 429:
            raise dispatch.RetryAfter(retry_after(retry))
        if status >= 500:
            raise dispatch.TransientError(f"event api: HTTP {status}")
        if status != 200 or not isinstance(answer, dict) or answer.get("status") != "SUCCESS":
            message = answer.get("message") if isinstance(answer, dict) else None
            raise RuntimeError(f"event api: HTTP {status} {message or ''}".strip())
        return answer


def retry_after(header: str, default: float = 1.0) -> float:
    """Seconds of a Retry-After header given in seconds; `default` when absent or a date."""
    return float(header) if header.replace(".", "", 1).isdigit() else default


class HoldingNotifier:
    """Outbox notifier for KakaoTalk without the Event API: a skill server cannot speak first,
    so each message is kept (`storage.kakao.add_late`) and shown before the answer to the
    person's next message. Its buttons go on cards, since the quick replies belong to that
    answer. The row counts as sent once kept."""

    channel = CHANNEL

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock

    async def close(self) -> None:
        return None

    async def send(self, chat_id: str, message: Json) -> None:
        async with self.sessions() as session, session.begin():
            locale = await session.scalar(select(User.locale).join(Identity, Identity.user_id == User.id).where(
                Identity.channel == CHANNEL, Identity.external_id == chat_id))
            t = translator(locale or self.settings.default_locale)
            rendered = await Renderer(t, link_file=partial(attachment_url, self.settings),
                                      block_id=self.settings.kakao_button_block_id).render(
                [Reply.from_payload(message)], quick=False)
            # The outbox row it came from: erasing the person it is about takes this copy too.
            kept = {"outputs": rendered.outputs, "row": dispatch.SENDING_ROW.get()}
            await pages_store.add_late(session, chat_id, kept, self.clock.now())


def notifier(settings: Settings, sessions: async_sessionmaker[AsyncSession],
             clock: Clock) -> KakaoNotifier | HoldingNotifier:
    """The Event API when configured, else holding messages for the next answer."""
    if settings.kakao_event_api:
        return KakaoNotifier(settings, sessions, clock)
    return HoldingNotifier(settings, sessions, clock)
