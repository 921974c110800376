"""`python -m bot db backup`: a consistent copy of the database while the bot keeps running.

SQLite: the online backup API copies page by page under SQLite's own locking, so writers
(the bot, the outbox sender) go on and the copy is a single point in time; the copy is then
checked with `PRAGMA integrity_check` so a backup that would not restore is never reported
as done. PostgreSQL: `pg_dump` in custom format is the tool for that, and this module only
builds its command line (the password travels in PGPASSWORD, never on the command line).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """Why the backup did not happen, in one line."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    pages: int


def default_target(url: str, now: dt.datetime) -> Path:
    stamp = now.strftime("%Y%m%d-%H%M%S")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        source = Path(parsed.database)
        return source.parent / "backups" / f"{source.stem}-{stamp}{source.suffix or '.sqlite3'}"
    return Path("backups") / f"{parsed.database or 'jobhub'}-{stamp}.dump"


def backup_sqlite(url: str, target: Path) -> Backup:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        raise BackupError(f"not an SQLite database file: {parsed.render_as_string(hide_password=True)}")
    source = Path(parsed.database)
    if not source.exists():
        raise BackupError(f"database file not found: {source}")
    if target.exists():
        raise BackupError(f"refusing to overwrite {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        # Read-only URI: a backup must never create or change the source.
        with sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30) as src, \
                sqlite3.connect(partial) as dst:
            # 1024 pages a step lets writers in between steps on a large database.
            src.backup(dst, pages=1024)
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"the copy failed its integrity check: {verdict}")
        partial.replace(target)
    except sqlite3.Error as exc:
        raise BackupError(f"backup failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size, int(pages))


def pg_dump_command(url: str, target: Path) -> tuple[list[str], dict[str, str]]:
    """The pg_dump call for a PostgreSQL URL, and the environment carrying the password."""
    parsed: URL = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise BackupError("not a PostgreSQL URL")
    argv = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"]
    if parsed.host:
        argv.append(f"--host={parsed.host}")
    if parsed.port:
        argv.append(f"--port={parsed.port}")
    if parsed.username:
        argv.append(f"--username={parsed.username}")
    argv.append(parsed.database or "postgres")
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return argv, env


def run_pg_dump(url: str, target: Path, pg_dump: str = "pg_dump") -> Backup:
    argv, extra = pg_dump_command(url, target)
    argv[0] = pg_dump
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(argv, env={**os.environ, **extra}, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupError(f"{pg_dump} not found; install the PostgreSQL client or run: "
                          f"{' '.join(pg_dump_command(url, target)[0])}") from exc
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise BackupError(f"pg_dump failed: {last}")
    return Backup(target, target.stat().st_size, 0)
