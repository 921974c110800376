"""APScheduler set-up: the outbox tick and the housekeeping jobs, registered at every start.

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

from kernel.config import Settings, parse_hhmm
from kernel.core import Clock
from scheduler import agenda, digest, events, surveys
from scheduler.outbox import Dispatcher
from storage import conversations

log = logging.getLogger(__name__)

QueueingJob = Callable[[async_sessionmaker[AsyncSession], Settings, Clock], Awaitable[int]]


class Scheduler:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], dispatcher: Dispatcher, *, clock: Clock,
        periodic: Sequence[tuple[str, QueueingJob, float]] = (),
    ) -> None:
        """`periodic`: (id, job, seconds) for jobs that live above this package (features' own
        sweeps, registered by `bot.app`), so scheduler/ never imports handlers/."""
        self.periodic = list(periodic)
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
        aps.add_job(self._tracked(self.sweep_drafts), "interval", minutes=30, id="drafts", **once)
        aps.add_job(self._tracked(self._job(events.expire_offers)), "interval",
                    seconds=events.EXPIRY_INTERVAL_SECONDS, id="event-offers", **once)
        for job_id, job, seconds in self.periodic:
            aps.add_job(self._tracked(self._job(job)), "interval", seconds=seconds, id=job_id, **once)
        agenda_at = parse_hhmm(self.settings.agenda_time)
        # The dedupe key keeps the agenda to once a day, so a late start may still send it.
        aps.add_job(self._tracked(self._job(agenda.send_daily_agenda)), "cron", day_of_week="mon-fri",
                    hour=agenda_at // 60, minute=agenda_at % 60, id="agenda", max_instances=1, coalesce=True,
                    misfire_grace_time=3600)
        aps.add_job(self._tracked(self._job(surveys.invite_attendees)), "interval",
                    seconds=surveys.SWEEP_INTERVAL_SECONDS, id="survey-sweep", **once)
        # Follow-ups go out in the morning; the unique (person, trigger) rule makes a catch-up run harmless.
        aps.add_job(self._tracked(self._job(surveys.invite_followups)), "cron", hour=surveys.FOLLOWUP_HOUR,
                    id="survey-followups", max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
        digest_at = self.settings.digest_at
        if digest_at is not None:
            day, hour, minute = digest_at
            aps.add_job(self._tracked(self._job(digest.send_weekly_digest)), "cron", day_of_week=day, hour=hour,
                        minute=minute, id="digest", max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
        aps.start()
        self._aps = aps
        self.dispatcher.on_kick = self._kick

    def _job(self, job: QueueingJob) -> Callable[[], Awaitable[int]]:
        """A job with this app's sessions, settings and clock. What it queues goes out at its
        commit (`storage.outbox.wake_on_commit`), not at the dispatcher's next tick."""

        async def run() -> int:
            return await job(self.sessions, self.settings, self.clock)

        run.__name__ = getattr(job, "__name__", "job")
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

    async def sweep_drafts(self) -> int:
        """Forget drafts older than the promised time (DRAFT_TTL_HOURS)."""
        cutoff = self.clock.now() - dt.timedelta(hours=self.settings.draft_ttl_hours)
        async with self.sessions() as session, session.begin():
            dropped = await conversations.drop_stale(session, cutoff)
        if dropped:
            log.info("dropped %s stale drafts", dropped)
        return dropped
