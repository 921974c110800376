"""KakaoTalk users who blocked the channel are noticed from the Event API's task results.

Against `tests.fake_kakao.FakeKakao`, whose talk endpoint accepts a message to someone who
blocked the channel (as Kakao does) and whose task result then lists them as failed; on
SQLite and PostgreSQL. A broadcast to two KakaoTalk users, one of whom blocked the channel:
after the check that one is marked blocked like a Telegram user who blocked the bot (the
next broadcast leaves them out, /metrics counts them) and the other gets everything; a
task not final at first is resolved later; a failing or odd tasks endpoint changes nothing
and is asked again; several workers ask each task once; the blocked person who writes
again is reachable again; the old tasks are purged by the retention job.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.app import apply_retention
from bot.channels import kakao
from bot.channels.kakao import KakaoNotifier
from bot.channels.kakao_tasks import check_tasks, read_result
from handlers import broadcast
from kernel import metrics
from kernel.config import Settings
from scheduler.outbox import Dispatcher
from storage import broadcasts, outbox
from storage.db import create_engine, session_factory
from storage.models import Identity, KakaoTask, OutboxMessage, User
from tests.conftest import ADMIN_ID, Harness
from tests.fake_kakao import FakeKakao, KakaoUser
from tests.test_broadcast import _queue_everyone
from tests.test_kakao import Skill, kakao_settings, start_skill

BLOCKER = "kakao-user-who-blocked-the-channel-0001"
FRIEND = "kakao-user-who-is-a-friend-0002"


@dataclass
class World:
    """The bot with the KakaoTalk skill and the Event API configured, against the fake."""

    h: Harness
    skill: Skill
    fake: FakeKakao
    settings: Settings
    notifier: KakaoNotifier

    def user(self, key: str) -> KakaoUser:
        return self.skill.user(key)

    async def deliver(self) -> int:
        """One outbox run, KakaoTalk and Telegram (the admin) alike."""
        dispatcher = Dispatcher(self.h.sessions, [self.notifier, self.h.notifier], clock=self.h.clock,
                                rate=10_000, per_chat_interval=0)
        return await dispatcher.run_once()

    async def check(self, settings: Settings | None = None) -> None:
        await check_tasks(self.h.sessions, settings or self.settings, self.h.clock)

    def to(self, key: str) -> list[str]:
        """The texts the Event API was asked to show this user."""
        return [c.body["event"]["data"]["text"] for c in self.fake.calls if c.body["user"][0]["id"] == key]

    async def blocked_at(self, key: str) -> dt.datetime | None:
        async with self.h.sessions() as s:
            return await s.scalar(select(Identity.blocked_at).where(Identity.channel == "kakao",
                                                                   Identity.external_id == key))

    async def tasks(self) -> list[KakaoTask]:
        async with self.h.sessions() as s:
            return list(await s.scalars(select(KakaoTask).order_by(KakaoTask.id)))


def event_api(settings: Settings, fake: FakeKakao, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"kakao_rest_api_key": "test-rest-key", "kakao_event_api_url": fake.event_api_url,
                              "kakao_task_url": fake.task_url}
    return kakao_settings(settings, **{**values, **overrides})


@pytest_asyncio.fixture
async def world(harness: Harness) -> AsyncIterator[World]:
    async with FakeKakao() as fake:
        settings = event_api(harness.settings, fake)
        skill = await start_skill(harness)
        notifier = kakao.notifier(settings, harness.sessions, harness.clock)
        assert isinstance(notifier, KakaoNotifier)
        try:
            yield World(harness, skill, fake, settings, notifier)
        finally:
            await notifier.close()
            await skill.client.close()


async def two_kakao_users(w: World) -> None:
    """Two people start the bot on KakaoTalk; then one of them blocks the channel."""
    for key in (BLOCKER, FRIEND):
        await w.user(key).say("/start")
    w.fake.blocked.add(BLOCKER)


async def broadcast_to_both(w: World) -> int:
    """The admin broadcasts to everyone, the two KakaoTalk users among them; sent (and accepted)."""
    await two_kakao_users(w)
    _, broadcast_id = await _queue_everyone(w.h)
    assert await w.deliver() == 3
    return broadcast_id


async def check_a_minute_later(w: World) -> None:
    w.h.clock.advance(seconds=61)
    await w.check()


async def test_a_user_who_blocked_the_channel_is_marked_blocked_and_left_out_of_the_next_broadcast(
        world: World) -> None:
    w, h = world, world.h
    first = await broadcast_to_both(w)  # Kakao accepted both calls; only the task result tells
    assert w.to(BLOCKER) == w.to(FRIEND) == ["3월 채용박람회 안내"]
    async with h.sessions() as s:
        assert (await broadcasts.counts(s, first))["sent"] == 3

    # Too early: the results are read KAKAO_TASK_CHECK_SECONDS after the call; the report waits for them.
    await w.check()
    assert await broadcast.finish_broadcasts(h.sessions, h.settings, h.clock) == 0
    assert w.fake.task_calls == [] and await w.blocked_at(BLOCKER) is None
    counted = metrics.BLOCKED.labels("kakao")._value.get()
    h.clock.advance(seconds=61)
    await w.check()
    assert sorted(w.fake.task_calls) == ["task-1", "task-2"]
    assert await w.blocked_at(BLOCKER) == h.clock.now()
    assert await w.blocked_at(FRIEND) is None
    assert metrics.BLOCKED.labels("kakao")._value.get() == counted + 1
    assert {t.outcome for t in await w.tasks()} == {"delivered", "failed"}
    async with h.sessions() as s:
        # The message they did not get counts as blocked, not sent, like a Telegram 403.
        assert (await broadcasts.counts(s, first))["sent"] == 2
        assert (await broadcasts.counts(s, first))["blocked"] == 1
        assert (await outbox.backlog(s, h.clock.now())).blocked_chats == 1  # /metrics' jobhub_blocked_chats
    assert await broadcast.finish_broadcasts(h.sessions, h.settings, h.clock) == 1
    await w.deliver()
    assert "전달 2" in h.notifier.to(ADMIN_ID)[-1]["text"] and "봇 차단 1" in h.notifier.to(ADMIN_ID)[-1]["text"]
    await w.check()  # nothing more to ask, nothing marked twice
    assert len(w.fake.task_calls) == 2

    # The next broadcast is not sent to them, and they are not counted among its recipients.
    h.clock.advance(seconds=5)
    _, second = await _queue_everyone(h)
    async with h.sessions() as s:
        row = await broadcasts.get(s, second)
        assert row is not None and row.recipients == 2
    calls = len(w.fake.calls)
    assert await w.deliver() == 2
    assert [c.body["user"][0]["id"] for c in w.fake.calls[calls:]] == [FRIEND]
    assert w.to(FRIEND) == ["3월 채용박람회 안내"] * 2 and len(w.to(BLOCKER)) == 1
    async with h.sessions() as s:
        assert (await broadcasts.counts(s, second))["sent"] == 2  # the admin and the friend
    h.clock.advance(seconds=61)
    await w.check()
    assert await w.blocked_at(FRIEND) is None


async def test_a_reminder_they_did_not_get_marks_them_and_their_queued_messages_are_not_sent(world: World) -> None:
    w, h = world, world.h
    await two_kakao_users(w)
    async with h.sessions() as s, s.begin():
        ids = dict((await s.execute(select(Identity.external_id, Identity.user_id)
                                    .where(Identity.channel == "kakao"))).all())
        for key in (BLOCKER, FRIEND):
            await outbox.enqueue(s, channel="kakao", chat_id=key, user_id=ids[key], kind="booking.reminder",
                                 payload={"text": "내일 10:00 취업상담이 있어요."}, now=h.clock.now())
            await outbox.enqueue(s, channel="kakao", chat_id=key, user_id=ids[key], kind="event.reminder",
                                 payload={"text": "모레 IR 피칭 실전이 있어요."},
                                 now=h.clock.now(), due_at=h.clock.now() + dt.timedelta(days=1))
    assert await w.deliver() == 2
    h.clock.advance(seconds=61)
    await w.check()
    async with h.sessions() as s:
        statuses = sorted((await s.execute(select(OutboxMessage.chat_id, OutboxMessage.kind, OutboxMessage.status)
                                           )).all())
    assert statuses == [(BLOCKER, "booking.reminder", "blocked"), (BLOCKER, "event.reminder", "blocked"),
                        (FRIEND, "booking.reminder", "sent"), (FRIEND, "event.reminder", "pending")]
    h.clock.advance(days=1)
    assert await w.deliver() == 1
    assert w.to(FRIEND) == ["내일 10:00 취업상담이 있어요.", "모레 IR 피칭 실전이 있어요."]
    assert w.to(BLOCKER) == ["내일 10:00 취업상담이 있어요."]


async def test_several_failed_tasks_mark_the_person_once(world: World) -> None:
    """A long reminder goes out in two parts (two calls, two tasks) whose results are read one
    batch at a time: the person is marked once, counted once, and the later result does not
    move the date."""
    w, h = world, world.h
    await two_kakao_users(w)
    async with h.sessions() as s, s.begin():
        user_id = await s.scalar(select(Identity.user_id).where(Identity.external_id == BLOCKER))
        await outbox.enqueue(s, channel="kakao", chat_id=BLOCKER, user_id=user_id, kind="booking.reminder",
                             payload={"text": "가" * 1500}, now=h.clock.now())
    assert await w.deliver() == 1 and len(w.to(BLOCKER)) == 2
    counted = metrics.BLOCKED.labels("kakao")._value.get()
    one_per_batch = event_api(h.settings, w.fake, kakao_task_batch=1)
    w.fake.task_answers = [429]  # the first round asks one and is told to wait: the other stays due
    h.clock.advance(seconds=61)
    await w.check(one_per_batch)
    h.clock.advance(seconds=61)
    await w.check(one_per_batch)
    marked = await w.blocked_at(BLOCKER)
    assert marked == h.clock.now()
    h.clock.advance(seconds=120)
    await w.check(one_per_batch)
    assert sorted(w.fake.task_calls) == ["task-1", "task-1", "task-2"]
    assert [t.outcome for t in await w.tasks()] == ["failed", "failed"]
    assert await w.blocked_at(BLOCKER) == marked
    assert metrics.BLOCKED.labels("kakao")._value.get() == counted + 1
    async with h.sessions() as s:
        assert await s.scalar(select(OutboxMessage.status).where(OutboxMessage.chat_id == BLOCKER)) == "blocked"


async def test_a_blocked_user_who_writes_again_is_reachable_again(world: World) -> None:
    w, h = world, world.h
    await broadcast_to_both(w)
    await check_a_minute_later(w)
    assert await w.blocked_at(BLOCKER) is not None

    # They add the channel again and write: reachable, like a Telegram user who unblocks the bot.
    w.fake.blocked.clear()
    blocker = w.user(BLOCKER)
    await blocker.say("/help")
    assert "/register" in blocker.text
    assert await w.blocked_at(BLOCKER) is None
    _, second = await _queue_everyone(h)
    async with h.sessions() as s:
        row = await broadcasts.get(s, second)
        assert row is not None and row.recipients == 3
    await w.deliver()
    assert len(w.to(BLOCKER)) == 2
    h.clock.advance(seconds=61)
    await w.check()
    assert await w.blocked_at(BLOCKER) is None


async def test_a_result_about_someone_who_wrote_since_the_call_does_not_block_them(world: World) -> None:
    """A late answer says an old message did not arrive; the person has written since, so they
    can be reached: the row counts as blocked, the person is not marked."""
    w, h = world, world.h
    await broadcast_to_both(w)
    w.fake.task_answers = [500, 500]
    h.clock.advance(seconds=61)
    await w.check()
    # Minutes later, well within the hour to which activity is otherwise recorded.
    h.clock.advance(minutes=10)
    await w.user(BLOCKER).say("/help")
    await w.check()
    assert await w.blocked_at(BLOCKER) is None
    assert {t.outcome for t in await w.tasks()} == {"delivered", "failed"}
    async with h.sessions() as s:
        assert await s.scalar(select(OutboxMessage.status).where(OutboxMessage.chat_id == BLOCKER)) == "blocked"


async def test_a_task_not_final_yet_is_asked_again_later(world: World) -> None:
    w, h = world, world.h
    await broadcast_to_both(w)
    w.fake.task_answers = ["pending", "pending"]
    h.clock.advance(seconds=61)
    await w.check()
    assert len(w.fake.task_calls) == 2 and await w.blocked_at(BLOCKER) is None
    assert {t.checked_at for t in await w.tasks()} == {None}
    await w.check()  # not due again yet
    assert len(w.fake.task_calls) == 2
    h.clock.advance(seconds=61)
    await w.check()
    assert len(w.fake.task_calls) == 4
    assert await w.blocked_at(BLOCKER) == h.clock.now() and await w.blocked_at(FRIEND) is None


async def test_a_failing_tasks_endpoint_changes_nothing_and_is_asked_again(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    w, h = world, world.h
    await broadcast_to_both(w)
    caplog.set_level(logging.INFO)
    # Rounds: unreachable; 500 and 502; a body that is not JSON and JSON without a status;
    # 429 (the round stops there, the rest waits for Retry-After).
    unreachable = event_api(h.settings, w.fake, kakao_task_url="http://127.0.0.1:9/v1/tasks/{task_id}")
    rounds: list[tuple[list[int | str], Settings | None]] = [
        ([], unreachable), ([500, 502], None), (["garbage", "odd"], None), ([429, 429], None)]
    for answers, settings in rounds:
        w.fake.task_answers = list(answers)
        h.clock.advance(hours=1)
        await w.check(settings)
        assert await w.blocked_at(BLOCKER) is None
        assert {t.checked_at for t in await w.tasks()} == {None}
        assert w.fake.task_answers == []
    assert len(w.fake.task_calls) == 6
    h.clock.advance(hours=1)
    await w.check()
    assert await w.blocked_at(BLOCKER) is not None and await w.blocked_at(FRIEND) is None
    assert "not read (HTTP 500)" in caplog.text and "not read (not JSON)" in caplog.text
    assert "HTTP 429" in caplog.text and "ClientConnectorError" in caplog.text
    assert BLOCKER not in caplog.text and FRIEND not in caplog.text  # never a whole user key


@pytest.mark.parametrize("shape", ["string", "id", "botUserKey", "userId", "user", "unknown"])
async def test_every_shape_of_the_failure_list_is_understood(world: World, shape: str,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    w = world
    w.fake.fail_item = shape
    await broadcast_to_both(w)
    await check_a_minute_later(w)
    assert await w.blocked_at(BLOCKER) is not None and await w.blocked_at(FRIEND) is None
    # An item whose key cannot be read is counted and logged; the call had one recipient, so it is them.
    assert ("1 items without a readable key" in caplog.text) == (shape == "unknown")
    assert BLOCKER not in caplog.text


def test_reading_task_results() -> None:
    assert read_result({"status": "ALL SUCCESS", "allRequestCount": 1, "successCount": 1}, "k").state == "delivered"
    assert read_result({"status": "0 FAIL"}, "k").state == "delivered"
    failed = read_result({"status": "1 FAIL", "fail": {"count": 1, "list": [{"user": {"id": "k"}}]}}, "k")
    assert (failed.state, failed.unread_items, failed.others) == ("failed", 0, 0)
    odd = read_result({"status": "2 FAIL", "fail": {"count": 2, "list": [{"user": "x"}, 7, None]}}, "k")
    assert (odd.state, odd.unread_items, odd.others) == ("failed", 2, 1)
    assert read_result({"status": "1 FAIL", "fail": "?"}, "k").state == "failed"
    assert read_result({"status": "PROCESSING"}, "k").state == "pending"
    for broken in (None, [], "ALL SUCCESS", {"status": 3}, {"fail": {}}):
        assert read_result(broken, "k").state == "unreadable"


async def test_a_task_without_a_final_result_is_given_up_after_the_cut_off(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    w, h = world, world.h
    await broadcast_to_both(w)
    w.fake.task_answers = ["pending"] * 100
    for _ in range(30):
        h.clock.advance(hours=1)
        await w.check()
    asked = len(w.fake.task_calls)
    assert {t.outcome for t in await w.tasks()} == {"expired"}
    assert "given up" in caplog.text
    h.clock.advance(hours=2)
    await w.check()
    assert len(w.fake.task_calls) == asked and await w.blocked_at(BLOCKER) is None


async def test_two_workers_ask_each_task_once(world: World) -> None:
    """Two workers on one database (two engines, as two processes) check at the same moment."""
    w, h = world, world.h
    async with h.sessions() as s, s.begin():
        for i in range(40):
            key = f"kakao-broadcast-recipient-{i:03d}"
            await outbox.enqueue(s, channel="kakao", chat_id=key, kind="broadcast",
                                 payload={"text": "공지"}, now=h.clock.now())
            if i % 4 == 0:
                w.fake.blocked.add(key)
    assert await w.deliver() == 40
    h.clock.advance(seconds=61)
    settings = event_api(h.settings, w.fake, kakao_task_batch=7)
    engines = [create_engine(settings.database_url) for _ in range(2)]
    try:
        await asyncio.gather(*(check_tasks(session_factory(e), settings, h.clock) for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(w.fake.task_calls) == sorted(f"task-{i}" for i in range(1, 41))
    tasks = await w.tasks()
    assert sum(t.outcome == "failed" for t in tasks) == 10 and sum(t.outcome == "delivered" for t in tasks) == 30
    async with h.sessions() as s:
        assert await s.scalar(select(OutboxMessage.status).where(
            OutboxMessage.chat_id == "kakao-broadcast-recipient-004")) == "blocked"


async def test_without_the_event_api_nothing_is_asked(harness: Harness) -> None:
    h = harness
    async with FakeKakao() as fake:
        holding = kakao.notifier(kakao_settings(h.settings), h.sessions, h.clock)
        assert isinstance(holding, kakao.HoldingNotifier)
        async with h.sessions() as s, s.begin():
            await outbox.enqueue(s, channel="kakao", chat_id=BLOCKER, kind="broadcast", payload={"text": "공지"},
                                 now=h.clock.now())
        assert await Dispatcher(h.sessions, [holding], clock=h.clock, rate=10_000, per_chat_interval=0).run_once()
        h.clock.advance(hours=1)
        await check_tasks(h.sessions, kakao_settings(h.settings, kakao_task_url=fake.task_url), h.clock)
        assert fake.task_calls == [] and fake.calls == []
        async with h.sessions() as s:
            assert list(await s.scalars(select(KakaoTask))) == []


async def test_tasks_left_when_the_event_api_is_switched_off_are_given_up_and_the_report_goes_out(
        world: World) -> None:
    w, h = world, world.h
    await broadcast_to_both(w)
    off = kakao_settings(h.settings)  # the REST API key removed before the results were read
    h.clock.advance(hours=1)
    await w.check(off)
    assert w.fake.task_calls == [] and await broadcast.finish_broadcasts(h.sessions, h.settings, h.clock) == 0
    h.clock.advance(hours=24)
    await w.check(off)
    assert w.fake.task_calls == [] and {t.outcome for t in await w.tasks()} == {"expired"}
    assert await broadcast.finish_broadcasts(h.sessions, h.settings, h.clock) == 1
    assert await w.blocked_at(BLOCKER) is None


async def test_checked_tasks_are_purged_with_the_outbox_rows_by_the_retention_job(world: World) -> None:
    w, h = world, world.h
    await broadcast_to_both(w)
    await check_a_minute_later(w)
    h.clock.advance(days=10)
    await _queue_everyone(h)
    await w.deliver()  # a newer task (to the friend only), not checked yet
    h.clock.advance(days=h.settings.outbox_keep_days - 5)
    report = await apply_retention(h.sessions, h.settings, h.clock)
    assert report.checked_kakao_tasks == 2
    assert [(t.user_key, t.checked_at) for t in await w.tasks()] == [(FRIEND, None)]
    # That row is past OUTBOX_KEEP_DAYS too now, but its result is still unread: it stays, task and all.
    h.clock.advance(days=10)
    await apply_retention(h.sessions, h.settings, h.clock)
    assert [(t.user_key, t.checked_at) for t in await w.tasks()] == [(FRIEND, None)]
    # People pseudonymised for inactivity take their tasks along (they name their Kakao key).
    h.clock.advance(days=h.settings.retention_months * 31)
    assert (await apply_retention(h.sessions, h.settings, h.clock)).people == 2
    assert await w.tasks() == []


async def test_a_counselors_alert_that_did_not_arrive_waits_for_their_next_message(world: World) -> None:
    """Staff on KakaoTalk are held like staff on Telegram: the alert the task result says they did not
    get is kept, the admins are told once, and it arrives after the counselor writes again."""
    w, h = world, world.h
    counselor = w.user(BLOCKER)
    await counselor.say("/start")
    async with h.sessions() as s, s.begin():
        identity = (await s.scalars(select(Identity).where(Identity.external_id == BLOCKER))).one()
        user = await s.get(User, identity.user_id)
        assert user is not None
        user.role = "counselor"
        await outbox.enqueue(s, channel="kakao", chat_id=BLOCKER, user_id=user.id, kind="referral.new",
                             payload={"text": "🤝 새 취업알선 요청 #1"}, now=h.clock.now())
    w.fake.blocked.add(BLOCKER)
    assert await w.deliver() == 1
    await check_a_minute_later(w)
    async with h.sessions() as s:
        status = await s.scalar(select(OutboxMessage.status).where(OutboxMessage.kind == "referral.new"))
    assert status == "held"
    await w.deliver()
    assert any("상담사" in m["text"] or "관리자" in m["text"] for m in h.notifier.to(ADMIN_ID))
    told = len(h.notifier.to(ADMIN_ID))

    w.fake.blocked.clear()
    await counselor.say("/help")
    await w.deliver()
    assert w.to(BLOCKER) == ["🤝 새 취업알선 요청 #1"] * 2
    assert len(h.notifier.to(ADMIN_ID)) == told
