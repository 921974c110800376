"""The one HTTP server of a process: the routes every worker serves, health and metrics.

`base_app()` is the aiohttp Application that `bot.cli.serve` (`python -m bot run | kakao |
serve`) starts on `WEBHOOK_LISTEN:WEBHOOK_PORT`, after the channels asked for have added
their routes to it (Telegram's webhook, the KakaoTalk skill and its file links). The staff
web console (`bot.web`, under /console) is mounted here unless CONSOLE_ENABLED=false. This
module knows no channel, and no channel imports it.

`GET /healthz` answers 200 with `{"status": "ok", ...}` when the database answers a
query within 2 seconds, the scheduler runs and the oldest due outbox message has not
waited longer than HEALTH_MAX_OUTBOX_LAG_SECONDS, otherwise 503 with what failed: what a
load balancer's health check or a container orchestrator needs. `GET /metrics` serves
`kernel.metrics` in the Prometheus text format.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot import web as console
from bot.app import App
from bot.channels import boundary
from kernel import metrics

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
    if app.settings.console_enabled:
        console.mount(web_app, app)
    return web_app
