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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from kernel.config import Settings
    from kernel.forms import Extra, Form, FormRunner, Mode, Step
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
    # The name the messenger shows for the sender (Telegram: first and last name, else the
    # @username), so staff can tell who an unregistered person is; None where the platform
    # gives none (KakaoTalk's skill requests carry no name).
    sender_name: str | None = None
    # The name a sent document carries (Telegram's document file_name, the last part of a Kakao file
    # URL or a console path), so a disguised program ("이력서.pdf.exe") can be refused by its name.
    file_name: str | None = None

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


@dataclass(frozen=True)
class PlatformFile:
    """A platform's own reference to a file it holds, sent on as is (no download, no upload)."""

    id: str
    # How the platform holds it when not as the attachment's kind (Telegram may keep a photo
    # sent as a file as a document); None: as the attachment's kind.
    kind: str | None = None


@dataclass(frozen=True)
class KeptFile:
    """A file kept in `served_files` (a broadcast's), for a channel with no reference of its own."""

    id: str
    expires: int | None = None  # epoch seconds, part of the signed link (rows without it get none)
    filename: str | None = None
    mime: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A photo or file sent with a reply's text (its caption where it fits).

    A channel sends its own reference (`refs`) when it has one; otherwise it uploads the kept
    file's bytes (Telegram) or links to them (KakaoTalk). With neither, the text goes alone with
    a mark that a file was attached.
    """

    kind: str  # "photo" | "document"
    refs: Mapping[str, PlatformFile] = field(default_factory=dict)  # by channel
    kept: KeptFile | None = None

    def ref(self, channel: str) -> tuple[str, str] | None:
        """(kind, file id) of the platform's own reference on `channel`, if it has one."""
        found = self.refs.get(channel)
        return (found.kind or self.kind, found.id) if found is not None and found.id else None

    def to_payload(self) -> dict[str, Any]:
        """The outbox JSON. The keys are those outbox rows have always had ("<channel>_file_id",
        "<channel>_kind", "file", "expires", ...), so rows queued before a deploy send after it
        and a worker of the previous release sends rows this one queued (a rolling restart)."""
        data: dict[str, Any] = {"kind": self.kind}
        for channel, ref in self.refs.items():
            data[f"{channel}{_FILE_ID}"] = ref.id
            if ref.kind is not None and ref.kind != self.kind:
                data[f"{channel}{_KIND}"] = ref.kind
        if self.kept is not None:
            data["file"] = self.kept.id
            data.update({k: v for k, v in (("filename", self.kept.filename), ("mime", self.kept.mime),
                                           ("expires", self.kept.expires)) if v is not None})
        return data

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Attachment:
        channels = [key.removesuffix(_FILE_ID) for key, value in data.items() if key.endswith(_FILE_ID) and value]
        refs = {ch: PlatformFile(str(data[f"{ch}{_FILE_ID}"]), _str(data.get(f"{ch}{_KIND}"))) for ch in channels}
        file, expires = data.get("file"), data.get("expires")
        # Types checked as the channels always did: a kept file needs a string id; a link, an int expiry.
        kept = KeptFile(file, expires if isinstance(expires, int) else None, _str(data.get("filename")),
                        _str(data.get("mime"))) if isinstance(file, str) and file else None
        # No kind (never written so): not a photo, as the channels read it before.
        return cls(str(data.get("kind") or "document"), refs, kept)


