"""The channel-neutral vocabulary: what comes in, what goes out, and how features register.

A channel turns its update into an `Incoming`, hands it to the engine, and renders the
`Reply` objects it gets back within its own limits. Conversations (in `handlers/`)
only see these types, never `telegram` or `aiohttp`.

Each feature module exposes `build() -> Router` listing its commands, button routes,
forms and menu entries; `bot.app` composes the routers in one ordered list.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from kernel.config import Settings
    from kernel.forms import Form, FormRunner
    from kernel.i18n import Translator
    from kernel.payloads import Payload
    from storage.models import Conversation, Identity, User

P = TypeVar("P", bound="Payload")


# --- what comes in -------------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: typed text, a command, a pressed button or a sent file."""

    channel: str
    external_id: str
    chat_id: str
    text: str | None = None
    command: str | None = None
    args: tuple[str, ...] = ()
    button: str | None = None
    attachment: str | None = None  # "photo", "sticker", "document", ... when not text
    language_code: str | None = None
    # The platform's id of the sent file (Telegram: the largest photo size's or the document's
    # file_id), so it can be sent on without downloading it; None for text and stickers.
    file_ref: str | None = None
    # The platform's id of the update (Telegram's update_id): a redelivered update with an id
    # already handled is skipped. None where the platform gives none (KakaoTalk, the console).
    update_id: str | None = None

    @staticmethod
    def parse_command(text: str) -> tuple[str, tuple[str, ...]] | None:
        """'/register@jobhub_bot a b' -> ('register', ('a', 'b')); None if not a command."""
        if not text.startswith("/") or len(text) < 2:
            return None
        head, *args = text.split()
        name = head[1:].split("@", 1)[0].lower()
        return (name, tuple(args)) if name else None


# --- what goes out -------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    label: str
    payload: str | None = None  # opaque, at most 64 bytes; checked again on every press
    url: str | None = None


@dataclass(frozen=True)
class Card:
    """A hint that a reply is one item of a list (an event, a posting, a booking).

    Channels that show cards (KakaoTalk's carousel) show `title` and the few short
    `summary` lines with the reply's buttons; text channels ignore it, since the reply's
    text already says everything.
    """

    title: str
    summary: str

    # The smallest card that shows one: a textCard in KakaoTalk's carousel.
    TITLE_MAX = 50
    SUMMARY_MAX = 128

    @classmethod
    def of(cls, title: str, *lines: str) -> Card:
        """A card within every card channel's limits: the title clipped with "…", the summary's
        lines kept in order while they fit (the first one clipped when it alone is too long),
        since the reply's text still carries everything in full."""
        kept: list[str] = []
        for line in filter(None, lines):
            if len("\n".join([*kept, line])) > cls.SUMMARY_MAX:
                if not kept:
                    kept.append(clip(line, cls.SUMMARY_MAX))
                break
            kept.append(line)
        return cls(clip(title, cls.TITLE_MAX), "\n".join(kept))


@dataclass(frozen=True)
class FileOut:
    filename: str
    data: bytes
    mime: str
    caption: str | None = None
    # The people the file names or describes besides its recipient (an export): a channel that
    # keeps it behind a link deletes it when any of them is erased.
    about: tuple[int, ...] = ()


@dataclass
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    file: FileOut | None = None
    # Replace the message whose button was pressed (reads better for toggles and choices).
    edit: bool = False
    # A photo or file sent with the text (its caption where it fits): {"kind": "photo" | "document"}
    # with "<channel>_file_id" (the platform's own reference, sent as is) and/or, for a file kept
    # in `served_files` (a broadcast's), "file" (its id), "expires" (epoch seconds), "filename",
    # "mime": a channel with no reference of its own uploads those bytes (Telegram) or links
    # to them (KakaoTalk). With neither, the text goes alone with a mark that a file was attached.
    attachment: dict[str, Any] | None = None
    card: Card | None = None

    def to_payload(self) -> dict[str, Any]:
        """A JSON-able form for the outbox; a small generated `file` (the weekly digest's chart)
        travels base64-encoded in the row, platform files by `attachment` reference."""
        data: dict[str, Any] = {
            "text": self.text,
            "buttons": [[{"label": b.label, "payload": b.payload, "url": b.url} for b in row] for row in self.buttons],
        }
        if self.attachment is not None:
            data["attachment"] = dict(self.attachment)
        if self.file is not None:
            data["file"] = {"filename": self.file.filename, "mime": self.file.mime, "caption": self.file.caption,
                            "data": base64.b64encode(self.file.data).decode("ascii")}
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Reply:
        rows = [[Button(b["label"], b.get("payload"), b.get("url")) for b in row] for row in data.get("buttons", [])]
        attachment = data.get("attachment")
        file = data.get("file")
        out = None
        if file:
            out = FileOut(file["filename"], base64.b64decode(file["data"]), file["mime"], file.get("caption"))
        return cls(text=data["text"], buttons=rows, attachment=dict(attachment) if attachment else None, file=out)


