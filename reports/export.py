"""The report as a file: CSV or XLSX, written row by row.

The summary sections come first (in XLSX one sheet each), then every survey answer of
the period, one row each: response number (not the person), time, survey, version,
question and answer, with phone numbers removed from free text. The answers are read
through the driver's cursor in batches (`storage.surveys.stream_answers`) and written as they arrive (CSV row by
row, XLSX with XlsxWriter's constant-memory mode), so the memory an export needs does
not grow with the number of answers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.i18n import Translator
from reports.period import Period
from reports.redact import redact
from reports.render import cell_text, headers
from reports.sections import Scope, Section, build
from storage import survey_defs, surveys

BATCH = 5000
MEMO = 50_000  # distinct (question, answer) pairs kept; numbers and months can vary widely
FORMATS = ("csv", "xlsx")
ANSWER_COLUMNS = ("response", "answered_at", "survey", "version", "question", "answer")


def format_of(path: str | Path) -> str:
    """'report.xlsx' -> 'xlsx'; ValueError for anything else."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"unknown file type {Path(path).suffix!r}: use .csv or .xlsx")
    return suffix


class _Texts:
    """Question and option texts per (survey, version, question), looked up once per export."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._cache: dict[tuple[str, int, str], survey_defs.Question | None] = {}

    def question(self, survey: str, version: int, qid: str) -> survey_defs.Question | None:
        key = (survey, version, qid)
        if key not in self._cache:
            found = survey_defs.get(survey, version)
            try:
                self._cache[key] = found.question(qid) if found else None
            except KeyError:
                self._cache[key] = None
        return self._cache[key]

    def answer(self, q: survey_defs.Question | None, kind: str, number: int | None, text: str | None) -> Any:
        if kind == "text":
            return redact(text or "")
        return survey_defs.shown(q, kind, number, text, self.locale)


async def answer_rows(session: AsyncSession, scope: Scope, t: Translator) -> AsyncIterator[list[list[Any]]]:
    """Every answer of the period in time order, streamed in batches of rows."""
    texts = _Texts(t.locale)
    titles = {key: versions[-1].title[t.locale] for key, versions in survey_defs.load().items()}
    # Everything but the response number, the time and free text repeats across rows (the same
    # question, the same option): worked out once per distinct answer.
    shown: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    async for batch in surveys.stream_answers(session, scope.start, scope.end, scope.tz, BATCH):
        rows: list[list[Any]] = []
        append = rows.append
        for request_id, at, survey, version, qid, kind, number, text in batch:
            free = kind == "text"
            key = (survey, version, qid, number, None if free else text)
            cells = shown.get(key)
            if cells is None:
                q = texts.question(survey, version, qid)
                cells = (titles.get(survey, survey), version, q.text[t.locale] if q else qid,
                         None if free else texts.answer(q, kind, number, text))
                if len(shown) < MEMO:
                    shown[key] = cells
            title, ver, question, answer = cells
            append([request_id, at, title, ver, question, redact(text or "") if free else answer])
        yield rows


def section_rows(t: Translator, section: Section) -> list[list[Any]]:
    """A section as plain rows: numbers stay numbers (for spreadsheets), names are translated."""
    rows = [[c if isinstance(c, (int, float)) else cell_text(t, c) for c in row] for row in section.rows]
    return [headers(t, section), *rows]


async def write_csv(session: AsyncSession, scope: Scope, t: Translator, out: IO[str]) -> int:
    """Writes the report to a text stream; returns the number of answer rows."""
    writer = csv.writer(out)
    writer.writerow([t("stats.file_title"), scope.period.label()])
    for section in await build(session, scope):
        writer.writerow([])
        writer.writerow([t(f"stats.section.{section.key}")] +
                        ([cell_text(t, section.note)] if section.note is not None else []))
        writer.writerows(section_rows(t, section))
    writer.writerow([])
    writer.writerow([t("stats.section.answers")])
    writer.writerow([t(f"stats.col.{c}") for c in ANSWER_COLUMNS])
    n = 0
    async for rows in answer_rows(session, scope, t):
        writer.writerows(rows)
        n += len(rows)
    return n


def _sheet_name(text: str, used: set[str]) -> str:
    """A worksheet name Excel takes: none of []:*?/\\, no apostrophe at either end, unique, and at
    most 31 UTF-16 units (an emoji counts two; the English section titles are longer than that)."""
    name = _clip_utf16("".join(ch for ch in text if ch not in "[]:*?/\\"), 31) or "sheet"
    while name.lower() in used:
        name = _clip_utf16(name, 28) + f"_{len(used)}"
    used.add(name.lower())
    return name


def _clip_utf16(text: str, units: int) -> str:
    while len(text.encode("utf-16-le")) > 2 * units:
        text = text[:-1]
    return text.strip().strip("'").strip()


async def write_xlsx(session: AsyncSession, scope: Scope, t: Translator, out: IO[bytes] | Path) -> int:
    """Writes the report as a workbook (one sheet per section, then the answers); returns answer rows.

    XlsxWriter's constant-memory mode writes each row out as soon as it is complete, so
    the answers sheet costs a row's memory, not the sheet's.
    """
    book = xlsxwriter.Workbook(str(out) if isinstance(out, Path) else out, {"constant_memory": True})
    used: set[str] = set()
    for section in await build(session, scope):
        sheet = book.add_worksheet(_sheet_name(t(f"stats.section.{section.key}"), used))
        lines = ([[cell_text(t, section.note)]] if section.note is not None else []) + section_rows(t, section)
        for i, row in enumerate(lines):
            sheet.write_row(i, 0, row)
    answers = book.add_worksheet(_sheet_name(t("stats.section.answers"), used))
    answers.write_row(0, 0, [t(f"stats.col.{c}") for c in ANSWER_COLUMNS])
    n = 0
    async for rows in answer_rows(session, scope, t):
        for row in rows:
            n += 1
            answers.write_row(n, 0, row)
    book.close()
    return n


def file_name(period: Period, fmt: str) -> str:
    return f"jobhub-report-{period.first:%Y%m%d}-{period.last:%Y%m%d}.{fmt}"


MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


async def as_bytes(session: AsyncSession, scope: Scope, t: Translator, fmt: str) -> tuple[bytes, int]:
    """The whole export in memory (a chat file, a console download) and its number of answers."""
    if fmt == "csv":
        text = io.StringIO()
        rows = await write_csv(session, scope, t, text)
        return text.getvalue().encode("utf-8-sig"), rows  # the BOM makes Excel read Korean correctly
    buffer = io.BytesIO()
    rows = await write_xlsx(session, scope, t, buffer)
    return buffer.getvalue(), rows
