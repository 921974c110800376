"""`python -m bot counselors import FILE`: counselors and their weekly hours in bulk.

The file is CSV (UTF-8, with or without the BOM Excel writes) or a JSON list of objects,
one weekly window per row:

    telegram_id, display_name, types, place_kind, place_name, weekday, start, end, video_link

* `types`: consultation type keys joined by `|` (job_counselling|document_clinic).
* `place_kind`: centre, campus, high_school or online (센터, 캠퍼스점, 특성화고, 화상 also work).
  `place_name` is required for campus and high_school; for the centre it defaults to the
  centre's place; for online it defaults to the counselor's own video room, and
  `video_link` (http/https) is required.
* `weekday`: mon..sun, 0..6 (0 = Monday) or 월..일; `start`/`end`: HH:MM on 10-minute marks.

What the operator gets: the Telegram user and the counselor are created when missing
(a counselor an admin deactivated is not brought back by an import: send a new invite),
the place and the window are added; a window that already exists is skipped, so
re-importing the same file changes nothing. Every row stands alone (a savepoint each):
a rejected row is reported with its line and the reason and the others are imported.
Exit code 0 when every row was imported or already there, 1 when some were rejected,
2 when the file cannot be read at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.db import migrated
from kernel.config import Settings, parse_hhmm
from kernel.core import Clock, SystemClock
from kernel.i18n import translator
from storage import counselors, users
from storage.models import Counselor, Place

REQUIRED = ("telegram_id", "display_name", "types", "place_kind", "weekday", "start", "end")
OPTIONAL = ("place_name", "video_link")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate(zip(DAY_NAMES, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                            "sunday"), "월화수목금토일", strict=True)):
    WEEKDAYS.update({_names[0]: _i, _names[1]: _i, _names[2]: _i, _names[2] + "요일": _i, str(_i): _i})
KINDS = {
    "centre": "centre", "center": "centre", "센터": "centre", "서울일자리플러스센터": "centre",
    "campus": "campus", "캠퍼스": "campus", "캠퍼스점": "campus",
    "high_school": "high_school", "highschool": "high_school", "특성화고": "high_school",
    "online": "online", "화상": "online", "화상상담": "online", "온라인": "online",
}


class BadFile(Exception):
    """The file as a whole cannot be imported (unreadable, not CSV/JSON, missing columns)."""


class RowError(Exception):
    """One row is refused; the message is the reason printed in the report."""


@dataclass(frozen=True)
class WindowRow:
    telegram_id: str
    display_name: str
    types: tuple[str, ...]
    kind: str
    place_name: str
    weekday: int
    start: int
    end: int
    video_link: str | None


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    unchanged: int = 0
    counselors_created: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def lines(self, source: str) -> list[str]:
        out = [f"{source}: {self.rows} rows: {self.added} windows added, {self.unchanged} already there, "
               f"{len(self.rejected)} rejected; {self.counselors_created} counselors created"]
        out += [f"  line {line}: rejected: {reason}" for line, reason in self.rejected]
        return out


# --- reading -------------------------------------------------------------------------------------


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; JSON items are numbered from 1."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadFile(f"cannot read {path}: {exc}") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadFile(f"not valid JSON: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise BadFile("JSON must be a list of objects, one per weekly window")
        rows = [(i, {str(k).strip().lower(): "" if v is None else str(v) for k, v in item.items()})
                for i, item in enumerate(data, start=1)]
        columns = set().union(*(r.keys() for _, r in rows)) if rows else set(REQUIRED)
    else:
        reader = csv.DictReader(text.splitlines())
        columns = {(name or "").strip().lower() for name in reader.fieldnames or ()}
        rows = []
        for values in reader:
            clean = {(k or "").strip().lower(): (v or "") for k, v in values.items() if isinstance(v, str)}
            if any(v.strip() for v in clean.values()):
                rows.append((reader.line_num, clean))
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise BadFile(f"missing column(s): {', '.join(missing)} (expected {', '.join(REQUIRED + OPTIONAL)})")
    return rows


def _time(value: str, what: str) -> int:
    try:
        minutes = parse_hhmm(value)
    except ValueError:
        raise RowError(f"{what} {value.strip()!r} is not a time like 09:00") from None
    if minutes % 10:
        raise RowError(f"{what} {value.strip()} is not on a 10-minute mark")
    return minutes


def parse_row(values: dict[str, str]) -> WindowRow:
    """Checks one row's values on their own (the database checks come when it is applied)."""
    get = {k: unicodedata.normalize("NFC", v).strip() for k, v in values.items()}
    telegram_id = get.get("telegram_id", "")
    if not telegram_id.isdigit() or len(telegram_id) > 20:
        raise RowError(f"telegram_id {telegram_id!r} is not a numeric Telegram user id")
    name = " ".join(get.get("display_name", "").split())
    if not name or len(name) > 30:
        raise RowError("display_name must be 1 to 30 characters")
    types = tuple(dict.fromkeys(p.strip() for p in get.get("types", "").replace(",", "|").split("|") if p.strip()))
    unknown = [p for p in types if p not in counselors.CONSULTATION_TYPES]
    if not types or unknown:
        raise RowError(f"unknown consultation type {', '.join(unknown) or '(none given)'} "
                       f"(use {'|'.join(counselors.CONSULTATION_TYPES)})")
    raw_kind = get.get("place_kind", "")
    kind = KINDS.get(raw_kind.lower().replace(" ", ""))
    if kind is None:
        raise RowError(f"unknown place_kind {raw_kind!r} (use {', '.join(counselors.PLACE_KINDS)})")
    place_name = " ".join(get.get("place_name", "").split())
    if kind in ("campus", "high_school") and not place_name:
        raise RowError(f"place_name is required for {kind}")
    if len(place_name) > 60:
        raise RowError("place_name is longer than 60 characters")
    link = get.get("video_link") or None
    if kind == "online" and (link is None or not counselors.video_link_ok(link)):
        raise RowError("online windows need a video_link starting with http:// or https://")
    raw_day = get.get("weekday", "")
    weekday = WEEKDAYS.get(raw_day.lower())
    if weekday is None:
        raise RowError(f"bad weekday {raw_day!r} (use mon..sun, 0..6 or 월..일)")
    start, end = _time(get.get("start", ""), "start"), _time(get.get("end", ""), "end")
    if start >= end:
        raise RowError(f"inverted hours: end {get['end']} is not after start {get['start']}")
    return WindowRow(telegram_id, name, types, kind, place_name, weekday, start, end,
                     link if kind == "online" else None)


