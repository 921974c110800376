"""The front door (issue 16): free text outside a form reaches the service or gets its answer,
walked as a person meets it, in Korean and English, over the core; the main journeys also over
the KakaoTalk skill endpoint."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy import select

from bot.app import apply_retention
from bot.cli import nlu
from bot.cli.firms import load_demo
from kernel.core import Incoming
from storage import faq
from storage.models import Booking, Conversation, FaqAsk, NluMiss
from tests.conftest import ADMIN_ID, FetchingChannel, Harness, register
from tests.fake_telegram import FakeTelegram
from tests.test_booking import quick_register, seed, to_summary
from tests.test_kakao import start_skill
from tests.test_telegram import BotProcess, press, say
from tests.test_telegram import _settings as telegram_settings


async def test_a_question_gets_its_answer_with_the_service_button_and_is_counted(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("센터 위치가 어디예요?")
    assert "서울일자리플러스센터 주소" in chat.text and "센터 입력 필요" in chat.text
    assert "무슨 말씀인지" not in chat.text
    assert any("상담 예약" in label for label in chat.last_buttons)
    await chat.send("몇 시까지 해요?")
    assert "09:00-18:00" in chat.text, chat.text  # OPENING_HOURS filled in
    english = harness.chat(2, language="en")
    await english.send("when is demo day")
    assert "Demo day" in english.text and "/events" in english.text
    assert any("Events" in label for label in english.last_buttons)
    async with harness.sessions() as s:
        asked = sorted((await s.scalars(select(FaqAsk.topic))).all())
    assert asked == ["centre_location", "demo_day", "opening_hours"]


async def test_book_in_words_starts_the_booking_and_a_named_day_is_chosen(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, 1)
    chat = harness.chat(1)
    await chat.send("상담 예약하고 싶어요")
    assert "어떤 상담" in chat.text
    await chat.send("/cancel")
    # Monday 2 March: next week's Tuesday is 10 March, which has free times.
    await chat.send("다음 주 화요일 상담 예약")
    await chat.press("취업상담")
    await chat.press("서울일자리플러스센터")
    await chat.press("상관없음")
    assert "3/10" in chat.text and "시간을 골라" in chat.text, chat.text
    await chat.press("09:00")
    await chat.press("건너뛰기")
    assert "날짜: 3/10 (화)" in chat.text


async def test_a_named_day_without_free_time_offers_the_free_days(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, 1)
    chat = harness.chat(1)
    await chat.send("일요일에 상담 예약하고 싶어요")
    await chat.press("취업상담")
    await chat.press("서울일자리플러스센터")
    await chat.press("상관없음")
    assert "날짜" in chat.text and "3/3" in " ".join(chat.last_buttons), chat.text


async def test_cancel_in_words_shows_the_bookings_and_still_asks(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, 1)
    chat = harness.chat(1)
    await to_summary(chat)
    await chat.press("제출")
    await to_summary(chat, day="3/4")
    await chat.press("제출")
    await chat.send("내일 상담 취소할게요")  # tomorrow is 3/3: that day's booking only
    assert "취소할 예약을 골라" in chat.text and "예정된 예약 1건" in chat.text and "3월 4일" not in chat.text
    await chat.press("취소")
    assert "취소할까요" in chat.text
    async with harness.sessions() as s:
        assert (await s.scalars(select(Booking.status))).all() == ["booked", "booked"]
    await chat.send("다음 주 금요일 상담 취소할게요")  # a day without one: said, then all of them
    assert "예약이 없어요" in chat.text and "예정된 예약 2건" in chat.text, chat.text


async def test_delete_in_words_asks_for_confirmation_first(harness: Harness) -> None:
    chat = harness.chat(1)
    await register(chat)
    await chat.send("내 정보 지워 주세요")
    assert "정말 모두 삭제할까요" in chat.text
    await chat.send("/cancel")
    english = harness.chat(2, language="en")
    await english.send("I want to delete my account")
    assert "delete" in english.text.lower() and "?" in english.text


async def test_language_jobs_and_human_in_words(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("영어로 바꿔 주세요")
    assert "English" in chat.text
    await chat.send("change language to Korean")
    assert "한국어" in chat.text or "말씀" in chat.text or "한국" in chat.text, chat.text
    await load_demo(harness.sessions, harness.clock.now(), harness.settings.tz)
    seeker = harness.chat(2)
    await register(seeker)
    await seeker.send("마포구 웹 개발 일자리")
    assert "조건: 마포구 · 웹개발" in seeker.text, seeker.text
    if "다음 5개" in " ".join(seeker.last_buttons):
        await seeker.press("다음 5개")  # the next page keeps the conditions
        assert "조건: 마포구 · 웹개발" in seeker.text and "6–" in seeker.text, seeker.text
    await seeker.send("IT 회사 채용 있나요?")
    assert "조건" not in seeker.text and "무슨 말씀인지" not in seeker.text
    await seeker.send("사람이랑 얘기하고 싶어요")
    assert "상담" in seeker.text and "무슨 말씀인지" not in seeker.text


async def test_the_programmes_start_from_words(harness: Harness) -> None:
    """The document clinic, mentoring and courses start their own flows; space (issue 19) has
    none yet and answers with its topic."""
    chat = harness.chat(1)
    await chat.send("자소서 첨삭 받고 싶어요")
    assert "서류 수집·이용 동의" in chat.text, chat.text  # /clinic's consent
    await chat.send("/cancel")
    for words, expected in (("멘토링 받고 싶어요", "멘토"), ("기술교육원 과정 신청하고 싶어요", "과정")):
        other = harness.chat(words)
        await other.send(words)
        assert expected in other.text, (words, other.text)
    english = harness.chat(2, language="en")
    await english.send("I want a mentor")
    assert "mentor" in english.text.lower() and not any("\uac00" <= c <= "\ud7a3" for c in english.text)
    space = harness.chat(3)
    await space.send("회의실 빌릴 수 있나요?")
    assert "코워킹" in space.text, space.text  # membership benefits: the space that comes with each stage


async def test_unsure_offers_two_guesses_and_something_else(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("예약 관련")
    assert "혹시 이 중 하나인가요" in chat.text
    labels = list(chat.last_buttons)
    assert len(labels) == 3 and "다른 것" in labels[-1] and any("상담 예약" in label for label in labels)
    await chat.press("상담 예약")
    assert "구직등록" in chat.text  # /book for someone not registered
    await chat.send("예약 관련")
    await chat.press("다른 것")
    assert "메뉴" in chat.text or chat.last_buttons


async def test_nothing_close_says_what_the_bot_does_and_keeps_the_text_without_the_phone(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("오늘 날씨 어때요 010-1234-5678")
    assert "도와드릴 수 있어요" in chat.text and any("상담원 연결" in label for label in chat.last_buttons)
    async with harness.sessions() as s:
        [kept] = (await s.scalars(select(NluMiss))).all()
    assert "날씨" in kept.text and "1234" not in kept.text
    english = harness.chat(2, language="en")
    await english.send("tell me a joke")
    assert "I can help with" in english.text
    # Kept no longer than RETENTION_MONTHS.
    harness.clock.advance(days=31 * (harness.settings.retention_months + 1))
    await apply_retention(harness.sessions, harness.settings, harness.clock)
    async with harness.sessions() as s:
        assert (await s.scalars(select(NluMiss))).all() == []


async def test_inside_a_form_text_is_the_answer_and_why_gets_the_explanation(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("/register")
    await chat.press("동의합니다")
    await chat.send("이거 왜 물어봐요?")
    assert "1~30자" in chat.text and "이름을 입력해" in chat.text
    await chat.send("센터 위치가 어디예요")  # text at a form step is the form's, not the front door's
    assert "주소" not in chat.text
    async with harness.sessions() as s:
        conv = await s.scalar(select(Conversation))
        assert conv is not None and conv.flow == "seeker"


async def test_admin_faq_lists_this_months_asks_and_an_import_answers(harness: Harness, tmp_path: Path) -> None:
    chat = harness.chat(1)
    await chat.send("데모데이 언제 해요")
    admin = harness.chat(ADMIN_ID)
    await admin.send("/faq")
    assert "demo_day" in admin.text and "1회" in admin.text and "⚠️" in admin.text
    await chat.send("/faq")
    assert "demo_day" not in chat.text
    # An edited file, imported from the command line, answers from then on; a broken one changes nothing.
    data = json.loads(faq.SHIPPED.read_text(encoding="utf-8"))
    data["topics"][0]["answer"]["ko"] = "센터는 서울 중구 세종대로 110에 있어요."
    edited = tmp_path / "faq.json"
    edited.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text('{"topics": [{"id": "x"}]}', encoding="utf-8")
    out, err = _Buffer(), _Buffer()
    assert await nlu.import_faq(harness.settings, str(broken), out, err) == 1 and "nothing changed" in err.text
    assert await nlu.import_faq(harness.settings, str(edited), out, err) == 0
    await chat.send("센터 위치가 어디예요?")
    assert "세종대로 110" in chat.text


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered: `write` keeps the text at once."""


