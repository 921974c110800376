"""Arbitrary text into every form field's parser (issue 13, "Fuzzing that keeps it fixed").

Every `Field.parse` of every `Form` of every router in `bot.app.ROUTERS`, and the typed answer
of every survey question (`handlers.surveys.parse_typed`): given any text, with earlier answers
and a time like those a form has, a parser returns a value or raises `kernel.core.Invalid`, nothing
else. A value is one the form can keep and show (JSON, and the summary's display of it in both
languages); an `Invalid` names a catalog text whose placeholders its parameters fill.

The text is anything at all, or put together from what the parsers look for (digits of every
script, separators, Korean and English units and markers, URL parts), so examples reach past the
first check of each parser.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import ROUTERS
from handlers.broadcast import SPLIT_SUSPECT
from handlers.surveys import parse_typed
from kernel.core import Invalid
from kernel.forms import FieldInput, FormRunner
from kernel.i18n import LOCALES, catalog, translator
from storage import survey_defs
from tests.fuzz import ODD_DIGITS, any_char, odd_text

# Real processes or many generated examples: left out of the quick loop (`-m 'not slow'`), run by CI.
pytestmark = pytest.mark.slow

FORMS = [form for build in ROUTERS for form in build().forms]
FIELDS = [(form.name, fld) for form in FORMS for fld in form.fields if fld.parse is not None]
QUESTIONS = [(f"{key}/{survey.version}/{q.id}", q) for key, surveys in survey_defs.load().items()
             for survey in surveys for q in survey.questions if q.kind in ("rating", "number", "month", "text")]
RUNNER = FormRunner(FORMS, menu=lambda _ctx: None)  # type: ignore[arg-type, return-value]
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")

# What the parsers look for, to build text that gets past their first check.
TOKENS = [
    *"0123456789", "00", "12", "2026", "1999", "98", "3000", "010", "1234", "5678", "24", "60", "99999999",
    *"-./:, ", "년", "월", "일", "시", "분", "반", "생", "명", "석", "원", "만", "만원", "천", "백", "억", "점",
    "오전", "오후", "am", "pm", "AM", "years", "yrs", "people", "seats", "days", "krw", "+82", "+1", "(", ")",
    "https://", "http://", "www.", "zoom.us/j/", "example.com", "localhost", "127.0.0.1", "@", "#", "?", "%",
    "가", "Kim", "김서울", "\n", "\t", "\u200b", "\u3000", "\ud800", "\x00",
]
token = st.one_of(st.sampled_from(TOKENS), st.sampled_from(ODD_DIGITS), any_char,
                  st.integers(min_value=-(10**12), max_value=10**12).map(str))
built_text = st.lists(token, max_size=14).map("".join)
long_digits = st.integers(min_value=1, max_value=6000).flatmap(
    lambda n: st.sampled_from(["1", "9", "٩", "１", "𐩀", "²"]).map(lambda d: d * n))
# The shapes the parsers read (dates, times, amounts, phone numbers, links), "#" filled with numbers
# near and far from the valid ones, in any script.
SHAPES = [
    "#-#-# #:#", "#.#.# #:#", "#/#/# #:#", "#년 #월 #일 #시 #분", "#월 #일 오후 #시 #분", "#/# #:#", "#.# #시",
    "#-#-#", "#.#.#.", "#/#", "#월 #일", "#년 #월", "#:#", "#시 반", "오전 #시", "#pm", "#am", "#", "# #",
    "#-#", "010-#-#", "+82 10-#-#", "#억 #천만원", "#.#억", "#천만원", "#만원", "#원", "#명", "#년", "#년생",
    "#점", "#,###", "https://#.com/#", "https://www.#.kr/deck?x=#", "https://#", "https://#:#/", "zoom.us/j/#",
    "http://#.#.#.#/", "https://user:#@example.com",
]
number = st.one_of(
    st.integers(min_value=0, max_value=60).map(str),
    st.sampled_from(["2026", "2027", "2025", "1999", "2099", "2100", "0000", "9999", "26", "00", "03", "3", "14",
                     "20", "23", "24", "29", "30", "31", "32", "59", "60", "99", "12", "13", "1234", "5678"]),
    st.integers(min_value=0, max_value=10**20).map(str),
    st.lists(st.sampled_from(ODD_DIGITS), min_size=1, max_size=4).map("".join),
)


@st.composite
def shaped(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SHAPES))
    while "#" in text:
        text = text.replace("#", draw(number), 1)
    return text


# Zeros of every script whose ten digits are consecutive ("０", "٠", "०", "𝟎", ...).
ZEROS = [z for z in ODD_DIGITS if unicodedata.decimal(z, None) == 0
         and all(unicodedata.decimal(chr(ord(z) + i), None) == i for i in range(10))]


@st.composite
def moment_text(draw: st.DrawFn) -> str:
    """A date and time near the valid ones (this year or the next, a plausible month, day, hour and
    minute, sometimes one out of range), written in one of the ways people write them."""
    def near(lo: int, hi: int) -> str:
        return str(draw(st.integers(min_value=lo, max_value=hi) | st.sampled_from([lo - 1, hi + 1, 0, 99])))

    y, m, d, h, mi = (draw(st.sampled_from(["2026", "2027", "26", "2025", "9999", "0001"])), near(1, 12),
                      near(1, 31), near(0, 23), near(0, 59).zfill(2))
    text = draw(st.sampled_from([f"{y}-{m}-{d} {h}:{mi}", f"{y}.{m}.{d} {h}:{mi}", f"{y}/{m}/{d}", f"{y}-{m}-{d}",
                                 f"{m}/{d} {h}:{mi}", f"{m}월 {d}일 오후 {h}시 {mi}분", f"{y}년 {m}월 {d}일 {h}시",
                                 f"{m}월 {d}일", f"{m}/{d}", f"{h}:{mi}", f"{y}년 {m}월", f"{y}-{m}", f"{h}시 반"]))
    zero = draw(st.sampled_from(["0"] * 4 + ZEROS))
    return text.translate({ord(str(i)): chr(ord(zero) + i) for i in range(10)})


texts = st.one_of(odd_text, built_text, shaped(), shaped(), moment_text(), moment_text(), long_digits)

# Earlier answers a parser may read (an event's start for its end, a birth year for the
# experience, a window's start for its end, a period's first day, a long broadcast text).
ANSWERS: list[dict[str, Any]] = [
    {},
    {"starts_at": "2026-03-20T14:00+09:00", "birth_year": 1999, "start": "09:00", "first": "2026-01-01",
     "text": "가" * SPLIT_SUSPECT},
    {"starts_at": "9999-12-31T23:59+09:00", "birth_year": 2012, "start": "23:50", "first": "2099-12-31",
     "text": "짧은 글"},
]
moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                       timezones=st.just(dt.UTC))


def _invalid_is_said(exc: Invalid, where: str) -> None:
    for locale in LOCALES:
        text = catalog(locale).get(exc.key)
        assert text is not None, f"{where}: Invalid({exc.key!r}) has no {locale} text"
        text.format(**exc.params)  # every placeholder filled


def _try(parse: Callable[[], Any], where: str, raw: str) -> Any:
    try:
        return parse()
    except Invalid as exc:
        _invalid_is_said(exc, where)
        return Invalid
    except Exception as exc:  # the property: nothing but Invalid
        shown = repr(raw) if len(raw) <= 200 else f"{raw[:100]!r}... ({len(raw)} characters)"
        pytest.fail(f"{where}: {type(exc).__name__}: {str(exc)[:200]} for {shown}")


def test_every_form_field_with_a_parser_is_fuzzed() -> None:
    """New forms are picked up by themselves; this only guards against the list going empty."""
    assert len(FIELDS) >= 40 and {name for name, _ in FIELDS} >= {"seeker", "membership", "newevent", "booking"}
    assert {q.kind for _, q in QUESTIONS} >= {"rating", "text"}


@given(raw=texts, answers=st.sampled_from(ANSWERS), now=moments, tz=st.sampled_from([SEOUL, dt.UTC]))
def test_every_field_parser_gives_a_value_or_invalid(raw: str, answers: dict[str, Any], now: dt.datetime,
                                                      tz: dt.tzinfo) -> None:
    inp = FieldInput(answers=dict(answers), now=now, tz=tz)
    for form_name, fld in FIELDS:
        where = f"{form_name}.{fld.name}"
        assert fld.parse is not None
        value = _try(lambda fld=fld: fld.parse(raw, inp), where, raw)  # type: ignore[misc]
        if value is Invalid:
            continue
        json.dumps(value)  # kept in the conversation's JSON column
        for locale in LOCALES:
            shown = _try(lambda fld=fld, locale=locale, value=value: RUNNER.display(translator(locale), fld, value),
                         f"{where} (shown)", raw)
            assert isinstance(shown, str), where


@given(raw=texts, now=moments)
def test_every_survey_question_takes_any_typed_answer(raw: str, now: dt.datetime) -> None:
    for where, q in QUESTIONS:
        value = _try(lambda q=q: parse_typed(q, raw, now, SEOUL), where, raw)
        if value is not Invalid:
            json.dumps(value)
