"""Command line: `python -m bot COMMAND`; `python -m bot --help` lists them.

Without a subcommand: Telegram when TELEGRAM_BOT_TOKEN is set, the console shell otherwise.

`run` starts the Telegram bot (long polling, or webhook when WEBHOOK_URL is set);
`kakao` starts the KakaoTalk skill server (with file links and /healthz);
`serve` runs Telegram (webhook when WEBHOOK_URL is set) and the KakaoTalk skill server in
one process, on one port (`bot.cli.serve`);
`shell` chats with the bot in the terminal with no token, the newcomer's first contact (`bot.cli.shell`);
`db upgrade` applies the schema migrations (the app also does it at every start);
`db backup [--out FILE]` copies the database while the bot runs (`bot.cli.db`, `storage.backup`);
`counselors import FILE` sets up counselors and their weekly hours from CSV/JSON (`bot.cli.counselors`);
`firms import FILE` imports vetted firms and postings, `firms demo` loads the demo set (`bot.cli.firms`).
`courses import [FILE]` imports the 기술교육원 courses (`bot.cli.courses`; without FILE the packaged sample).
Every start (shell, run, kakao, serve) loads the demo set when there are no firms, unless DEMO_DATA=false.
`report --from YYYY-MM-DD --to YYYY-MM-DD --out FILE` writes the KPI report as CSV or XLSX (`bot.cli.report`).
`retention [--dry-run]` pseudonymises people inactive beyond RETENTION_MONTHS (`bot.cli.retention`).
`nlu TEXT | --jsonl | misses --out FILE` tries the free-text matcher and exports what it missed;
`faq import FILE | export [--out FILE]` manages the answered questions (`bot.cli.nlu`).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import logs
from bot.cli import counselors, courses, db, firms, nlu, report, retention, serve, shell
from kernel.config import ConfigError, load_settings

NO_KAKAO_SECRET = (
    "KAKAO_SKILL_SECRET is not set. Choose a long random value (e.g. `python -c 'import secrets; "
    "print(secrets.token_urlsafe(32))'`), put it in .env as KAKAO_SKILL_SECRET=..., and enter the same value "
    "in Open Builder's skill form as the value of the header named by KAKAO_SKILL_SECRET_HEADER."
)
NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather in Telegram (/newbot), put the token in .env "
    "as TELEGRAM_BOT_TOKEN=..., and run again. To try the bot without Telegram: python -m bot shell"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="JobHub chatbot")
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("run", help="run the Telegram bot (polling, or webhook when WEBHOOK_URL is set)")
    sub.add_parser("kakao", help="run the KakaoTalk skill server (Kakao i Open Builder)")
    sub.add_parser("serve", help="run Telegram and the KakaoTalk skill server in one process, on one port")
    shell = sub.add_parser("shell", help="chat with the bot in this terminal (no token needed)")
    shell.add_argument("--admin", action="store_true", help="act as an admin (approve applications)")
    shell.add_argument("--user", default="local", help="console user id (to play several people)")
    database = sub.add_parser("db", help="database maintenance")
    database.add_argument("action", choices=["upgrade", "backup"])
    database.add_argument("--out", help="backup: where to write the copy (default: a dated file under backups/)")
    staff = sub.add_parser("counselors", help="bulk set-up of counselors and their weekly hours")
    staff.add_argument("action", choices=["import"])
    staff.add_argument("file", help="CSV (UTF-8) or JSON list, one weekly window per row")
    companies = sub.add_parser("firms", help="vetted firms and their postings")
    companies.add_argument("action", choices=["import", "demo"])
    companies.add_argument("file", nargs="?", help="import: CSV/JSON file; demo: write the demo set here instead")
    training = sub.add_parser("courses", help="기술교육원 courses")
    training.add_argument("action", choices=["import"])
    training.add_argument("file", nargs="?", help="CSV/JSON file (default: the packaged sample courses)")
    kpi = sub.add_parser("report", help="write the KPI report for a period as .csv or .xlsx")
    kpi.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
    kpi.add_argument("--to", dest="last", required=True, help="last day (included), YYYY-MM-DD")
    kpi.add_argument("--out", required=True, help="output file; .csv or .xlsx picks the format")
    keep = sub.add_parser("retention", help="pseudonymise people inactive beyond RETENTION_MONTHS (also run daily)")
    keep.add_argument("--dry-run", action="store_true", help="count what would change, change nothing")
    words = sub.add_parser("nlu", help="what the bot understands in free text: nlu TEXT, nlu --jsonl, nlu misses --out")
    words.add_argument("text", nargs="*", help="the text (or: misses)")
    words.add_argument("--jsonl", action="store_true", help="one text a line on standard input, one JSON a line out")
    words.add_argument("--faq", help="an FAQ file to try instead of the shipped one")
    words.add_argument("--out", help="misses: the CSV file to write")
    questions = sub.add_parser("faq", help="the questions the bot answers: import FILE, export [--out FILE]")
    questions.add_argument("action", choices=["import", "export"])
    questions.add_argument("file", nargs="?", help="import: the FAQ JSON file")
    questions.add_argument("--out", help="export: write here instead of standard output")
    return parser


def main(argv: list[str] | None = None) -> int:
    cli = build_parser()
    args = cli.parse_args(argv)
    if args.cmd == "firms" and args.action == "import" and not args.file:
        cli.error("firms import needs a FILE")
    if args.cmd == "faq" and args.action == "import" and not args.file:
        cli.error("faq import needs a FILE")
    if args.cmd == "nlu" and args.text[:1] == ["misses"] and not args.out:
        cli.error("nlu misses needs --out FILE")
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
            asyncio.run(serve.run(settings))
        elif args.cmd in ("kakao", "serve"):
            if not settings.kakao_skill_secret:
                print(NO_KAKAO_SECRET, file=sys.stderr)
                return 2
            telegram = args.cmd == "serve" and bool(settings.telegram_bot_token)
            asyncio.run(serve.serve(settings, telegram=telegram, kakao=True))
        elif args.cmd == "shell":
            asyncio.run(shell.run(settings, args.admin, args.user))
        elif args.cmd == "db" and args.action == "backup":
            return db.backup(settings, args.out)
        elif args.cmd == "db":
            asyncio.run(db.upgrade(settings))
            print("database is up to date")
        elif args.cmd == "counselors":
            return asyncio.run(counselors.run_import(settings, Path(args.file), sys.stdout))
        elif args.cmd == "firms":
            return asyncio.run(firms.run(settings, args.action, args.file, sys.stdout, sys.stderr))
        elif args.cmd == "courses":
            return asyncio.run(courses.run_import(settings, args.file, sys.stdout, sys.stderr))
        elif args.cmd == "retention":
            return asyncio.run(retention.run(settings, args.dry_run))
        elif args.cmd == "nlu" and args.text[:1] == ["misses"]:
            return asyncio.run(nlu.export_misses(settings, args.out, sys.stdout))
        elif args.cmd == "nlu":
            return nlu.classify(settings, args.text, args.jsonl, args.faq, sys.stdin, sys.stdout)
        elif args.cmd == "faq" and args.action == "import":
            return asyncio.run(nlu.import_faq(settings, args.file, sys.stdout, sys.stderr))
        elif args.cmd == "faq":
            return asyncio.run(nlu.export_faq(settings, args.file or args.out, sys.stdout))
        elif args.cmd == "report":
            return asyncio.run(report.run_report(settings, args.first, args.last, args.out, sys.stdout))
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
    cause = getattr(exc, "orig", None) or exc
    reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    where = make_url(url).render_as_string(hide_password=True)
    hint = "check that its disk has room and the location is writable" if url.startswith("sqlite") else (
        "check that the server runs and DATABASE_URL is right")
    return f"cannot use the database {where}: {reason}; {hint}"
