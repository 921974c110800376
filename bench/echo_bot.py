"""A bare python-telegram-bot echo bot: the baseline for `bench/throughput.py`.

Long polling, one MessageHandler and one CallbackQueryHandler that answer at once:
a text is echoed in one message; a button press is answered (answerCallbackQuery, as
every bot must, so the client drops its spinner) and acknowledged with one message.
No database, no rate limiter, nothing else -- the cost of PTB + HTTP + the fake API.

Configured like the real bot, from the environment:

    TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL (".../bot"), TELEGRAM_CONCURRENCY (default 64,
    the JobHub default, so both bots handle as many updates at once),
    ECHO_ANSWER_CALLBACKS ("1" default; "0" skips answerCallbackQuery),
    ECHO_TRANSPORT ("httpx" default: PTB's own; "aiohttp": JobHub's `AiohttpRequest`), LOG_LEVEL.

Run by `bench/throughput.py`; on its own: `python bench/echo_bot.py`. Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("PTB_TIMEDELTA", "1")
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

ANSWER_CALLBACKS = os.environ.get("ECHO_ANSWER_CALLBACKS", "1") != "0"
TRANSPORT = os.environ.get("ECHO_TRANSPORT", "httpx")


async def on_text(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    if ANSWER_CALLBACKS:
        await query.answer()
    await context.bot.send_message(update.effective_chat.id, f"pressed {query.data}")


def build() -> Application:  # type: ignore[type-arg]
    base_url = os.environ.get("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot").rstrip("/")
    if not base_url.endswith("/bot"):
        base_url += "/bot"
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(base_url)
        .base_file_url(base_url.removesuffix("/bot") + "/file/bot")
    )
    if TRANSPORT == "aiohttp":
        # The transport JobHub uses (bot/channels/telegram_http.py), for a like-for-like comparison.
        from bot.channels.telegram_http import AiohttpRequest

        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(connections=1))
    elif TRANSPORT != "httpx":
        raise SystemExit(f"ECHO_TRANSPORT must be httpx or aiohttp, not {TRANSPORT!r}")
    concurrency = int(os.environ.get("TELEGRAM_CONCURRENCY", "64"))
    if concurrency > 1:
        builder = builder.concurrent_updates(concurrency)
    # TELEGRAM_CONCURRENCY=1 keeps PTB's default: updates handled one at a time (a bare echo bot).
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, on_text))
    app.add_handler(CallbackQueryHandler(on_press))
    return app


def main() -> int:
    if not os.environ.get("TELEGRAM_BOT_TOKEN"):
        print("TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Same polling parameters as bot.channels.telegram.connect.
    build().run_polling(allowed_updates=["message", "callback_query"], poll_interval=0.0, timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
