"""Consultation booking through the core, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import build_engine
from kernel.i18n import translator
from storage import bookings, counselors, seekers, users
from storage.models import Booking, BookingCell, Identity, Membership, OutboxMessage
from tests.conftest import Chat, FakeClock, Harness, make_settings, register

SEOUL = dt.timezone(dt.timedelta(hours=9))
COUNSELOR_A, COUNSELOR_B = 800, 801


async def seed(h: Harness) -> dict[str, int]:
    """Two counselors at the centre (A weekdays 9–12, B Tuesdays 13–15); A also at a campus on Wednesdays."""
    now = h.clock.now()
    async with h.sessions() as s, s.begin():
        ua, _ = await users.identify(s, "telegram", str(COUNSELOR_A), str(COUNSELOR_A), "ko", now)
        ub, _ = await users.identify(s, "telegram", str(COUNSELOR_B), str(COUNSELOR_B), "ko", now)
        a = await counselors.create(s, ua.id, "김상담", ["job_counselling", "document_clinic"], now)
        b = await counselors.create(s, ub.id, "이상담", ["job_counselling"], now)
        centre = await counselors.place(s, "centre", "서울일자리플러스센터", address="서울 중구 세종대로 110")
        campus = await counselors.place(s, "campus", "서울시립대학교 캠퍼스점")
        for weekday in range(5):
            await counselors.add_window(s, a.id, centre.id, weekday, 9 * 60, 12 * 60)
        await counselors.add_window(s, b.id, centre.id, 1, 13 * 60, 15 * 60)
        await counselors.add_window(s, a.id, campus.id, 2, 14 * 60, 16 * 60)
        return {"a": a.id, "b": b.id, "centre": centre.id, "campus": campus.id}


async def quick_register(h: Harness, user_id: int) -> None:
    await seed_seeker(h.sessions, user_id, h.clock.now())


async def seed_seeker(sessions: Any, user_id: int, now: dt.datetime) -> None:
    """A registered job seeker without walking the registration form."""
    async with sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(user_id), str(user_id), "ko", now)
        await seekers.save(s, user.id, {"name": f"구직자{user_id}", "birth_year": 2000, "track": "youth",
                                        "school_kind": "university", "school_name": "서울대학교",
                                        "desired_jobs": ["사무"], "skills": [], "districts": [],
                                        "education": "university", "experience_years": 0}, now)


async def to_summary(chat: Chat, *, type_: str = "취업상담", place: str = "서울일자리플러스센터",
                     counselor: str | None = "상관없음", day: str = "3/3", time: str = "09:00") -> None:
    await chat.send("/book")
    await chat.press(type_)
    await chat.press(place)
    if counselor is not None:
        await chat.press(counselor)
    await chat.press(day)
    if "시간을 골라" in chat.text:
        await chat.press(time)
    else:  # the day's only time, given for the person (issue 15)
        assert f"시간: {time}" in chat.text, chat.text
    await chat.press("건너뛰기")
    assert "확인해 주세요" in chat.text, chat.text


async def _bookings(h: Harness) -> list[Booking]:
    async with h.sessions() as s:
        return list(await s.scalars(select(Booking).order_by(Booking.id)))


async def _outbox(h: Harness, kind: str) -> list[OutboxMessage]:
    async with h.sessions() as s:
        return list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                    .order_by(OutboxMessage.id)))


async def test_book_a_consultation_end_to_end(harness: Harness) -> None:
    ids = await seed(harness)
    chat = harness.chat(1)
    await register(chat)
    await chat.send("/book")
    assert "어떤 상담" in chat.text
    assert {"취업상담", "구직서류클리닉 (이력서·자기소개서)"} <= set(chat.last_buttons)
    assert not any("창업" in label for label in chat.last_buttons)
    await chat.press("취업상담")
    assert set(chat.last_buttons) >= {"서울일자리플러스센터", "서울시립대학교 캠퍼스점"}
    await chat.press("서울일자리플러스센터")
    assert "상관없음" in " ".join(chat.last_buttons) and "김상담" in chat.last_buttons
    await chat.press("상관없음")
    # Monday 10:00 now, 2 h notice: nothing left today; Tuesday is the first day.
    assert not any(label.startswith("3/2") for label in chat.last_buttons)
    await chat.press("3/3")
    assert "09:00" in chat.last_buttons and "13:00" in chat.last_buttons
    await chat.press("13:00")
    await chat.send("면접 준비를 하고 싶어요.")
    assert "날짜: 3/3 (화)" in chat.text and "시간: 13:00" in chat.text and "면접 준비" in chat.text
    await chat.press("제출")
    assert "예약되었어요" in chat.text and "이상담" in chat.text
    ics = next(r.file for r in chat.replies if r.file)
    assert ics.filename.endswith(".ics") and b"BEGIN:VEVENT" in ics.data and b"DTSTART" in ics.data
    assert "서울 중구 세종대로 110".encode() in ics.data

    [booking] = await _bookings(harness)
    assert booking.counselor_id == ids["b"] and booking.starts_at == dt.datetime(2026, 3, 3, 13, tzinfo=SEOUL)
    assert booking.ends_at - booking.starts_at == dt.timedelta(minutes=60)
    assert booking.note == "면접 준비를 하고 싶어요."
    [note] = await _outbox(harness, "booking.new")
    assert note.chat_id == str(COUNSELOR_B) and "구직자" not in note.payload["text"]
    assert "김서울" in note.payload["text"] and "면접 준비" in note.payload["text"]
    reminders = await _outbox(harness, "booking.reminder")
    assert sorted(r.due_at for r in reminders) == [booking.starts_at - dt.timedelta(hours=24),
                                                   booking.starts_at - dt.timedelta(hours=1)]


async def test_least_busy_counselor_gets_the_booking(harness: Harness) -> None:
    await seed(harness)
    async with harness.sessions() as s, s.begin():
        centre = await counselors.place(s, "centre", "서울일자리플러스센터")
        b = (await counselors.active(s, "job_counselling"))[1]
        await counselors.add_window(s, b.id, centre.id, 2, 9 * 60, 12 * 60)  # B on Wednesday mornings too
    first, second = harness.chat(1), harness.chat(2)
    for chat in (first, second):
        await quick_register(harness, int(chat.user_id))
    await to_summary(first, day="3/4", time="09:00")
    await first.press("제출")
    await to_summary(second, day="3/4", time="09:00")
    await second.press("제출")
    a_booking, b_booking = await _bookings(harness)
    assert a_booking.counselor_id != b_booking.counselor_id


async def test_unregistered_person_registers_then_comes_back_to_booking(harness: Harness) -> None:
    await seed(harness)
    chat = harness.chat(3)
    await chat.send("/book")
    assert "구직등록" in chat.text
    await chat.press("구직등록 후 예약하기")
    from tests.conftest import REGISTRATION

    for action, value in REGISTRATION:
        await (chat.press(value) if action == "press" else chat.send(value))
    await chat.press("제출")
    assert "구직등록이 완료" in chat.text and "어떤 상담" in chat.text


async def test_fifty_concurrent_confirmations_one_booking(harness: Harness) -> None:
    await seed(harness)
    chats = [harness.chat(1000 + i) for i in range(50)]
    for chat in chats:
        await quick_register(harness, int(chat.user_id))
        # The document clinic is given by one counselor only: one slot, fifty people.
        await to_summary(chat, type_="구직서류클리닉", counselor=None, day="3/3", time="09:00")
    results = await asyncio.gather(*(chat.press("제출") for chat in chats))
    assert len(await _bookings(harness)) == 1
    winners = [c for c in chats if "예약되었어요" in c.text]
    losers = [c for c in chats if "방금 다른 분이 예약했어요" in c.text]
    assert len(winners) == 1 and len(losers) == 49 and len(results) == 50
    # The others get fresh times without the taken one.
    assert "09:00" not in losers[0].last_buttons and "09:30" not in losers[0].last_buttons
    await losers[0].press("10:00")
    await losers[0].press("제출")
    assert "예약되었어요" in losers[0].text
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(BookingCell)) == 2 * 4  # 30 min + 10 min buffer


async def test_the_last_time_of_a_day_taken_at_submit_asks_for_another_day(harness: Harness) -> None:
    """Whoever loses the day's only time at 제출 is asked for another day straight away, with why;
    before, the time question had nothing to pick and 이전 led back to the summary, round and round."""
    await seed(harness)
    async with harness.sessions() as s, s.begin():
        a = (await counselors.active(s, "job_counselling"))[0]
        small = await counselors.place(s, "campus", "서울과학기술대학교 캠퍼스점")
        await counselors.add_window(s, a.id, small.id, 3, 16 * 60, 17 * 60)  # Thursdays: one hour, one time
    first, second = harness.chat(1), harness.chat(2)
    for chat in (first, second):
        await quick_register(harness, int(chat.user_id))
        await to_summary(chat, place="서울과학기술대학교 캠퍼스점", counselor=None, day="3/5", time="16:00")
    await first.press("제출")
    assert "예약되었어요" in first.text
    await second.press("제출")
    assert "방금 다른 분이 예약했어요" in second.text and "이 날은 남은 시간이 없어요" in second.text
    assert "날짜를 골라" in second.text, second.text
    days = [b for b in second.last_buttons if b[:1].isdigit()]
    assert not any(b.startswith("3/5") for b in days) and any(b.startswith("3/12") for b in days)
    await second.press("3/12")
    # That day's only time is given for the person, back on the summary.
    assert "확인해 주세요" in second.text and "3/12" in second.text and "16:00" in second.text
    await second.press("제출")
    assert "예약되었어요" in second.text
    assert [b.starts_at for b in await _bookings(harness)] == [dt.datetime(2026, 3, 5, 16, tzinfo=SEOUL),
                                                              dt.datetime(2026, 3, 12, 16, tzinfo=SEOUL)]


async def test_a_day_asked_again_for_a_lost_time_drops_the_old_time(harness: Harness) -> None:
    """Correcting the time from the summary when none is left that day asks for the day; the
    new day's times are offered, never the old day's time kept on the summary."""
    await seed(harness)
    async with harness.sessions() as s, s.begin():
        a = (await counselors.active(s, "job_counselling"))[0]
        small = await counselors.place(s, "campus", "서울과학기술대학교 캠퍼스점")
        await counselors.add_window(s, a.id, small.id, 3, 16 * 60, 17 * 60)  # Thursdays 16:00 only
        await counselors.add_window(s, a.id, small.id, 4, 13 * 60, 14 * 60)  # Fridays 13:00 only
    first, second = harness.chat(1), harness.chat(2)
    for chat in (first, second):
        await quick_register(harness, int(chat.user_id))
        await to_summary(chat, place="서울과학기술대학교 캠퍼스점", counselor=None, day="3/5", time="16:00")
    await first.press("제출")
    await second.press("수정")
    await second.press(next(b for b in second.last_buttons if "시간" in b))
    assert "이 날은 남은 시간이 없어요" in second.text and "날짜를 골라" in second.text
    await second.press(next(b for b in second.last_buttons if b.startswith("3/6")))
    # The new day's only time is given for the person; the old day's time is not kept.
    assert "확인해 주세요" in second.text and "13:00" in second.text and "16:00" not in second.text
    await second.press("제출")
    assert "예약되었어요" in second.text


async def test_many_confirmations_over_three_counselors_all_get_an_answer(harness: Harness) -> None:
    """Forty people confirm at once, twenty for 09:00 and twenty for 10:30, with three counselors
    free: six get a booking and the others a fresh choice of times, nobody "잠시 후 다시 시도해
    주세요"."""
    ids = await seed(harness)
    now = harness.clock.now()
    async with harness.sessions() as s, s.begin():
        uc, _ = await users.identify(s, "telegram", "802", "802", "ko", now)
        c = await counselors.create(s, uc.id, "박상담", ["job_counselling"], now)
        for counselor_id in (ids["b"], c.id):
            await counselors.add_window(s, counselor_id, ids["centre"], 1, 9 * 60, 12 * 60)
    chats = [harness.chat(2000 + i) for i in range(40)]
    for i, chat in enumerate(chats):
        await quick_register(harness, int(chat.user_id))
        await to_summary(chat, day="3/3", time="09:00" if i % 2 else "10:30")
    await asyncio.gather(*(chat.press("제출") for chat in chats))
    unavailable = translator("ko")("error.unavailable")
    assert not [c.user_id for c in chats if unavailable in c.text]
    booked = [c for c in chats if "예약되었어요" in c.text]
    assert len(booked) == 6
    assert all("방금 다른 분이 예약했어요" in c.text for c in chats if c not in booked)
    held = {(b.counselor_id, b.starts_at) for b in await _bookings(harness)}
    assert len(held) == 6 and {counselor for counselor, _ in held} == {ids["a"], ids["b"], c.id}


