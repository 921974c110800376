"""Retention: people inactive beyond RETENTION_MONTHS are pseudonymised (identities, chats and
free text gone, names blanked), the KPI report's counts for past periods do not change, and
active people, people with something booked ahead and staff are untouched."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import apply_retention
from reports import sections
from reports.period import custom
from storage import events, outbox
from storage.models import (
    Event,
    Identity,
    Membership,
    OutboxMessage,
    SeekerProfile,
    SurveyAnswer,
    SurveyRequest,
    User,
)
from storage.retention import months_before
from tests.conftest import Harness
from tests.test_config_cli import _cli
from tests.test_counselor import make_booking, make_counselor, make_person
from tests.test_events import seed_event
from tests.test_stats import seed

SEOUL = ZoneInfo("Asia/Seoul")
MARCH = sections.Scope(custom("2026-03-01", "2026-03-31"), SEOUL)


async def _report(h: Harness) -> list[sections.Section]:
    async with h.sessions() as s:
        return await sections.build(s, MARCH)


async def _count(h: Harness, model: Any, *where: Any) -> int:
    async with h.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_months_before_keeps_the_day_or_takes_the_months_last() -> None:
    at = dt.datetime(2026, 3, 31, 5, tzinfo=dt.UTC)
    assert months_before(at, 24) == dt.datetime(2024, 3, 31, 5, tzinfo=dt.UTC)
    assert months_before(at, 1) == dt.datetime(2026, 2, 28, 5, tzinfo=dt.UTC)
    assert months_before(at, 15) == dt.datetime(2024, 12, 31, 5, tzinfo=dt.UTC)


async def test_inactive_people_are_pseudonymised_and_the_report_counts_stay(harness: Harness) -> None:
    h = harness
    await seed(h)  # people 1, 2 (sessions, 1 answered a survey with a comment), 3 (member application)
    counselor = await make_counselor(h, 781, "박상담")
    waiting = await make_person(h, 5, "예약있음")
    seated = await make_person(h, 7, "행사신청")  # also silent, but with a seat at an event ahead
    h.clock.advance(days=365 * 2 + 40)
    # Person 5 said nothing for two years but has a session ahead: not inactive.
    ahead = h.clock.now().astimezone(SEOUL).date() + dt.timedelta(days=3)
    await make_booking(h, waiting, counselor, ahead, "10:00", note="노트북 가져갈게요")
    event_id = await seed_event(h, start=h.clock.now() + dt.timedelta(days=5))
    async with h.sessions() as s, s.begin():
        await events.register(s, await s.get_one(Event, event_id), seated, h.clock.now())
    h.clock.advance(days=1)
    active = await make_person(h, 4, "최근이용")
    async with h.sessions() as s, s.begin():
        await outbox.enqueue(s, channel="telegram", chat_id="4", kind="test", payload={"text": "안내"},
                             now=h.clock.now(), user_id=active)
    before = await _report(h)
    assert any(row for section in before if section.key == "comments" for row in section.rows)
    people = {u.id: u for u in await _users(h)}
    inactive = [uid for uid, user in people.items() if user.role == "user" and uid not in (waiting, seated, active)]
    assert len(inactive) == 3

    dry = await apply_retention(h.sessions, h.settings, h.clock, dry_run=True)
    assert dry.people == 3 and dry.identities == 3 and dry.seeker_profiles == 2 and dry.memberships == 1
    assert await _count(h, Identity) == len(people) and await _count(h, User, User.anonymised_at.is_not(None)) == 0

    done = await apply_retention(h.sessions, h.settings, h.clock)
    assert dataclasses.asdict(done) == dataclasses.asdict(dry)
    after = await _report(h)
    # Every count is what it was; only the free-text comments, gone with their authors, are not shown.
    assert [s for s in after if s.key != "comments"] == [s for s in before if s.key != "comments"]
    assert [s.rows for s in after if s.key == "comments"] == [[]]

    assert await _count(h, Identity, Identity.user_id.in_(inactive)) == 0
    assert await _count(h, OutboxMessage, OutboxMessage.user_id.in_(inactive)) == 0
    assert await _count(h, User, User.anonymised_at.is_not(None)) == 3
    async with h.sessions() as s:
        profiles = {p.user_id: p for p in await s.scalars(select(SeekerProfile))}
        member = (await s.scalars(select(Membership))).one()
        answers = list(await s.scalars(select(SurveyAnswer.kind).join(SurveyRequest)
                                       .where(SurveyRequest.user_id.in_(inactive))))
    for uid in inactive:
        if uid in profiles:
            p = profiles[uid]
            assert (p.name, p.school_name, p.phone, p.desired_jobs, p.skills) == ("", "", None, [], [])
            assert (p.track, p.school_kind) == ("youth", "university")
    assert (member.team_name, member.idea, member.applicant_type, member.status) == ("", "", "restarter", "pending")
    assert answers and "text" not in answers  # ratings and choices stay, the comment is gone
    # The active one, the one with a session ahead, and staff keep everything.
    assert [profiles[uid].name for uid in (active, waiting, seated)] == ["최근이용", "예약있음", "행사신청"]
    assert await _count(h, Identity, Identity.user_id.in_([active, waiting, seated])) == 3
    assert await _count(h, OutboxMessage, OutboxMessage.user_id == active) == 1
    staff = [u for u in await _users(h) if u.role != "user"]
    assert staff and all(u.anonymised_at is None for u in staff)
    # A second run finds nobody left to do.
    assert (await apply_retention(h.sessions, h.settings, h.clock)).people == 0


async def _users(h: Harness) -> list[User]:
    async with h.sessions() as s:
        return list(await s.scalars(select(User)))


async def test_finished_outbox_rows_of_everyone_are_purged_after_the_kept_days(harness: Harness) -> None:
    h = harness
    person = await make_person(h, 6, "보낸사람")
    async with h.sessions() as s, s.begin():
        for kind in ("old", "pending"):
            await outbox.enqueue(s, channel="telegram", chat_id="6", kind=kind, payload={"text": "안내"},
                                 now=h.clock.now(), user_id=person)
        await s.execute(OutboxMessage.__table__.update().where(OutboxMessage.kind == "old").values(status="sent"))
    h.clock.advance(days=h.settings.outbox_keep_days + 1)
    report = await apply_retention(h.sessions, h.settings, h.clock)
    assert (report.people, report.finished_outbox_rows) == (0, 1)
    async with h.sessions() as s:
        assert list(await s.scalars(select(OutboxMessage.kind))) == ["pending"]


@pytest.mark.slow
def test_cli_retention_dry_run_prints_counts(tmp_path: Path) -> None:
    result = _cli(tmp_path, "retention", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout and "people: 0" in result.stdout
    result = _cli(tmp_path, "retention")
    assert result.returncode == 0 and "retention done" in result.stdout
