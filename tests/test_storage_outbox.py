"""Storage rules and the outbox dispatcher, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from scheduler import outbox as dispatch
from scheduler.outbox import Dispatcher
from storage import conversations, memberships, outbox, users
from storage.models import Identity, Membership, OutboxMessage, User
from tests.conftest import FakeClock, Harness, register

SEOUL = dt.timezone(dt.timedelta(hours=9))


async def test_times_round_trip_as_aware_utc(harness: Harness) -> None:
    local = dt.datetime(2026, 5, 1, 9, 30, tzinfo=SEOUL)
    async with harness.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", "1", "1", "ko", local)
    async with harness.sessions() as s:
        row = await s.get(User, user.id)
        assert row is not None and row.created_at == local and row.created_at.tzinfo is not None
        assert row.created_at.utcoffset() == dt.timedelta(0)


async def test_one_live_membership_per_person_is_a_database_rule(harness: Harness) -> None:
    now = harness.clock.now()
    values = {"applicant_type": "prospective", "team_name": "a", "idea": "x" * 20, "industry": "it",
              "startup_stage": "idea", "team_size": 1}
    async with harness.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", "1", "1", "ko", now)
        await memberships.apply(s, user.id, values, now)
    with pytest.raises(IntegrityError):
        async with harness.sessions() as s, s.begin():
            s.add(Membership(user_id=user.id, status="pending", consent_at=now, applied_at=now, **values))
    async with harness.sessions() as s, s.begin():
        row = await memberships.live(s, user.id)
        assert row is not None
        await memberships.decide(s, row, approve=False, admin_id=user.id, now=now, reason="r")
        await memberships.apply(s, user.id, values, now)  # a rejected applicant may apply again


async def test_erase_removes_every_row_of_the_person(harness: Harness) -> None:
    chat = harness.chat(1)
    await register(chat)
    async with harness.sessions() as s, s.begin():
        user = (await s.scalars(select(User))).one()
        await outbox.enqueue(s, channel="telegram", chat_id="1", user_id=user.id, kind="x", payload={"text": "x"},
                             now=harness.clock.now())
        await users.erase(s, user.id)
    async with harness.sessions() as s:
        for model in (User, Identity, OutboxMessage):
            assert (await s.scalars(select(model))).first() is None


async def test_stale_drafts_are_swept(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("/register")
    await chat.press("동의합니다")
    async with harness.sessions() as s, s.begin():
        assert await conversations.drop_stale(s, harness.clock.now() - dt.timedelta(hours=1)) == 0
        assert await conversations.drop_stale(s, harness.clock.now() + dt.timedelta(seconds=1)) == 1


@dataclass
class ScriptedNotifier:
    """Fails the way a platform does, per chat, for a number of tries."""

    channel: str = "telegram"
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    sent: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, chat_id: str, message: dict[str, Any]) -> None:
        queue = self.failures.get(chat_id)
        if queue:
            raise queue.pop(0)
        self.sent.append((chat_id, message["text"]))


async def _queue(h: Harness, chat_id: str, text: str, **kw: Any) -> None:
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", chat_id, chat_id, "ko", h.clock.now())
        await outbox.enqueue(s, channel="telegram", chat_id=chat_id, user_id=user.id, kind="test",
                             payload={"text": text}, now=h.clock.now(), **kw)


async def _rows(h: Harness) -> dict[str, OutboxMessage]:
    async with h.sessions() as s:
        return {r.payload["text"]: r for r in await s.scalars(select(OutboxMessage))}


def _dispatcher(h: Harness, notifier: ScriptedNotifier, clock: FakeClock) -> Dispatcher:
    return Dispatcher(h.sessions, [notifier], clock=clock, rate=10_000, per_chat_interval=0, max_attempts=3)


async def test_dispatcher_outcomes(harness: Harness, clock: FakeClock) -> None:
    notifier = ScriptedNotifier(failures={
        "2": [dispatch.Blocked("blocked")],
        "3": [dispatch.RetryAfter(30)],
        "4": [dispatch.TransientError("net")] * 5,
        "5": [ValueError("bad request")],
    })
    for chat in ("1", "2", "4", "5"):
        await _queue(harness, chat, f"m{chat}")
    await _queue(harness, "2", "m2-later")
    await _queue(harness, "3", "m3")  # last: a flood wait ends the run
    d = _dispatcher(harness, notifier, clock)
    assert await d.run_once() == 1
    rows = await _rows(harness)
    assert rows["m1"].status == "sent" and rows["m1"].sent_at == clock.now()
    assert rows["m2"].status == "blocked" and rows["m2-later"].status == "blocked"
    assert rows["m3"].status == "pending" and rows["m3"].due_at == clock.now() + dt.timedelta(seconds=30)
    assert rows["m4"].status == "pending" and rows["m4"].attempts == 1
    assert rows["m5"].status == "failed"
    async with harness.sessions() as s:
        blocked = (await s.scalars(select(Identity).where(Identity.chat_id == "2"))).one()
        assert blocked.blocked_at is not None

    d._paused_until = 0  # the flood wait has passed (monotonic time is not the injected clock)
    clock.advance(seconds=31)
    await d.run_once()
    for _ in range(3):
        clock.advance(minutes=10)
        await d.run_once()
    rows = await _rows(harness)
    assert rows["m3"].status == "sent"
    assert rows["m4"].status == "failed" and rows["m4"].attempts == 3
    assert notifier.sent.count(("1", "m1")) == 1 and ("3", "m3") in notifier.sent


async def test_restart_sends_every_due_message_once(harness: Harness, clock: FakeClock) -> None:
    for i in range(5):
        await _queue(harness, str(10 + i), f"r{i}", dedupe_key=f"r{i}", due_at=clock.now() + dt.timedelta(hours=1))
    async with harness.sessions() as s, s.begin():
        assert not await outbox.enqueue(s, channel="telegram", chat_id="10", kind="x", payload={"text": "dup"},
                                        now=clock.now(), dedupe_key="r0")
    first = ScriptedNotifier()
    assert await _dispatcher(harness, first, clock).run_once() == 0  # nothing due yet; "the process stops"
    clock.advance(hours=2)
    second = ScriptedNotifier()
    assert await _dispatcher(harness, second, clock).run_once() == 5
    assert await _dispatcher(harness, second, clock).run_once() == 0
    assert sorted(t for _, t in second.sent) == [f"r{i}" for i in range(5)]


async def test_per_chat_pacing_defers_instead_of_bursting(harness: Harness, clock: FakeClock) -> None:
    for i in range(3):
        await _queue(harness, "7", f"p{i}")
    notifier = ScriptedNotifier()
    d = Dispatcher(harness.sessions, [notifier], clock=clock, rate=10_000, per_chat_interval=1.0)
    await d.run_once()
    assert [t for _, t in notifier.sent] == ["p0"]
    rows = await _rows(harness)
    assert rows["p1"].status == "pending" and rows["p1"].due_at > clock.now()


async def test_a_commit_that_queued_wakes_the_dispatcher_once(harness: Harness) -> None:
    """Queueing marks the session; its commit (and only a commit) calls the wake, so no caller
    has to remember to say that it queued something."""
    woken: list[None] = []
    outbox.wake_on_commit(harness.sessions, lambda: woken.append(None))
    now = harness.clock.now()
    row = {"channel": "telegram", "chat_id": "1", "kind": "t", "payload": {"text": "x"}, "now": now}
    async with harness.sessions() as s, s.begin():
        await users.identify(s, "telegram", "1", "1", "ko", now)
    assert woken == []  # a commit that queued nothing
    async with harness.sessions() as s, s.begin():
        await outbox.enqueue(s, **row, dedupe_key="k")
        await outbox.enqueue(s, **row)
    assert len(woken) == 1
    async with harness.sessions() as s, s.begin():
        assert not await outbox.enqueue(s, **row, dedupe_key="k")  # taken: nothing queued
    assert len(woken) == 1
    async with harness.sessions() as s:
        async with s.begin():
            await outbox.enqueue(s, **row)
            await s.rollback()
        async with s.begin():
            pass  # the rolled-back mark does not carry over to the next transaction
    assert len(woken) == 1
