"""Linking Telegram and KakaoTalk with a one-time code, through the core (both channels' chats)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from storage.models import AuditEntry, Booking, EventRegistration, Identity, SeekerProfile, User
from tests.conftest import ADMIN_ID, Chat, Harness, register
from tests.test_booking import seed as seed_counselors
from tests.test_booking import to_summary
from tests.test_events import seed_event


async def code_from(chat: Chat) -> str:
    await chat.send("/link")
    found = re.search(r"/link (\d{6})", chat.text)
    assert found, chat.text
    return found.group(1)


async def people(h: Harness) -> dict[int, set[str]]:
    async with h.sessions() as s:
        rows = (await s.execute(select(Identity.user_id, Identity.channel))).all()
    out: dict[int, set[str]] = {}
    for user_id, channel in rows:
        out.setdefault(user_id, set()).add(channel)
    return out


async def test_a_code_from_telegram_typed_on_kakao_makes_one_person(harness: Harness) -> None:
    await seed_counselors(harness)
    event_id = await seed_event(harness)
    telegram, kakao = harness.chat(1), harness.chat("kakao-key-1", channel="kakao")
    await register(telegram)
    await to_summary(telegram)
    await telegram.press("제출")
    await telegram.press_payload(f"ev:reg:{event_id}")
    await kakao.send("/start")
    code = await code_from(telegram)
    assert "10분" in telegram.text
    await kakao.send(f"/link {code}")
    assert "텔레그램 계정과 연결했어요" in kakao.text and "알림은 카카오톡으로" in kakao.text, kakao.text
    linked = [(user_id, channels) for user_id, channels in (await people(harness)).items() if "kakao" in channels]
    assert [channels for _, channels in linked] == [{"telegram", "kakao"}]
    [(user_id, _)] = linked

    await kakao.send("/profile")
    assert "김서울" in kakao.text
    await kakao.send("/mybookings")
    assert "취업상담" in kakao.text
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Booking).where(Booking.user_id == user_id)) == 1
        assert await s.scalar(select(func.count()).select_from(EventRegistration)
                              .where(EventRegistration.user_id == user_id)) == 1
        assert await s.scalar(select(func.count()).select_from(User)) == 3  # the person and two counselors
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "account.linked"))
        assert entry is not None and entry.details["moved"]["seeker_profiles"] == 1
    # The code worked once.
    newcomer = harness.chat("kakao-key-2", channel="kakao")
    await newcomer.send(f"/link {code}")
    assert "만료된 코드" in newcomer.text
    assert len(await people(harness)) == 2 + 1 + 1  # counselors, the linked person, the newcomer


async def test_both_sides_registered_is_refused_and_nothing_changes(harness: Harness) -> None:
    telegram, kakao = harness.chat(1), harness.chat("kakao-key-1", channel="kakao")
    await register(telegram)
    await register(kakao)
    before = await people(harness)
    await kakao.send(f"/link {await code_from(telegram)}")
    assert "두 계정 모두 구직등록이 되어 있어서" in kakao.text
    assert await people(harness) == before
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(SeekerProfile)) == 2


async def test_the_same_event_on_both_sides_is_refused_unless_one_was_cancelled(harness: Harness) -> None:
    event_id = await seed_event(harness)
    telegram, kakao = harness.chat(1), harness.chat("kakao-key-1", channel="kakao")
    for chat in (telegram, kakao):
        await chat.press_payload(f"ev:reg:{event_id}")
    await kakao.send(f"/link {await code_from(telegram)}")
    assert "같은 행사에 신청되어 있어서" in kakao.text
    await telegram.press_payload(f"ev:c:{event_id}")
    await telegram.press("취소")
    await kakao.send(f"/link {await code_from(telegram)}")
    assert "연결했어요" in kakao.text, kakao.text
    async with harness.sessions() as s:
        regs = list(await s.scalars(select(EventRegistration)))
    assert len(regs) == 1 and regs[0].status == "registered"


async def test_wrong_same_channel_expired_and_guessed_codes(harness: Harness) -> None:
    telegram, other_telegram = harness.chat(1), harness.chat(2)
    kakao = harness.chat("kakao-key-1", channel="kakao")
    code = await code_from(telegram)
    await telegram.send(f"/link {code}")
    assert "이 계정에서 만든 코드" in telegram.text
    await other_telegram.send(f"/link {code}")
    assert "같은 메신저" in other_telegram.text
    await kakao.send("/link 12a")
    assert "숫자 6자리" in kakao.text
    harness.clock.advance(minutes=11)
    await kakao.send(f"/link {code}")
    assert "만료된 코드" in kakao.text and "남은 시도 4회" in kakao.text
    for _ in range(4):
        await kakao.send("/link 000000" if code != "000000" else "/link 111111")
    assert "1시간 뒤에" in kakao.text
    fresh = await code_from(telegram)
    await kakao.send(f"/link {fresh}")
    assert "1시간 뒤에" in kakao.text  # even the right code, while locked
    harness.clock.advance(minutes=61)
    fresh = await code_from(telegram)
    await kakao.send(f"/link {fresh}")
    assert "연결했어요" in kakao.text


async def test_the_code_can_be_typed_as_an_answer(harness: Harness) -> None:
    telegram, kakao = harness.chat(1), harness.chat("kakao-key-1", channel="kakao")
    code = await code_from(telegram)
    await kakao.send("/link")
    await kakao.press("코드 입력하기")
    assert "6자리 코드를 입력해" in kakao.text
    await kakao.send("12 34")
    assert "숫자 6자리" in kakao.text
    await kakao.send(f"{code[:3]} {code[3:]}")
    assert "연결했어요" in kakao.text, kakao.text


async def test_an_admin_who_links_kakao_is_admin_there_too(harness: Harness) -> None:
    admin, kakao = harness.chat(ADMIN_ID), harness.chat("kakao-admin", channel="kakao")
    await kakao.send("/applications")
    assert "관리자만" in kakao.text, kakao.text
    await kakao.send(f"/link {await code_from(admin)}")
    assert "연결했어요" in kakao.text
    await kakao.send("/applications")
    assert "관리자만" not in kakao.text, kakao.text
    await admin.send("/applications")
    assert "관리자만" not in admin.text
