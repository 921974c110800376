"""Alerts to staff who cannot be reached yet wait for them, on SQLite and PostgreSQL.

The outbox sends through the real Telegram channel to the fake Bot API. A counselor or
admin who never opened the bot (Telegram: 403 "bot can't initiate conversation", or 400
"chat not found") or blocked it keeps their alerts queued: they are delivered when that
person next writes to the bot, and the admins who can be reached are told once that this
person must open the bot. Ordinary people who blocked the bot are skipped as before.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.app import apply_retention
from bot.channels.telegram import TelegramChannel, build_application
from kernel.config import Settings
from scheduler.outbox import Dispatcher
from storage import users
from storage.models import Identity, OutboxMessage
from tests.conftest import ADMIN_ID, Chat, Harness, make_settings
from tests.fake_telegram import FakeTelegram
from tests.test_booking import COUNSELOR_A, quick_register, seed, to_summary
from tests.test_broadcast import _queue_everyone
from tests.test_membership import apply
from tests.test_telegram import BotProcess, press, say
from tests.test_telegram import _settings as tg_settings

OTHER_ADMIN = 9002
NEW_APPLICATION = "새 공동회원 신청"
NEW_BOOKING = "📥 새 예약"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, admin_telegram_ids=f"{ADMIN_ID},{OTHER_ADMIN}")


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


class Outbox:
    """The dispatcher sending through the Telegram channel to the fake Bot API."""

    def __init__(self, h: Harness, fake: FakeTelegram) -> None:
        self.h = h
        tg = make_settings(h.settings.database_url, telegram_bot_token="123:TEST",
                           telegram_api_base_url=fake.base_url)
        self.application = build_application(tg)
        self.channel = TelegramChannel(h.engine, self.application)

    async def deliver(self) -> int:
        dispatcher = Dispatcher(self.h.sessions, [self.channel], clock=self.h.clock, rate=10_000,
                                per_chat_interval=0, settings=self.h.settings)
        return await dispatcher.run_once()


@pytest_asyncio.fixture
async def outbox(harness: Harness, fake: FakeTelegram) -> AsyncIterator[Outbox]:
    box = Outbox(harness, fake)
    await box.application.initialize()
    yield box
    await box.application.shutdown()


async def writes(fake: FakeTelegram, chat: Chat, text: str) -> None:
    """Someone writes to the bot: Telegram lets the bot reach them from then on, and the message
    reaches the engine (as the Telegram channel hands it over)."""
    fake.user_sends(int(chat.user_id), text)
    await chat.send(text)


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [str(m.get("text", "")) for m in fake.messages(chat_id)]


async def rows_to(h: Harness, chat_id: int) -> list[tuple[str, str]]:
    async with h.sessions() as s:
        rows = await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == str(chat_id))
                               .order_by(OutboxMessage.id))
        return [(r.kind, r.status) for r in rows]


async def test_an_admin_who_never_started_the_bot_gets_the_alerts_when_they_write(
        harness: Harness, fake: FakeTelegram, outbox: Outbox) -> None:
    await writes(fake, harness.chat(OTHER_ADMIN), "/start")
    fake.never_started(ADMIN_ID)
    await apply(harness.chat(1), "서울팀")
    await outbox.deliver()
    assert await rows_to(harness, ADMIN_ID) == [("membership.new", "held")]
    other = texts(fake, OTHER_ADMIN)
    assert sum(NEW_APPLICATION in t for t in other) == 1
    notices = [t for t in other if "알림을 보낼 수 없어요" in t]
    assert len(notices) == 1 and str(ADMIN_ID) in notices[0] and "시작" in notices[0]

    # A second alert waits too; the admins are not told again.
    await apply(harness.chat(2), "부산팀")
    await outbox.deliver()
    assert await rows_to(harness, ADMIN_ID) == [("membership.new", "held")] * 2
    other = texts(fake, OTHER_ADMIN)
    assert sum(NEW_APPLICATION in t for t in other) == 2
    assert sum("알림을 보낼 수 없어요" in t for t in other) == 1
    assert texts(fake, ADMIN_ID) == []

    # They open the bot: both alerts arrive, in order, once.
    await writes(fake, harness.chat(ADMIN_ID), "/start")
    await outbox.deliver()
    arrived = [t for t in texts(fake, ADMIN_ID) if NEW_APPLICATION in t]
    assert len(arrived) == 2 and "서울팀" in arrived[0] and "부산팀" in arrived[1]
    assert await rows_to(harness, ADMIN_ID) == [("membership.new", "sent")] * 2
    assert await outbox.deliver() == 0
    async with harness.sessions() as s:
        assert (await s.scalars(select(Identity.blocked_at).where(Identity.external_id == str(ADMIN_ID)))).one() \
            is None


async def test_a_counselor_who_never_started_the_bot_gets_the_bookings_when_they_write(
        harness: Harness, fake: FakeTelegram, outbox: Outbox) -> None:
    await seed(harness)  # counselors set up by an admin: they never wrote to the bot
    fake.never_started(COUNSELOR_A, unknown=True)  # Telegram: 400 "chat not found"
    for user in (1, 2):
        await quick_register(harness, user)
    await writes(fake, harness.chat(ADMIN_ID), "/start")
    await writes(fake, harness.chat(OTHER_ADMIN), "/start")

    for user, day in ((1, "3/3"), (2, "3/4")):
        chat = harness.chat(user)
        await to_summary(chat, counselor="김상담", day=day)
        await chat.press("제출")
        await outbox.deliver()
    assert await rows_to(harness, COUNSELOR_A) == [("booking.new", "held")] * 2
    for admin in (ADMIN_ID, OTHER_ADMIN):
        notices = [t for t in texts(fake, admin) if "알림을 보낼 수 없어요" in t]
        assert len(notices) == 1 and "김상담" in notices[0]
    assert all("구직자" not in t for t in texts(fake, ADMIN_ID))  # the bookings themselves stay theirs

    await writes(fake, harness.chat(COUNSELOR_A), "/start")
    await outbox.deliver()
    assert sum(NEW_BOOKING in t for t in texts(fake, COUNSELOR_A)) == 2
    assert await rows_to(harness, COUNSELOR_A) == [("booking.new", "sent")] * 2


async def test_when_no_admin_can_be_reached_it_is_logged(harness: Harness, fake: FakeTelegram, outbox: Outbox,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    fake.never_started(ADMIN_ID)
    fake.never_started(OTHER_ADMIN)
    with caplog.at_level(logging.INFO):
        await apply(harness.chat(1), "서울팀")
        await outbox.deliver()
        await outbox.deliver()
    assert await rows_to(harness, ADMIN_ID) == [("membership.new", "held")]
    assert [kind for kind, _status in await rows_to(harness, OTHER_ADMIN)] == ["membership.new"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "no admin" in r.getMessage()]
    assert warnings, [r.getMessage() for r in caplog.records]
    # Lines name people by internal ids only: never a Telegram id.
    assert not any(str(ADMIN_ID) in r.getMessage() or str(OTHER_ADMIN) in r.getMessage() for r in caplog.records)

    await writes(fake, harness.chat(OTHER_ADMIN), "/start")
    await outbox.deliver()
    assert sum(NEW_APPLICATION in t for t in texts(fake, OTHER_ADMIN)) == 1


async def test_ordinary_people_who_blocked_the_bot_are_skipped_as_before(
        harness: Harness, fake: FakeTelegram, outbox: Outbox) -> None:
    await writes(fake, harness.chat(ADMIN_ID), "/start")
    await writes(fake, harness.chat(OTHER_ADMIN), "/start")
    founder = harness.chat(1)
    await apply(founder, "서울팀")
    await outbox.deliver()
    fake.block(1)
    admin = harness.chat(ADMIN_ID)
    await admin.send("/applications")
    await admin.press("승인")
    await outbox.deliver()
    assert await rows_to(harness, 1) == [("membership.decision", "blocked")]
    assert not any("알림을 보낼 수 없어요" in t for a in (ADMIN_ID, OTHER_ADMIN) for t in texts(fake, a))


async def test_a_counselor_marked_blocked_before_alerts_were_held_gets_new_alerts(
        harness: Harness, fake: FakeTelegram, outbox: Outbox) -> None:
    """Marked unreachable by the old rule (their first alert lost): new alerts are queued for
    them again, held, and the admins are told."""
    await seed(harness)
    fake.never_started(COUNSELOR_A)
    async with harness.sessions() as s, s.begin():
        await users.mark_blocked(s, [("telegram", str(COUNSELOR_A), harness.clock.now())])
    await writes(fake, harness.chat(ADMIN_ID), "/start")
    await quick_register(harness, 1)
    chat = harness.chat(1)
    await to_summary(chat, counselor="김상담")
    await chat.press("제출")
    await outbox.deliver()
    assert await rows_to(harness, COUNSELOR_A) == [("booking.new", "held")]
    assert sum("김상담님에게 알림을 보낼 수 없어요" in t for t in texts(fake, ADMIN_ID)) == 1
    await writes(fake, harness.chat(COUNSELOR_A), "안녕하세요")
    await outbox.deliver()
    assert sum(NEW_BOOKING in t for t in texts(fake, COUNSELOR_A)) == 1


async def test_a_broadcast_a_counselor_could_not_get_is_not_held_and_is_no_alert(
        harness: Harness, fake: FakeTelegram, outbox: Outbox) -> None:
    """A broadcast is an announcement: to staff who cannot be reached it is skipped (and counted
    so in its report) like for anyone; their first held alert is what the admins are told of."""
    await seed(harness)
    fake.never_started(COUNSELOR_A)
    await writes(fake, harness.chat(ADMIN_ID), "/start")
    await writes(fake, harness.chat(OTHER_ADMIN), "/start")
    await _queue_everyone(harness)
    await outbox.deliver()
    assert await rows_to(harness, COUNSELOR_A) == [("broadcast", "blocked")]
    assert not any("알림을 보낼 수 없어요" in t for t in texts(fake, ADMIN_ID))

    await quick_register(harness, 1)
    chat = harness.chat(1)
    await to_summary(chat, counselor="김상담")
    await chat.press("제출")
    await outbox.deliver()
    assert await rows_to(harness, COUNSELOR_A) == [("broadcast", "blocked"), ("booking.new", "held")]
    assert sum("김상담님에게 알림을 보낼 수 없어요" in t for t in texts(fake, ADMIN_ID)) == 1


async def test_alerts_held_longer_than_the_kept_days_are_purged(
        harness: Harness, fake: FakeTelegram, outbox: Outbox) -> None:
    """They name applicants: kept no longer than any sent message (OUTBOX_KEEP_DAYS)."""
    fake.never_started(ADMIN_ID)
    await writes(fake, harness.chat(OTHER_ADMIN), "/start")
    await apply(harness.chat(1), "서울팀")
    await outbox.deliver()
    assert await rows_to(harness, ADMIN_ID) == [("membership.new", "held")]
    harness.clock.advance(days=harness.settings.outbox_keep_days + 1)
    await apply_retention(harness.sessions, harness.settings, harness.clock)
    assert await rows_to(harness, ADMIN_ID) == []


async def test_the_running_bot_holds_an_admins_alert_until_they_press_start(tmp_path: Path,
                                                                            fake: FakeTelegram) -> None:
    """The whole app (polling, outbox ticks) against the fake: the same, end to end."""
    bot = BotProcess(tg_settings(tmp_path, fake, admin_telegram_ids=f"{ADMIN_ID},{OTHER_ADMIN}"))
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        fake.never_started(ADMIN_ID)
        since = len(fake.calls)
        fake.user_sends(OTHER_ADMIN, "/start")
        await fake.wait_reply(OTHER_ADMIN, since=since)
        await say(fake, "/membership")
        await press(fake, "예비 창업자")
        await say(fake, "서울팀")
        await say(fake, "동네 가게 주문을 돕는 앱입니다.")
        for label in ("교육", "아이디어", "2명", "동의합니다"):
            await press(fake, label)
        since = len(fake.calls)
        await press(fake, "제출")
        await fake.wait_for(lambda c: c.ok and c.chat_id == OTHER_ADMIN and "알림을 보낼 수 없어요" in
                            str(c.params.get("text", "")), since=since, timeout=10)
        assert not any(NEW_APPLICATION in t for t in texts(fake, ADMIN_ID))

        since = len(fake.calls)
        fake.user_sends(ADMIN_ID, "/start")
        await fake.wait_for(lambda c: c.ok and c.chat_id == ADMIN_ID and NEW_APPLICATION in
                            str(c.params.get("text", "")), since=since, timeout=10)
    finally:
        await bot.close()
