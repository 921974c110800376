"""Inside a form, what people type works like what they would press (issue 15).

Walked as a person meets it: the registration over the core (Telegram's shape of a chat); the
districts over the KakaoTalk skill endpoint are in `test_kakao_forms.py`.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Conversation, SeekerProfile
from tests.conftest import Chat, Harness
from tests.test_booking import quick_register


async def _conv(h: Harness, user_id: int) -> Conversation:
    async with h.sessions() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.user_id == await _user(h, user_id)))
        assert conv is not None
        return conv


async def _user(h: Harness, user_id: int) -> int:
    from storage.models import Identity

    async with h.sessions() as s:
        found = await s.scalar(select(Identity.user_id).where(Identity.external_id == str(user_id)))
        assert found is not None
        return int(found)


async def _to_name(chat: Chat) -> None:
    await chat.send("/register")
    await chat.press("동의합니다")
    assert "이름을 입력해" in chat.text


# --- 1. escape words -----------------------------------------------------------------------------


async def test_cancel_typed_at_the_name_question_cancels_and_is_never_saved_as_the_name(harness: Harness) -> None:
    chat = harness.chat(1)
    await _to_name(chat)
    await chat.send("취소")
    assert "취소했어요" in chat.text and "이름" not in chat.text.split("취소했어요")[0]
    conv = await _conv(harness, 1)
    assert conv.flow is None and set(conv.data) <= {"shown"}  # no draft kept, only the menu shown
    # Started again from the beginning, no draft to continue.
    await chat.send("/register")
    assert "이어서" not in chat.text and "동의" in chat.text


async def test_stop_and_menu_words_leave_the_form_and_keep_the_draft(harness: Harness) -> None:
    for user_id, word in enumerate(("그만", "그만할래요", "메뉴", "처음으로", "stop", "menu"), start=1):
        chat = harness.chat(user_id)
        await _to_name(chat)
        await chat.send("김서울")
        assert "출생연도" in chat.text
        await chat.send(word)
        assert "보관돼요" in chat.text, (word, chat.text)
        assert any("이어서" in label for label in chat.last_buttons), (word, chat.last_buttons)
        await chat.press("이어서")
        assert "출생연도" in chat.text, word
        conv = await _conv(harness, user_id)
        assert conv.data["a"]["name"] == "김서울"


async def test_back_and_cancel_button_labels_typed_work_like_the_buttons(harness: Harness) -> None:
    chat = harness.chat(1)
    await _to_name(chat)
    await chat.send("김서울")
    await chat.send("이전")
    assert "이름을 입력해" in chat.text
    await chat.send("✖️ 취소")
    assert "취소했어요" in chat.text


async def test_cancel_typed_in_english_cancels(harness: Harness) -> None:
    chat = harness.chat(1, language="en")
    await chat.send("/register")
    await chat.press("I agree")
    await chat.send("cancel")
    assert "Cancelled" in chat.text
    assert (await _conv(harness, 1)).flow is None


async def test_a_service_named_mid_form_asks_whether_to_leave_and_keeps_the_draft(harness: Harness) -> None:
    chat = harness.chat(1)
    await _to_name(chat)
    await chat.send("김서울")
    await chat.send("채용정보")
    assert "‘채용정보’로 갈까요?" in chat.text and "보관돼서" in chat.text
    await chat.press("채용정보’로 가기")
    assert "보관돼요" in chat.text
    conv = await _conv(harness, 1)
    assert conv.flow == "seeker" and conv.paused and conv.data["a"]["name"] == "김서울"
    await chat.send("/register")
    await chat.press("이어서")
    assert "출생연도" in chat.text


async def test_going_on_after_a_service_name_takes_the_typed_words_as_the_answer(harness: Harness) -> None:
    chat = harness.chat(1)
    await _to_name(chat)
    for answer in ("김서울", "1999"):
        await chat.send(answer)
    await chat.press("청년층")
    await chat.press("대학교")
    assert "학교 이름" in chat.text
    await chat.send("상담원 연결")
    assert "갈까요?" in chat.text
    await chat.press("아니요")
    assert "희망 직무" in chat.text
    assert (await _conv(harness, 1)).data["a"]["school_name"] == "상담원 연결"


async def test_the_forms_own_service_typed_inside_it_just_goes_on(harness: Harness) -> None:
    """"구직등록" typed during registration is not a service to leave for: the bot says the
    registration is under way and asks the same question again, nothing lost."""
    chat = harness.chat(1)
    await _to_name(chat)
    await chat.send("김서울")
    assert "출생연도" in chat.text
    for typed in ("구직등록", "/register"):
        await chat.send(typed)
        assert "갈까요?" not in chat.text and "할까요?" not in chat.text, chat.text
        assert "구직등록을 하고 있어요" in chat.text and "출생연도" in chat.text, chat.text
        chat.payload_for("이전")  # the question comes with its buttons
    await chat.send("1999")
    chat.payload_for("청년층")
    assert (await _conv(harness, 1)).data["a"]["name"] == "김서울"


# --- 2. typed answers at choice questions ------------------------------------------------------


async def test_typed_agreement_never_matches_the_refusal(harness: Harness) -> None:
    for user_id, typed in enumerate(("동의", "동의합니다", "동의해요", "네"), start=1):
        chat = harness.chat(user_id)
        await chat.send("/register")
        await chat.send(typed)
        assert "이름을 입력해" in chat.text, (typed, chat.text)
    for user_id, typed in enumerate(("아니요", "안 해요", "동의 안 해요"), start=10):
        chat = harness.chat(user_id)
        await chat.send("/register")
        await chat.send(typed)
        assert "동의하지 않으셔서" in chat.text, (typed, chat.text)


async def test_words_for_no_experience_are_zero_years(harness: Harness) -> None:
    for user_id, typed in enumerate(("신입", "없음", "경력 없음"), start=1):
        chat = harness.chat(user_id)
        await _walk_to(chat, "경력은 몇 년")
        await chat.send(typed)
        assert "희망 연봉" in chat.text, (typed, chat.text)
        assert (await _conv(harness, user_id)).data["a"]["experience_years"] == 0


async def test_every_rejected_answer_comes_with_the_question_buttons(harness: Harness) -> None:
    chat = harness.chat(1)
    await _to_name(chat)
    await chat.send("김서울")
    await chat.send("1999")
    await chat.send("몰라요")
    assert "선택지에 없어요" in chat.text
    assert any("청년층" in label for label in chat.last_buttons) and "⬅️ 이전" in chat.last_buttons
    await chat.press("청년층")
    await chat.press("대학교")
    await chat.send("서울대학교")
    await chat.send("웹 개발")
    await chat.send("Python")
    await chat.send("완료")  # nothing chosen yet
    assert "하나 이상" in chat.text and "마포구" in chat.last_buttons


# --- 3. a long multi-select --------------------------------------------------------------------


async def _walk_to(chat: Chat, question: str) -> None:
    await _to_name(chat)
    steps = [("send", "김서울"), ("send", "1999"), ("press", "청년층"), ("press", "대학교"), ("send", "서울대학교"),
             ("send", "웹 개발"), ("send", "Python"), ("send", "마포구"), ("press", "4년제")]
    for action, value in steps:
        if question in chat.replies[-1].text:
            return
        await (chat.press(value) if action == "press" else chat.send(value))
    assert question in chat.replies[-1].text, chat.text


async def test_districts_typed_by_name_or_closed_with_done_typed(harness: Harness) -> None:
    chat = harness.chat(1)
    await _walk_to(chat, "근무지역")
    await chat.send("마포, 강남")
    assert "최종 학력" in chat.text
    assert (await _conv(harness, 1)).data["a"]["districts"] == ["mapo", "gangnam"]

    chat = harness.chat(2)
    await _walk_to(chat, "근무지역")
    await chat.send("마포구 강남구")
    assert (await _conv(harness, 2)).data["a"]["districts"] == ["mapo", "gangnam"]

    chat = harness.chat(3)
    await _walk_to(chat, "근무지역")
    await chat.press("서대문구")
    await chat.send("선택 완료")
    assert "최종 학력" in chat.text
    assert (await _conv(harness, 3)).data["a"]["districts"] == ["seodaemun"]


# --- 5. track-based skipping and optional questions ---------------------------------------------


async def test_a_51_year_old_is_not_asked_a_school_and_may_skip_skills(harness: Harness) -> None:
    chat = harness.chat(1)
    await _to_name(chat)
    await chat.send("박중년")
    await chat.send("1975")
    await chat.press("중장년층")
    assert "희망 직무" in chat.text and "학교" not in chat.text
    await chat.send("경비, 시설관리")
    assert "기술" in chat.text and "(선택)" in chat.text and "건너뛰기" in chat.last_buttons
    await chat.send("없음")
    assert "근무지역" in chat.text
    await chat.press("마포구")
    await chat.press("선택 완료")
    await chat.press("고등학교")
    await chat.send("20")
    assert "(선택)" in chat.text  # the salary
    await chat.press("건너뛰기")
    await chat.press("건너뛰기")
    assert "확인해 주세요" in chat.text and "학교 이름" not in chat.text
    await chat.press("제출")
    assert "구직등록이 완료" in chat.text
    async with harness.sessions() as s:
        profile = await s.scalar(select(SeekerProfile))
        assert profile is not None and profile.skills == [] and profile.track == "middle"
    await chat.send("/profile")
    assert "학교 이름" not in chat.text


# --- 6. back keeps the earlier answer with one tap ---------------------------------------------


async def test_back_offers_the_earlier_answer_to_keep(harness: Harness) -> None:
    chat = harness.chat(1)
    await _to_name(chat)
    await chat.send("김서울")
    await chat.press("이전")
    assert "이름을 입력해" in chat.text and "그대로: 김서울" in chat.last_buttons
    await chat.press("그대로: 김서울")
    assert "출생연도" in chat.text
    await chat.send("1999")
    await chat.press("청년층")
    await chat.press("이전")
    # A choice: the earlier one marked among the buttons.
    assert "청년층 (만 39세 이하) (지금 답)" in chat.last_buttons or any(
        label.startswith("청년층") and label.endswith("(지금 답)") for label in chat.last_buttons), chat.last_buttons
    await chat.press("(지금 답)")
    assert "학교" in chat.text


async def test_back_keep_button_in_english(harness: Harness) -> None:
    chat = harness.chat(1, language="en")
    await chat.send("/register")
    await chat.press("I agree")
    await chat.send("Jane Kim")
    await chat.press("Back")
    assert "Keep: Jane Kim" in chat.last_buttons


# --- 4. one possible answer ----------------------------------------------------------------------


async def test_a_question_with_one_possible_answer_is_answered_and_shown(harness: Harness) -> None:
    from storage import counselors, users

    now = harness.clock.now()
    async with harness.sessions() as s, s.begin():
        u, _ = await users.identify(s, "telegram", "900", "900", "ko", now)
        c = await counselors.create(s, u.id, "김상담", ["job_counselling"], now)
        place = await counselors.place(s, "centre", "서울일자리플러스센터")
        for weekday in range(5):
            await counselors.add_window(s, c.id, place.id, weekday, 9 * 60, 12 * 60)
    await quick_register(harness, 1)
    chat = harness.chat(1)
    await chat.send("/book")
    # One type of consultation at one place: both given, said above the first real question.
    assert "상담 종류: 취업상담" in chat.text
    assert "서울일자리플러스센터" in chat.text and "하나뿐이라" in chat.text and "3/3" in " ".join(chat.last_buttons)
    conv = await _conv(harness, 1)
    assert conv.data["a"]["place"] and {"type", "place"} <= set(conv.data["auto"])
    await chat.press("3/3")
    await chat.press("09:00")
    await chat.press("건너뛰기")
    assert "확인해 주세요" in chat.text and "서울일자리플러스센터" in chat.text
    # Back from the day passes over the questions that were never asked.
    for _ in range(3):
        await chat.press("이전")
    assert "날짜를 골라" in chat.text and "3/3 (화) (지금 답)" in chat.last_buttons


async def test_the_stuck_screen_buttons_typed_work_like_the_buttons(harness: Harness) -> None:
    chat = harness.chat(1)
    await _to_name(chat)
    await chat.send("김서울")
    for _ in range(3):
        await chat.send("아무해")
    assert "나중에 입력" in chat.last_buttons
    await chat.send("나중에 입력")
    assert "트랙" in chat.text
    conv = await _conv(harness, 1)
    assert "birth_year" in conv.data["skipped"]