async def test_two_people_losing_their_first_counselor_at_once_both_get_an_answer(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two people confirm 3/3 09:00 at once; each prefers the counselor the other does not (the
    other is busier that week by what each read), and each finds that first choice taken at the
    same moment: each gets the other counselor, or a fresh choice of times.
    Before, each held its first counselor's day lock while asking for the next one's: on
    PostgreSQL the two waited on each other until the server ended one turn as a deadlock, and
    that person was told "잠시 후 다시 시도해 주세요"."""
    ids = await seed(harness)
    async with harness.sessions() as s, s.begin():
        await counselors.add_window(s, ids["b"], ids["centre"], 1, 9 * 60, 12 * 60)  # B on Tuesday mornings too
    x, y = harness.chat(1), harness.chat(2)
    for chat in (x, y):
        await quick_register(harness, int(chat.user_id))
        await to_summary(chat, day="3/3", time="09:00")
    async with harness.sessions() as s:
        ux, _ = await users.identify(s, "telegram", "1", "1", "ko", harness.clock.now())

    async def week_load(ctx: Any, counselor_ids: Any, day: dt.date) -> Counter[int]:
        return Counter({ids["b"]: 1} if ctx.user.id == ux.id else {ids["a"]: 1})

    real_book = bookings.book
    first_tried: set[int] = set()

    async def book(session: Any, **kw: Any) -> Booking:
        if kw["user_id"] not in first_tried:
            # Taken by a third person meanwhile, once each has reached its first choice.
            first_tried.add(kw["user_id"])
            for _ in range(50):
                if len(first_tried) == 2:
                    break
                await asyncio.sleep(0.02)
            raise bookings.SlotTaken
        return await real_book(session, **kw)

    monkeypatch.setattr("handlers.booking._week_load", week_load)
    monkeypatch.setattr(bookings, "book", book)
    await asyncio.gather(x.press("제출"), y.press("제출"))
    unavailable = translator("ko")("error.unavailable")
    assert unavailable not in x.text and unavailable not in y.text
    # Where turns run one after the other (SQLite) the second finds only the first choice free.
    booked = [c for c in (x, y) if "예약되었어요" in c.text]
    assert all("방금 다른 분이 예약했어요" in c.text for c in (x, y) if c not in booked), (x.text, y.text)
    assert len(booked) == len(await _bookings(harness)) >= 1


async def test_buffer_and_notice_shape_the_offered_times(harness: Harness) -> None:
    await seed(harness)
    first, second = harness.chat(1), harness.chat(2)
    for chat in (first, second):
        await quick_register(harness, int(chat.user_id))
    await to_summary(first, counselor="김상담", day="3/3", time="09:00")
    await first.press("제출")
    await second.send("/book")
    await second.press("취업상담")
    await second.press("서울일자리플러스센터")
    await second.press("김상담")
    await second.press("3/3")
    assert "09:00" not in second.last_buttons and "10:00" not in second.last_buttons
    assert "10:30" in second.last_buttons


async def test_cancel_removes_reminders_and_tells_the_counselor(harness: Harness) -> None:
    await seed(harness)
    chat = harness.chat(1)
    await quick_register(harness, 1)
    await to_summary(chat)
    await chat.press("제출")
    await chat.send("/mybookings")
    assert "예정된 예약 1건" in chat.text
    await chat.press("취소")
    assert "취소할까요" in chat.text
    confirm = chat.payload_for("네, 취소합니다")
    await chat.press_payload(confirm)
    assert "취소했어요" in chat.text
    [booking] = await _bookings(harness)
    assert booking.status == "cancelled"
    assert {r.status for r in await _outbox(harness, "booking.reminder")} == {"cancelled"}
    assert len(await _outbox(harness, "booking.cancelled")) == 1
    await chat.press_payload(confirm)  # a second tap
    assert "이미 취소되었거나" in chat.text
    assert len(await _outbox(harness, "booking.cancelled")) == 1


async def test_cancel_after_the_cutoff_is_refused(harness: Harness) -> None:
    await seed(harness)
    chat = harness.chat(1)
    await quick_register(harness, 1)
    await to_summary(chat)
    await chat.press("제출")
    await chat.send("/mybookings")
    cancel = chat.payload_for("취소")
    harness.clock._now = dt.datetime(2026, 3, 3, 8, tzinfo=SEOUL)  # one hour before 09:00
    await chat.press_payload(cancel)
    assert "2시간 전부터는" in chat.text
    assert (await _bookings(harness))[0].status == "booked"


async def test_forged_payload_for_someone_elses_booking_changes_nothing(harness: Harness) -> None:
    await seed(harness)
    owner, intruder = harness.chat(1), harness.chat(2)
    await quick_register(harness, 1)
    await to_summary(owner)
    await owner.press("제출")
    booking = (await _bookings(harness))[0]
    for forged in (f"bk:cy:{booking.id}", f"bk:r:{booking.id}", f"bk:c:{booking.id}", "bk:cy:999999", "bk:cy:x",
                   "bk:zz"):
        await intruder.press_payload(forged)
        assert "찾을 수 없는 예약" in intruder.text or "만료" in intruder.text, forged
    assert (await _bookings(harness))[0].status == "booked"


async def test_reschedule_moves_booking_and_reminders(harness: Harness) -> None:
    await seed(harness)
    chat = harness.chat(1)
    await quick_register(harness, 1)
    await to_summary(chat)
    await chat.press("제출")
    await chat.send("/mybookings")
    await chat.press("변경")
    assert "상담사가 있으세요" in chat.text or "날짜를 골라" in chat.text
    if "상담사가 있으세요" in chat.text:
        await chat.press("상관없음")
    await chat.press("3/5")
    await chat.press("10:00")
    await chat.press("건너뛰기")
    await chat.press("제출")
    assert "예약을 변경했어요" in chat.text and "3월 5일 (목) 10:00" in chat.text
    old, new = await _bookings(harness)
    assert old.status == "cancelled" and new.status == "booked" and new.rescheduled_from == old.id
    reminders = await _outbox(harness, "booking.reminder")
    # The old 24-h reminder was already past when booked; its 1-h one is withdrawn.
    assert [r.status for r in reminders] == ["cancelled", "pending", "pending"]
    assert len(await _outbox(harness, "booking.moved")) == 1


async def test_reschedule_asked_for_during_another_draft_keeps_the_place_name(harness: Harness) -> None:
    # The person has a booking form open when they press 변경 on a booking: after "start over" the
    # rescheduling form's summary still names the place, not its id.
    await seed(harness)
    chat = harness.chat(1)
    await quick_register(harness, 1)
    await to_summary(chat)
    await chat.press("제출")
    await chat.send("/book")
    await chat.send("/mybookings")
    await chat.press("변경")
    assert "이어서" in chat.text, chat.text
    await chat.press("처음부터 다시")
    if "상담사가 있으세요" in chat.text:
        await chat.press("상관없음")
    await chat.press("3/5")
    await chat.press("10:00")
    await chat.press("건너뛰기")
    assert "서울일자리플러스센터" in chat.text, chat.text
    await chat.press("제출")
    assert "예약을 변경했어요" in chat.text, chat.text


async def test_a_skipped_counselor_reads_as_assigned_automatically(harness: Harness) -> None:
    await seed(harness)
    chat = harness.chat(1)
    await quick_register(harness, 1)
    await to_summary(chat, counselor="건너뛰기")
    assert "상담사: 자동 배정" in chat.text and "상담사: 입력 안 함" not in chat.text, chat.text
    await chat.press("제출")
    assert "예약되었어요" in chat.text and "상담사: 김상담" in chat.text, chat.text


async def test_limit_of_upcoming_bookings(harness: Harness, clock: FakeClock) -> None:
    await seed(harness)
    engine = build_engine(make_settings(harness.settings.database_url, max_upcoming_bookings=1), harness.sessions,
                          clock=clock)
    await quick_register(harness, 1)
    chat = Chat(engine, 1)
    await to_summary(chat)
    await chat.press("제출")
    await chat.send("/book")
    assert "이미 1건" in chat.text and "예정된 예약 1건" in chat.text


async def test_reminder_is_sent_once_after_a_restart(harness: Harness) -> None:
    await seed(harness)
    chat = harness.chat(1)
    await quick_register(harness, 1)
    await to_summary(chat, day="3/5", time="10:00")
    await chat.press("제출")
    await harness.deliver()  # the counselor's notification
    harness.notifier.sent.clear()
    harness.clock._now = dt.datetime(2026, 3, 4, 10, 5, tzinfo=SEOUL)  # the 24-h reminder is due
    assert await harness.deliver() == 1  # a fresh dispatcher, as after a restart
    assert await harness.deliver() == 0
    [reminder] = harness.notifier.to(1)
    assert "내일 상담" in reminder["text"]


def test_every_consultation_type_is_bookable_by_someone() -> None:
    from handlers.booking import JOB_TYPES, STARTUP_TYPES

    assert sorted(JOB_TYPES + STARTUP_TYPES) == sorted(counselors.CONSULTATION_TYPES)


def test_free_slots_skips_checking_free_counselors_and_agrees_with_checking_every_cell() -> None:
    """The shortcut for counselors without bookings that day, and `first_only`, change no answer."""
    import random
    from zoneinfo import ZoneInfo

    from storage.slots import Window, by_counselor, free_slots, local_dt, occupied

    tz = ZoneInfo("Asia/Seoul")
    day = dt.date(2026, 3, 4)
    windows = [Window(c, 1, day.weekday(), 9 * 60, 18 * 60) for c in range(1, 6)]
    length, buffer = dt.timedelta(minutes=60), dt.timedelta(minutes=10)
    earliest = local_dt(day, 10 * 60, tz)
    rng = random.Random(4)
    for _ in range(30):
        taken: set[tuple[int, dt.datetime]] = set()
        for counselor in rng.sample(range(1, 6), rng.randint(0, 3)):
            start = local_dt(day, 9 * 60 + 30 * rng.randint(0, 16), tz).astimezone(dt.UTC)
            taken |= {(counselor, c) for c in occupied(start, start + length, buffer)}
        common: dict[str, Any] = {"windows": windows, "day": day, "tz": tz, "length": length, "buffer": buffer,
                                  "earliest": earliest, "busy": by_counselor(taken), "days_off": {(5, day)},
                                  "day_counts": {(4, day): 6}, "daily_cap": 6}
        found = free_slots(**common)
        expected = []
        for w in windows:
            if w.counselor_id in (4, 5):  # at the daily cap, on a day off
                continue
            start = local_dt(day, w.start_minute, tz)
            while start + length <= local_dt(day, w.end_minute, tz):
                s = start.astimezone(dt.UTC)
                if s >= earliest and not any((w.counselor_id, c) in taken for c in occupied(s, s + length, buffer)):
                    expected.append((s, w.counselor_id))
                start += dt.timedelta(minutes=30)
        assert [(s.starts_at, s.counselor_id) for s in found] == sorted(expected)
        first = free_slots(**common, first_only=True)
        assert len(first) == min(1, len(found)) and set(first) <= set(found)


async def test_nobody_gives_the_persons_consultations_offers_contact_human_and_menu(
        harness: Harness, clock: FakeClock) -> None:
    # A founder (startup consulting, BM coaching) while only job counselors are active.
    await seed(harness)
    contact = "☎ 02-0000-0000 · 서울 중구 세종대로 110"
    engine = build_engine(make_settings(harness.settings.database_url, centre_contact=contact), harness.sessions,
                          clock=clock)
    chat = Chat(engine, 5)
    await chat.send("/help")  # the person exists once they have written
    async with harness.sessions() as s, s.begin():
        uid = await s.scalar(select(Identity.user_id).where(Identity.external_id == "5"))
        s.add(Membership(user_id=uid, applicant_type="startup", team_name="서울팀", idea="동네 가게 주문 관리 앱.",
                         industry="it", startup_stage="prototype", team_size=3, status="approved",
                         member_stage="maturation", consent_at=clock.now(), applied_at=clock.now(),
                         decided_at=clock.now()))
    await chat.send("/book")
    assert "지금은 예약할 수 있는 상담이 없어요" in chat.text
    assert f"센터 문의: {contact}" in chat.text and "상담원 연결" in chat.text
    assert "이전" not in chat.last_buttons and "취소" not in chat.last_buttons  # not a form with nothing to pick
    assert "💬 상담원 연결" in chat.last_buttons and any("채용정보" in label for label in chat.last_buttons)
    await chat.press("💬 상담원 연결")
    assert "연결하고 있어요" in chat.text

    # In English, and without a contact set: no contact line, still a person to talk to.
    english = harness.chat(6, language="en")
    await english.send("/help")
    async with harness.sessions() as s, s.begin():
        uid = await s.scalar(select(Identity.user_id).where(Identity.external_id == "6"))
        s.add(Membership(user_id=uid, applicant_type="startup", team_name="Team", idea="An app for shops.",
                         industry="it", startup_stage="prototype", team_size=2, status="approved",
                         member_stage="preparation", consent_at=clock.now(), applied_at=clock.now(),
                         decided_at=clock.now()))
    await english.send("/book")
    assert "no consultation you can book right now" in english.text
    assert "Contact the centre" not in english.text and "💬 Talk to a person" in english.last_buttons


async def test_nobody_active_at_all_offers_no_person_to_talk_to(harness: Harness) -> None:
    await quick_register(harness, 7)
    chat = harness.chat(7)
    await chat.send("/book")
    first, menu = chat.replies
    assert "지금은 예약할 수 있는 상담이 없어요" in first.text and "다른 서비스" in first.text
    assert first.buttons == [] and "상담원 연결’을 눌러" not in first.text  # nobody to connect to
    assert "무엇을 도와드릴까요" in menu.text