# --- applying ------------------------------------------------------------------------------------


def _span(weekday: int, start: int, end: int) -> str:
    return f"{DAY_NAMES[weekday]} {start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


async def _counselor(session: AsyncSession, row: WindowRow, now: dt.datetime, locale: str) -> tuple[Counselor, bool]:
    user = await counselors.telegram_user(session, row.telegram_id)
    if user is None:
        user, _ = await users.identify(session, "telegram", row.telegram_id, row.telegram_id, locale, now)
    counselor = await counselors.by_user(session, user.id)
    if counselor is not None and not counselor.active:
        raise RowError("this counselor was deactivated; send them a new invite to bring them back")
    if user.role == "user":
        user.role = "counselor"
    if counselor is None:
        return await counselors.create(session, user.id, row.display_name, row.types, now), True
    if counselor.display_name != row.display_name:
        counselor.display_name = row.display_name
    merged = list(counselor.types) + [t for t in row.types if t not in counselor.types]
    if merged != list(counselor.types):
        counselor.types = merged  # types given elsewhere (the onboarding) are kept
    return counselor, False


async def _place(session: AsyncSession, row: WindowRow, counselor: Counselor, locale: str) -> Place:
    if row.kind == "centre":
        if row.place_name:
            return await counselors.place(session, "centre", row.place_name)
        return await counselors.centre_place(session)
    if row.kind == "online":
        # The same room name the /availability conversation gives a counselor's online sessions.
        name = row.place_name or translator(locale)("place.online_room", name=counselor.display_name,
                                                     id=counselor.id)[:60]
        return await counselors.place(session, "online", name, video_link=row.video_link)
    return await counselors.place(session, row.kind, row.place_name)


async def _apply(session: AsyncSession, row: WindowRow, now: dt.datetime, locale: str) -> tuple[str, bool]:
    """'added' or 'unchanged', and whether the counselor was created; RowError when refused."""
    counselor, created = await _counselor(session, row, now, locale)
    place = await _place(session, row, counselor, locale)
    existing = await counselors.windows(session, [counselor.id])
    for w in existing:
        if (w.place_id, w.weekday, w.start_minute, w.end_minute) == (place.id, row.weekday, row.start, row.end):
            return "unchanged", created
    clash = next((w for w in existing if w.weekday == row.weekday and w.start_minute < row.end
                  and row.start < w.end_minute), None)
    if clash is not None:
        raise RowError(f"overlapping hours: {_span(row.weekday, row.start, row.end)} overlaps the existing window "
                       f"{_span(clash.weekday, clash.start_minute, clash.end_minute)}")
    try:
        await counselors.add_window(session, counselor.id, place.id, row.weekday, row.start, row.end)
    except counselors.OverlapError:
        raise RowError(f"overlapping hours: {_span(row.weekday, row.start, row.end)}") from None
    except ValueError as exc:
        raise RowError(str(exc)) from None
    return "added", created


async def import_rows(session: AsyncSession, rows: Sequence[tuple[int, dict[str, str]]], *, now: dt.datetime,
                      locale: str = "ko") -> ImportReport:
    """Applies each row in its own savepoint; the caller commits."""
    report = ImportReport(rows=len(rows))
    first_name: dict[str, tuple[str, int]] = {}
    for line, values in rows:
        try:
            row = parse_row(values)
            seen = first_name.setdefault(row.telegram_id, (row.display_name, line))
            if seen[0] != row.display_name:
                raise RowError(f"display_name {row.display_name!r} differs from {seen[0]!r} on line {seen[1]} "
                               f"for the same telegram_id")
            async with session.begin_nested():
                outcome, created = await _apply(session, row, now, locale)
        except RowError as exc:
            report.rejected.append((line, str(exc)))
            continue
        report.counselors_created += created
        if outcome == "added":
            report.added += 1
        else:
            report.unchanged += 1
    return report


async def import_file(sessions: async_sessionmaker[AsyncSession], path: Path, *, now: dt.datetime,
                      locale: str = "ko") -> ImportReport:
    """Reads and imports one file in one transaction (BadFile when it cannot be read)."""
    rows = read_rows(path)
    async with sessions() as session, session.begin():
        return await import_rows(session, rows, now=now, locale=locale)


async def run_import(settings: Settings, path: Path, out: TextIO, *, clock: Clock | None = None) -> int:
    """The CLI entry: upgrade the schema, import, print the report; the exit code."""
    async with migrated(settings) as sessions:
        try:
            report = await import_file(sessions, path, now=(clock or SystemClock()).now(),
                                       locale=settings.default_locale)
        except BadFile as exc:
            print(f"error: {exc}", file=out)
            return 2
    print("\n".join(report.lines(path.name)), file=out)
    return 0 if report.ok else 1
