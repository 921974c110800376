"""The whole bot assembled in one place: the features, in order, and the app's lifespan.

`ROUTERS` is the table of contents of the bot. `running()` is the single start-up and
shut-down path every channel uses: open the database, upgrade the schema, build the
engine, start the outbox dispatcher and the scheduler, and undo it all on exit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels import kakao_tasks
from bot.engine import Engine
from handlers import (
    booking,
    broadcast,
    campus,
    clinic,
    console_signin,
    counselor,
    courses,
    demoday,
    frontdoor,
    handoff,
    link,
    mentoring,
    start,
    stats,
    surveys,
    workspace,
)
from handlers import settings as preferences
from handlers.events import admin as events_admin
from handlers.events import public as events
from handlers.jobs import firms, postings, referrals, registration
from handlers.membership import apply as membership
from handlers.membership import review as membership_review
from kernel.config import Settings
from kernel.core import Clock, Job, Router, SystemClock
from scheduler.jobs import Scheduler
from scheduler.outbox import Dispatcher, Notifier
from storage import conversations, faq, files, outbox, retention, staff, survey_defs, updates
from storage import kakao as kakao_pages
from storage.db import create_engine, session_factory
from storage.migrate import upgrade

log = logging.getLogger(__name__)

# How often the app's upkeep purges what has merely run out: a file link past its time is refused
# where it is read (`files.fetch`) and a handled update id is kept for days, so a purge an hour
# late costs only room.
PURGE_INTERVAL_SECONDS = 3600
# Forgetting drafts past DRAFT_TTL_HOURS: a person back after that starts over anyway (the engine
# checks the age itself), so the sweep only keeps the table small.
DRAFTS_INTERVAL_SECONDS = 30 * 60


async def sweep_drafts(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Forget drafts older than the promised time (DRAFT_TTL_HOURS); returns how many."""
    cutoff = clock.now() - dt.timedelta(hours=settings.draft_ttl_hours)
    async with sessions() as session, session.begin():
        dropped = await conversations.drop_stale(session, cutoff)
    if dropped:
        log.info("dropped %s stale drafts", dropped)
    return dropped


async def purge_files(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Expired file links (KakaoTalk's .ics and CSV downloads), KakaoTalk answer pages older
    than a draft, and console sign-in links and idle console sessions are deleted; queues nothing."""
    now = clock.now()
    async with sessions() as session, session.begin():
        await files.purge(session, now)
        await kakao_pages.purge(session, now - dt.timedelta(hours=settings.draft_ttl_hours))
        await staff.purge(session, now, dt.timedelta(minutes=settings.console_idle_minutes))
    return 0


async def purge_updates(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Forget handled update ids older than PROCESSED_UPDATES_KEEP_HOURS; queues nothing."""
    async with sessions() as session, session.begin():
        await updates.purge(session, clock.now() - dt.timedelta(hours=settings.processed_updates_keep_hours))
    return 0


async def apply_retention(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock, *,
                          dry_run: bool = False) -> retention.Report:
    """Pseudonymise people inactive beyond RETENTION_MONTHS and purge finished outbox rows (and
    checked KakaoTalk Event API tasks) older than OUTBOX_KEEP_DAYS, in one transaction; a dry run
    counts the same and rolls it back."""
    async with sessions() as session, session.begin() as transaction:
        report = await retention.run(session, clock.now(), months=settings.retention_months,
                                     outbox_keep_days=settings.outbox_keep_days)
        if dry_run:
            await transaction.rollback()
    return report


async def daily_retention(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """The scheduler's daily run of `python -m bot retention`; queues nothing."""
    report = await apply_retention(sessions, settings, clock)
    log.info("retention: %s people pseudonymised, %s finished outbox rows and %s checked kakao tasks purged",
             report.people, report.finished_outbox_rows, report.checked_kakao_tasks)
    return 0


def housekeeping() -> Router:
    """The app's own upkeep, declared like a feature's periodic work: no routes, only jobs."""
    return Router(name="housekeeping", jobs=[
        Job("drafts", sweep_drafts, every=DRAFTS_INTERVAL_SECONDS),
        Job("served-files", purge_files, every=PURGE_INTERVAL_SECONDS),
        Job("processed-updates", purge_updates, every=PURGE_INTERVAL_SECONDS),
        Job("retention", daily_retention, every=24 * 3600),
    ])


# First match wins for typed phrases; commands, button prefixes and job names must be unique.
ROUTERS: tuple[Callable[[], Router], ...] = (
    start.build,
    registration.build,
    membership.build,
    booking.build,
    campus.build,
    courses.build, courses.build_admin,
    mentoring.build, mentoring.build_admin,
    handoff.build,
    clinic.build,
    workspace.build,
    counselor.build,
    membership_review.build,
    events.build, events_admin.build,
    demoday.build, demoday.build_admin,
    broadcast.build,
    preferences.build,
    postings.build, referrals.build, frontdoor.build_admin, firms.build,
    surveys.build,
    stats.build,
    link.build,
    console_signin.build,
    # Last of the features: typed text reaches the front door only when nothing else took it.
    frontdoor.build,
    housekeeping,
)
# Channels' own periodic work, scheduled whichever channels this process serves.
CHANNEL_JOBS = (*kakao_tasks.JOBS,)


def build_engine(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    clock: Clock | None = None,
    extra_admins: Iterable[tuple[str, str]] = (),
) -> Engine:
    # A malformed survey file stops the start here, not at the first invitation.
    survey_defs.load()
    # So does a malformed FAQ file or intents table (an import is checked before it is stored).
    faq.shipped()
    return Engine(settings, sessions, [build() for build in ROUTERS], clock=clock, extra_admins=extra_admins)


@dataclass
class App:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    engine: Engine
    dispatcher: Dispatcher
    scheduler: Scheduler


@asynccontextmanager
async def running(
    settings: Settings,
    notifiers: Sequence[Notifier] = (),
    *,
    clock: Clock | None = None,
    extra_admins: Iterable[tuple[str, str]] = (),
    schedule: bool = True,
) -> AsyncIterator[App]:
    """Start everything the channels need; stop it in reverse order."""
    clock = clock or SystemClock()
    db = create_engine(settings.database_url)
    try:
        await upgrade(db)
        sessions = session_factory(db)
        engine = build_engine(settings, sessions, clock=clock, extra_admins=extra_admins)
        dispatcher = Dispatcher(sessions, notifiers, clock=clock, rate=settings.outbox_rate, settings=settings)
        scheduler = Scheduler(settings, sessions, dispatcher, clock=clock, jobs=[*engine.jobs, *CHANNEL_JOBS])
        # Whatever commits queued rows (a turn, a background or periodic job) wakes the dispatcher.
        outbox.wake_on_commit(sessions, dispatcher.kick)
        if schedule:
            scheduler.start()
        try:
            yield App(settings, db, sessions, engine, dispatcher, scheduler)
        finally:
            await engine.idle()
            await scheduler.shutdown()
    finally:
        await db.dispose()