async def test_free_text_over_kakaotalk_reaches_the_same_intents(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, 1)
    skill = await start_skill(harness)
    try:
        user = skill.user("k-front")
        await user.say("센터 위치가 어디예요?")
        assert "서울일자리플러스센터 주소" in user.text
        await user.say("예약 관련")
        assert "혹시 이 중 하나인가요" in user.text and any("다른 것" in label for label in user.labels)
        await user.say("오늘 날씨 어때요")
        assert "도와드릴 수 있어요" in user.text
        await user.say("영어로 바꿔 주세요")
        assert "English" in user.text
        await user.say("where is the centre")
        assert "Seoul Job Plus Center address" in user.text
        await user.say("I want to talk to a human")
        assert "didn't quite get" not in user.text and "counselor" in user.text.lower(), user.text
    finally:
        await skill.client.close()


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_free_text_over_telegram_reaches_the_same_intents(tmp_path: Path, fake: FakeTelegram) -> None:
    bot = BotProcess(telegram_settings(tmp_path, fake))
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        assert "서울일자리플러스센터 주소" in await say(fake, "센터 위치가 어디예요?")
        assert "혹시 이 중 하나인가요" in await say(fake, "예약 관련")
        assert "상담 예약은 구직등록" in await press(fake, "상담 예약")
        assert "도와드릴 수 있어요" in await say(fake, "오늘 날씨 어때요")
    finally:
        await bot.close()