@dataclass
class Response:
    replies: list[Reply] = field(default_factory=list)
    # Short notice for a pressed button (Telegram shows it as a toast).
    toast: str | None = None


# --- errors a conversation raises ----------------------------------------------------


class Invalid(Exception):
    """A rejected answer; `key` names the catalog text that says what was wrong."""

    def __init__(self, key: str, *, field: str | None = None, **params: object) -> None:
        super().__init__(key)
        self.key = key
        # At submit: the answer to ask again (e.g. the time, when the slot was just taken).
        self.field = field
        self.params = params


class BadPayload(Exception):
    """A button payload the bot cannot have sent: forged, garbled, out of range or from an older
    version of the bot. The engine rolls the turn back and answers "this button has expired";
    only decoding a payload may raise it, so a bug in a handler is never mistaken for one."""


# What no database column or log line takes: NUL, and a lone surrogate (JSON allows "\ud800").
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# The largest id a record's column holds: ids are INTEGER, 32-bit on PostgreSQL (asyncpg refuses a
# larger query argument, which would fail the turn as if the database were down); anything above
# is no id of ours.
MAX_ID = 2**31 - 1


def arg_int(args: Sequence[str], i: int, *, default: int | None = None, hi: int = MAX_ID) -> int:
    """`args[i]` as a whole number 0..`hi`: ASCII digits only (no sign, no "²" or "１"), or BadPayload.
    A missing argument gives `default` when one is given. For a command's arguments (`/applications
    20`, the offset a menu button `m:<command>:<offset>` carries); buttons of a feature's own carry
    typed payloads (`kernel.payloads`)."""
    if i >= len(args):
        if default is None:
            raise BadPayload(f"argument {i} missing")
        return default
    value = args[i]
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > hi:
        raise BadPayload(f"argument {i} is no number in 0..{hi}")
    return int(value)


def typed_int(value: str, *, hi: int = MAX_ID) -> int | None:
    """A number typed after a command (`/pitches 12`), or None when it is no whole number 0..`hi`
    (`isdigit` alone takes "²" and "١", which `int` refuses or reads as another number)."""
    if value.isascii() and value.isdigit() and len(value) <= 19 and int(value) <= hi:
        return int(value)
    return None


