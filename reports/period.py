"""Report periods: this week, month, quarter, year, or two dates typed by the admin."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from kernel.core import Invalid
from storage.slots import local_dt

PRESETS = ("month", "quarter", "year")
MAX_DAYS = 5 * 366
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    """Whole local days from `first` to `last`, both included."""

    first: dt.date
    last: dt.date

    def bounds(self, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """[local midnight of the first day, local midnight after the last day) in UTC."""
        return (local_dt(self.first, 0, tz).astimezone(dt.UTC),
                local_dt(self.last + dt.timedelta(days=1), 0, tz).astimezone(dt.UTC))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def code(self) -> str:
        """Compact form for button payloads: 20260101-20260331."""
        return f"{self.first:%Y%m%d}-{self.last:%Y%m%d}"

    @classmethod
    def from_code(cls, code: str) -> Period:
        first, _, last = code.partition("-")
        return checked(dt.datetime.strptime(first, "%Y%m%d").date(), dt.datetime.strptime(last, "%Y%m%d").date())

    def label(self) -> str:
        return f"{self.first.isoformat()} ~ {self.last.isoformat()}"


def preset(name: str, today: dt.date) -> Period:
    """This month, quarter or year up to today; `week` is the last whole week (Monday to Sunday)."""
    if name == "month":
        return Period(today.replace(day=1), today)
    if name == "quarter":
        return Period(dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today)
    if name == "year":
        return Period(dt.date(today.year, 1, 1), today)
    if name == "week":
        monday = today - dt.timedelta(days=today.weekday() + 7)
        return Period(monday, monday + dt.timedelta(days=6))
    raise ValueError(name)


def parse_date(raw: str) -> dt.date:
    """'2026-03-01', '2026.3.1', '20260301' -> a date; Invalid otherwise."""
    value = unicodedata.normalize("NFKC", raw).strip().rstrip(".")
    match = re.fullmatch(r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})", value) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", value)
    if match is None:
        raise Invalid("stats.bad_date", value=raw[:20])
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise Invalid("stats.bad_date", value=raw[:20]) from None


def checked(first: dt.date, last: dt.date) -> Period:
    for day in (first, last):
        # Year 1 or 9999 is nobody's report period, and its bounds overflow the datetime range.
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise Invalid("stats.bad_date", value=day.isoformat())
    if last < first:
        raise Invalid("stats.end_before_start", first=first.isoformat(), last=last.isoformat())
    if (last - first).days >= MAX_DAYS:
        raise Invalid("stats.too_long", years=MAX_DAYS // 366)
    return Period(first, last)


def custom(first: str, last: str) -> Period:
    return checked(parse_date(first), parse_date(last))


def from_args(args: Sequence[str], today: dt.date) -> Period | None:
    """A period from a command's words or a button's payload: `month|quarter|year`, a code
    (20260101-20260331), or two dates. None when the words are none of these; Invalid for a
    date that does not exist or a range the wrong way round or too long."""
    if len(args) == 2:
        return custom(args[0], args[1])
    if len(args) != 1:
        return None
    word = unicodedata.normalize("NFKC", args[0]).strip().lower()
    if word in PRESETS:
        return preset(word, today)
    if re.fullmatch(r"\d{8}-\d{8}", word):
        # From a button: forged or not, the dates are checked like typed ones.
        return custom(*word.split("-"))
    return None
