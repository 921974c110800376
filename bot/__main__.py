"""Command line: `python -m bot COMMAND`; `python -m bot --help` lists them.

Without a subcommand: Telegram when TELEGRAM_BOT_TOKEN is set, the console shell otherwise.

`run` starts the Telegram bot (long polling, or webhook when WEBHOOK_URL is set);
`kakao` starts the KakaoTalk skill server (with file links and /healthz);
`serve` runs Telegram (webhook when WEBHOOK_URL is set) and the KakaoTalk skill server in
one process, on one port (`bot.channels.http`);
`shell` chats with the bot in the terminal with no token, the newcomer's first contact;
`db upgrade` applies the schema migrations (the app also does it at every start);
`db backup [--out FILE]` copies the database while the bot runs (`storage.backup`);
`counselors import FILE` sets up counselors and their weekly hours from CSV/JSON (`bot.cli_counselors`);
`firms import FILE` imports vetted firms and postings, `firms demo` loads the demo set (`bot.cli_firms`).
The shell loads the demo set by itself when the firm table is empty, so `/jobs` shows matches.
`report --from YYYY-MM-DD --to YYYY-MM-DD --out FILE` writes the KPI report as CSV or XLSX (`bot.cli_report`).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys

from sqlalchemy.exc import SQLAlchemyError

from bot import logs
from kernel.config import ConfigError, Settings, load_settings

NO_KAKAO_SECRET = (
    "KAKAO_SKILL_SECRET is not set. Choose a long random value (e.g. `python -c 'import secrets; "
    "print(secrets.token_urlsafe(32))'`), put it in .env as KAKAO_SKILL_SECRET=..., and enter the same value "
    "in Open Builder's skill form as the value of the header named by KAKAO_SKILL_SECRET_HEADER."
)
NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather in Telegram (/newbot), put the token in .env "
    "as TELEGRAM_BOT_TOKEN=..., and run again. To try the bot without Telegram: python -m bot shell"
)


async def _shell(settings: Settings, admin: bool, user: str) -> None:
    from bot.app import running
    from bot.channels.console import CHANNEL, ConsoleChannel

    extra = [(CHANNEL, user)] if admin else []
    async with running(settings, extra_admins=extra) as app:
        from bot.cli_firms import demo_if_empty
        from kernel.i18n import translator

        loaded = await demo_if_empty(app.sessions, app.engine.clock.now(), settings.tz)
        if loaded is not None:
            print(translator(settings.default_locale)("import.demo_loaded", firms=loaded.firms.added,
                                                      postings=loaded.postings.added))
        console = ConsoleChannel(app.engine, user=user)
        app.dispatcher.add_notifier(console)
        await console.run()


async def _upgrade(settings: Settings) -> None:
    from storage.db import create_engine
    from storage.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _retention(settings: Settings, dry_run: bool) -> int:
    from bot.app import apply_retention
    from kernel.core import SystemClock
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        report = await apply_retention(session_factory(engine), settings, SystemClock(), dry_run=dry_run)
    finally:
        await engine.dispose()
    print(("dry run, nothing changed; would affect:" if dry_run else "retention done:")
          + f" inactive for over {settings.retention_months} months, outbox kept {settings.outbox_keep_days} days")
    for line in report.lines():
        print("  " + line)
    return 0


def _backup(settings: Settings, out: str | None) -> int:
    import datetime as dt
    import shutil
    from pathlib import Path

    from storage.backup import BackupError, backup_sqlite, default_target, run_pg_dump

    url = settings.database_url
    target = Path(out) if out else default_target(url, dt.datetime.now())
    try:
        if url.startswith("sqlite"):
            done = backup_sqlite(url, target)
        else:
            done = run_pg_dump(url, target, shutil.which("pg_dump") or "pg_dump")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backup written: {done.path} ({done.size:,} bytes)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="JobHub chatbot")
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("run", help="run the Telegram bot (polling, or webhook when WEBHOOK_URL is set)")
    sub.add_parser("kakao", help="run the KakaoTalk skill server (Kakao i Open Builder)")
    sub.add_parser("serve", help="run Telegram and the KakaoTalk skill server in one process, on one port")
    shell = sub.add_parser("shell", help="chat with the bot in this terminal (no token needed)")
    shell.add_argument("--admin", action="store_true", help="act as an admin (approve applications)")
    shell.add_argument("--user", default="local", help="console user id (to play several people)")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade", "backup"])
    db.add_argument("--out", help="backup: where to write the copy (default: a dated file under backups/)")
    staff = sub.add_parser("counselors", help="bulk set-up of counselors and their weekly hours")
    staff.add_argument("action", choices=["import"])
    staff.add_argument("file", help="CSV (UTF-8) or JSON list, one weekly window per row")
    companies = sub.add_parser("firms", help="vetted firms and their postings")
    companies.add_argument("action", choices=["import", "demo"])
    companies.add_argument("file", nargs="?", help="import: CSV/JSON file; demo: write the demo set here instead")
    report = sub.add_parser("report", help="write the KPI report for a period as .csv or .xlsx")
    report.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="last", required=True, help="last day (included), YYYY-MM-DD")
    report.add_argument("--out", required=True, help="output file; .csv or .xlsx picks the format")
    keep = sub.add_parser("retention", help="pseudonymise people inactive beyond RETENTION_MONTHS (also run daily)")
    keep.add_argument("--dry-run", action="store_true", help="count what would change, change nothing")
    args = parser.parse_args(argv)
    if args.cmd == "firms" and args.action == "import" and not args.file:
        parser.error("firms import needs a FILE")
    if args.cmd is None:
        args.admin, args.user = False, "local"

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.log_level, settings.log_format, secrets=settings.secret_values)
    if args.cmd is None:
        args.cmd = "run" if settings.telegram_bot_token else "shell"
    try:
        if args.cmd == "run":
            if not settings.telegram_bot_token:
                print(NO_TOKEN, file=sys.stderr)
                return 2
            from bot.channels.telegram import run

            asyncio.run(run(settings))
        elif args.cmd in ("kakao", "serve"):
            if not settings.kakao_skill_secret:
                print(NO_KAKAO_SECRET, file=sys.stderr)
                return 2
            from bot.channels.http import serve

            telegram = args.cmd == "serve" and bool(settings.telegram_bot_token)
            asyncio.run(serve(settings, telegram=telegram, kakao=True))
        elif args.cmd == "shell":
            asyncio.run(_shell(settings, args.admin, args.user))
        elif args.cmd == "db" and args.action == "backup":
            return _backup(settings, args.out)
        elif args.cmd == "db":
            asyncio.run(_upgrade(settings))
            print("database is up to date")
        elif args.cmd == "counselors":
            from pathlib import Path

            from bot.cli_counselors import run_import

            return asyncio.run(run_import(settings, Path(args.file), sys.stdout))
        elif args.cmd == "firms":
            from bot.cli_firms import run as run_firms

            return asyncio.run(run_firms(settings, args.action, args.file, sys.stdout, sys.stderr))
        elif args.cmd == "retention":
            return asyncio.run(_retention(settings, args.dry_run))
        elif args.cmd == "report":
            from bot.cli_report import run_report

            return asyncio.run(run_report(settings, args.first, args.last, args.out, sys.stdout))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        # Read-only or full disk, unreachable database: one clear line, non-zero exit.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, SQLAlchemyError) as exc:
        print(f"error: {_database_problem(settings.database_url, exc)}", file=sys.stderr)
        return 1
    return 0


def _database_problem(url: str, exc: BaseException) -> str:
    """One line for a database that cannot be opened or written at start (the driver's words, no SQL)."""
    from sqlalchemy.engine import make_url

    cause = getattr(exc, "orig", None) or exc
    reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    where = make_url(url).render_as_string(hide_password=True)
    hint = "check that its disk has room and the location is writable" if url.startswith("sqlite") else (
        "check that the server runs and DATABASE_URL is right")
    return f"cannot use the database {where}: {reason}; {hint}"


if __name__ == "__main__":
    sys.exit(main())
