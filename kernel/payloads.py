"""Typed button payloads: one frozen dataclass per kind of button, packed into the short string a
chat platform carries back when the button is pressed (in the spirit of aiogram's CallbackData).

A person taps 취소 under a booking; the bot had sent the button with `AskCancel(12).pack()` ==
"bk:c:12", and on the press the engine finds the kind registered for "bk" and "c", unpacks the
string into `AskCancel(booking=12)` and hands that to the route's handler. Unpacking is the
one place a pressed button is judged: a string the bot cannot have sent (forged, garbled, out of
range, from an older version of the bot) raises `BadPayload` there, which the engine answers with
"this button has expired". Handlers therefore get typed, checked values and never parse.

Declaring one::

    @dataclass(frozen=True)
    class AskCancel(Payload, prefix="bk", action="c"):
        booking: int

The string is `prefix`, then the fields in order with the `action` word inserted before field
number `action_at` (0: right after the prefix, as almost every button has it; the survey
buttons carry their request id first), joined by ':'. These strings are the very ones the bot
sent before the codecs existed, so buttons already in people's chats keep working.

Field types:
- `int`: ASCII digits only, 0..MAX_ID (a record id, an offset); `Annotated[int, Max(n)]` for a
  smaller range (an index into a fixed list).
- `Literal["on", "off"]`: one word of a fixed set; `Annotated[str, OneOf(words)]` for a set kept
  elsewhere (a status list in storage).
- `Stamp`: a record's creation stamp (`kernel.core.stamp`), compared with `same_record`.
- `Annotated[str, Pattern(r"...")]`: a string that must match the whole pattern.
- A field with a default may be missing from the end of the string (buttons sent before it existed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self

from kernel.core import MAX_ID, BadPayload, stamp

# Telegram's limit on callback data; KakaoTalk's block extras take more, but one payload serves both.
MAX_BYTES = 64

# Heads no feature may take: "m" runs a menu entry (a command, `m:<command>:<args>`) and
# "f<version>" is an open form's button (kernel.forms builds them); both are decoded by the engine.
MENU_HEAD = "m"
FORM_HEAD = re.compile(r"f[0-9]{1,19}")
_PREFIX = re.compile(r"[a-z]{1,8}")


def form_version(head: str) -> int | None:
    """The form version named by a payload's head ("f12" -> 12), or None when it is no form button."""
    return int(head[1:]) if FORM_HEAD.fullmatch(head) else None


def reserved(prefix: str) -> bool:
    """Is `prefix` one the engine decodes itself (any "f..." stays free for form versions)?"""
    return prefix == MENU_HEAD or prefix.startswith("f")


@dataclass(frozen=True)
class Max:
    """`Annotated[int, Max(n)]`: the field takes 0..n only."""

    hi: int


@dataclass(frozen=True)
class OneOf:
    """`Annotated[str, OneOf(words)]`: one word of a set kept elsewhere (a status list in storage)."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Pattern:
    """`Annotated[str, Pattern(regex)]`: the field's text must match the whole regex."""

    regex: str


# A record's creation stamp as carried in a button: `kernel.core.stamp`'s base-36 seconds.
Stamp = Annotated[str, Pattern(r"[0-9a-z]{1,13}")]


@dataclass(frozen=True)
class _Field:
    name: str
    decode: Callable[[str], object]
    required: bool


def _int_decoder(hi: int) -> Callable[[str], object]:
    def decode(text: str) -> object:
        # As `arg_int`: `isdigit` alone takes "²" and "١"; 19 digits keep `int` cheap on forged input.
        if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > hi:
            raise BadPayload(f"no number in 0..{hi}")
        return int(text)
    return decode


def _decoder(cls: type, name: str, hint: Any) -> Callable[[str], object]:
    extras: tuple[Any, ...] = ()
    if typing.get_origin(hint) is typing.Annotated:
        hint, *rest = typing.get_args(hint)
        extras = tuple(rest)
    if hint is int:
        hi = next((e.hi for e in extras if isinstance(e, Max)), MAX_ID)
        return _int_decoder(hi)
    one_of = next((e.words for e in extras if isinstance(e, OneOf)), None)
    if typing.get_origin(hint) is Literal or (hint is str and one_of is not None):
        words = frozenset(one_of if one_of is not None else typing.get_args(hint))

        def decode_word(text: str) -> object:
            if text not in words:
                raise BadPayload(f"none of {sorted(words)[:8]}")
            return text
        return decode_word
    if hint is str:
        pattern = next((re.compile(e.regex) for e in extras if isinstance(e, Pattern)), None)
        if pattern is None:
            raise TypeError(f"{cls.__name__}.{name}: a str field needs Annotated[str, Pattern(...)]")

        def decode_text(text: str) -> object:
            if not pattern.fullmatch(text):
                raise BadPayload("text of the wrong shape")
            return text
        return decode_text
    raise TypeError(f"{cls.__name__}.{name}: no payload field type {hint!r}")


