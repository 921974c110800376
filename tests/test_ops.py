"""Operations: `python -m bot db backup` on SQLite (online) and PostgreSQL (pg_dump), and the log format."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import logs
from storage.backup import BackupError, backup_sqlite, pg_dump_command, run_pg_dump
from storage.db import create_engine
from storage.migrate import upgrade
from tests.pg import find_pg_bin
from tests.test_config_cli import _cli

NOW = "'2026-11-26 00:00:00'"


@pytest.mark.slow
def test_backup_copies_a_live_sqlite_database_and_checks_it(tmp_path: Path) -> None:
    assert _cli(tmp_path, "db", "upgrade").returncode == 0
    live = sqlite3.connect(tmp_path / "cli.sqlite3")
    live.execute(f"INSERT INTO users (locale, role, created_at, last_seen_at) VALUES ('ko', 'user', {NOW}, {NOW})")
    live.commit()
    # A reader holding the database open, as the running bot does, must not stop the backup.
    live.execute("BEGIN")
    live.execute("SELECT count(*) FROM users").fetchone()

    result = _cli(tmp_path, "db", "backup", "--out", "copy.sqlite3")
    live.rollback()
    live.close()

    assert result.returncode == 0, result.stderr
    assert "backup written" in result.stdout and "copy.sqlite3" in result.stdout
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("SELECT count(*) FROM users").fetchone()[0] == 1
    assert copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    copy.close()
    assert not list(tmp_path.glob("*.partial"))

    again = _cli(tmp_path, "db", "backup", "--out", "copy.sqlite3")
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert again.stderr.strip().count("\n") == 0


@pytest.mark.slow
def test_backup_by_default_goes_to_a_dated_file_beside_the_database(tmp_path: Path) -> None:
    assert _cli(tmp_path, "db", "upgrade").returncode == 0
    result = _cli(tmp_path, "db", "backup")
    assert result.returncode == 0, result.stderr
    [made] = list((tmp_path / "backups").glob("cli-*.sqlite3"))
    assert sqlite3.connect(made).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
def test_backup_of_a_missing_database_says_so_in_one_line(tmp_path: Path) -> None:
    result = _cli(tmp_path, "db", "backup", DATABASE_URL=f"sqlite:///{tmp_path / 'nothing.sqlite3'}")
    assert result.returncode == 1
    assert "not found" in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "nothing.sqlite3").exists()


def test_backup_refuses_a_non_sqlite_url_for_the_sqlite_path(tmp_path: Path) -> None:
    with pytest.raises(BackupError):
        backup_sqlite("postgresql+asyncpg://u@h/db", tmp_path / "x")


def test_pg_dump_line_keeps_the_password_out_of_the_arguments() -> None:
    argv, env = pg_dump_command("postgresql+asyncpg://jobhub:s3cret@db.internal:5433/jobhub", Path("b.dump"))
    assert argv == ["pg_dump", "--format=custom", "--no-owner", "--file=b.dump", "--host=db.internal",
                    "--port=5433", "--username=jobhub", "jobhub"]
    assert env == {"PGPASSWORD": "s3cret"} and not any("s3cret" in a for a in argv)


@pytest.mark.slow
async def test_pg_dump_backs_up_a_postgresql_database(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL path")
    pg_bin = find_pg_bin()
    assert pg_bin is not None
    engine = create_engine(db_url)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO users (locale, role, created_at, last_seen_at) "
                                "VALUES ('ko', 'user', now(), now())"))
    await engine.dispose()

    done = run_pg_dump(db_url, tmp_path / "pg.dump", str(pg_bin / "pg_dump"))
    assert done.size > 0
    listing = shutil.which("pg_restore") or str(pg_bin / "pg_restore")
    import subprocess

    toc = subprocess.run([listing, "--list", str(done.path)], capture_output=True, text=True, check=True).stdout
    assert "TABLE DATA public users" in toc


def test_json_logs_carry_the_request_id_and_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.setup("INFO", "json")
        with logs.request_scope("tg-4711"):
            logging.getLogger("handlers.events").info("event registration event=%s user=%s", 3, 9)
        logging.getLogger("scheduler").warning("outside any request")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["request_id"] == "tg-4711" and lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "handlers.events" and lines[0]["message"] == "event registration event=3 user=9"
    assert lines[1]["request_id"] == "-" and lines[1]["level"] == "WARNING"
