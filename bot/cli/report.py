"""`python -m bot report --from YYYY-MM-DD --to YYYY-MM-DD --out FILE`: the KPI report as a file.

The format follows the file's extension: `.csv` (UTF-8 with the BOM Excel expects for
Korean) or `.xlsx`. The summary sections come first, then every survey answer of the
period; the answers are streamed from the database to the file, so a year of answers
needs no more memory than a week. Texts are in DEFAULT_LOCALE. Exit code 0 when written,
2 for a bad period or file type (the message says which).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from bot.cli.db import migrated
from kernel.config import Settings
from kernel.core import Invalid
from kernel.i18n import translator
from reports import export
from reports.period import Period, custom
from reports.sections import Scope


async def write_report(settings: Settings, period: Period, path: Path) -> int:
    """Writes the file; returns the number of answer rows."""
    fmt = export.format_of(path)
    t = translator(settings.default_locale)
    scope = Scope(period, settings.tz)
    async with migrated(settings) as sessions, sessions() as session, session.begin():
        if fmt == "csv":
            with path.open("w", encoding="utf-8-sig", newline="") as fh:
                return await export.write_csv(session, scope, t, fh)
        return await export.write_xlsx(session, scope, t, path)


async def run_report(settings: Settings, first: str, last: str, out_path: str, out: TextIO) -> int:
    t = translator(settings.default_locale)
    try:
        period = custom(first, last)
        export.format_of(out_path)
    except Invalid as exc:
        print(f"error: {t(exc.key, **exc.params)}", file=out)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=out)
        return 2
    rows = await write_report(settings, period, Path(out_path))
    print(t("stats.cli_written", path=out_path, period=period.label(), n=rows), file=out)
    return 0
