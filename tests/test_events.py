"""Events through the core, on SQLite and PostgreSQL: publish, register, waiting list, check-in."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from kernel.core import Invalid
from kernel.parsers import local_datetime
from scheduler.events import expire_offers
from storage import events, seekers, users
from storage.models import AuditEntry, Event, EventRegistration, Identity, OutboxMessage, User
from tests.conftest import ADMIN_ID, START, Chat, Harness

SEOUL = ZoneInfo("Asia/Seoul")
EVENT_START = dt.datetime(2026, 3, 20, 14, tzinfo=SEOUL)


async def seed_seeker(h: Harness, external_id: int, *, opted_out: bool = False) -> int:
    now = h.clock.now()
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(external_id), str(external_id), "ko", now)
        await seekers.save(s, user.id, {"name": f"구직자{external_id}", "birth_year": 2000, "track": "youth",
                                        "school_kind": "university", "school_name": "서울시립대학교",
                                        "desired_jobs": ["사무"], "skills": [], "districts": [],
                                        "education": "university", "experience_years": 0}, now)
        user.announcements_opt_out = opted_out
        return user.id


async def seed_person(h: Harness, external_id: int) -> int:
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(external_id), str(external_id), "ko", h.clock.now())
        return user.id


async def seed_event(h: Harness, *, capacity: int = 10, audience: str = "everyone", publish: bool = True,
                     start: dt.datetime = EVENT_START, deadline: dt.datetime | None = None) -> int:
    now = h.clock.now()
    async with h.sessions() as s, s.begin():
        event = await events.create(
            s, kind="academy", title="IR 피칭 실전", description="투자 유치를 위한 IR 피칭", starts_at=start,
            ends_at=start + dt.timedelta(hours=2), place="서울창업허브 10층", online_link=None, capacity=capacity,
            audience=audience, registration_deadline=deadline or start - dt.timedelta(days=1), created_by=None,
            now=now)
        if publish:
            await events.publish(s, event, now)
        return event.id


async def outbox_rows(h: Harness, kind: str) -> list[OutboxMessage]:
    async with h.sessions() as s:
        return list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                    .order_by(OutboxMessage.id)))


async def registrations(h: Harness, event_id: int) -> list[EventRegistration]:
    async with h.sessions() as s:
        return list(await s.scalars(select(EventRegistration).where(EventRegistration.event_id == event_id)
                                    .order_by(EventRegistration.id)))


async def reg_of(h: Harness, event_id: int, external_id: int) -> EventRegistration:
    async with h.sessions() as s:
        user_id = await s.scalar(select(User.id).join_from(User, Identity)
                                 .where(Identity.external_id == str(external_id)))
        reg = await s.scalar(select(EventRegistration).where(EventRegistration.event_id == event_id,
                                                             EventRegistration.user_id == user_id))
        assert reg is not None
        return reg


async def walk_new_event(admin: Chat, *, audience: str = "누구나", capacity: str = "2") -> None:
    await admin.send("/newevent")
    assert "어떤 행사" in admin.text
    await admin.press("투자 아카데미")
    await admin.send("3월 투자 아카데미 — IR 피칭 실전")
    await admin.send("투자 유치를 준비하는 팀을 위한 IR 피칭 실습입니다.")
    await admin.send("3/20 14:00")
    await admin.send("16:00")
    await admin.send("서울창업허브 10층")
    await admin.send(capacity)
    await admin.press(audience)
    await admin.send("3월 19일 18시")
    assert "확인해 주세요" in admin.text, admin.text


# --- creating and publishing --------------------------------------------------------------------


async def test_create_preview_publish_announces_to_the_audience_only(harness: Harness) -> None:
    await seed_seeker(harness, 1)
    await seed_seeker(harness, 2, opted_out=True)
    await seed_person(harness, 3)  # not a job seeker
    admin = harness.chat(ADMIN_ID)
    await walk_new_event(admin, audience="구직등록한 분")
    assert "시작: 3월 20일 (금) 14:00" in admin.text and "대상: 구직등록한 분" in admin.text
    await admin.press("제출")
    assert "미리보기" in admin.text
    assert "[투자 아카데미] 3월 투자 아카데미 — IR 피칭 실전" in admin.text
    assert "3월 20일 (금) 14:00~16:00" in admin.text and "정원 2명" in admin.text
    assert "신청 마감 3월 19일 (목) 18:00" in admin.text
    assert await outbox_rows(harness, "event.announce") == []  # a draft until published
    await admin.press("게시")
    assert "게시했어요" in admin.text and "1명" in admin.text
    [row] = await outbox_rows(harness, "event.announce")
    async with harness.sessions() as s:
        event = (await s.scalars(select(Event))).one()
        entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "event.publish"))).one()
    assert row.chat_id == "1" and row.dedupe_key == f"event:{event.id}:announce:{row.user_id}"
    assert "[투자 아카데미]" in row.payload["text"]
    assert row.payload["buttons"][0][0]["payload"] == f"ev:reg:{event.id}"
    assert event.status == "published" and len(event.checkin_code) == 6
    assert entry.details == {"audience": "seekers", "recipients": 1, "queued": 1}
    await admin.press_payload(f"eva:pub:{event.id}")  # a second tap
    assert "임시 저장 상태가 아니에요" in admin.text
    assert len(await outbox_rows(harness, "event.announce")) == 1


async def test_draft_is_not_announced_nor_listed(harness: Harness) -> None:
    await seed_seeker(harness, 1)
    admin = harness.chat(ADMIN_ID)
    await walk_new_event(admin)
    await admin.press("제출")
    await admin.press("임시 저장")
    assert "임시 저장했어요" in admin.text
    assert await outbox_rows(harness, "event.announce") == []
    seeker = harness.chat(1)
    await seeker.send("/events")
    assert "신청할 수 있는 행사가 없어요" in seeker.text
    async with harness.sessions() as s:
        event = (await s.scalars(select(Event))).one()
    assert event.status == "draft"
    await seeker.press_payload(f"ev:reg:{event.id}")
    assert "찾을 수 없는 행사" in seeker.text
    await admin.send("/event")
    assert "예정된 행사 1건" in admin.text
    await admin.press("(임시 저장)")
    assert f"행사 #{event.id} · 임시 저장" in admin.text and event.checkin_code in admin.text
    await admin.press("게시")
    assert "게시했어요" in admin.text
    assert [r.chat_id for r in await outbox_rows(harness, "event.announce")] == ["1", str(ADMIN_ID)]


async def test_events_lists_only_what_the_person_may_attend(harness: Harness) -> None:
    await seed_seeker(harness, 1)
    await seed_person(harness, 2)
    open_id = await seed_event(harness, audience="everyone")
    seekers_id = await seed_event(harness, audience="seekers", start=EVENT_START + dt.timedelta(days=1))
    members_id = await seed_event(harness, audience="members", start=EVENT_START + dt.timedelta(days=2))
    campus_id = await seed_event(harness, audience="campus:서울시립대", start=EVENT_START + dt.timedelta(days=3))
    seeker, other = harness.chat(1), harness.chat(2)
    await seeker.send("/events")
    assert "신청할 수 있는 행사 3건" in seeker.text
    shown = {b.payload for r in seeker.replies for row in r.buttons for b in row}
    await other.send("/events")
    assert "신청할 수 있는 행사 1건" in other.text
    assert f"ev:reg:{open_id}" in other.last_buttons.values()
    assert f"ev:reg:{members_id}" not in shown
    assert {f"ev:reg:{open_id}", f"ev:reg:{seekers_id}", f"ev:reg:{campus_id}"} <= shown
    await other.press_payload(f"ev:reg:{seekers_id}")  # a forged press for an event not for them
    assert "신청 대상이 아니에요" in other.text
    assert await registrations(harness, seekers_id) == []


# --- registering ---------------------------------------------------------------------------------


async def test_register_gives_a_seat_an_ics_and_reminders_and_twice_is_refused(harness: Harness) -> None:
    event_id = await seed_event(harness)
    chat = harness.chat(1)
    await chat.send("/events")
    assert "남은 자리 10석" in chat.text
    await chat.press("신청하기")
    assert "신청했어요" in chat.text and "좌석 1번" in chat.text
    ics = next(r.file for r in chat.replies if r.file)
    assert ics.filename.endswith(".ics") and b"BEGIN:VEVENT" in ics.data and "IR 피칭 실전".encode() in ics.data
    reminders = await outbox_rows(harness, "event.reminder")
    reg = await reg_of(harness, event_id, 1)
    assert sorted(r.dedupe_key or "" for r in reminders) == [f"event:{event_id}:{reg.user_id}:r1:202603200500",
                                                             f"event:{event_id}:{reg.user_id}:r24:202603200500"]
    assert sorted(r.due_at for r in reminders) == [EVENT_START - dt.timedelta(days=1),
                                                   EVENT_START - dt.timedelta(hours=1)]
    await chat.press_payload(f"ev:reg:{event_id}")
    assert "이미 ‘IR 피칭 실전’에 신청하셨어요" in chat.text
    assert len(await registrations(harness, event_id)) == 1
    await chat.send("/events")
    assert "신청 완료 (좌석 1)" in chat.text


async def test_a_person_who_cancelled_can_register_again_with_fresh_reminders(harness: Harness) -> None:
    event_id = await seed_event(harness)
    chat = harness.chat(1)
    await chat.press_payload(f"ev:reg:{event_id}")
    await chat.press_payload(f"ev:cy:{event_id}")
    await chat.press_payload(f"ev:cy:{event_id}")  # a second tap
    assert "신청 내역을 찾을 수 없어요" in chat.text
    await chat.press_payload(f"ev:reg:{event_id}")
    assert "신청했어요" in chat.text
    [reg] = await registrations(harness, event_id)
    assert reg.status == "registered" and reg.seat_no == 1
    assert sorted(r.status for r in await outbox_rows(harness, "event.reminder")) == ["pending", "pending"]


async def test_registering_after_the_deadline_is_refused(harness: Harness) -> None:
    event_id = await seed_event(harness, deadline=START + dt.timedelta(hours=1))
    chat = harness.chat(1)
    harness.clock.advance(hours=2)
    await chat.press_payload(f"ev:reg:{event_id}")
    assert "신청이 마감되었어요" in chat.text
    assert await registrations(harness, event_id) == []


async def test_concurrent_registrations_for_the_last_two_seats(harness: Harness) -> None:
    event_id = await seed_event(harness, capacity=3)
    await harness.chat(500).press_payload(f"ev:reg:{event_id}")
    chats = [harness.chat(600 + i) for i in range(10)]
    for chat in chats:
        await seed_person(harness, int(chat.user_id))
    await asyncio.gather(*(chat.press_payload(f"ev:reg:{event_id}") for chat in chats))
    regs = await registrations(harness, event_id)
    seated = [r for r in regs if r.status == "registered"]
    assert len(seated) == 3 and sorted(r.seat_no or 0 for r in seated) == [1, 2, 3]
    assert sum("신청했어요" in c.text for c in chats) == 2
    assert sum("정원이 찼어요" in c.text for c in chats) == 8


# --- the waiting list ----------------------------------------------------------------------------


async def test_full_event_offers_the_waiting_list_and_a_cancellation_promotes_the_first(harness: Harness) -> None:
    event_id = await seed_event(harness, capacity=1)
    first, second, third = harness.chat(1), harness.chat(2), harness.chat(3)
    await first.press_payload(f"ev:reg:{event_id}")
    await second.press_payload(f"ev:reg:{event_id}")
    assert "정원이 찼어요" in second.text
    await second.press("대기 신청")
    assert "1번째" in second.text
    await third.press_payload(f"ev:wait:{event_id}")
    assert "2번째" in third.text
    await first.send("/events")
    await first.press("신청 취소")
    assert "취소할까요" in first.text
    await first.press("네, 취소할게요")
    assert "신청을 취소했어요" in first.text
    assert {r.status for r in await outbox_rows(harness, "event.reminder")} == {"cancelled"}
    offered = await reg_of(harness, event_id, 2)
    assert offered.status == "offered" and offered.seat_no == 1
    assert offered.offered_until == START + dt.timedelta(hours=24)
    [offer] = await outbox_rows(harness, "event.offer")
    assert offer.chat_id == "2" and "3월 3일 (화) 10:00까지" in offer.payload["text"]
    assert [b["label"] for b in offer.payload["buttons"][0]] == ["✅ 자리 확정", "🙏 양보하기"]
    await second.press_payload(offer.payload["buttons"][0][0]["payload"])
    assert "신청했어요" in second.text and any(r.file for r in second.replies)
    # A double press (or 양보하기 after it) says the seat is theirs, not that the offer is gone.
    for button in offer.payload["buttons"][0]:
        await second.press_payload(button["payload"])
        assert "이미 ‘" in second.text and "좌석 1번" in second.text and "유효하지 않아요" not in second.text
        assert "신청 취소" in second.last_buttons
    assert (await reg_of(harness, event_id, 2)).status == "registered"
    assert (await reg_of(harness, event_id, 3)).status == "waiting"
    await first.press_payload(f"ev:ok:{event_id}")  # someone else's offer
    assert "유효하지 않아요" in first.text


async def test_passing_and_expiry_hand_the_seat_on(harness: Harness) -> None:
    event_id = await seed_event(harness, capacity=1)
    chats = [harness.chat(i) for i in (1, 2, 3, 4)]
    await chats[0].press_payload(f"ev:reg:{event_id}")
    for chat in chats[1:]:
        await chat.press_payload(f"ev:wait:{event_id}")
    await chats[0].press_payload(f"ev:cy:{event_id}")
    assert (await reg_of(harness, event_id, 2)).status == "offered"
    await chats[1].press_payload(f"ev:pass:{event_id}")
    assert "양보했어요" in chats[1].text
    assert (await reg_of(harness, event_id, 2)).status == "cancelled"
    # A second press, of either button, says the seat went on, not that the offer is "no longer valid".
    for code in ("pass", "ok"):
        await chats[1].press_payload(f"ev:{code}:{event_id}")
        assert "다음 대기자에게 넘어갔어요" in chats[1].text and "유효하지 않아요" not in chats[1].text
    assert (await reg_of(harness, event_id, 3)).status == "offered"
    harness.clock.advance(hours=23)
    assert await expire_offers(harness.sessions, harness.settings, harness.clock) == 0
    harness.clock.advance(hours=2)
    assert await expire_offers(harness.sessions, harness.settings, harness.clock) == 1
    assert (await reg_of(harness, event_id, 3)).status == "cancelled"
    fourth = await reg_of(harness, event_id, 4)
    assert fourth.status == "offered" and fourth.seat_no == 1
    assert [r.chat_id for r in await outbox_rows(harness, "event.offer")] == ["2", "3", "4"]
    [expired] = await outbox_rows(harness, "event.offer_expired")
    assert expired.chat_id == "3"
    await chats[2].press_payload(f"ev:ok:{event_id}")
    assert "다음 대기자에게 넘어갔어요" in chats[2].text
    # Someone who never had an offer: nothing to tell about it.
    await chats[0].press_payload(f"ev:ok:{event_id}")
    assert "유효하지 않아요" in chats[0].text


# --- editing and cancelling ---------------------------------------------------------------------


async def test_edit_tells_registered_people_what_changed(harness: Harness) -> None:
    event_id = await seed_event(harness, capacity=2)
    for i in (1, 2):
        await harness.chat(i).press_payload(f"ev:reg:{event_id}")
    await harness.chat(3).press_payload(f"ev:wait:{event_id}")
    admin = harness.chat(ADMIN_ID)
    await admin.send(f"/event {event_id}")
    assert "신청 2/2명" in admin.text and "대기 1명" in admin.text and "체크인 코드" in admin.text
    await admin.press("수정")
    await admin.press("정원")
    await admin.send("1")
    await admin.press("제출")
    assert "2명이 자리를 가지고" in admin.text
    await admin.send("3")
    await admin.press("제출")
    # A larger capacity is not news for the people registered: only the first waiting is offered the seat.
    assert "따로 알리지 않아요" in admin.text
    assert await outbox_rows(harness, "event.changed") == []
    third = await reg_of(harness, event_id, 3)
    assert third.status == "offered" and third.seat_no == 3
    assert [r.chat_id for r in await outbox_rows(harness, "event.offer")] == ["3"]

    await admin.press("수정")
    await admin.press("시작")
    await admin.send("3/21 10:00")
    assert "확인해 주세요" in admin.text
    await admin.press("제출")
    assert "종료가 시작보다 앞서요" in admin.text
    await admin.send("12:00")
    await admin.press("제출")
    assert "수정했어요. 3명에게" in admin.text
    changed = await outbox_rows(harness, "event.changed")
    assert sorted(r.chat_id for r in changed) == ["1", "2", "3"]
    assert "• 시작: 3월 20일 (금) 14:00 → 3월 21일 (토) 10:00" in changed[0].payload["text"]
    assert "정원" not in changed[0].payload["text"].split("\n\n")[0]  # the change lines, not the card
    pending = [r for r in await outbox_rows(harness, "event.reminder") if r.status == "pending"]
    assert sorted({r.due_at for r in pending}) == [dt.datetime(2026, 3, 20, 10, tzinfo=SEOUL),
                                                   dt.datetime(2026, 3, 21, 9, tzinfo=SEOUL)]


async def test_cancelling_the_event_tells_people_and_withdraws_reminders(harness: Harness) -> None:
    event_id = await seed_event(harness, capacity=1)
    await harness.chat(1).press_payload(f"ev:reg:{event_id}")
    await harness.chat(2).press_payload(f"ev:wait:{event_id}")
    admin = harness.chat(ADMIN_ID)
    await admin.send(f"/event {event_id}")
    await admin.press("행사 취소")
    assert "취소할까요" in admin.text
    await admin.press("네, 행사를 취소합니다")
    assert "취소했어요. 2명에게" in admin.text
    assert sorted(r.chat_id for r in await outbox_rows(harness, "event.cancelled")) == ["1", "2"]
    assert {r.status for r in await outbox_rows(harness, "event.reminder")} == {"cancelled"}
    assert {r.status for r in await registrations(harness, event_id)} == {"cancelled"}
    late = harness.chat(3)
    await late.press_payload(f"ev:reg:{event_id}")
    assert "행사는 취소되었어요" in late.text
    async with harness.sessions() as s:
        entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "event.cancel"))).one()
    assert entry.details == {"registrations": 2, "notified": 2}


# --- check-in ------------------------------------------------------------------------------------


async def test_check_in_by_code_and_by_the_admin_list(harness: Harness) -> None:
    event_id = await seed_event(harness)
    one, two, stranger = harness.chat(1), harness.chat(2), harness.chat(3)
    await one.press_payload(f"ev:reg:{event_id}")
    await two.press_payload(f"ev:reg:{event_id}")
    async with harness.sessions() as s:
        code = (await s.get(Event, event_id)).checkin_code  # type: ignore[union-attr]
    await one.send(f"/checkin {code}")
    assert "행사 당일에 체크인" in one.text
    harness.clock._now = EVENT_START - dt.timedelta(minutes=20)
    await one.send("/checkin ZZZZZZ")
    assert "찾을 수 없어요" in one.text
    await one.send(f"/checkin {code.lower()}")
    assert "체크인 완료" in one.text
    await one.send(f"/checkin {code}")
    assert "이미" in one.text
    await stranger.send(f"/checkin {code}")
    assert "신청자 명단에 없어요" in stranger.text
    admin = harness.chat(ADMIN_ID)
    await admin.send(f"/event {event_id}")
    await admin.press("참석 체크")
    assert "1/2명" in admin.text
    await admin.press("☐")
    assert "2/2명" in admin.text and admin.replies[0].edit
    async with harness.sessions() as s:
        attended = await events.attendees(s, event_id)
    assert len(attended) == 2


async def test_check_in_by_typing_the_code_alone(harness: Harness) -> None:
    event_id = await seed_event(harness)
    one = harness.chat(1)
    await one.press_payload(f"ev:reg:{event_id}")
    async with harness.sessions() as s:
        code = (await s.get(Event, event_id)).checkin_code  # type: ignore[union-attr]
    await one.send(code)
    assert "잘 모르겠어요" in one.text  # not the event's day: just text
    harness.clock._now = EVENT_START - dt.timedelta(minutes=20)
    await one.send("ZZZZZZ")
    assert "잘 모르겠어요" in one.text
    await one.send(f" {code.lower()} ")
    assert "체크인 완료" in one.text


async def test_widening_the_audience_announces_to_the_new_people_only(harness: Harness) -> None:
    from tests.test_booking import quick_register

    await quick_register(harness, 1)  # a job seeker
    harness.chat(2)  # someone who is not
    await harness.chat(2).send("/start")
    admin = harness.chat(ADMIN_ID)
    await admin.send("/start")
    event_id = await seed_event(harness, audience="seekers", publish=False)
    await admin.send(f"/event {event_id}")
    await admin.press("게시")
    assert sorted(r.chat_id for r in await outbox_rows(harness, "event.announce")) == ["1"]
    await admin.send(f"/event {event_id}")
    await admin.press("수정")
    await admin.press("대상")
    await admin.press("누구나")
    await admin.press("제출")
    assert sorted(r.chat_id for r in await outbox_rows(harness, "event.announce")) == ["1", "2", str(ADMIN_ID)]


# --- bad input -----------------------------------------------------------------------------------


async def test_bad_dates_and_capacity_get_clear_messages(harness: Harness) -> None:
    admin = harness.chat(ADMIN_ID)
    await admin.send("/newevent")
    await admin.press("네트워킹")
    await admin.send("창업가 네트워킹 데이")
    await admin.send("창업가끼리 만나는 자리")
    await admin.send("2026-03-01 10:00")
    assert "이미 지난 시간" in admin.text
    await admin.send("다음주 언젠가")
    assert "알아볼 수 없어요" in admin.text
    await admin.send("2026-03-20 14:00")
    await admin.send("13:00")
    assert "종료가 시작보다 앞서요" in admin.text
    await admin.send("3/20 18:00")
    await admin.send("https://zoom.us/j/123456")
    for bad in ("0", "20000", "많이"):
        await admin.send(bad)
        assert "1명에서 10000명" in admin.text, bad
    await admin.send("30명")
    await admin.press("특정 캠퍼스")
    await admin.send("서울시립대학교")
    await admin.send("3/21 10:00")
    assert "시작 전이어야" in admin.text
    await admin.press("건너뛰기")
    assert "확인해 주세요" in admin.text and "캠퍼스: 서울시립대학교" in admin.text
    await admin.press("제출")
    async with harness.sessions() as s:
        event = (await s.scalars(select(Event))).one()
    assert event.online_link == "https://zoom.us/j/123456" and event.place is None
    assert event.audience == "campus:서울시립대학교" and event.capacity == 30
    assert event.registration_deadline == event.starts_at


async def test_non_admin_pressing_admin_buttons_is_refused(harness: Harness) -> None:
    event_id = await seed_event(harness, publish=False)
    chat = harness.chat(1)
    await chat.press_payload(f"ev:reg:{event_id}")
    for forged in (f"eva:pub:{event_id}", f"eva:xy:{event_id}", f"eva:e:{event_id}", "eva:att:1:0"):
        await chat.press_payload(forged)
        assert "관리자만" in chat.text, forged
    await chat.send("/newevent")
    assert "관리자만" in chat.text
    async with harness.sessions() as s:
        assert (await s.get(Event, event_id)).status == "draft"  # type: ignore[union-attr]
    assert await outbox_rows(harness, "event.announce") == []


async def test_capacity_reduced_below_the_seats_taken_is_refused_in_storage(harness: Harness) -> None:
    event_id = await seed_event(harness, capacity=2)
    for i in (1, 2):
        await harness.chat(i).press_payload(f"ev:reg:{event_id}")
    async with harness.sessions() as s, s.begin():
        event = await events.get(s, event_id)
        assert event is not None
        with pytest.raises(events.CapacityTooLow):
            await events.update_event(s, event, {"capacity": 1}, harness.clock.now())
        await s.execute(update(Event).where(Event.id == event_id).values(capacity=2))


def test_korean_date_formats() -> None:
    now = START
    expected = dt.datetime(2026, 3, 20, 14, tzinfo=SEOUL)
    for text in ("2026-03-20 14:00", "2026.3.20 14:00", "3/20 14:00", "3월 20일 14시", "3월 20일 오후 2시",
                 "2026년 3월 20일 14:00"):
        assert local_datetime(text, now, SEOUL) == expected, text
    assert local_datetime("16:30", now, SEOUL, base=expected.date()) == expected.replace(hour=16, minute=30)
    for bad in ("3/20", "13/40 10:00", "3/20 25:00", "내일"):
        with pytest.raises(Invalid):
            local_datetime(bad, now, SEOUL)
