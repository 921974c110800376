"""Message catalogs: every user-facing string, Korean first, English second.

Catalogs are gettext `.po` files under `kernel/locales/`, read with Babel at start (no
compile step to forget). Message ids are keys (`ask.seeker.name`), the way Rasa names
its responses, so a missing translation is caught by a test rather than shown as
English-in-Korean. Placeholders use `str.format` names: `{name}`. A text that counts (`{n} events`) has gettext
plural forms in the languages that need them (English: "1 event", "2 events"), chosen by the `n`
parameter with the catalog's own Plural-Forms rule; Korean counts with a counter word and needs one.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Formatter

from babel.dates import format_skeleton, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_decimal, format_decimal

from kernel.korean import manwon, manwon_range, particles

LOCALES = ("ko", "en")
LOCALE_DIR = Path(__file__).with_name("locales")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Catalog:
    """One language's texts: a key's text, or its plural forms and the rule that picks one."""

    texts: dict[str, str]
    plurals: dict[str, tuple[str, ...]]
    # gettext's own choice among the forms by the catalog's Plural-Forms rule (from the compiled catalog).
    plural: Callable[[str, int], str]


@cache
def load(locale: str) -> Catalog:
    with (LOCALE_DIR / f"{locale}.po").open("rb") as fh:
        po = read_po(fh, locale=locale)
    texts: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for m in po:
        if not m.id or not m.string:
            continue
        if isinstance(m.id, tuple | list):
            forms = tuple(str(f) for f in m.string)
            plurals[str(m.id[0])] = forms
            texts[str(m.id[0])] = forms[-1]  # the general form, for placeholder checks and has()
        else:
            texts[str(m.id)] = str(m.string)
    compiled = io.BytesIO()
    write_mo(compiled, po)
    compiled.seek(0)
    ngettext = gettext.GNUTranslations(compiled).ngettext
    return Catalog(texts, plurals, lambda key, n: ngettext(key, key, n))


def catalog(locale: str) -> dict[str, str]:
    return load(locale).texts


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


class Translator:
    """Texts in one language; falls back to Korean, then to the key itself (logged)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else "ko"
        self._catalog = load(self.locale)
        self._texts = self._catalog.texts

    def __call__(self, key: str, /, **params: object) -> str:
        found, korean = self._catalog, self.locale == "ko"
        text = found.texts.get(key)
        if text is None:
            found, korean = load("ko"), True
            text = found.texts.get(key)
            if text is None:
                log.error("missing catalog key %s", key)
                return key
        if not params:
            return text
        forms = found.plurals.get(key)
        count = params.get("n")
        if isinstance(count, str) and count.replace(",", "").isdigit():
            # Large counts come already grouped ("1,234"): a firm with "1" employee is still one.
            count = int(count.replace(",", ""))
        if forms and isinstance(count, int):
            text = found.plural(key, count)
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


def day_label(t: Translator, day: dt.date, skeleton: str = "MMMEd") -> str:
    """A date as the person's language writes it, from CLDR (Babel): "3월 5일 (목)" / "Thu, Mar 5";
    `skeleton` "MMMd" leaves the weekday out ("3월 5일" / "Mar 5")."""
    return format_skeleton(skeleton, day, locale=t.locale)


def moment(t: Translator, when: dt.datetime, tz: dt.tzinfo) -> str:
    """A point in time as people read it: "3월 5일 (목) 14:00" / "Thu, Mar 5 at 14:00"."""
    local = when.astimezone(tz)
    return t("booking.when", day=day_label(t, local), time=local.strftime("%H:%M"))


def _won(amount: int) -> str:
    """Won in English: "₩500,000", "₩45 million", "₩1.5 billion" (CLDR's long compact form; a multiplier
    such as "× ₩10,000" or "× 100 million" makes the reader do the sum)."""
    if amount < 1_000_000:
        return "₩" + format_decimal(amount, locale="en")
    return "₩" + format_compact_decimal(amount, format_type="long", locale="en", fraction_digits=2)


def duration(t: Translator, minutes: int) -> str:
    """A length of time in the units people say, from CLDR: "2시간", "1시간 30분", "1일" /
    "2 hours", "1 hour 30 minutes", "1 day". Babel alone rounds (90 minutes would be "2시간"), so
    each whole unit is formatted on its own."""
    hours, rest = divmod(max(minutes, 0), 60)
    days, hours = divmod(hours, 24)
    parts = [format_timedelta(span, locale=t.locale, threshold=1, granularity="minute")
             for span in (dt.timedelta(days=days), dt.timedelta(hours=hours), dt.timedelta(minutes=rest)) if span]
    return " ".join(parts) or format_timedelta(dt.timedelta(0), locale=t.locale, granularity="minute")


def money(t: Translator, amount: int) -> str:
    """An amount stored in 만원 (salaries, funding sought) as the person's language writes money:
    "1억 5,000만원" / "₩150 million"."""
    return manwon(amount) if t.locale == "ko" else _won(amount * 10_000)


def money_range(t: Translator, low: int, high: int) -> str:
    """A range in 만원: "3,000~4,500만원" / "₩30–45 million" (the unit said once when both share it)."""
    if t.locale == "ko":
        return manwon_range(low, high)
    first, second = _won(low * 10_000), _won(high * 10_000)
    if " " in first and first.split(" ")[-1] == second.split(" ")[-1]:  # "₩30 million", "₩45 million"
        return f"{first.rsplit(' ', 1)[0]}–{second.removeprefix('₩')}"
    return f"{first}–{second}"


def known_name(t: Translator, group: str, name: str) -> str:
    """A name kept as data in Korean (a place, a firm's vetting programme) in the person's language when
    the catalog knows it (`<group>.known.<name>`), else as stored: what an admin typed is shown as typed."""
    key = f"{group}.known.{name}"
    return t(key) if t.has(key) else name


@cache
def _room_pattern(locale: str) -> re.Pattern[str]:
    template = load(locale).texts["place.online_room"]
    return re.compile(re.escape(template).replace(r"\{name\}", "(?P<name>.+)").replace(r"\{id\}", r"(?P<id>\d+)"))


def place_name(t: Translator, name: str) -> str:
    """A place's stored name in the person's language. Places are kept by the name they were created
    with: the centre as "서울일자리플러스센터", a counselor's video room as "김지현 화상 상담실 #3" (in the
    default language); the catalog says the centre in English (`place.known.<name>`), a room is said
    again in the person's language, and a name typed by an admin (a campus branch) is shown as typed."""
    if t.has(f"place.known.{name}"):
        return known_name(t, "place", name)
    for locale in LOCALES:
        room = _room_pattern(locale).fullmatch(name)
        if room:
            return t("place.online_room", name=room["name"], id=room["id"])
    return name
