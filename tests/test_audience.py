"""Audience segments: who an event or broadcast reaches (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from storage import audience, memberships, users
from storage.models import Identity, User
from tests.conftest import Harness
from tests.test_booking import quick_register


async def _people(h: Harness) -> dict[str, int]:
    now = h.clock.now()
    await quick_register(h, 1)  # youth seeker at 서울대학교, anywhere
    ids = {}
    async with h.sessions() as s, s.begin():
        for ext in ("1", "2", "3"):
            user, _ = await users.identify(s, "telegram", ext, ext, "ko", now)
            ids[ext] = user.id
        row = await memberships.apply(s, ids["2"], {"applicant_type": "prospective", "team_name": "t", "idea": "i" * 20,
                                                    "industry": "it", "startup_stage": "idea", "team_size": 1}, now)
        await memberships.decide(s, row, approve=True, admin_id=ids["2"], now=now)
    return ids


async def test_segments(harness: Harness) -> None:
    ids = await _people(harness)
    now = harness.clock.now()
    async with harness.sessions() as s:
        assert await audience.member_ids(s, "everyone", now) == set(ids.values())
        assert await audience.member_ids(s, "seekers", now) == {ids["1"]}
        assert await audience.member_ids(s, "members", now) == {ids["2"]}
        assert await audience.member_ids(s, "stage:preparation", now) == {ids["2"]}
        assert await audience.member_ids(s, "stage:execution", now) == set()
        assert await audience.member_ids(s, "campus:서울대", now) == {ids["1"]}
        assert await audience.member_ids(s, "track:youth", now) == {ids["1"]}
        assert await audience.member_ids(s, "district:mapo", now) == {ids["1"]}  # "anywhere" includes Mapo
        assert await audience.member_ids(s, "recent:7", now) == {ids["1"]}
        assert await audience.includes(s, "members", ids["2"], now)
        assert not await audience.includes(s, "members", ids["1"], now)


async def test_recipients_leave_out_opted_out_and_blocked(harness: Harness) -> None:
    ids = await _people(harness)
    now = harness.clock.now()
    async with harness.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id == ids["2"]).values(announcements_opt_out=True))
        await s.execute(update(Identity).where(Identity.user_id == ids["3"]).values(blocked_at=now))
    async with harness.sessions() as s:
        assert [r.user_id for r in await audience.recipients(s, "everyone", now)] == [ids["1"]]
        assert {r.user_id for r in await audience.recipients(s, "everyone", now, announcements=False)} == {
            ids["1"], ids["2"]}


@pytest.mark.parametrize("bad", ["", "nobody", "stage:unicorn", "campus", "recent:0", "track:old", "members:x"])
def test_bad_segments(bad: str) -> None:
    with pytest.raises(audience.SegmentError):
        audience.Segment.parse(bad)
