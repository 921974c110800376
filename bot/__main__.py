"""Command line: `python -m bot [run | kakao | serve | shell | db upgrade | counselors import FILE]`.

Without a subcommand: Telegram when TELEGRAM_BOT_TOKEN is set, the console shell otherwise.

`run` starts the Telegram bot (long polling, or webhook when WEBHOOK_URL is set);
`kakao` starts the KakaoTalk skill server (with file links and /healthz);
`serve` runs Telegram (webhook when WEBHOOK_URL is set) and the KakaoTalk skill server in
one process, on one port (`bot.channels.http`);
`shell` chats with the bot in the terminal with no token, the newcomer's first contact;
`db upgrade` applies the schema migrations (the app also does it at every start);
`counselors import FILE` sets up counselors and their weekly hours from CSV/JSON (`bot.cli_counselors`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import ConfigError, Settings, load_settings

NO_KAKAO_SECRET = (
    "KAKAO_SKILL_SECRET is not set. Choose a long random value (e.g. `python -c 'import secrets; "
    "print(secrets.token_urlsafe(32))'`), put it in .env as KAKAO_SKILL_SECRET=..., and enter the same value "
    "in Open Builder's skill form as the value of the header named by KAKAO_SKILL_SECRET_HEADER."
)
NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather in Telegram (/newbot), put the token in .env "
    "as TELEGRAM_BOT_TOKEN=..., and run again. To try the bot without Telegram: python -m bot shell"
)


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # python-telegram-bot and httpx log every request at INFO, which would drown our own lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


async def _shell(settings: Settings, admin: bool, user: str) -> None:
    from bot.app import running
    from bot.channels.console import CHANNEL, ConsoleChannel

    extra = [(CHANNEL, user)] if admin else []
    async with running(settings, extra_admins=extra) as app:
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
    db.add_argument("action", choices=["upgrade"])
    staff = sub.add_parser("counselors", help="bulk set-up of counselors and their weekly hours")
    staff.add_argument("action", choices=["import"])
    staff.add_argument("file", help="CSV (UTF-8) or JSON list, one weekly window per row")
    args = parser.parse_args(argv)
    if args.cmd is None:
        args.admin, args.user = False, "local"

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _setup_logging(settings)
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
        elif args.cmd == "db":
            asyncio.run(_upgrade(settings))
            print("database is up to date")
        elif args.cmd == "counselors":
            from pathlib import Path

            from bot.cli_counselors import run_import

            return asyncio.run(run_import(settings, Path(args.file), sys.stdout))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        # Read-only or full disk, unreachable database: one clear line, non-zero exit.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