def stamp(created: dt.datetime) -> str:
    """A short proof that a button names the very record it was made for: the record's creation
    time (seconds, base 36). Ids are never reused, but a database restored from a backup or one
    migrated from a version that reused them could still put another person's record behind an id."""
    seconds = int(created.timestamp())
    digits = ""
    while True:
        seconds, rest = divmod(seconds, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if not seconds:
            return digits



# --- the context a handler receives --------------------------------------------------


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass
class Ctx:
    """Everything one turn of a conversation needs; built by the engine per message."""

    incoming: Incoming
    session: AsyncSession
    settings: Settings
    now: dt.datetime
    user: User
    identity: Identity
    conv: Conversation
    t: Translator
    is_admin: bool
    app: AppServices
    outbox_touched: bool = False
    # Work that starts once this turn is committed (a long import reporting its progress).
    later: list[Background] = field(default_factory=list)

    @property
    def locale(self) -> str:
        return self.t.locale


class AppServices(Protocol):
    """What handlers may ask of the assembled app (implemented by the engine)."""

    def form(self, name: str) -> Form: ...

    async def menu(self, ctx: Ctx) -> Reply: ...

    async def start_form(
        self, ctx: Ctx, name: str, *, answers: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
        mode: str = "new", step: str | None = None, labels: dict[str, str] | None = None,
    ) -> list[Reply]: ...

    def commands(self, *, admin: bool) -> list[tuple[str, str]]: ...

    async def run_command(self, ctx: Ctx, name: str, args: Sequence[str]) -> list[Reply]: ...

    async def where_you_were(self, ctx: Ctx) -> list[Reply]: ...

    def deep_link(self, payload: str) -> str: ...

    async def run_deep_link(self, ctx: Ctx, payload: str) -> list[Reply] | None: ...

    @property
    def runner(self) -> FormRunner: ...

    async def fetch_file(self, file_ref: str, channel: str | None = None) -> bytes:
        """The bytes of a file a person sent (`Incoming.file_ref`); FileUnavailable when the channel cannot."""
        ...


class FileUnavailable(Exception):
    """The channel cannot hand over a sent file (none given, too big, gone, or no way to download)."""


class FileTooBig(FileUnavailable):
    """The sent file is over the size the channel downloads (`limit` bytes)."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


# Channel-provided download of a sent file by its reference (Telegram: getFile; console: a local path).
FileFetcher = Callable[[str], Awaitable[bytes]]
# A job run after the turn commits, with its own sessions and a way to send queued messages now.
Background = Callable[["async_sessionmaker[AsyncSession]", Callable[[], None]], Awaitable[None]]

Handler = Callable[[Ctx, Sequence[str]], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class CommandRoute:
    name: str
    handler: Handler
    admin: bool = False
    # Catalog key of the short description shown in Telegram's command menu; None hides it.
    describe: str | None = None


@dataclass(frozen=True)
class ButtonRoute(Generic[P]):
    """Buttons of one kind (`codec`, a `kernel.payloads.Payload`): the engine unpacks a pressed
    payload with it and calls `handler` with the typed value. Build with `on(...)`, which checks
    that the handler takes what the codec gives."""

    codec: type[P]
    handler: Callable[[Ctx, P], Awaitable[list[Reply]]]
    admin: bool = False
    # A role check run before the payload is decoded, like the admin guard (the replies that refuse,
    # or None): someone without the role gets the same answer whatever the payload names.
    guard: Guard | None = None

    @property
    def prefix(self) -> str:
        return self.codec.prefix


Guard = Callable[[Ctx], Awaitable[list[Reply] | None]]


def on(codec: type[P], handler: Callable[[Ctx, P], Awaitable[list[Reply]]], *, admin: bool = False,
       guard: Guard | None = None) -> ButtonRoute[Any]:
    """The route for buttons of kind `codec`, answered by `handler(ctx, value)`."""
    return ButtonRoute(codec, handler, admin, guard)


@dataclass(frozen=True)
class MenuItem:
    label: str  # catalog key
    payload: str
    visible: Callable[[Ctx], Awaitable[bool]] | None = None
    admin: bool = False
    order: int = 50  # lower comes first; help and language sit at the end


@dataclass
class Router:
    """What one feature module registers. `admin=True` puts every route behind the admin guard."""

    name: str
    admin: bool = False
    commands: list[CommandRoute] = field(default_factory=list)
    buttons: list[ButtonRoute[Any]] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    menu: list[MenuItem] = field(default_factory=list)
    # Typed phrases (any language) that start a command, e.g. "구직등록" -> "register".
    phrases: dict[str, str] = field(default_factory=dict)
    # Deep-link payload prefixes (`/start inv_abc`) -> handler receiving the rest as its one arg.
    deep_links: dict[str, Handler] = field(default_factory=dict)
    # Conversation modes that are not forms (a live chat with a counselor): flow name -> handler
    # that receives typed text and attachments while that flow is active.
    modes: dict[str, Handler] = field(default_factory=dict)
    # Typed text outside any form that no command phrase matched: each handler may claim it
    # (non-empty replies) or pass (an empty list), e.g. an event's check-in code.
    text: list[Handler] = field(default_factory=list)
    # A photo or file sent outside any form: each handler may claim it or pass (an empty list);
    # args are (kind, file_ref), e.g. an admin sending a firm list to import.
    files: list[Handler] = field(default_factory=list)


def clip(text: str, limit: int) -> str:
    """`text` within `limit` characters, a cut marked with "…"."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def split_text(text: str, limit: int) -> list[str]:
    """Cut at line breaks (or spaces) so no part exceeds a channel's limit and nothing is lost."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return [p for p in parts if p] or [" "]


def payload(*parts: object) -> str:
    """Join the parts of a payload the engine decodes itself (a menu entry `m:<command>:<args>`, a
    form's `f<version>:<code>`); refuse anything over Telegram's 64-byte limit at build time. A
    feature's own buttons are typed payloads (`kernel.payloads.Payload.pack`)."""
    data = ":".join(str(p) for p in parts)
    if len(data.encode()) > 64:
        raise ValueError(f"button payload over 64 bytes: {data!r}")
    return data
