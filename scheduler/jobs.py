"""APScheduler set-up: the outbox tick and the periodic jobs the routers declare, registered at every start.

The outbox table, not APScheduler's job store, is the durable truth: jobs are plain
functions re-registered on start, so nothing is lost when the process restarts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.config import Settings
from kernel.core import Clock, Job
from scheduler.outbox import Dispatcher

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], dispatcher: Dispatcher, *, clock: Clock,
        jobs: Sequence[Job] = (),
    ) -> None:
        """`jobs`: what the routers (and channels) declare, collected by `bot.app`, so scheduler/
        never imports handlers/; each job's name is its APScheduler id."""
        self.jobs = list(jobs)
        self.settings = settings
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.clock = clock
        self._aps: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()

    def _tracked(self, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        """Wrap a job so shutdown can wait for it: a job cancelled mid-query would leave
        a database connection (and, on SQLite, its thread) behind."""

        async def run() -> Any:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                return await job()
            finally:
                self._running.discard(task)

        run.__name__ = getattr(job, "__name__", "job")
        return run

    def start(self) -> None:
        aps = AsyncIOScheduler(timezone=self.settings.tz)
        now = dt.datetime.now(self.settings.tz)
        once = {"max_instances": 1, "coalesce": True, "next_run_time": now}
        aps.add_job(self._tracked(self.dispatcher.run_once), "interval", seconds=self.settings.outbox_tick_seconds,
                    id="outbox", **once)
        for job in self.jobs:
            run = self._tracked(self._job(job))
            if job.every is not None:
                aps.add_job(run, "interval", seconds=job.every, id=job.name, **once)
                continue
            assert job.at is not None
            at = job.at(self.settings)
            if at is None:  # turned off in the settings
                continue
            aps.add_job(run, "cron", day_of_week=at.days, hour=at.hour, minute=at.minute, id=job.name,
                        max_instances=1, coalesce=True, misfire_grace_time=at.grace)
        aps.start()
        self._aps = aps
        self.dispatcher.on_kick = self._kick

    def _job(self, job: Job) -> Callable[[], Awaitable[int]]:
        """A job with this app's sessions, settings and clock. What it queues goes out at its
        commit (`storage.outbox.wake_on_commit`), not at the dispatcher's next tick."""

        async def run() -> int:
            return await job.run(self.sessions, self.settings, self.clock)

        run.__name__ = getattr(job.run, "__name__", job.name)
        return run

    def _kick(self) -> None:
        if self._aps is not None and self._aps.running:
            job = self._aps.get_job("outbox")
            if job is not None:
                job.modify(next_run_time=dt.datetime.now(self.settings.tz))

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop scheduling, let the jobs in flight finish (bounded), then shut down.

        The dispatcher is told to stop first: a run working through a backlog would
        otherwise keep sending for minutes; told to stop, it hands the rows it claimed
        but did not send back to the outbox and returns. APScheduler's asyncio executor
        cancels running jobs on shutdown, so wait first. The dispatcher's leader lock is
        given up last, once nothing of this process sends any more.
        """
        self.dispatcher.stop()
        aps, self._aps = self._aps, None
        if aps is not None and aps.running:
            aps.pause()
            if self._running:
                await asyncio.wait(set(self._running), timeout=timeout)
            aps.shutdown(wait=False)
        await self.dispatcher.close()

    @property
    def alive(self) -> bool:
        return self._aps is not None and self._aps.running
