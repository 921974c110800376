"""Counselors: invitations, availability, the agenda, deactivation, the daily agenda and the bulk import.

Conversation tests go through the core with the `harness` fixture (SQLite and PostgreSQL);
the command line is run once for real as a subprocess.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.cli.counselors import import_file
from kernel.core import stamp
from scheduler.agenda import send_daily_agenda
from storage import bookings, counselors, seekers, users
from storage.models import (
    AuditEntry,
    Availability,
    Booking,
    Counselor,
    Identity,
    Invite,
    OutboxMessage,
    Place,
    TimeOff,
    User,
)
from tests.conftest import ADMIN_ID, Chat, Harness

SEOUL = ZoneInfo("Asia/Seoul")
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "counselors.csv"
BUFFER = dt.timedelta(minutes=10)
Row = TypeVar("Row")


# --- helpers ---------------------------------------------------------------------------------------


async def make_counselor(h: Harness, telegram_id: int, name: str = "김지현",
                         types: tuple[str, ...] = ("job_counselling", "document_clinic")) -> int:
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(telegram_id), str(telegram_id), "ko", h.clock.now())
        user.role = "counselor"
        return (await counselors.create(s, user.id, name, list(types), h.clock.now())).id


async def add_window(h: Harness, counselor_id: int, weekday: int, start: str, end: str,
                     kind: str = "centre", name: str = "서울일자리플러스센터") -> int:
    async with h.sessions() as s, s.begin():
        place = await counselors.place(s, kind, name)
        window = await counselors.add_window(s, counselor_id, place.id, weekday, _minutes(start), _minutes(end))
        return window.id


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


async def make_person(h: Harness, telegram_id: int, name: str) -> int:
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(telegram_id), str(telegram_id), "ko", h.clock.now())
        await seekers.save(s, user.id, {"name": name, "birth_year": 2000, "track": "youth",
                                        "school_kind": "university", "school_name": "서울시립대학교",
                                        "desired_jobs": ["사무"], "skills": [], "districts": [],
                                        "education": "university", "experience_years": 0}, h.clock.now())
        return user.id


async def make_booking(h: Harness, user_id: int, counselor_id: int, day: dt.date, hhmm: str,
                       type_: str = "job_counselling", note: str | None = None) -> int:
    start = dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=SEOUL).astimezone(dt.UTC)
    async with h.sessions() as s, s.begin():
        place = await counselors.centre_place(s)
        booking = await bookings.book(s, user_id=user_id, counselor_id=counselor_id, place_id=place.id, type_=type_,
                                      starts_at=start, ends_at=start + dt.timedelta(minutes=60), buffer=BUFFER,
                                      now=h.clock.now(), note=note)
        return booking.id


async def _one(h: Harness, model: type[Row], *where: Any) -> Row:
    async with h.sessions() as s:
        return (await s.scalars(select(model).where(*where))).one()  # type: ignore[no-any-return]


async def _count(h: Harness, model: type, *where: Any) -> int:
    async with h.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _booking(h: Harness, booking_id: int) -> Booking:
    async with h.sessions() as s:
        found: Booking | None = await s.get(Booking, booking_id)
        assert found is not None
        return found


async def invite_link(h: Harness) -> str:
    admin = h.chat(ADMIN_ID)
    await admin.send("/invite counselor")
    assert "초대 링크를 만들었어요" in admin.text and "72시간" in admin.text
    match = re.search(r"/start (inv_[A-Za-z0-9_-]+)", admin.text)
    assert match, admin.text
    return match.group(1)


async def onboard(chat: Chat, start_payload: str, name: str = "김지현") -> None:
    await chat.send(f"/start {start_payload}")
    assert "상담사 초대" in chat.text and "이름" in chat.text, chat.text
    await chat.send(name)
    assert "어떤 상담을 맡으시나요" in chat.text
    await chat.press("취업상담")
    await chat.press("구직서류클리닉")
    await chat.press("선택 완료")
    assert "확인해 주세요" in chat.text and name in chat.text and "구직서류클리닉" in chat.text
    await chat.press("제출")


# --- invitations -----------------------------------------------------------------------------------


async def test_invite_link_onboarding_makes_a_counselor(harness: Harness) -> None:
    token = await invite_link(harness)
    chat = harness.chat(700)
    await onboard(chat, token)
    assert "김지현 상담사님, 등록되었어요" in chat.text and "/availability" in chat.text and "/agenda" in chat.text

    counselor = await _one(harness, Counselor)
    assert counselor.display_name == "김지현" and counselor.types == ["job_counselling", "document_clinic"]
    assert counselor.active
    user = await _one(harness, User, User.id == counselor.user_id)
    assert user.role == "counselor"
    invite = await _one(harness, Invite)
    assert invite.used_by == counselor.user_id and invite.used_at is not None
    assert await _count(harness, AuditEntry, AuditEntry.action.in_(["invite.create", "counselor.join"])) == 2

    await chat.send("/menu")
    assert "📋 상담 일정" in chat.last_buttons and "🕘 상담 가능 시간" in chat.last_buttons
    stranger = harness.chat(701)
    await stranger.send("/menu")
    assert "📋 상담 일정" not in stranger.last_buttons

    # The same link a second time, by someone else or by the new counselor: refused.
    await stranger.send(f"/start {token}")
    assert "이미 사용된 초대 링크" in stranger.text
    await chat.send(f"/start {token}")
    assert "이미 사용된 초대 링크" in chat.text
    assert await _count(harness, Counselor) == 1


async def test_link_opened_twice_makes_only_one_counselor(harness: Harness) -> None:
    token = await invite_link(harness)
    first, second = harness.chat(710), harness.chat(711)
    await second.send(f"/start {token}")
    await second.send("박민수")
    await onboard(first, token)
    assert "등록되었어요" in first.text
    await second.press("취업상담")
    await second.press("선택 완료")
    await second.press("제출")
    assert "이미 사용된 초대 링크" in second.text
    assert await _count(harness, Counselor) == 1


async def test_expired_and_unknown_links_are_refused(harness: Harness) -> None:
    token = await invite_link(harness)
    harness.clock.advance(hours=73)
    chat = harness.chat(720)
    await chat.send(f"/start {token}")
    assert "만료된 초대 링크" in chat.text
    await chat.send("/start inv_not-a-real-token")
    assert "올바르지 않은 초대 링크" in chat.text
    assert await _count(harness, Counselor) == 0


async def test_only_admins_invite_and_list(harness: Harness) -> None:
    chat = harness.chat(730)
    for command in ("/invite counselor", "/counselors"):
        await chat.send(command)
        assert "관리자만" in chat.text
    assert await _count(harness, Invite) == 0
    admin = harness.chat(ADMIN_ID)
    await admin.send("/invite")
    assert "사용법: /invite counselor" in admin.text
    assert await _count(harness, Invite) == 0


async def test_admin_may_invite_themselves(harness: Harness) -> None:
    token = await invite_link(harness)
    admin = harness.chat(ADMIN_ID)
    await onboard(admin, token, name="정관리")
    assert "등록되었어요" in admin.text
    await admin.send("/agenda")
    assert "오늘은 예약이 없어요" in admin.text
    user = await _one(harness, User, User.id == (await _one(harness, Counselor)).user_id)
    assert user.role == "admin"  # the config keeps the admin role; the counselor row makes the counselor


async def test_people_who_are_not_counselors_are_refused(harness: Harness) -> None:
    chat = harness.chat(740)
    for command in ("/agenda", "/availability"):
        await chat.send(command)
        assert "상담사만" in chat.text
    await chat.press_payload("cs:aw")
    assert "상담사만" in chat.text
    await chat.press_payload("cs:at:1")
    assert "상담사만" in chat.text


# --- availability ----------------------------------------------------------------------------------


async def test_add_windows_refuse_inverted_and_overlapping_hours_and_remove(harness: Harness) -> None:
    cid = await make_counselor(harness, 750)
    chat = harness.chat(750)
    await chat.send("/availability")
    assert "아직 등록된 시간이 없어요" in chat.text

    await chat.press("시간 추가")
    assert "어디에서 상담" in chat.text
    await chat.press("서울일자리플러스센터")
    assert "어느 요일" in chat.text
    await chat.press("월")
    await chat.press("선택 완료")
    await chat.send("09:05")
    assert "10분 단위" in chat.text
    await chat.press("09:00")
    assert "몇 시까지" in chat.text and "10:00" in chat.last_buttons
    await chat.send("12시")
    assert "쉬는 시간" in chat.text and "점심" not in " ".join(chat.last_buttons)  # no lunch inside 9–12
    await chat.press("쉬는 시간 없음")
    assert "확인해 주세요" in chat.text and "09:00" in chat.text and "12:00" in chat.text
    await chat.press("제출")
    assert "추가했어요: 월 09:00–12:00 · 서울일자리플러스센터" in chat.text

    # Inverted hours: the question stays.
    await chat.press("시간 추가")
    await chat.press("서울일자리플러스센터")
    await chat.press("화")
    await chat.press("선택 완료")
    await chat.send("14:00")
    await chat.send("13:00")
    assert "시작 시간(14:00)보다 늦어야" in chat.text
    await chat.send("오후 4시")
    await chat.send("없음")
    await chat.press("제출")
    assert "추가했어요: 화 14:00–16:00" in chat.text

    # Overlap with Monday 09:00–12:00, at a campus branch typed by name.
    await chat.press("시간 추가")
    await chat.press("캠퍼스점")
    assert "어느 캠퍼스점" in chat.text and "직접 입력" in chat.text
    await chat.send("서울시립대학교 캠퍼스점")
    await chat.press("월")
    await chat.press("선택 완료")
    await chat.send("11:00")
    await chat.send("13:00")
    await chat.press("쉬는 시간 없음")
    await chat.press("제출")
    assert "월 09:00–12:00 (서울일자리플러스센터)와 겹쳐요" in chat.text and "몇 시부터" in chat.text
    assert await _count(harness, Availability) == 2
    await chat.send("12:00")
    assert "확인해 주세요" in chat.text
    await chat.press("제출")
    assert "추가했어요: 월 12:00–13:00 · 서울시립대학교 캠퍼스점" in chat.text
    assert await _count(harness, Availability) == 3

    # Remove one; a forged removal of someone else's window changes nothing.
    other = await make_counselor(harness, 751, name="박민수")
    foreign = await add_window(harness, other, 4, "09:00", "10:00")
    await chat.press_payload(f"cs:rw:{foreign}")
    assert "찾을 수 없는" in chat.text
    assert await _count(harness, Availability, Availability.id == foreign) == 1
    await chat.send("/availability")
    await chat.press("화 14:00–16:00 삭제")
    assert "삭제했어요: 화 14:00–16:00" in chat.text and "화 14:00–16:00 삭제" not in chat.last_buttons
    windows = await _count(harness, Availability, Availability.counselor_id == cid)
    assert windows == 2


async def test_a_whole_week_in_one_go_with_a_lunch_break_into_the_evening(harness: Harness) -> None:
    cid = await make_counselor(harness, 752)
    await add_window(harness, cid, 5, "10:00", "12:00")  # Saturday mornings already
    chat = harness.chat(752)
    await chat.send("/availability")
    await chat.press("시간 추가")
    await chat.press("서울일자리플러스센터")
    for day in ("월", "화", "수", "목", "금"):
        await chat.press(day)
    assert "월, 화, 수, 목, 금" in chat.text  # the selection so far, under the question
    await chat.press("선택 완료")
    await chat.press("09:00")
    assert {"12:00", "13:00", "18:00", "20:00", "21:00"} <= set(chat.last_buttons)  # up to the evening
    await chat.press("21:00")
    assert "쉬는 시간" in chat.text
    assert {"🍱 점심 12:00–13:00", "🍽 저녁 18:00–19:00", "쉬는 시간 없음"} <= set(chat.last_buttons)
    await chat.send("12-13")
    assert "확인해 주세요" in chat.text
    assert "요일: 월, 화, 수, 목, 금" in chat.text and "쉬는 시간: 🍱 점심 12:00–13:00" in chat.text
    await chat.press("제출")
    assert "추가했어요: 월, 화, 수, 목, 금 09:00–12:00, 13:00–21:00 · 서울일자리플러스센터" in chat.text
    async with harness.sessions() as s:
        rows = (await s.scalars(select(Availability).where(Availability.counselor_id == cid)
                                .order_by(Availability.weekday, Availability.start_minute))).all()
    assert [(w.weekday, w.start_minute, w.end_minute) for w in rows] == [
        *[(d, m, e) for d in range(5) for m, e in ((540, 720), (780, 1260))], (5, 600, 720)]

    # Saturday and Sunday overlap the Saturday window: refused, named, nothing added.
    await chat.press("시간 추가")
    await chat.press("서울일자리플러스센터")
    await chat.press("토")
    await chat.press("일")
    await chat.press("선택 완료")
    await chat.press("09:00")
    await chat.send("14:00")
    assert "점심" in " ".join(chat.last_buttons) and "저녁" not in " ".join(chat.last_buttons)
    await chat.send("13:00-14:00")  # at the edge: not a break but shorter hours
    assert "상담 시간(09:00–14:00) 안이어야" in chat.text
    await chat.send("점심 먹고")
    assert "12:00-13:00처럼" in chat.text
    await chat.press("쉬는 시간 없음")
    await chat.press("제출")
    assert "토 10:00–12:00 (서울일자리플러스센터)와 겹쳐요" in chat.text and "몇 시부터" in chat.text
    assert await _count(harness, Availability, Availability.counselor_id == cid) == 11
    # The days can be changed instead: 이전 leads to the summary, where they are corrected.
    assert "요일을 바꾸려면 ⬅️ 이전" in chat.text
    await chat.press("이전")
    assert "확인해 주세요" in chat.text
    await chat.press("수정")
    await chat.press("요일")
    await chat.press("토")  # untick Saturday: Sunday alone
    await chat.press("선택 완료")
    assert "몇 시부터" in chat.text  # the start still to give, asked at once
    await chat.send("10:00")
    assert "확인해 주세요" in chat.text and "요일: 일" in chat.text  # the other answers kept
    await chat.press("제출")
    assert "추가했어요: 일 10:00–14:00" in chat.text
    assert await _count(harness, Availability, Availability.counselor_id == cid) == 12


async def test_english_week_form(harness: Harness) -> None:
    await make_counselor(harness, 753)
    async with harness.sessions() as s, s.begin():
        await s.execute(update(User).where(User.id == select(Identity.user_id).where(
            Identity.external_id == "753").scalar_subquery()).values(locale="en"))
    chat = harness.chat(753, language="en")
    await chat.send("/availability")
    await chat.press("Add hours")
    await chat.press("Seoul Job Plus Center")
    await chat.press("Mon")
    await chat.press("Wed")
    await chat.press("Done")
    await chat.press("10:00")
    await chat.press("18:00")
    assert "🍱 Lunch 12:00–13:00" in chat.last_buttons and "No break" in chat.last_buttons
    await chat.press("Lunch")
    await chat.press("Submit")
    assert "Added: Mon, Wed 10:00–12:00, 13:00–18:00" in chat.text


async def test_online_window_needs_a_link(harness: Harness) -> None:
    await make_counselor(harness, 755, name="이서연", types=("startup_consulting",))
    chat = harness.chat(755)
    await chat.send("/availability")
    await chat.press("시간 추가")
    await chat.press("화상 상담")
    assert "화상 상담 링크" in chat.text
    await chat.send("줌 링크 없음")
    assert "https://" in chat.text and "로 시작하는" in chat.text
    await chat.send("zoom.us/j/8812345670")
    await chat.press("금")
    await chat.press("선택 완료")
    await chat.press("14:00")
    await chat.press("16:00")
    await chat.press("쉬는 시간 없음")
    await chat.press("제출")
    assert "추가했어요: 금 14:00–16:00 · 화상 상담 (https://zoom.us/j/8812345670)" in chat.text
    place = await _one(harness, Place, Place.kind == "online")
    assert place.video_link == "https://zoom.us/j/8812345670"


async def test_days_off(harness: Harness) -> None:
    cid = await make_counselor(harness, 760)
    person = await make_person(harness, 1, "구직자하나")
    await make_booking(harness, person, cid, dt.date(2026, 3, 10), "10:00")
    chat = harness.chat(760)
    await chat.send("/availability")
    assert "등록된 휴무일이 없어요" in chat.text
    await chat.press("휴무일 추가")
    assert "쉬는 날" in chat.text
    await chat.send("2026-03-01")
    assert "내일 이후" in chat.text
    await chat.send("2027-06-01")
    assert "1년 안" in chat.text
    await chat.send("3/32")
    assert "2026-03-15 또는 3/15처럼" in chat.text
    await chat.send("3/10")
    assert "3월 10일 (화)를 휴무일로 등록했어요" in chat.text and "이미 잡힌 상담 1건" in chat.text
    off = await _one(harness, TimeOff)
    assert off.day == dt.date(2026, 3, 10) and off.counselor_id == cid

    await chat.press("휴무일 추가")
    await chat.press("3월 3일 (화)")
    assert "3월 3일 (화)를 휴무일로 등록했어요" in chat.text and "이미 잡힌" not in chat.text
    await chat.press("3월 10일 (화) 휴무 취소")
    assert "휴무를 취소했어요" in chat.text
    assert await _count(harness, TimeOff) == 1


# --- deactivation ----------------------------------------------------------------------------------


async def test_deactivating_cancels_future_sessions_and_offers_another_time(harness: Harness) -> None:
    cid = await make_counselor(harness, 770)
    await add_window(harness, cid, 1, "09:00", "12:00")
    person = await make_person(harness, 1, "구직자하나")
    future = await make_booking(harness, person, cid, dt.date(2026, 3, 3), "10:00")
    past = await make_booking(harness, person, cid, dt.date(2026, 3, 2), "08:00")

    intruder = harness.chat(2)
    await intruder.press_payload(f"cadm:dy:{cid}")
    assert "관리자만" in intruder.text
    assert (await _booking(harness, future)).status == "booked"

    admin = harness.chat(ADMIN_ID)
    await admin.send("/counselors")
    assert "상담사 1명" in admin.text and "김지현" in admin.text and "예정된 상담: 1건" in admin.text
    await admin.press("비활성화")
    assert "예정된 상담 1건이 취소되고" in admin.text
    assert (await _booking(harness, future)).status == "booked"  # asking changes nothing
    await admin.press("네, 비활성화")
    assert "김지현 상담사를 비활성화했어요" in admin.text and "취소된 상담 1건" in admin.text

    counselor = await _one(harness, Counselor)
    assert not counselor.active and counselor.deactivated_at is not None
    cancelled = await _booking(harness, future)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "counselor_inactive"
    assert (await _booking(harness, past)).status == "booked"  # the past session is not touched
    assert await _count(harness, AuditEntry, AuditEntry.action == "counselor.deactivate") == 1

    await harness.deliver()
    [told] = harness.notifier.to(1)
    assert "취소되었어요" in told["text"] and "3월 3일 (화) 10:00" in told["text"]
    assert [[b["payload"] for b in row] for row in told["buttons"]] == [["m:book"]]
    assert any("비활성화" in m["text"] for m in harness.notifier.to(770))

    await admin.press("네, 비활성화")
    assert "이미 비활성화" in admin.text
    assert await _count(harness, OutboxMessage, OutboxMessage.kind == "booking.cancelled") == 1

    counselor_chat = harness.chat(770)
    await counselor_chat.send("/agenda")
    assert "상담사만" in counselor_chat.text


# --- agenda ----------------------------------------------------------------------------------------


async def test_agenda_marks_attended_and_no_show_and_refuses_forged_presses(harness: Harness) -> None:
    cid = await make_counselor(harness, 780)
    other = await make_counselor(harness, 781, name="박민수")
    one = await make_person(harness, 1, "구직자하나")
    two = await make_person(harness, 2, "구직자둘")
    today, tomorrow = dt.date(2026, 3, 2), dt.date(2026, 3, 3)
    earlier = await make_booking(harness, one, cid, dt.date(2026, 2, 27), "14:00")
    started = await make_booking(harness, one, cid, today, "08:30", note="면접 준비")
    later = await make_booking(harness, two, cid, today, "14:00", type_="document_clinic")
    await make_booking(harness, two, cid, tomorrow, "10:00")
    foreign = await make_booking(harness, two, other, today, "09:00")

    chat = harness.chat(780)
    await chat.send("/agenda")
    text = chat.text
    assert "오늘 3월 2일 (월) — 상담 2건" in text
    assert "08:30–09:30 취업상담 · 서울일자리플러스센터" in text and "구직자하나" in text and "면접 준비" in text
    assert "14:00–15:00 구직서류클리닉" in text
    assert "지난 상담" in text and "2월 27일 (금) 14:00–15:00" in text
    assert "앞으로 7일" in text and "3월 3일 (화)" in text and "상담 1건" in text
    assert "✅ 참석 08:30 구직자하나" in chat.last_buttons and "✅ 참석 2/27 14:00 구직자하나" in chat.last_buttons
    assert not any("14:00 구직자둘" in label for label in chat.last_buttons)  # not started yet

    await chat.press("🚫 노쇼 08:30")
    assert "노쇼로 표시했어요" in chat.text and "누적 노쇼 1회" in chat.text
    assert (await _booking(harness, started)).status == "no_show"
    await chat.press("🚫 노쇼 2/27 14:00")
    assert "누적 노쇼 2회" in chat.text and "구직자하나 · ⚠️ 노쇼 2회" in chat.text
    assert await bookings_no_shows(harness, one) == 2

    # Forged, repeated, foreign or early presses: refused, nothing changes.
    async def proof(booking_id: int) -> str:
        return f"{booking_id}:{stamp((await _booking(harness, booking_id)).created_at)}"

    await chat.press_payload(f"cs:at:{await proof(started)}")
    assert "이미 처리된 상담" in chat.text
    await chat.press_payload(f"cs:at:{await proof(foreign)}")
    assert "찾을 수 없는 상담" in chat.text
    await chat.press_payload(f"cs:ns:{await proof(later)}")
    assert "아직 시작하지 않은" in chat.text
    # Without the stamp, or with another record's, the press acts on nothing.
    await chat.press_payload(f"cs:ns:{later}")
    assert "만료" in chat.text
    await chat.press_payload(f"cs:ns:{later}:zzz")  # another booking's stamp
    assert "찾을 수 없는 상담" in chat.text
    for garbage in ("cs:at:abc", "cs:at", "cs:zz:1", "cs:at:99999:x", "cs:at:-1:x", "cs:at:99999999999999999999"):
        response = await chat.press_payload(garbage)
        assert "만료" in chat.text or "찾을 수 없는" in chat.text, garbage
        assert "Traceback" not in chat.text and (response.toast or chat.replies)
    assert (await _booking(harness, foreign)).status == "booked"
    assert (await _booking(harness, later)).status == "booked"
    assert (await _booking(harness, started)).status == "no_show"
    assert (await _booking(harness, earlier)).status == "no_show"

    other_chat = harness.chat(781)
    await other_chat.press_payload(f"cs:at:{await proof(later)}")
    assert "찾을 수 없는 상담" in other_chat.text

    harness.clock.advance(hours=5)  # 15:00 in Seoul
    await chat.send("/agenda")
    await chat.press("✅ 참석 14:00 구직자둘")
    assert "참석으로 표시했어요" in chat.text and "✅ 참석" in chat.text
    assert (await _booking(harness, later)).status == "attended"


async def bookings_no_shows(h: Harness, user_id: int) -> int:
    async with h.sessions() as s:
        return (await bookings.no_show_counts(s, [user_id])).get(user_id, 0)


# --- the daily agenda ------------------------------------------------------------------------------


async def test_daily_agenda_on_working_days_once(harness: Harness) -> None:
    busy = await make_counselor(harness, 790, name="김지현")
    quiet = await make_counselor(harness, 791, name="박민수")
    away = await make_counselor(harness, 792, name="이서연")
    gone = await make_counselor(harness, 793, name="최유진")
    for cid in (busy, quiet, gone):
        await add_window(harness, cid, 0, "09:00", "18:00")
    await add_window(harness, away, 2, "09:00", "12:00")
    person = await make_person(harness, 1, "구직자하나")
    await make_booking(harness, person, busy, dt.date(2026, 3, 2), "14:00", note="이력서 첨삭")
    async with harness.sessions() as s, s.begin():
        row = await counselors.get(s, gone)
        assert row is not None
        await counselors.deactivate(s, row, harness.clock.now())

    harness.clock._now = dt.datetime(2026, 3, 2, 8, 30, tzinfo=SEOUL).astimezone(dt.UTC)
    assert await send_daily_agenda(harness.sessions, harness.settings, harness.clock) == 2
    assert await send_daily_agenda(harness.sessions, harness.settings, harness.clock) == 0  # once a day
    await harness.deliver()
    [busy_msg] = harness.notifier.to(790)
    assert "김지현 상담사님" in busy_msg["text"] and "오늘 3월 2일 (월) 상담은 1건" in busy_msg["text"]
    assert "14:00–15:00 취업상담" in busy_msg["text"] and "구직자하나" in busy_msg["text"]
    assert "이력서 첨삭" in busy_msg["text"] and busy_msg["buttons"][0][0]["payload"] == "m:agenda"
    [quiet_msg] = harness.notifier.to(791)
    assert "오늘은 예약이 없어요" in quiet_msg["text"]
    assert harness.notifier.to(792) == [] and harness.notifier.to(793) == []

    harness.clock.advance(days=5)  # Saturday
    assert await send_daily_agenda(harness.sessions, harness.settings, harness.clock) == 0
    assert await _count(harness, OutboxMessage, OutboxMessage.kind == "counselor.agenda") == 2


# --- bulk import -----------------------------------------------------------------------------------


async def test_import_sample_file_is_idempotent(harness: Harness, tmp_path: Path) -> None:
    now = harness.clock.now()
    report = await import_file(harness.sessions, SAMPLE, now=now)
    assert report.rejected == [] and report.added == 13 and report.counselors_created == 4
    assert await _count(harness, Counselor) == 4 and await _count(harness, Availability) == 13
    kinds: dict[str, set[str]] = {}
    async with harness.sessions() as s:
        for place in await s.scalars(select(Place)):
            kinds.setdefault(place.kind, set()).add(place.name)
        online = (await s.scalars(select(Place).where(Place.kind == "online"))).one()
        assert online.video_link == "https://zoom.us/j/8812345670"
        roles = set(await s.scalars(select(User.role)))
    assert kinds["centre"] == {"서울일자리플러스센터"} and len(kinds["campus"]) == 2
    assert kinds["high_school"] == {"서울디지텍고등학교"} and roles == {"counselor"}

    # The same rows again, this time with the BOM Excel writes: nothing changes.
    with_bom = tmp_path / "excel.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + SAMPLE.read_bytes())
    again = await import_file(harness.sessions, with_bom, now=now)
    assert again.ok and again.added == 0 and again.unchanged == 13 and again.counselors_created == 0
    assert await _count(harness, Availability) == 13 and await _count(harness, Place) == 5

    # An imported counselor can use the bot at once.
    chat = harness.chat(700102)
    await chat.send("/availability")
    assert "수 14:00–17:00 · 서울시립대학교 캠퍼스점" in chat.text


async def test_import_reports_every_rejected_row(harness: Harness, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([
        "telegram_id,display_name,types,place_kind,place_name,weekday,start,end,video_link",
        "700201,김지현,job_counselling,centre,,mon,09:00,12:00,",
        "700201,김지현,job_counselling,centre,,mon,11:00,13:00,",
        "700201,김지현,job_counselling,centre,,tue,15:00,14:00,",
        "700202,박민수,career_magic,centre,,tue,09:00,12:00,",
        "700202,박민수,mentoring,centre,,funday,09:00,12:00,",
        "700202,박민수,mentoring,online,,wed,09:00,12:00,",
        "700202,박민수,mentoring,campus,,thu,09:00,12:00,",
        "abc,최유진,mentoring,centre,,fri,09:00,12:00,",
        "700202,박민수,mentoring,centre,,fri,09:05,12:00,",
        "700201,김민지,mentoring,centre,,fri,13:00,15:00,",
    ]) + "\n", encoding="utf-8")
    report = await import_file(harness.sessions, bad, now=harness.clock.now())
    assert report.added == 1 and not report.ok
    reasons = dict(report.rejected)
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9, 10, 11}
    assert "overlapping hours" in reasons[3] and "mon 09:00-12:00" in reasons[3]
    assert "inverted hours" in reasons[4]
    assert "unknown consultation type career_magic" in reasons[5]
    assert "bad weekday 'funday'" in reasons[6]
    assert "video_link" in reasons[7] and "place_name is required" in reasons[8]
    assert "telegram_id" in reasons[9] and "10-minute" in reasons[10] and "differs" in reasons[11]
    assert await _count(harness, Availability) == 1 and await _count(harness, Counselor) == 1
    assert any("line 4: rejected: inverted hours" in line for line in report.lines("bad.csv"))


async def test_import_json_list(harness: Harness, tmp_path: Path) -> None:
    data = [{"telegram_id": 700301, "display_name": "한상담", "types": "startup_consulting|bm_coaching",
             "place_kind": "센터", "weekday": "목", "start": "10:00", "end": "12:00"},
            {"telegram_id": 700301, "display_name": "한상담", "types": "startup_consulting",
             "place_kind": "online", "weekday": 4, "start": "14:00", "end": "15:00",
             "video_link": "https://meet.google.com/abc-defg-hij"}]
    path = tmp_path / "staff.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    report = await import_file(harness.sessions, path, now=harness.clock.now())
    assert report.ok and report.added == 2 and report.counselors_created == 1
    counselor = await _one(harness, Counselor)
    assert counselor.types == ["startup_consulting", "bm_coaching"]


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "WEBHOOK_"))}
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_cli_import_prints_a_report_and_exit_code(tmp_path: Path) -> None:
    result = _cli(tmp_path, "counselors", "import", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert "13 windows added" in result.stdout and "4 counselors created" in result.stdout
    again = _cli(tmp_path, "counselors", "import", str(SAMPLE))
    assert again.returncode == 0 and "0 windows added, 13 already there" in again.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("telegram_id,display_name,types,place_kind,place_name,weekday,start,end\n"
                   "700101,김지현,job_counselling,centre,,mon,10:00,11:00\n"
                   "700401,오상담,job_counselling,centre,,tue,12:00,09:00\n", encoding="utf-8")
    rejected = _cli(tmp_path, "counselors", "import", str(bad))
    assert rejected.returncode == 1
    assert "line 2: rejected: overlapping hours" in rejected.stdout
    assert "line 3: rejected: inverted hours" in rejected.stdout

    broken = tmp_path / "broken.csv"
    broken.write_text("name,day\n김지현,mon\n", encoding="utf-8")
    unreadable = _cli(tmp_path, "counselors", "import", str(broken))
    assert unreadable.returncode == 2 and "missing column(s): telegram_id" in unreadable.stdout


async def test_help_lists_the_commands_of_each_role(harness: Harness) -> None:
    await make_counselor(harness, 7101)
    seeker, counselor, admin = harness.chat(7102), harness.chat(7101), harness.chat(ADMIN_ID)
    await seeker.send("/help")
    assert "/myreferrals" in seeker.text
    assert not any(f"/{c} " in seeker.text for c in ("referrals", "availability", "agenda", "myrating", "invite"))
    await counselor.send("/help")
    assert all(f"/{c} — " in counselor.text for c in ("availability", "agenda", "myrating", "referrals"))
    assert "/invite" not in counselor.text
    await admin.send("/help")
    assert "/invite — " in admin.text and "/referrals — " in admin.text and "/availability" not in admin.text