class Payload:
    """Base of every button kind; subclasses are frozen dataclasses declared with their prefix."""

    prefix: ClassVar[str]
    action: ClassVar[str | None]
    action_at: ClassVar[int]
    # Filled on first use: the dataclass fields are known only once @dataclass has run.
    _spec: ClassVar[tuple[_Field, ...] | None]

    def __init_subclass__(cls, *, prefix: str, action: str | None = None, action_at: int = 0,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not _PREFIX.fullmatch(prefix) or reserved(prefix):
            raise ValueError(f"{cls.__name__}: prefix {prefix!r} is reserved or not a short lowercase word")
        if action is not None and (not action or ":" in action):
            raise ValueError(f"{cls.__name__}: action {action!r}")
        cls.prefix, cls.action, cls.action_at, cls._spec = prefix, action, action_at, None

    @classmethod
    def _fields(cls) -> tuple[_Field, ...]:
        if cls.__dict__.get("_spec") is None:
            hints = typing.get_type_hints(cls, include_extras=True)
            cls._spec = tuple(
                _Field(f.name, _decoder(cls, f.name, hints[f.name]),
                       f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
                for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        assert cls._spec is not None
        return cls._spec

    @classmethod
    def head(cls) -> str:
        """The fixed start of every payload of this kind ("bk:c"; "sv" when the action comes later)."""
        return f"{cls.prefix}:{cls.action}" if cls.action is not None and cls.action_at == 0 else cls.prefix

    def pack(self) -> str:
        """The string the button carries. ValueError (a bug, found where the button is made) when
        it would be over 64 bytes or a field holds what `unpack` refuses (-1, a word not in its set,
        a ':'), so every button the bot sends can be pressed."""
        fields = self._fields()
        parts = [str(getattr(self, f.name)) for f in fields]
        for f, text in zip(fields, parts, strict=True):
            try:
                f.decode(text)
            except BadPayload as exc:
                raise ValueError(f"{type(self).__name__}.{f.name}={text!r} would not unpack: {exc}") from None
        if self.action is not None:
            parts.insert(self.action_at, self.action)
        data = ":".join([self.prefix, *parts])
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"button payload over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def unpack(cls, data: str) -> Self:
        """The value a pressed payload names, or BadPayload for anything `pack` cannot have made."""
        if len(data.encode()) > MAX_BYTES:
            raise BadPayload("over 64 bytes")
        head, *parts = data.split(":")
        if head != cls.prefix:
            raise BadPayload(f"not a {cls.__name__}")
        if cls.action is not None:
            if len(parts) <= cls.action_at or parts[cls.action_at] != cls.action:
                raise BadPayload(f"not a {cls.__name__}")
            del parts[cls.action_at]
        fields = cls._fields()
        if not sum(f.required for f in fields) <= len(parts) <= len(fields):
            raise BadPayload(f"{cls.__name__} takes {len(fields)} parts, not {len(parts)}")
        values = {f.name: f.decode(text) for f, text in zip(fields, parts, strict=False)}
        return cls(**values)

    @classmethod
    def matches(cls, data: str) -> bool:
        """Is `data` of this kind (its prefix and action word), whatever its fields say?"""
        head, *parts = data.split(":")
        if head != cls.prefix:
            return False
        return cls.action is None or (len(parts) > cls.action_at and parts[cls.action_at] == cls.action)


def same_record(proof: str, created: dt.datetime) -> bool:
    """Does a button's stamp name the very record it was made for (its creation time)? Ids are
    never reused, but a database restored from a backup could put another record behind one."""
    return proof == stamp(created)


__all__ = ["FORM_HEAD", "MAX_BYTES", "MENU_HEAD", "Max", "OneOf", "Pattern", "Payload", "Stamp", "form_version",
           "reserved", "same_record"]

