"""The one HTTP server of a process: Telegram's webhook, the KakaoTalk skill, file links, health.

`serve()` is what `python -m bot run | kakao | serve` start: the app's lifespan
(`bot.app.running`), the channels asked for, and one aiohttp Application on
`WEBHOOK_LISTEN:WEBHOOK_PORT` carrying every route, so a load balancer or TLS proxy
has one upstream per worker. The server is only started when a route needs it
(Telegram in polling mode alone needs none).

`GET /healthz` answers 200 with `{"status": "ok", ...}` when the database answers a
query within 2 seconds, the scheduler runs and the oldest due outbox message has not
waited longer than HEALTH_MAX_OUTBOX_LAG_SECONDS, otherwise 503 with what failed: what a
load balancer's health check or a container orchestrator needs. `GET /metrics` serves
`kernel.metrics` in the Prometheus text format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from bot.app import App, running
from bot.channels import boundary
from kernel import metrics
from kernel.config import Settings

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 2.0


def base_app(app: App, *, max_body: int = 1 << 20) -> web.Application:
    boundary.quiet_unreadable_requests()
    web_app = web.Application(client_max_size=max_body)

    async def health(_request: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        lag: float | None = None
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT), app.sessions() as session:
                lag = (await metrics.refresh(session, app.engine.clock.now())).lag_seconds
            checks["database"] = "ok"
        except Exception as exc:  # any failure is the answer here, never a traceback
            checks["database"] = f"error: {type(exc).__name__}"
        checks["scheduler"] = "ok" if app.scheduler.alive else "stopped"
        if lag is not None:
            # Due messages waiting longer than this: the sender is stuck or far behind.
            checks["outbox"] = "ok" if lag <= app.settings.health_max_outbox_lag_seconds else "lagging"
        healthy = all(v == "ok" for v in checks.values()) and lag is not None
        return web.json_response({"status": "ok" if healthy else "unavailable", **checks,
                                  "outbox_lag_seconds": None if lag is None else round(lag, 1)},
                                 status=200 if healthy else 503)

    async def scrape(_request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT), app.sessions() as session:
                await metrics.refresh(session, app.engine.clock.now())
        except Exception as exc:  # the process's own counters are still worth serving
            log.warning("metrics: database figures not read: %s", type(exc).__name__)
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    web_app.router.add_get("/healthz", health)
    web_app.router.add_get("/metrics", scrape)
    return web_app


async def serve(settings: Settings, *, telegram: bool, kakao: bool, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set)."""
    from bot.channels import kakao as kakao_channel
    from bot.channels import telegram as telegram_channel

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows / not main thread
            loop.add_signal_handler(sig, stop.set)
    async with running(settings) as app:
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
            if kakao or (telegram and settings.webhook_mode):
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