async def test_nlu_command_line_one_text_jsonl_and_misses(harness: Harness, tmp_path: Path) -> None:
    out = _Buffer()
    assert nlu.classify(harness.settings, ["센터", "위치가", "어디예요?"], False, None, io.StringIO(), out) == 0
    found = json.loads(out.text)
    assert found == {"intent": "faq", "topic": "centre_location", "slots": {}, "score": found["score"],
                     "confident": True} and 0 < found["score"] <= 1
    out = _Buffer()
    typed = io.StringIO("마포구 웹 개발 일자리\n오늘 날씨 어때요\n영어로 바꿔 주세요\n")
    nlu.classify(harness.settings, [], True, None, typed, out)
    lines = [json.loads(line) for line in out.text.splitlines()]
    assert [line["intent"] for line in lines] == ["jobs", "unknown", "language"]
    assert lines[0]["slots"] == {"district": "mapo", "job": "웹개발"} and lines[2]["slots"] == {"language": "en"}
    chat = harness.chat(1)
    await chat.send("로또 번호 알려줘 010-9876-5432")
    target = tmp_path / "misses.csv"
    assert await nlu.export_misses(harness.settings, str(target), _Buffer()) == 0
    exported = target.read_text(encoding="utf-8")
    assert "로또" in exported and "9876" not in exported and exported.startswith("at,text")


async def test_an_admin_sends_the_faq_file_in_the_chat(harness: Harness) -> None:
    data = json.loads(faq.SHIPPED.read_text(encoding="utf-8"))
    data["topics"][1]["answer"]["ko"] = "평일 9시부터 6시까지 열어요."
    files = {"good": json.dumps(data, ensure_ascii=False).encode(), "bad": b'{"topics": [{"id": "Bad Id"}]}'}

    async def fetch(ref: str) -> bytes:
        return files[ref]

    harness.engine.add_channel(FetchingChannel(fetch))
    admin = harness.chat(ADMIN_ID)
    bad = await harness.engine.handle(Incoming("telegram", str(ADMIN_ID), str(ADMIN_ID), attachment="document",
                                               file_ref="bad"))
    assert "가져오지 못했어요" in bad.replies[0].text and "'id'" in bad.replies[0].text
    good = await harness.engine.handle(Incoming("telegram", str(ADMIN_ID), str(ADMIN_ID), attachment="document",
                                                file_ref="good"))
    assert "FAQ를 가져왔어요: 주제 13개" in good.replies[0].text
    await admin.send("몇 시까지 해요?")
    assert "평일 9시부터 6시까지" in admin.text