_FILE_ID, _KIND = "_file_id", "_kind"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    file: FileOut | None = None
    # Replace the message whose button was pressed (reads better for toggles and choices).
    edit: bool = False
    attachment: Attachment | None = None
    card: Card | None = None

    def to_payload(self) -> dict[str, Any]:
        """A JSON-able form for the outbox; a small generated `file` (the weekly digest's chart)
        travels base64-encoded in the row, platform files by `attachment` reference."""
        data: dict[str, Any] = {
            "text": self.text,
            "buttons": [[{"label": b.label, "payload": b.payload, "url": b.url} for b in row] for row in self.buttons],
        }
        if self.attachment is not None:
            data["attachment"] = self.attachment.to_payload()
        if self.file is not None:
            data["file"] = {"filename": self.file.filename, "mime": self.file.mime, "caption": self.file.caption,
                            "data": base64.b64encode(self.file.data).decode("ascii")}
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Reply:
        rows = [[Button(b["label"], b.get("payload"), b.get("url")) for b in row] for row in data.get("buttons", [])]
        attachment = Attachment.from_payload(data["attachment"]) if data.get("attachment") else None
        file = data.get("file")
        out = None
        if file:
            out = FileOut(file["filename"], base64.b64decode(file["data"]), file["mime"], file.get("caption"))
        return cls(text=data["text"], buttons=rows, attachment=attachment, file=out)


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
        self, ctx: Ctx, name: str, *, answers: dict[str, Any] | None = None, extra: Extra | None = None,
        mode: Mode = "new", step: Step | None = None, labels: dict[str, str] | None = None,
    ) -> list[Reply]: ...

    def commands(self, roles: frozenset[str] = frozenset()) -> list[tuple[str, str]]: ...

    def roles_changed(self, ctx: Ctx, user_id: int) -> None: ...

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


class Channel(Protocol):
    """What the engine asks of a channel it serves, registered once with `Engine.add_channel`
    before the channel's first message, instead of the channel setting engine attributes."""

    @property
    def channel(self) -> str:
        """The channel's name, as in `Incoming.channel` ("telegram", "kakao", "console")."""
        ...

    async def fetch_file(self, file_ref: str, /) -> bytes:
        """The bytes of a file a person sent (`Incoming.file_ref`: Telegram's file_id, a Kakao
        URL, a local path); FileUnavailable when it cannot be had."""
        ...

    def start_link(self, payload: str, /) -> str | None:
        """A link that opens the bot with `/start <payload>` (Telegram: t.me/<bot>?start=...), or
        None when the channel has none (yet)."""
        ...


# A job run after the turn commits, with its own sessions (what it queues goes out at its commits:
# `storage.outbox.wake_on_commit`).
Background = Callable[["async_sessionmaker[AsyncSession]"], Awaitable[None]]

Handler = Callable[[Ctx, Sequence[str]], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class CommandRoute:
    name: str
    handler: Handler
    admin: bool = False
    # Catalog key of the short description shown in Telegram's command menu; None hides it.
    describe: str | None = None
    # Who sees it in /help and the command menu: () everyone; ("counselor",) counselors only,
    # ("counselor", "admin") both. Whether it works is the handler's own check, as ever.
    roles: tuple[str, ...] = ()


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


# A periodic job's work, one signature for all: it opens its own sessions and returns a count for
# the log (messages queued, rows purged). What it queues goes out at its commit.
JobRun = Callable[["async_sessionmaker[AsyncSession]", "Settings", Clock], Awaitable[int]]


@dataclass(frozen=True)
class At:
    """A local time (TIMEZONE) at which a daily or weekly job runs: APScheduler's cron fields."""

    hour: int
    minute: int = 0
    days: str | None = None  # cron day_of_week ("mon-fri", "mon"); None: every day
    # Seconds after the time that a late start (the bot was down) still runs it; the jobs'
    # dedupe keys keep a catch-up run from sending anything twice.
    grace: float = 3600


@dataclass(frozen=True)
class Job:
    """Periodic work a feature declares on its Router; the scheduler runs every declared job.

    `every`: seconds between runs, the first at start; `at`: the time from the settings, None
    when the settings turn the job off. Exactly one of the two. `name` is the scheduler's job id.
    """

    name: str
    run: JobRun
    every: float | None = None
    at: Callable[[Settings], At | None] | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.at is None):
            raise ValueError(f"job {self.name}: give either every or at")


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
    # The feature's periodic work (reminder sweeps, digests), run by the scheduler.
    jobs: list[Job] = field(default_factory=list)


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
