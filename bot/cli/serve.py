"""`python -m bot run | kakao | serve`: the app, the channels asked for, one HTTP server.

`serve()` starts the app's lifespan (`bot.app.running`), the channels asked for, and one
aiohttp Application on `WEBHOOK_LISTEN:WEBHOOK_PORT` carrying every route (health and
metrics from `bot.channels.http`, Telegram's webhook, the KakaoTalk skill and its file
links), so a load balancer or TLS proxy has one upstream per worker. The server is only
started when a route needs it (Telegram in polling mode alone needs none, unless the staff
console is on: CONSOLE_ENABLED). `run` is
Telegram alone, `kakao` the skill server alone, `serve` both in one process. Each of them, as
the shell does, first loads the demo firms and postings when there are no firms at all, unless
`DEMO_DATA=false`: `/jobs` on a fresh machine shows matches, not an empty list.

The channels are put together here, above them, so that the web server module and the
Telegram channel need not import each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from bot.app import running
from bot.channels import kakao as kakao_channel
from bot.channels import telegram as telegram_channel
from bot.channels.http import base_app
from bot.cli import courses as courses_cli
from bot.cli.firms import demo_if_empty
from kernel.config import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, telegram: bool, kakao: bool, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows / not main thread
            loop.add_signal_handler(sig, stop.set)
    async with running(settings) as app:
        if settings.demo_data:
            loaded = await demo_if_empty(app.sessions, app.engine.clock.now(), settings.tz)
            if loaded is not None:
                log.info("no firms yet: loaded the demo set (%s firms, %s postings; DEMO_DATA=false to skip)",
                         loaded.firms.added, loaded.postings.added)
            added = await courses_cli.sample_if_empty(app.sessions, app.engine.clock.now(), settings.tz)
            if added is not None:
                log.info("no courses yet: loaded the sample (%s courses; DEMO_DATA=false to skip)", added)
        web_app = base_app(app)
        tg: telegram_channel.TelegramChannel | None = None
        notifier = kakao_channel.notifier(settings, app.sessions, app.engine.clock) if kakao else None
        runner: web.AppRunner | None = None
        try:
            if telegram:
                tg = await telegram_channel.start(app)
                if settings.webhook_mode:
                    telegram_channel.add_webhook(web_app, tg, settings)
            if kakao:
                if not settings.public_base_url:
                    log.warning("PUBLIC_BASE_URL is not set: file links in KakaoTalk point at %s", settings.base_url)
                kakao_channel.KakaoSkill(app.engine, settings).routes(web_app)
                if notifier is not None:
                    app.dispatcher.add_notifier(notifier)
            if kakao or (telegram and settings.webhook_mode) or settings.console_enabled:
                runner = web.AppRunner(web_app, access_log=None)
                await runner.setup()
                await web.TCPSite(runner, settings.webhook_listen, settings.webhook_port).start()
                log.info("HTTP server on %s:%s", settings.webhook_listen, settings.webhook_port)
            if tg is not None:
                await telegram_channel.connect(tg, settings)
            await stop.wait()
        finally:
            if runner is not None:
                await runner.cleanup()
            if tg is not None:
                await telegram_channel.stop(tg)
            if notifier is not None:
                await notifier.close()


async def run(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`python -m bot run`: Telegram alone (polling, or the webhook on the shared HTTP server)."""
    await serve(settings, telegram=True, kakao=False, stop=stop)
