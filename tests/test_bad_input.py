"""Bad input: each gets a clear message in the user's language and the conversation stays put."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from storage.models import Conversation
from tests.conftest import ADMIN_ID, Chat, Harness


async def _at_name(h: Harness, user: int = 1) -> Chat:
    chat = h.chat(user)
    await chat.send("/register")
    await chat.press("동의합니다")
    assert "이름을 입력" in chat.text
    return chat


async def _state(h: Harness, user: int = 1) -> Conversation:
    async with h.sessions() as s:
        return (await s.scalars(select(Conversation).where(Conversation.external_id == str(user)))).one()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("김서울😀", "이모지"),
        ("김\u200b서울", "보이지 않는 특수문자"),
        ("김\x07서울", "보이지 않는 특수문자"),
        ("김서울123", "한글·영문 글자"),
        ("가" * 31, "30자 이내"),
        ("   ", "비어 있어요"),
    ],
)
async def test_bad_names_are_refused_and_the_question_stays(harness: Harness, name: str, expected: str) -> None:
    chat = await _at_name(harness)
    await chat.send(name)
    assert expected in chat.text
    assert "이름을 입력" not in chat.text  # says what was wrong without repeating the question
    assert (await _state(harness)).step == "ask:name"
    await chat.send("김서울")
    assert "출생연도" in chat.text


@pytest.mark.parametrize(
    ("year", "expected"),
    [("2030", "미래"), ("1939", "1940년 이후"), ("19999", "네 자리"), ("작년", "네 자리"), ("2020", "만 14세")],
)
async def test_bad_birth_years(harness: Harness, year: str, expected: str) -> None:
    chat = await _at_name(harness)
    await chat.send("김서울")
    await chat.send(year)
    assert expected in chat.text
    assert (await _state(harness)).step == "ask:birth_year"


async def _at_phone(h: Harness) -> Chat:
    chat = await _at_name(h)
    for text in ("김서울", "1999", "청년층", "대학교", "서울대학교", "웹 개발", "Python"):
        await chat.send(text)
    await chat.press("마포구")
    await chat.press("선택 완료")
    await chat.press("4년제")
    await chat.send("1")
    await chat.press("건너뛰기")
    assert "휴대전화" in chat.text
    return chat


@pytest.mark.parametrize(
    ("phone", "expected"),
    [("+1 415 555 0100", "한국 휴대전화"), ("02-123-4567", "휴대전화 번호(010"), ("전화 없음", "형식이 아니에요"),
     ("010-1234", "번호가 짧아요"), ("0101234", "번호가 짧아요")],
)
async def test_phone_numbers_must_be_korean_mobiles(harness: Harness, phone: str, expected: str) -> None:
    chat = await _at_phone(harness)
    await chat.send(phone)
    assert expected in chat.text
    await chat.send("+82 10 9876 5432")
    assert "010-9876-5432" in chat.text


async def test_over_long_idea_is_refused_with_the_limit(harness: Harness) -> None:
    chat = harness.chat(20)
    await chat.send("/membership")
    await chat.press("예비 창업자")
    await chat.send("서울팀")
    await chat.send("가" * 501)
    assert "500자 이내" in chat.text and "501자" in chat.text
    await chat.send("동네 소상공인을 위한 주문 관리 앱을 만듭니다.")
    assert "분야" in chat.text


async def test_too_short_idea_says_the_minimum_not_empty(harness: Harness) -> None:
    chat = harness.chat(21)
    await chat.send("/membership")
    await chat.press("예비 창업자")
    await chat.send("서울팀")
    await chat.send("주문 앱")
    assert "10자 이상 입력해 주세요. (지금 4자)" in chat.text and "비어" not in chat.text
    await chat.send("   ")
    assert "비어 있어요" in chat.text
    await chat.send("/lang en")
    await chat.send("order app")
    assert "at least 10 characters (now 9)" in chat.text


async def test_salary_example_is_a_realistic_amount(harness: Harness) -> None:
    chat = await _at_name(harness)
    for text in ("김서울", "1999", "청년층", "대학교", "서울대학교", "웹 개발", "Python"):
        await chat.send(text)
    await chat.press("마포구")
    await chat.press("선택 완료")
    await chat.press("4년제")
    await chat.send("1")
    await chat.send("많이")
    assert "(예: 3000 또는 3,000만원)" in chat.text and "(예: 3)" not in chat.text
    await chat.send("3천만원")
    assert "휴대전화" in chat.text


async def test_three_failures_explain_the_field_and_offer_skip_or_stop(harness: Harness) -> None:
    chat = await _at_name(harness)
    await chat.send("김서울")
    for _ in range(2):
        await chat.send("모름")
        assert "네 자리" in chat.text and "어려우신가요" not in chat.text
    await chat.send("모름")
    assert "어려우신가요" in chat.text and "태어난 해" in chat.text
    assert {"다시 입력", "나중에 입력"} <= set(chat.last_buttons)
    await chat.press("나중에 입력")
    assert "트랙" in chat.text


async def test_skipped_required_field_is_asked_before_submit(harness: Harness) -> None:
    chat = await _at_name(harness)
    await chat.send("김서울")
    for _ in range(3):
        await chat.send("?")
    await chat.press("나중에 입력")
    for text in ("청년층", "대학교", "서울대학교", "웹 개발", "Python"):
        await chat.send(text)
    await chat.press("마포구")
    await chat.press("선택 완료")
    await chat.press("4년제")
    await chat.press("신입")
    await chat.press("건너뛰기")
    await chat.press("건너뛰기")
    assert "입력 필요" in chat.text
    await chat.press("제출")
    assert "필수 항목" in chat.text and "출생연도" in chat.text
    await chat.send("1999")
    assert "확인해 주세요" in chat.text and "입력 필요" not in chat.text
    await chat.press("제출")
    assert "완료" in chat.text


async def test_stop_keeps_the_draft(harness: Harness) -> None:
    chat = await _at_name(harness)
    for _ in range(3):
        await chat.send("😀")
    await chat.press("그만하고")
    assert "24시간 동안 보관" in chat.text
    await chat.press("이어서 하기")
    assert "이름을 입력" in chat.text


async def test_sticker_or_photo_where_text_is_expected(harness: Harness) -> None:
    chat = await _at_name(harness)
    for kind in ("sticker", "photo"):
        await chat.attach(kind)
        assert "글자로 답해 주세요" in chat.text
    assert (await _state(harness)).step == "ask:name"
    await chat.send("김서울")
    assert "출생연도" in chat.text


async def test_sticker_outside_a_form(harness: Harness) -> None:
    chat = harness.chat(21)
    await chat.attach("sticker")
    assert "이해하지 못해요" in chat.text and chat.last_buttons


async def test_unknown_command_keeps_the_form(harness: Harness) -> None:
    chat = await _at_name(harness)
    await chat.send("/frobnicate")
    assert "/frobnicate" in chat.text and "/help" in chat.text
    await chat.send("김서울")
    assert "출생연도" in chat.text


async def test_unknown_command_in_english(harness: Harness) -> None:
    chat = harness.chat(22, language="en")
    await chat.send("/nope")
    assert "I don't know the command /nope" in chat.text


async def test_stale_button_says_expired_and_asks_again(harness: Harness) -> None:
    chat = await _at_name(harness)
    old = chat.payload_for("이전")
    await chat.send("김서울")
    response = await chat.press_payload(old)
    assert response.toast and "만료" in response.toast
    assert "만료" in chat.text and "출생연도" in chat.text
    assert (await _state(harness)).step == "ask:birth_year"


@pytest.mark.parametrize("forged", ["f0:c0", "f99999999:ok", "zzz:1", "m:nonexistent", "adm:ok:1", "f:", "", ":::"])
async def test_forged_payloads_never_break(harness: Harness, forged: str) -> None:
    chat = await _at_name(harness)
    response = await chat.press_payload(forged)
    assert response.replies
    assert "오류" not in chat.text
    assert (await _state(harness)).step == "ask:name"


async def test_admin_garbled_payload_is_treated_as_expired(harness: Harness) -> None:
    chat = harness.chat(ADMIN_ID)
    for forged in ("adm:ok:abc", "adm:stg:1:99", "adm:zz", "adm"):
        response = await chat.press_payload(forged)
        assert "만료" in chat.text, forged
        assert response.toast


async def test_same_button_twice_is_handled_once(harness: Harness) -> None:
    chat = harness.chat(30)
    await chat.send("/register")
    agree = chat.payload_for("동의합니다")
    first, second = await asyncio.gather(chat.press_payload(agree), chat.press_payload(agree))
    assert any("이름을 입력" in r.text for r in first.replies)
    assert second.toast == "이미 처리되었어요" and not second.replies
    assert (await _state(harness, 30)).step == "ask:name"


async def test_messages_of_one_user_are_handled_in_order(harness: Harness) -> None:
    chat = await _at_name(harness)
    await asyncio.gather(chat.send("김서울"), chat.send("1999"), chat.send("청년층"))
    state = await _state(harness)
    assert state.data["a"]["name"] == "김서울"
    assert state.data["a"]["birth_year"] == 1999
    assert state.data["a"]["track"] == "youth"
    assert state.step == "ask:school_kind"


async def test_many_users_at_once_do_not_mix(harness: Harness) -> None:
    chats = [harness.chat(100 + i) for i in range(10)]
    await asyncio.gather(*(c.send("/register") for c in chats))
    await asyncio.gather(*(c.press("동의합니다") for c in chats))
    await asyncio.gather(*(c.send(f"사람{chr(0xAC00 + i)}") for i, c in enumerate(chats)))
    async with harness.sessions() as s:
        rows = {c.external_id: c.data["a"]["name"] for c in (await s.scalars(select(Conversation))).all()}
    assert rows == {str(100 + i): f"사람{chr(0xAC00 + i)}" for i in range(10)}


async def test_free_text_outside_a_form_gets_the_menu_or_the_matching_feature(harness: Harness) -> None:
    chat = harness.chat(40)
    await chat.send("asdfgh")
    assert "잘 모르겠어요" in chat.text and chat.last_buttons
    await chat.send("구직등록")
    assert "개인정보 수집" in chat.text
