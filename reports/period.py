"""Report periods: this week, month, quarter, year, or two dates typed by the admin.

Dates are read as `/newevent` reads them (`kernel.parsers.local_date`): "2026-12-01",
"2026.12.1", "20261201", "12/1", "12.1", "12월 1일"; a date without a year is the latest such
day up to today. Two dates may come as two words or with "~" or "부터 … 까지" between them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from kernel.core import Invalid
from kernel.parsers import local_date
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


def parse_date(raw: str, today: dt.date | None = None) -> dt.date:
    """'2026-03-01', '2026.3.1', '20260301', '3/1', '3월 1일' -> a date; Invalid otherwise. Without
    a year: the latest such day up to `today` (the machine's date when not given)."""
    try:
        return local_date(raw, today or dt.date.today(), yearless="past")
    except Invalid:
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


def custom(first: str, last: str, today: dt.date | None = None) -> Period:
    return checked(parse_date(first, today), parse_date(last, today))


# One date as typed: with a year, compact, or month and day ("12/1", "12.1", "12월 1일").
_ONE_DATE = r"\d{4}\s*[-./년]\s*\d{1,2}\s*[-./월]\s*\d{1,2}\s*일?|\d{8}|\d{1,2}\s*[-./월]\s*\d{1,2}\s*일?"
_TWO_DATES = re.compile(rf"(?P<first>{_ONE_DATE})\s*(?:~|부터|-|–)?\s*(?P<last>{_ONE_DATE})\s*(?:까지)?")


def from_args(args: Sequence[str], today: dt.date) -> Period | None:
    """A period from a command's words or a button's payload: `month|quarter|year`, a code
    (20260101-20260331), or two dates. None when the words are none of these; Invalid for a
    date that does not exist or a range the wrong way round or too long."""
    if len(args) >= 2:
        # "12월 1일 12월 3일" arrives as four words, "12/1 ~ 12/3" as three: read the words as one text.
        both = _TWO_DATES.fullmatch(unicodedata.normalize("NFKC", " ".join(args)).strip())
        if both is None:
            return custom(args[0], args[1], today) if len(args) == 2 else None
        return custom(both["first"], both["last"], today)
    if len(args) != 1:
        return None
    word = unicodedata.normalize("NFKC", args[0]).strip().lower()
    if word in PRESETS:
        return preset(word, today)
    if re.fullmatch(r"\d{8}-\d{8}", word):
        # From a button: forged or not, the dates are checked like typed ones.
        first, last = word.split("-")
        return custom(first, last, today)
    return None
