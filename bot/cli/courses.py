"""`python -m bot courses import [FILE]`: the 기술교육원 courses (`storage.courses` for the columns).

Without FILE the packaged sample (`storage/data/courses.json`) is imported. Prints how many
courses were added, changed and left as they were, and each rejected row with its line and why.
Exit code 0 when nothing was rejected, 1 when some rows were, 2 when the file cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from bot.cli.db import migrated
from kernel.config import Settings
from kernel.core import Clock, SystemClock
from storage import courses

SAMPLE = Path(courses.__file__).with_name("data") / "courses.json"


async def run_import(settings: Settings, file: str | None, out: TextIO, err: TextIO, *,
                     clock: Clock | None = None) -> int:
    path = Path(file) if file else SAMPLE
    try:
        rows = courses.read_rows(path.read_bytes(), path.name)
    except (OSError, courses.BadFile) as exc:
        print(f"error: {exc}", file=err)
        return 2
    now = (clock or SystemClock()).now()
    async with migrated(settings) as sessions, sessions() as session, session.begin():
        result = await courses.import_rows(session, rows, now)
    print(f"courses: {result.added} added, {result.changed} changed, {result.unchanged} unchanged, "
          f"{len(result.rejected)} rejected", file=out)
    for line, why in result.rejected:
        print(f"  line {line}: {why}", file=out)
    return 1 if result.rejected else 0
