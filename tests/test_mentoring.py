"""청년취업멘토단 as mentors, young seekers and admins meet it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from storage import mentoring, seekers, users
from storage.models import Mentor, MentorPair
from tests.conftest import ADMIN_ID, Chat, Harness, make_settings

MENTOR = 7301


def button(chat: Chat, label: str) -> str:
    """A button of any reply of the last answer (several cards each carry their own)."""
    found = [b.payload for r in chat.replies for row in r.buttons for b in row if label in b.label and b.payload]
    assert found, (label, chat.text)
    return found[0]


async def apply_as_mentor(chat: Chat, field: str = "백엔드 개발") -> None:
    await chat.send("/mentoring")
    await chat.press("멘토로 지원하기")
    await chat.press("동의합니다")
    for text in ("이멘토", "한빛소프트", "백엔드 개발", "7"):
        await chat.send(text)
    await chat.press(field)
    await chat.press("선택 완료")
    await chat.press("마포구")
    await chat.press("2명")
    await chat.press("둘 다")
    assert "확인해 주세요" in chat.text, chat.text
    await chat.press("제출")


async def seeker(h: Harness, user_id: int, **changes: Any) -> Chat:
    values: dict[str, Any] = {"name": f"청년{user_id}", "birth_year": 2001, "track": "youth",
                              "school_kind": "university", "school_name": "서강대학교", "desired_jobs": ["백엔드"],
                              "skills": ["Java"], "districts": ["mapo"], "education": "university",
                              "experience_years": 0} | changes
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(user_id), str(user_id), "ko", h.clock.now())
        await seekers.save(s, user.id, values, h.clock.now())
    return h.chat(user_id)


async def selected_mentor(h: Harness, user_id: int = MENTOR, field: str = "백엔드 개발") -> Chat:
    chat = h.chat(user_id)
    await apply_as_mentor(chat, field)
    admin = h.chat(ADMIN_ID)
    await admin.send("/mentoradmin")
    select_buttons = [b.payload for r in admin.replies for row in r.buttons for b in row
                      if b.label == "선발" and b.payload]
    await admin.press_payload(select_buttons[-1])
    assert "선발" in admin.text and "알렸어요" in admin.text, admin.text
    return chat


async def ask_for_mentor(chat: Chat, field: str = "백엔드 개발") -> None:
    await chat.send("/mentoring")
    await chat.press("멘토링 신청하기")
    await chat.press(field)
    await chat.send("신입 백엔드 포트폴리오는 어떻게 준비하나요?")
    await chat.press("온라인")
    await chat.press("제출")


async def test_a_mentor_applies_once_and_admins_select_the_cohort(harness: Harness) -> None:
    chat = harness.chat(MENTOR)
    await apply_as_mentor(chat)
    assert "2026-09 기수" in chat.text  # applied on 2026-03-02: the next cohort starts 09-01
    await harness.deliver()
    assert any("멘토 지원이 들어왔어요" in m["text"] for m in harness.notifier.to(ADMIN_ID))
    await chat.send("/mentoring")
    assert "멘토 지원: 2026-09 기수 · 심사 중" in chat.text
    assert "멘토로 지원하기" not in " ".join(chat.last_buttons)  # a second application is not offered
    admin = harness.chat(ADMIN_ID)
    await admin.send("/mentoradmin")
    assert "지원 1명 · 선발 0/100명" in admin.text
    await admin.press("선발")
    await harness.deliver()
    assert any("멘토로 선발되었어요" in m["text"] for m in harness.notifier.to(MENTOR))


async def test_the_cohort_quota_holds(harness: Harness) -> None:
    harness.settings.mentoring_cohort_quota = 1
    await apply_as_mentor(harness.chat(MENTOR))
    await apply_as_mentor(harness.chat(MENTOR + 1))
    admin = harness.chat(ADMIN_ID)
    await admin.send("/mentoradmin")
    select_buttons = [b.payload for r in admin.replies for row in r.buttons for b in row
                      if b.label == "선발" and b.payload]
    await admin.press_payload(select_buttons[0])
    await admin.press_payload(select_buttons[1])
    assert "2026-09 기수 멘토 1명을 모두 선발했어요" in admin.text


async def test_a_seeker_is_paired_with_a_mentor_who_accepts(harness: Harness) -> None:
    mentor = await selected_mentor(harness)
    mentee = await seeker(harness, 7401)
    await ask_for_mentor(mentee)
    assert "멘토에게 연결을 요청했어요" in mentee.text
    await harness.deliver()
    [proposal] = [m for m in harness.notifier.to(MENTOR) if "멘티 연결 요청" in m["text"]]
    assert "포트폴리오" in proposal["text"]
    accept = next(b["payload"] for row in proposal["buttons"] for b in row if "수락" in b["label"])
    await mentor.press_payload(accept)
    assert "수락했어요" in mentor.text
    await harness.deliver()
    assert any("멘토가 연결되었어요" in m["text"] and "한빛소프트" in m["text"] for m in harness.notifier.to(7401))
    await mentee.send("/mentoring")
    assert "내 멘토링: 진행 중 (최대 3회)" in mentee.text and "이멘토" in mentee.text
    await mentor.send("/mentoring")
    assert "멘티 청년7401 · 백엔드 개발 · 진행 중" in mentor.text
    await mentor.press_payload(button(mentor, "종료: 목표 달성"))
    assert "멘토링을 종료했어요" in mentor.text
    async with harness.sessions() as s:
        pair = (await s.scalars(select(MentorPair))).one()
        assert (pair.status, pair.end_reason) == ("ended", "done")


async def test_no_mentor_in_the_field_offers_a_counselor(harness: Harness) -> None:
    await selected_mentor(harness)
    mentee = await seeker(harness, 7402)
    await ask_for_mentor(mentee, field="조리")
    assert "조리 분야에서 맡을 수 있는 멘토가 없어요" in mentee.text
    assert "📅 상담 예약" in mentee.last_buttons
    await mentee.send("/mentoring")
    assert "조리 분야 멘토를 기다리고 있어요" in mentee.text
    assert "멘토링 신청하기" not in " ".join(mentee.last_buttons)  # one open request at a time


async def test_a_declined_request_goes_to_the_next_mentor(harness: Harness) -> None:
    first = await selected_mentor(harness, MENTOR)
    second = await selected_mentor(harness, MENTOR + 1)
    mentee = await seeker(harness, 7403)
    await ask_for_mentor(mentee)
    async with harness.sessions() as s:
        pair = (await s.scalars(select(MentorPair))).one()
        asked = (await s.get(Mentor, pair.mentor_id)).user_id  # type: ignore[union-attr]
    chat = first if asked == (await _user_id(harness, MENTOR)) else second
    await chat.send("/mentoring")
    await chat.press_payload(button(chat, "거절: 일정이 안 돼요"))
    assert "거절했어요" in chat.text
    async with harness.sessions() as s:
        pairs = list(await s.scalars(select(MentorPair).order_by(MentorPair.id)))
    assert [p.status for p in pairs] == ["declined", "proposed"] and pairs[0].mentor_id != pairs[1].mentor_id


async def _user_id(h: Harness, external: int) -> int:
    async with h.sessions() as s:
        user, _ = await users.identify(s, "telegram", str(external), str(external), "ko", h.clock.now())
        return user.id


def test_cohorts_follow_the_configured_start_days() -> None:
    assert mentoring.cohort_for(dt.date(2026, 3, 2), "03-01,09-01") == "2026-09"
    assert mentoring.cohort_for(dt.date(2026, 2, 10), "03-01,09-01") == "2026-03"
    assert mentoring.cohort_for(dt.date(2026, 10, 1), "03-01,09-01") == "2027-03"
    assert mentoring.current_cohort(dt.date(2026, 3, 2), "03-01,09-01") == "2026-03"
    assert mentoring.current_cohort(dt.date(2026, 1, 5), "03-01,09-01") == "2025-09"
    settings = make_settings("sqlite+aiosqlite://", mentoring_cohort_quota=1)
    assert settings.mentoring_cohort_quota == 1


async def test_a_waiting_request_goes_to_the_next_mentor_selected_in_its_field(harness: Harness) -> None:
    mentee = await seeker(harness, 7404)
    await ask_for_mentor(mentee, field="조리")
    assert "멘토가 없어요" in mentee.text
    await selected_mentor(harness, MENTOR, field="조리")
    await harness.deliver()
    assert any("멘티 연결 요청" in m["text"] and "포트폴리오" in m["text"] for m in harness.notifier.to(MENTOR))
    async with harness.sessions() as s:
        assert (await s.scalars(select(MentorPair))).one().status == "proposed"
