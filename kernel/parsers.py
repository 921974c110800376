"""Parsers for typed answers: each returns a clean value or raises `Invalid` with a catalog key.

Shared by every form, so a name, a year or a phone number is checked the same way
wherever it is asked.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import urlsplit

import phonenumbers

from kernel.core import Invalid
from kernel.forms import FieldInput
from matching.text import plain

ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}
MIN_BIRTH_YEAR = 1940


def _has_control(text: str, *, newlines: bool) -> bool:
    for ch in text:
        if ch in ZERO_WIDTH:
            return True
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") and not (newlines and ch in "\n\t"):
            return True
    return False


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF or ch in "\ufe0f\u20e3"


def clean(text: str, *, max_len: int, newlines: bool = False, min_len: int = 1) -> str:
    """Normalised free text: NFC, trimmed, inner whitespace collapsed, no control characters."""
    text = unicodedata.normalize("NFC", text).strip()
    if _has_control(text, newlines=newlines):
        raise Invalid("invalid.control_chars")
    if newlines:
        text = "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = " ".join(text.split())
    if not text:
        raise Invalid("invalid.empty")
    if len(text) < min_len:
        # Not "empty": the person wrote something, and needs to know how much more is wanted.
        raise Invalid("invalid.too_short", min=min_len, length=len(text))
    if len(text) > max_len:
        raise Invalid("invalid.too_long", max=max_len, length=len(text))
    return text


def text(max_len: int, *, newlines: bool = False, min_len: int = 1) -> Callable[[str, FieldInput], str]:
    def parse(raw: str, _inp: FieldInput) -> str:
        return clean(raw, max_len=max_len, newlines=newlines, min_len=min_len)

    return parse


def person_name(raw: str, _inp: FieldInput) -> str:
    """Letters (Hangul, Latin, ...), spaces, hyphens, dots and apostrophes; no emoji or digits."""
    name = clean(raw, max_len=30)
    for ch in name:
        if _is_emoji(ch):
            raise Invalid("invalid.name_emoji")
        if not (ch.isalpha() or ch in " -.'·"):
            raise Invalid("invalid.name_chars")
    if not any(ch.isalpha() for ch in name):
        raise Invalid("invalid.name_chars")
    return name


def integer(raw: str, *, low: int, high: int, units: tuple[str, ...] = ()) -> int:
    value = unicodedata.normalize("NFKC", raw).strip().replace(",", "").replace(" ", "")
    for unit in units:
        value = value.removesuffix(unit)
    if not re.fullmatch(r"\d{1,9}", value):
        raise Invalid("invalid.number")
    number = int(value)
    if not low <= number <= high:
        raise Invalid("invalid.range", low=low, high=high)
    return number


def birth_year(raw: str, inp: FieldInput) -> int:
    this_year = inp.now.astimezone(inp.tz).year
    value = unicodedata.normalize("NFKC", raw).strip().removesuffix("년").removesuffix("생")
    if re.fullmatch(r"\d{2}", value):
        # "98" -> 1998, "05" -> 2005: people write two digits on Korean forms.
        two = int(value)
        value = str(2000 + two if 2000 + two <= this_year else 1900 + two)
    if not re.fullmatch(r"\d{4}", value):
        raise Invalid("invalid.birth_year_format")
    year = int(value)
    if year > this_year:
        raise Invalid("invalid.birth_year_future")
    if year < MIN_BIRTH_YEAR:
        raise Invalid("invalid.birth_year_old", low=MIN_BIRTH_YEAR)
    if this_year - year < 14:
        raise Invalid("invalid.birth_year_young")
    return year


# Words people type for no experience at all: 0 years, not "enter a number".
NO_EXPERIENCE = frozenset(map(plain, ("신입", "없음", "없어요", "없습니다", "무경력", "경력 없음", "경력없음", "0년",
                                      "none", "no experience", "new graduate")))


def experience_years(raw: str, inp: FieldInput) -> int:
    if plain(raw) in NO_EXPERIENCE:
        return 0
    years = integer(raw, low=0, high=60, units=("년", "years", "year", "yrs"))
    born = inp.answers.get("birth_year")
    if isinstance(born, int) and years > max(0, inp.now.astimezone(inp.tz).year - born - 14):
        raise Invalid("invalid.experience_vs_age")
    return years


def salary(raw: str, _inp: FieldInput) -> int:
    """Desired yearly salary in 만원: "3000", "3,000만원", "3천만원" or "30000000"."""
    value = unicodedata.normalize("NFKC", raw).strip().replace(",", "").replace(" ", "")
    value = value.removesuffix("원").removesuffix("만")
    match = re.fullmatch(r"(\d{1,2})천", value)
    if match:
        value = str(int(match.group(1)) * 1000)
    # Given in won. Decimal digits of any script (`\d`, what int() reads; not `isdigit`, which also
    # takes "𐩀" and "²"), and few enough for int(): a longer number is no salary anyway.
    if re.fullmatch(r"\d{7,15}", value):
        value = str(int(value) // 10_000)
    try:
        return integer(value, low=1000, high=100_000)
    except Invalid as exc:
        # The generic "(예: 3)" reads as 3만원 here: show an amount a salary really is.
        if exc.key == "invalid.number":
            raise Invalid("invalid.salary") from None
        raise


def phone(raw: str, _inp: FieldInput) -> str:
    """A Korean mobile number in any usual format, stored as E.164 (+821012345678)."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if len(value) > 20:
        raise Invalid("invalid.phone")
    try:
        number = phonenumbers.parse(value, "KR")
    except phonenumbers.NumberParseException:
        raise Invalid("invalid.phone") from None
    national = str(number.national_number)
    if number.country_code == 82 and re.fullmatch(r"1[016789]\d{0,6}", national):
        # A mobile prefix with digits missing ("010-1234"): incomplete, not a foreign number.
        raise Invalid("invalid.phone_short")
    if number.country_code != 82 or not phonenumbers.is_valid_number(number):
        raise Invalid("invalid.phone_korean")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise Invalid("invalid.phone_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def show_phone(value: str) -> str:
    number = phonenumbers.parse(value, "KR")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def items(max_items: int, max_len: int) -> Callable[[str, FieldInput], list[str]]:
    """A comma-separated list ("웹 개발, 데이터 분석"): each item cleaned, duplicates dropped."""

    def parse(raw: str, _inp: FieldInput) -> list[str]:
        whole = clean(raw, max_len=max_items * (max_len + 2))
        parts = [p for p in re.split(r"[,、;/\n]", whole) if p.strip()]
        out: list[str] = []
        for part in parts:
            item = clean(part, max_len=max_len)
            if item.casefold() not in (o.casefold() for o in out):
                out.append(item)
        if len(out) > max_items:
            raise Invalid("invalid.too_many", max=max_items)
        return out

    return parse


# --- dates and times (events) ---------------------------------------------------------------------

_DATE_TIME = [
    # 2026-03-20 14:00 · 2026.3.20 14:00 · 2026/03/20 14:00 · 2026년 3월 20일 14시 30분
    re.compile(r"(?P<y>\d{4})\s*[-./년]\s*(?P<m>\d{1,2})\s*[-./월]\s*(?P<d>\d{1,2})\s*일?\.?"),
    # 3/20 14:00 · 3.20 14:00 · 3-20 · 3월 20일 14시
    re.compile(r"(?P<m>\d{1,2})\s*[-./월]\s*(?P<d>\d{1,2})\s*일?\.?"),
]
_TIME = re.compile(r"^(?:(?P<ampm>오전|오후|am|pm)\s*)?(?P<h>\d{1,2})\s*(?:[:시]\s*(?P<min>\d{1,2})?\s*분?)?"
                   r"\s*(?P<ampm2>am|pm)?\s*(?P<half>반)?$")


def _time_of_day(raw: str) -> dt.time:
    match = _TIME.fullmatch(raw.strip().lower())
    if match is None or (match["min"] is None and ":" not in raw and "시" not in raw and not match["ampm"]
                         and not match["ampm2"]):
        raise Invalid("invalid.datetime")
    hour = int(match["h"])
    minute = 30 if match["half"] else int(match["min"] or 0)
    ampm = match["ampm"] or match["ampm2"]
    if ampm in ("오후", "pm") and hour < 12:
        hour += 12
    elif ampm in ("오전", "am") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        raise Invalid("invalid.datetime")
    return dt.time(hour, minute)


def local_date(raw: str, today: dt.date, *, yearless: str = "past") -> dt.date:
    """A date alone, typed as `local_datetime` reads one ("2026-03-20", "2026.3.20", "20260320",
    "3/20", "3.20", "3월 20일"). Without a year: `yearless="past"` the latest such day not after
    today (a report's period), "future" the next one from today on. Invalid("invalid.date") otherwise."""
    value = unicodedata.normalize("NFKC", raw).strip().rstrip(".")
    if len(value) > 20:
        raise Invalid("invalid.date")
    compact = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", value)
    match = compact or next((m for m in (p.fullmatch(value) for p in _DATE_TIME) if m is not None), None)
    if match is None:
        raise Invalid("invalid.date")
    parts = (match.group(1), match.group(2), match.group(3)) if compact else (match.groupdict().get("y"),
                                                                              match["m"], match["d"])
    year, month, day = parts
    try:
        if year is not None:
            return dt.date(int(year), int(month), int(day))
        date = dt.date(today.year, int(month), int(day))
        if yearless == "past" and date > today:
            date = dt.date(today.year - 1, int(month), int(day))
        elif yearless == "future" and date < today:
            date = dt.date(today.year + 1, int(month), int(day))
    except ValueError:
        raise Invalid("invalid.date") from None
    return date


def local_datetime(raw: str, now: dt.datetime, tz: dt.tzinfo, *, base: dt.date | None = None) -> dt.datetime:
    """A date and time typed the Korean way, as an aware datetime in `tz`.

    "2026-03-20 14:00", "2026.3.20 14:00", "3/20 14:00", "3월 20일 14시", "3월 20일 오후 2시 30분".
    Without a year, this year (next year for a date more than 60 days back). With `base`, a time alone ("16:00")
    means that day (an end time on the start's day). Invalid("invalid.datetime") otherwise.
    """
    value = unicodedata.normalize("NFKC", raw).strip()
    if len(value) > 40:
        raise Invalid("invalid.datetime")
    today = now.astimezone(tz).date()
    for pattern in _DATE_TIME:
        match = pattern.match(value)
        if match is None:
            continue
        month, day = int(match["m"]), int(match["d"])
        year = int(match.groupdict().get("y") or today.year)
        try:
            date = dt.date(year, month, day)
        except ValueError:
            raise Invalid("invalid.datetime") from None
        # A yearless date well behind us means next year; a few weeks back is a mistake the caller reports.
        if not match.groupdict().get("y") and date < today - dt.timedelta(days=60):
            try:
                date = dt.date(year + 1, month, day)
            except ValueError:
                raise Invalid("invalid.datetime") from None
        rest = value[match.end():].strip().lstrip(",").strip()
        if not rest:
            raise Invalid("invalid.datetime_time")
        return dt.datetime.combine(date, _time_of_day(rest), tzinfo=tz)
    if base is not None:
        return dt.datetime.combine(base, _time_of_day(value), tzinfo=tz)
    raise Invalid("invalid.datetime")


# --- demo day: deck link and funding sought -------------------------------------------------------

_HOST = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def https_url(raw: str, _inp: FieldInput) -> str:
    """A web link anyone can open: https, a real host name (no IP, no localhost), at most 300 characters."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if len(value) > 300:
        raise Invalid("invalid.too_long", max=300, length=len(value))
    if any(ch.isspace() for ch in value) or _has_control(value, newlines=False):
        raise Invalid("invalid.https_url")
    if not value.lower().startswith("https://"):
        raise Invalid("invalid.https_only")
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError:
        raise Invalid("invalid.https_url") from None
    if parts.username or parts.password or not _HOST.fullmatch(host):
        raise Invalid("invalid.https_url")
    return value


def web_link(raw: str, inp: FieldInput) -> str:
    """`https_url` for an address as people paste it: "drive.google.com/…" without a scheme gets
    https:// put in front (anything starting like a host name); "http://" is still refused."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if "://" not in value and "." in value.split("/", 1)[0]:
        value = "https://" + value
    return https_url(value, inp)


_KOREAN_AMOUNT = re.compile(r"(?:(?P<eok>\d+)억)?(?:(?P<cheon>\d)천)?(?:(?P<baek>\d)백)?(?P<rest>\d*)")
MAX_FUNDING = 1_000_000  # 만원 (100억)


def funding(raw: str, _inp: FieldInput) -> int:
    """Funding sought in 만원: "5000", "5,000만원", "5천만원", "1억 5천만원", "1.5억" or "50000000원"."""
    value = unicodedata.normalize("NFKC", raw).strip().lower().replace(",", "").replace(" ", "")
    value = value.removesuffix("krw").removesuffix("원")
    in_manwon = value.endswith("만")
    value = value.removesuffix("만")
    decimal = re.fullmatch(r"(\d{1,4})\.(\d{1,4})억", value)
    if decimal:
        amount = round(float(f"{decimal[1]}.{decimal[2]}") * 10_000)
    else:
        match = _KOREAN_AMOUNT.fullmatch(value)
        if match is None or not value or len(value) > 16:
            raise Invalid("invalid.funding")
        eok, cheon, baek, rest = match["eok"], match["cheon"], match["baek"], match["rest"]
        if not (eok or cheon or baek) and not in_manwon and len(rest) >= 7:
            amount = int(rest) // 10_000  # given in won
        else:
            amount = int(eok or 0) * 10_000 + int(cheon or 0) * 1000 + int(baek or 0) * 100 + int(rest or 0)
            if (eok or cheon or baek) and rest and len(rest) > 4:
                raise Invalid("invalid.funding")
    if not 1 <= amount <= MAX_FUNDING:
        # The bounds are written in the catalog as people say them ("1만원에서 100억원", "₩10,000 and
        # ₩10 billion"); tests/test_wording.py checks they are these.
        raise Invalid("invalid.funding_range")
    return amount


MAX_GRADUATION_YEARS = 8
_MONTH = re.compile(r"(?P<y>\d{2}|\d{4})\s*(?:[-./년]\s*)(?P<m>\d{1,2})\s*월?")


def graduation_month(raw: str, inp: FieldInput) -> str:
    """An expected graduation month, "YYYY-MM": "2027-02", "2027.2", "2027년 2월", "27년 2월", "202702".
    This month or later (a student has not graduated yet), at most eight years ahead."""
    value = unicodedata.normalize("NFKC", raw).strip().rstrip(".").replace(" ", "")
    match = re.fullmatch(r"(\d{4})(\d{2})", value) or _MONTH.fullmatch(value)
    if match is None or len(value) > 12:
        raise Invalid("invalid.month")
    year, month = int(match.group(1)), int(match.group(2))
    year += 2000 if year < 100 else 0
    if not 1 <= month <= 12:
        raise Invalid("invalid.month")
    today = inp.now.astimezone(inp.tz).date()
    if (year, month) < (today.year, today.month):
        raise Invalid("invalid.graduation_past")
    if year > today.year + MAX_GRADUATION_YEARS:
        raise Invalid("invalid.graduation_far", years=MAX_GRADUATION_YEARS)
    return f"{year:04d}-{month:02d}"
