"""Job-seeker registration through the core, as a person meets it (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import Conversation, SeekerProfile, User
from tests.conftest import Harness, register


async def _profile(h: Harness, external_id: str = "1") -> SeekerProfile | None:
    async with h.sessions() as s:
        return (await s.scalars(select(SeekerProfile))).first()


async def test_start_shows_welcome_and_menu(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("/start")
    assert "서울일자리플러스센터" in chat.text
    assert any("구직등록" in label for label in chat.last_buttons)


async def test_full_registration_is_stored_normalised(harness: Harness) -> None:
    chat = harness.chat(1)
    await register(chat)
    profile = await _profile(harness)
    assert profile is not None
    assert profile.name == "김서울"
    assert profile.birth_year == 1999
    assert profile.track == "youth"
    assert profile.districts == ["mapo", "seodaemun"]
    assert profile.desired_jobs == ["웹 개발", "데이터 분석"]
    assert profile.phone == "+821012345678"
    assert profile.desired_salary == 3000
    assert profile.experience_years == 2
    assert profile.consent_at == harness.clock.now()


async def test_refusing_consent_stores_nothing(harness: Harness) -> None:
    chat = harness.chat(2)
    await chat.send("/register")
    assert "거부할 권리" in chat.text and "24개월" in chat.text
    await chat.press("동의하지 않습니다")
    assert "아무 정보도 저장하지 않았어요" in chat.text
    assert await _profile(harness) is None
    async with harness.sessions() as s:
        conv = (await s.scalars(select(Conversation))).one()
        assert conv.flow is None and set(conv.data) <= {"shown"}


async def test_track_is_suggested_from_birth_year(harness: Harness) -> None:
    chat = harness.chat(3)
    await chat.send("/register")
    await chat.press("동의합니다")
    await chat.send("홍길동")
    await chat.send("1970")
    assert any("중장년층" in label and "추천" in label for label in chat.last_buttons)
    assert not any("청년층" in label and "추천" in label for label in chat.last_buttons)


async def test_typed_choice_and_any_district(harness: Harness) -> None:
    chat = harness.chat(4)
    await chat.send("/register")
    await chat.press("동의합니다")
    for text in ("Lee Min", "2001", "청년층", "특성화고등학교", "서울디지털고", "사무 행정", "컴활 1급"):
        await chat.send(text)
    await chat.press("서울 전체")
    await chat.press("선택 완료")
    await chat.send("고등학교 졸업 이하")
    assert "경력" in chat.text
    await chat.press("신입")
    await chat.press("건너뛰기")
    await chat.press("건너뛰기")
    assert "서울 전체" in chat.text and "입력 안 함" in chat.text
    await chat.press("제출")
    profile = await _profile(harness)
    assert profile is not None and profile.districts == [] and profile.phone is None
    assert profile.school_kind == "vocational_high" and profile.experience_years == 0


async def test_back_returns_to_previous_question(harness: Harness) -> None:
    chat = harness.chat(5)
    await chat.send("/register")
    await chat.press("동의합니다")
    await chat.send("김서울")
    assert "출생연도" in chat.text
    await chat.press("이전")
    assert "이름을 입력" in chat.text
    await chat.send("박서울")
    await chat.send("2000")
    assert "트랙" in chat.text


async def test_summary_edit_changes_one_answer(harness: Harness) -> None:
    chat = harness.chat(6)
    await register(chat)
    await chat.send("/profile")
    await chat.press("구직 정보 수정")
    assert "어떤 항목을 고칠까요" in chat.text
    await chat.press("희망 연봉")
    await chat.send("4,500만원")
    assert "연 4,500만원" in chat.text and "확인해 주세요" in chat.text
    await chat.press("제출")
    assert "수정했어요" in chat.text
    profile = await _profile(harness)
    assert profile is not None and profile.desired_salary == 4500 and profile.name == "김서울"


async def test_cancel_leaves_without_saving(harness: Harness) -> None:
    chat = harness.chat(7)
    await chat.send("/register")
    await chat.press("동의합니다")
    await chat.send("김서울")
    await chat.send("/cancel")
    assert "취소했어요" in chat.text
    assert await _profile(harness) is None
    await chat.send("/register")
    assert "개인정보 수집" in chat.text  # a fresh start, not a resume offer


async def test_draft_is_offered_for_resume_and_expires_after_ttl(harness: Harness) -> None:
    chat = harness.chat(8)
    await chat.send("/register")
    await chat.press("동의합니다")
    await chat.send("김서울")
    await chat.send("/menu")
    assert any("이어서" in label for label in chat.last_buttons)
    harness.clock.advance(hours=3)
    await chat.send("/register")
    assert "이어서 작성하시겠어요?" in chat.text
    await chat.press("이어서 하기")
    assert "출생연도" in chat.text
    await chat.send("1999")
    harness.clock.advance(hours=25)
    await chat.send("청년층")
    assert "24시간이 지나 삭제" in chat.text


async def test_idle_return_mid_form_asks_before_taking_the_answer(harness: Harness) -> None:
    chat = harness.chat(9)
    await chat.send("/register")
    await chat.press("동의합니다")
    harness.clock.advance(hours=2)
    await chat.send("김서울")
    assert "이어서 작성하시겠어요?" in chat.text
    await chat.press("이어서 하기")
    assert "이름을 입력" in chat.text


async def test_delete_erases_everything_after_confirmation(harness: Harness) -> None:
    chat = harness.chat(10)
    await register(chat)
    await chat.send("/delete")
    await chat.press("아니요")
    assert await _profile(harness) is not None
    await chat.send("/delete")
    await chat.press("네, 모두 삭제")
    assert "모든 정보를 삭제했어요" in chat.text
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(SeekerProfile)) == 0
        assert await s.scalar(select(func.count()).select_from(User)) == 0
    await chat.send("/start")
    assert "서울일자리플러스센터" in chat.text


async def test_language_switch_mid_form_reasks_in_english(harness: Harness) -> None:
    chat = harness.chat(11)
    await chat.send("/register")
    await chat.press("동의합니다")
    await chat.send("/lang en")
    assert "English" in chat.text and "What is your name?" in chat.text
    await chat.send("Kim Seoul")
    assert "What year were you born?" in chat.text


async def test_english_speaker_gets_english_from_the_start(harness: Harness) -> None:
    chat = harness.chat(12, language="en-US")
    await chat.send("/start")
    assert "Seoul Job Plus Center" in chat.text


async def test_register_twice_points_to_profile(harness: Harness) -> None:
    chat = harness.chat(13)
    await register(chat)
    await chat.send("/register")
    assert "이미 구직등록" in chat.text


async def test_deep_link_opens_registration(harness: Harness) -> None:
    chat = harness.chat(14)
    await chat.send("/start register")
    assert "서울일자리플러스센터" in chat.text and "개인정보 수집" in chat.text


async def test_profile_shows_everything_held(harness: Harness) -> None:
    from tests.test_membership import apply

    chat = harness.chat(15)
    await register(chat)
    await apply(chat)
    await chat.send("/profile")
    for expected in ("김서울", "1999", "010-1234-5678", "마포구, 서대문구", "개인정보 동의 2026-03-02", "텔레그램",
                     "공동회원 신청", "서울팀", "심사 중", "공지·홍보 메시지: 켜짐"):
        assert expected in chat.text, expected
    assert "내 정보 모두 삭제" in " ".join(chat.last_buttons)
    assert "[그 밖의 기록]" not in chat.text  # nothing booked or registered yet


async def test_profile_counts_other_records(harness: Harness) -> None:
    from tests.test_booking import seed, to_summary

    await seed(harness)
    chat = harness.chat(16)
    await register(chat)
    await to_summary(chat)
    await chat.press("제출")
    await chat.send("/profile")
    assert "상담 예약 1건 (/mybookings)" in chat.text
