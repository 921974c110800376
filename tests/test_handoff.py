"""상담원 연결: a person and a counselor talk through the bot; the bot stays quiet meanwhile."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from telegram import Update

from bot.channels.telegram import to_incoming
from handlers.handoff import expire_waiting
from storage import counselors, users
from storage.models import Handoff, HandoffMessage, OutboxMessage
from tests.conftest import Harness, register

SEOUL = dt.timezone(dt.timedelta(hours=9))


async def seed_two(h: Harness) -> None:
    now = h.clock.now()
    async with h.sessions() as s, s.begin():
        centre = await counselors.place(s, "centre", "서울일자리플러스센터")
        for uid, name in ((800, "김상담"), (801, "이상담")):
            user, _ = await users.identify(s, "telegram", str(uid), str(uid), "ko", now)
            c = await counselors.create(s, user.id, name, ["job_counselling"], now)
            await counselors.add_window(s, c.id, centre.id, 0, 9 * 60, 18 * 60)


async def _messages(h: Harness, chat_id: int, kind: str) -> list[OutboxMessage]:
    async with h.sessions() as s:
        return list(await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == str(chat_id),
                                                                OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


async def test_out_of_hours_offers_booking(harness: Harness) -> None:
    await seed_two(harness)
    harness.clock._now = dt.datetime(2026, 3, 7, 11, tzinfo=SEOUL)  # Saturday
    chat = harness.chat(1)
    await chat.send("/human")
    assert "평일 09:00-18:00" in chat.text and "상담 예약" in " ".join(chat.last_buttons)


async def test_live_chat_relays_both_ways_and_ends(harness: Harness) -> None:
    await seed_two(harness)
    person, kim, lee = harness.chat(1), harness.chat(800), harness.chat(801)
    await register(person)
    await person.send("상담원 연결")
    assert "연결하고 있어요" in person.text
    [request] = await _messages(harness, 800, "handoff.request")
    assert "김서울" in request.payload["text"]
    accept = request.payload["buttons"][0][0]["payload"]

    await person.send("안녕하세요?")
    assert "아직 상담사를 연결하는 중" in person.text

    outsider = harness.chat(5)
    await outsider.press_payload(accept)
    assert "상담사만" in outsider.text

    await kim.press_payload(accept)
    assert "김서울님과 연결되었어요" in kim.text
    await lee.press_payload(accept)
    assert "이미 연결했어요" in lee.text
    [connected] = await _messages(harness, 1, "handoff.connected")
    assert "김상담" in connected.payload["text"]

    response = await person.send("이력서 첨삭을 받고 싶어요")
    assert response.replies == []  # the bot stays quiet
    [relayed] = await _messages(harness, 800, "handoff.message")
    assert relayed.payload["text"] == "💬 김서울: 이력서 첨삭을 받고 싶어요"
    await kim.send("네, 파일을 준비해 주세요.")
    [answer] = await _messages(harness, 1, "handoff.message")
    assert answer.payload["text"] == "👩‍💼 김상담: 네, 파일을 준비해 주세요."

    await person.send("/book")
    assert "/end" in person.text
    await person.attach("photo")
    assert "글자 메시지만" in person.text

    await kim.send("/end")
    assert "챗봇이 다시" in kim.text
    [ended] = await _messages(harness, 1, "handoff.ended")
    assert "상담사가 대화를 마쳤어요" in ended.payload["text"]
    async with harness.sessions() as s:
        assert (await s.scalars(select(Handoff))).one().status == "closed"
    await person.send("안녕")
    assert "잘 모르겠어요" in person.text  # back with the bot


async def test_user_can_stop_waiting(harness: Harness) -> None:
    await seed_two(harness)
    person = harness.chat(2)
    await person.send("/human")
    await person.send("/end")
    assert "끝냈어요" in person.text
    [request] = await _messages(harness, 800, "handoff.request")
    kim = harness.chat(800)
    await kim.press_payload(request.payload["buttons"][0][0]["payload"])
    assert "이미 끝났어요" in kim.text


async def test_unregistered_person_is_named_by_their_messenger_name_or_a_neutral_label(harness: Harness) -> None:
    await seed_two(harness)
    tg = harness.chat(3)
    # Telegram passes the sender's name with every update (`Incoming.sender_name`).
    await tg._handle(tg._incoming(text="/human", command="human", sender_name="Minji Park"))
    [request] = await _messages(harness, 800, "handoff.request")
    assert request.payload["text"] == "🙋 Minji Park님이 상담원 연결을 요청했어요."
    kim = harness.chat(800)
    await kim.press_payload(request.payload["buttons"][0][0]["payload"])
    assert "Minji Park님과 연결되었어요" in kim.text
    await tg.send("안녕하세요")
    [relayed] = await _messages(harness, 800, "handoff.message")
    assert relayed.payload["text"] == "💬 Minji Park: 안녕하세요"

    # KakaoTalk gives no name: a label the counselor can tell apart, never "이름 없음".
    kakao = harness.chat("kakao-user-key", channel="kakao")
    await kakao.send("/human")
    requests = await _messages(harness, 801, "handoff.request")
    assert "카카오톡 사용자 #" in requests[-1].payload["text"] and "이름 없음" not in requests[-1].payload["text"]


async def test_long_message_arrives_whole_in_parts_in_order(harness: Harness) -> None:
    await seed_two(harness)
    person, kim = harness.chat(1), harness.chat(800)
    await register(person)
    await person.send("/human")
    [request] = await _messages(harness, 800, "handoff.request")
    await kim.press_payload(request.payload["buttons"][0][0]["payload"])
    long = " ".join(f"문장{i:04d}" for i in range(700))  # 5,599 characters
    await person.send(long)
    assert person.replies == []  # the bot stays quiet
    parts = await _messages(harness, 800, "handoff.message")
    assert len(parts) == 2
    assert parts[0].payload["text"].startswith("💬 김서울: 문장0000") and parts[0].payload["text"].endswith("(1/2)")
    assert parts[1].payload["text"].endswith("문장0699 (2/2)")
    texts = [p.payload["text"].removeprefix("💬 김서울: ").rsplit(" (", 1)[0] for p in parts]
    assert " ".join(texts) == long  # nothing lost, cut between words
    assert all(len(p.payload["text"]) <= 3100 for p in parts)

    # The counselor's long answer reaches the person the same way.
    await kim.send("가" * 4000)
    answers = await _messages(harness, 1, "handoff.message")
    assert [a.payload["text"][-5:] for a in answers] == ["(1/2)", "(2/2)"]
    assert sum(a.payload["text"].count("가") for a in answers) == 4000


def test_telegram_passes_the_senders_name() -> None:
    def update(sender: dict[str, object]) -> Update:
        return Update.de_json({"update_id": 1, "message": {
            "message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi",
            "from": {"id": 5, "is_bot": False, **sender}}}, None)

    named = to_incoming(update({"first_name": "Minji", "last_name": "Park"}))
    assert named is not None and named.sender_name == "Minji Park"
    handle_only = to_incoming(update({"first_name": "", "username": "minji_p"}))
    assert handle_only is not None and handle_only.sender_name == "@minji_p"


async def test_waiting_people_are_listed_taken_from_the_list_and_a_request_nobody_takes_offers_booking(
        harness: Harness) -> None:
    await seed_two(harness)
    harness.clock._now = dt.datetime(2026, 3, 2, 10, tzinfo=SEOUL)  # Monday, counselors on duty
    first, second = harness.chat(1), harness.chat(2)
    await first.send("/human")
    harness.clock.advance(minutes=3)
    await second.send("/human")
    counselor = harness.chat(800)
    await counselor.send("/waiting")
    assert "연결을 기다리는 사람 2명" in counselor.text and "3분째" in counselor.text, counselor.text
    await counselor.press("연결하기")
    assert "연결" in counselor.text, counselor.text
    await first.send("이력서 질문이 있어요")
    await counselor.send("네, 말씀하세요")
    await counselor.send("/end")

    harness.clock.advance(minutes=harness.settings.handoff_wait_minutes + 1)
    assert await expire_waiting(harness.sessions, harness.settings, harness.clock) == 1
    await harness.deliver()
    assert any("연결할 수 있는 상담원이 없어요" in m["text"] for m in harness.notifier.to(2))
    await second.send("안녕하세요")
    assert "연결할 수 있는 상담원이 없어요" not in second.text  # no longer waiting: back to the bot

    await counselor.send("/chats")
    await counselor.press("대화 보기")
    assert "이력서 질문이 있어요" in counselor.text and "네, 말씀하세요" in counselor.text, counselor.text
    # The transcript goes with the person.
    await first.send("/delete")
    await first.press("네, 모두 삭제")
    async with harness.sessions() as s:
        assert list(await s.scalars(select(HandoffMessage))) == []
