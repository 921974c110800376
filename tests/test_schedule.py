"""The scheduler runs what the routers (and channels) declare, under the ids it always had."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import ROUTERS, running
from kernel.core import At, Job
from tests.conftest import make_settings

INTERVAL_JOBS = {"outbox", "drafts", "event-offers", "broadcasts", "job-digests", "served-files",
                 "processed-updates", "retention", "kakao-tasks", "survey-sweep", "clinic-overdue", "clinic-purge",
                 "handoff-expire"}


async def test_declared_jobs_are_scheduled_under_their_names(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/jobs.db", agenda_time="08:30", weekly_digest="mon 09:00")
    async with running(settings) as app:
        assert app.scheduler.alive
        jobs = {job.id: str(job.trigger) for job in app.scheduler._aps.get_jobs()}  # type: ignore[union-attr]
    assert set(jobs) == INTERVAL_JOBS | {"agenda", "survey-followups", "digest"}
    assert jobs["agenda"] == "cron[day_of_week='mon-fri', hour='8', minute='30']"
    assert jobs["digest"] == "cron[day_of_week='mon', hour='9', minute='0']"
    assert jobs["survey-followups"] == "cron[hour='10', minute='0']"


async def test_a_job_the_settings_turn_off_is_not_scheduled(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/jobs.db", weekly_digest="off")
    async with running(settings) as app:
        ids = {job.id for job in app.scheduler._aps.get_jobs()}  # type: ignore[union-attr]
    assert "digest" not in ids and "agenda" in ids


def test_job_names_are_unique_and_a_job_says_when_it_runs() -> None:
    names = [job.name for build in ROUTERS for job in build().jobs]
    assert len(names) == len(set(names))

    async def nothing(*_args: object) -> int:
        return 0

    with pytest.raises(ValueError):
        Job("both", nothing, every=60, at=lambda _settings: At(9))
    with pytest.raises(ValueError):
        Job("neither", nothing)
