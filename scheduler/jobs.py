"""APScheduler set-up: the outbox tick and the housekeeping jobs, registered at every start.

The outbox table, not APScheduler's job store, is the durable truth: jobs are plain
functions re-registered on start, so nothing is lost when the process restarts.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core import Clock
from scheduler.outbox import Dispatcher
from storage import conversations

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], dispatcher: Dispatcher, *, clock: Clock
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.clock = clock
        self._aps: AsyncIOScheduler | None = None

    def start(self) -> None:
        aps = AsyncIOScheduler(timezone=self.settings.tz)
        now = dt.datetime.now(self.settings.tz)
        aps.add_job(self.dispatcher.run_once, "interval", seconds=self.settings.outbox_tick_seconds, id="outbox",
                    max_instances=1, coalesce=True, next_run_time=now)
        aps.add_job(self.sweep_drafts, "interval", minutes=30, id="drafts", max_instances=1, coalesce=True,
                    next_run_time=now)
        aps.start()
        self._aps = aps
        self.dispatcher.on_kick = self._kick

    def _kick(self) -> None:
        if self._aps is not None and self._aps.running:
            job = self._aps.get_job("outbox")
            if job is not None:
                job.modify(next_run_time=dt.datetime.now(self.settings.tz))

    def shutdown(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None

    @property
    def alive(self) -> bool:
        return self._aps is not None and self._aps.running

    async def sweep_drafts(self) -> int:
        """Forget drafts older than the promised time (DRAFT_TTL_HOURS)."""
        cutoff = self.clock.now() - dt.timedelta(hours=self.settings.draft_ttl_hours)
        async with self.sessions() as session, session.begin():
            dropped = await conversations.drop_stale(session, cutoff)
        if dropped:
            log.info("dropped %s stale drafts", dropped)
        return dropped
