"""`python -m bot firms import FILE` and `python -m bot firms demo [FILE]`.

`import` reads a CSV or JSON file of firms or postings (`storage.firm_import`: UTF-8 with
or without BOM, or CP949; Korean or English headers), prints progress for large files
on stderr, then the report: added, changed, unchanged and every rejected row with its
line and why, in DEFAULT_LOCALE. Exit code 0 when nothing was rejected, 1 when some rows
were, 2 when the file cannot be read at all. Importing the same file again changes nothing.

`demo` loads the generated demo set (127 vetted firms, 320 postings across Seoul, fixed
seed: `storage.demo`); with `FILE.json|FILE.csv` it writes the set there instead (CSV: a firms file
and a `.postings.csv` beside it), to be imported like any other file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.db import migrated
from handlers.jobs.firms import report_text
from kernel.config import Settings
from kernel.core import Clock, SystemClock
from kernel.i18n import translator
from storage import demo, firm_import, firms
from storage.db import held_lock
from storage.firm_import import BadFile, ImportReport


def demo_rows(today: dt.date) -> firm_import.Rows:
    data = demo.generate(today)
    return firm_import.read(json.dumps(data, ensure_ascii=False).encode())


async def load_demo(sessions: async_sessionmaker[AsyncSession], now: dt.datetime, tz: dt.tzinfo) -> ImportReport:
    return await firm_import.import_rows(sessions, demo_rows(now.astimezone(tz).date()), now=now,
                                         today=now.astimezone(tz).date())


async def demo_if_empty(sessions: async_sessionmaker[AsyncSession], now: dt.datetime, tz: dt.tzinfo
                        ) -> ImportReport | None:
    """The first start: an empty firm table gets the demo set, so /jobs has something to show.
    Workers starting together take turns, so only the first loads it."""
    async with held_lock(sessions, "demo-data"):
        async with sessions() as session:
            if await firms.count_firms(session):
                return None
        return await load_demo(sessions, now, tz)


def write_demo(path: Path, today: dt.date) -> list[Path]:
    data = demo.generate(today)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        return [path]
    written = []
    for rows, target in ((data["firms"], path), (data["postings"], path.with_suffix(".postings.csv"))):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        target.write_text(out.getvalue(), encoding="utf-8-sig")
        written.append(target)
    return written


async def run(settings: Settings, action: str, file: str | None, out: TextIO, err: TextIO, *,
              clock: Clock | None = None) -> int:
    now = (clock or SystemClock()).now()
    today = now.astimezone(settings.tz).date()
    t = translator(settings.default_locale)
    if action == "demo" and file:
        for path in write_demo(Path(file), today):
            print(t("import.demo_written", path=str(path)), file=out)
        return 0
    rows: firm_import.Rows
    if action == "import":
        assert file is not None
        try:
            rows = firm_import.read(Path(file).read_bytes(), file)
        except OSError as exc:
            print(f"error: {exc}", file=err)
            return 2
        except BadFile as exc:
            print(f"error: {t(exc.key, **exc.params)}", file=err)
            return 2
    else:
        rows = demo_rows(today)

    async def progress(done: int, total: int) -> None:
        if total > firm_import.CHUNK:
            print(t("import.progress", done=f"{done:,}", total=f"{total:,}", pct=done * 100 // total), file=err,
                  flush=True)

    async with migrated(settings) as sessions:
        report = await firm_import.import_rows(sessions, rows, now=now, today=today, progress=progress)
    print(report_text(t, report), file=out)
    return 0 if report.ok else 1
