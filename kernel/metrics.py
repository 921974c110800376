"""Prometheus metrics of one worker, served at `GET /metrics` (`bot.channels.http`).

Counters and the latency histogram live in this process (`REGISTRY`): scrape every worker
on its own port, not through the load balancer, and let Prometheus sum them. The outbox
figures that are the same for every worker (rows due now, how late the oldest one is,
blocked chats) are read from the database at scrape time by `refresh`, so any worker
answers them right.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter("jobhub_updates", "Updates handled by the engine, by channel and outcome "
                  "(ok, duplicate, error, unavailable).", ["channel", "outcome"], registry=REGISTRY)
HANDLER_SECONDS = Histogram("jobhub_handler_seconds", "Time of one conversation turn, lock wait included.",
                            ["channel"], registry=REGISTRY,
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
OUTBOX_SENT = Counter("jobhub_outbox_sent", "Outbox messages delivered to the platform.", ["channel"],
                      registry=REGISTRY)
OUTBOX_FAILED = Counter("jobhub_outbox_failed", "Outbox messages given up (errors, retries exhausted).",
                        ["channel"], registry=REGISTRY)
RATE_LIMITED = Counter("jobhub_rate_limited", "Flood-control answers (HTTP 429, RetryAfter) from a platform.",
                       ["channel"], registry=REGISTRY)
BLOCKED = Counter("jobhub_blocked_users", "Recipients found to have blocked the bot.", ["channel"],
                  registry=REGISTRY)
OUTBOX_DUE = Gauge("jobhub_outbox_due", "Outbox messages due now and not sent yet (from the database).",
                   registry=REGISTRY)
OUTBOX_LAG = Gauge("jobhub_outbox_lag_seconds", "How long the oldest due outbox message has waited "
                   "(0 when none waits; from the database).", registry=REGISTRY)
BLOCKED_CHATS = Gauge("jobhub_blocked_chats", "Chats marked as having blocked the bot (from the database).",
                      registry=REGISTRY)


async def refresh(session: AsyncSession, now: dt.datetime) -> outbox.Backlog:
    """Read the database-wide gauges; returns the backlog for the health check too."""
    backlog = await outbox.backlog(session, now)
    OUTBOX_DUE.set(backlog.due)
    OUTBOX_LAG.set(backlog.lag_seconds)
    BLOCKED_CHATS.set(backlog.blocked_chats)
    return backlog


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
