"""`python -m bot courses import [FILE]`: the 기술교육원 courses (`storage.courses` for the columns).

Without FILE the packaged sample (`storage/data/courses.json`) is imported, its dates moved
by whole weeks so that its first deadline is still ahead (written for 2026-03-02: a first try
later in the year still finds courses to apply for). Prints how many
courses were added, changed and left as they were, and each rejected row with its line and why.
Exit code 0 when nothing was rejected, 1 when some rows were, 2 when the file cannot be read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.db import migrated
from kernel.config import Settings
from kernel.core import Clock, SystemClock
from storage import courses
from storage.db import held_lock

SAMPLE = Path(courses.__file__).with_name("data") / "courses.json"
SAMPLE_WRITTEN = dt.date(2026, 3, 2)
DATES = ("starts_on", "ends_on", "deadline")


def moved(rows: list[tuple[int, dict[str, str]]], today: dt.date) -> list[tuple[int, dict[str, str]]]:
    """The sample's rows with every date moved by the whole weeks since it was written."""
    shift = dt.timedelta(weeks=max(0, (today - SAMPLE_WRITTEN).days // 7))
    return [(line, {k: (dt.date.fromisoformat(v) + shift).isoformat() if k in DATES and v else v
                    for k, v in row.items()}) for line, row in rows]


async def run_import(settings: Settings, file: str | None, out: TextIO, err: TextIO, *,
                     clock: Clock | None = None) -> int:
    path = Path(file) if file else SAMPLE
    try:
        rows = courses.read_rows(path.read_bytes(), path.name)
    except (OSError, courses.BadFile) as exc:
        print(f"error: {exc}", file=err)
        return 2
    now = (clock or SystemClock()).now()
    if file is None:
        rows = moved(rows, now.astimezone(settings.tz).date())
    async with migrated(settings) as sessions, sessions() as session, session.begin():
        result = await courses.import_rows(session, rows, now)
    print(f"courses: {result.added} added, {result.changed} changed, {result.unchanged} unchanged, "
          f"{len(result.rejected)} rejected", file=out)
    for line, why in result.rejected:
        print(f"  line {line}: {why}", file=out)
    return 1 if result.rejected else 0


async def sample_if_empty(sessions: async_sessionmaker[AsyncSession], now: dt.datetime, tz: dt.tzinfo) -> int | None:
    """The first start: no courses at all gets the sample (dates moved as above), so /courses has
    something to show next to the demo firms; how many were added, None when there were courses.
    Workers starting together take turns, so only the first loads it."""
    async with held_lock(sessions, "demo-courses"):
        async with sessions() as session:
            if await courses.count_courses(session):
                return None
        rows = moved(courses.read_rows(SAMPLE.read_bytes(), SAMPLE.name), now.astimezone(tz).date())
        async with sessions() as session, session.begin():
            return (await courses.import_rows(session, rows, now)).added
