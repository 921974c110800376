"""Message catalogs: every user-facing string, Korean first, English second.

Catalogs are gettext `.po` files under `kernel/locales/`, read with Babel at start (no
compile step to forget). Message ids are keys (`ask.seeker.name`), the way Rasa names
its responses, so a missing translation is caught by a test rather than shown as
English-in-Korean. Placeholders use `str.format` names: `{name}`.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache
from pathlib import Path
from string import Formatter

from babel.messages.pofile import read_po

from kernel.korean import particles

LOCALES = ("ko", "en")
LOCALE_DIR = Path(__file__).with_name("locales")
log = logging.getLogger(__name__)


@cache
def catalog(locale: str) -> dict[str, str]:
    with (LOCALE_DIR / f"{locale}.po").open("rb") as fh:
        po = read_po(fh, locale=locale)
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


class Translator:
    """Texts in one language; falls back to Korean, then to the key itself (logged)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else "ko"
        self._texts = catalog(self.locale)

    def __call__(self, key: str, /, **params: object) -> str:
        text, korean = self._texts.get(key), self.locale == "ko"
        if text is None:
            text, korean = catalog("ko").get(key), True
            if text is None:
                log.error("missing catalog key %s", key)
                return key
        if not params:
            return text
        # Korean particles after a placeholder are written in their double form ("{team}을(를)") and
        # settled here, once the word is known.
        return particles(text.format(**params)) if korean else text.format(**params)

    def has(self, key: str) -> bool:
        return key in self._texts


@cache
def translator(locale: str) -> Translator:
    return Translator(locale)


def pick_locale(language_code: str | None, default: str) -> str:
    """A Telegram/Kakao language code to one of ours."""
    if language_code:
        base = language_code.split("-")[0].lower()
        if base in LOCALES:
            return base
    return default


def moment(t: Translator, when: dt.datetime, tz: dt.tzinfo) -> str:
    """A point in time as people read it: "3월 5일 (목) 14:00" / "Thu 3/5 at 14:00"."""
    local = when.astimezone(tz)
    return t("booking.when", month=local.month, day=local.day, weekday=t(f"weekday.{local.weekday()}"),
             time=local.strftime("%H:%M"))
