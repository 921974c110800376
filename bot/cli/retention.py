"""`python -m bot retention [--dry-run]`: pseudonymise people inactive beyond RETENTION_MONTHS.

The same `bot.app.apply_retention` the app runs daily; `--dry-run` counts what would
change and changes nothing. Prints what was (or would be) affected, one line per kind.
"""

from __future__ import annotations

from bot.app import apply_retention
from bot.cli.db import migrated
from kernel.config import Settings
from kernel.core import SystemClock


async def run(settings: Settings, dry_run: bool) -> int:
    async with migrated(settings) as sessions:
        report = await apply_retention(sessions, settings, SystemClock(), dry_run=dry_run)
    print(("dry run, nothing changed; would affect:" if dry_run else "retention done:")
          + f" inactive for over {settings.retention_months} months, outbox kept {settings.outbox_keep_days} days")
    for line in report.lines():
        print("  " + line)
    return 0
