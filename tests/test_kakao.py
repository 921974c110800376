"""KakaoTalk channel: real payload shapes over the skill endpoint (aiohttp test client).

Rendering within every limit (text, outputs, quick replies, cards, labels, files), the
adapter (typed text, commands, button presses carried in `extra`), the request checks,
whole journeys, the callback and late answers (the message after "send any message" only
fetches the late answer), signed file links, the Event API notifier
against `tests.fake_kakao.FakeKakao`, and the health check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.channels import kakao
from bot.channels.kakao import KakaoNotifier, KakaoSkill, Renderer, paginate, to_incoming
from bot.cli.firms import load_demo
from kernel.config import Settings
from kernel.core import Button, Card, FileOut, Reply, Response
from kernel.i18n import translator
from scheduler import outbox as dispatch
from scheduler.outbox import Dispatcher
from scheduler.surveys import invite_attendees
from storage import outbox, surveys
from storage.models import (
    Booking,
    EventRegistration,
    Identity,
    KakaoTask,
    OutboxMessage,
    Referral,
    SeekerProfile,
    SurveyRequest,
    User,
)
from tests.conftest import ADMIN_ID, REGISTRATION, Harness, make_settings
from tests.fake_kakao import BOT_ID, EXAMPLE_A, SECRET_HEADER, FakeKakao, KakaoUser, buttons_of, payload, texts_of
from tests.test_booking import seed as seed_counselors
from tests.test_counselor import make_booking, make_counselor
from tests.test_events import seed_event

SECRET = "kakao-skill-secret-for-tests"
T = translator("ko")


# --- rendering: every limit ---------------------------------------------------------------------


async def _render(replies: list[Reply], **kw: Any) -> kakao.Rendered:
    return await Renderer(T, **kw).render(replies)


def _payloads(buttons: list[dict[str, Any]]) -> list[str]:
    return [b["extra"]["payload"] for b in buttons if "payload" in (b.get("extra") or {})]


async def test_long_text_is_split_into_bubbles_of_at_most_1000_characters_and_nothing_is_lost() -> None:
    lines = [f"{i:03d} " + "가나다라마바사아자차" * 9 for i in range(40)]  # 40 lines of 94 characters
    rendered = await _render([Reply("\n".join(lines))])
    bubbles = [o["simpleText"]["text"] for o in rendered.outputs]
    assert len(bubbles) == 4 and all(len(b) <= kakao.MAX_TEXT for b in bubbles)
    assert "\n".join(bubbles).split("\n") == lines


async def test_one_unbroken_word_longer_than_the_limit_is_split_too() -> None:
    rendered = await _render([Reply("x" * 2500)])
    assert [len(o["simpleText"]["text"]) for o in rendered.outputs] == [1000, 1000, 500]


async def test_short_replies_share_a_bubble_and_more_than_three_outputs_are_paged() -> None:
    rendered = await _render([Reply("짧은 안내"), Reply("두 번째")])
    assert rendered.outputs == [{"simpleText": {"text": "짧은 안내\n\n두 번째"}}]

    replies = [Reply(f"{i}번 " + "가" * 900) for i in range(7)] + [Reply("끝", [[Button("메뉴", "m:menu")]])]
    pages = paginate(await _render(replies), T, "tok")
    assert all(1 <= len(p["outputs"]) <= kakao.MAX_OUTPUTS for p in pages)
    for page in pages[:-1]:
        assert page["quickReplies"] == [{"label": "더보기", "action": "message", "messageText": "더보기",
                                         "extra": {"more": "tok"}}]
    assert _payloads(pages[-1]["quickReplies"]) == ["m:menu"]
    shown = [text for page in pages for text in texts_of(page)]
    assert [s.split("번")[0] for s in shown[:7]] == [str(i) for i in range(7)] and shown[-1].endswith("끝")


async def test_more_than_ten_choices_are_paged_with_a_more_reply_and_none_is_lost() -> None:
    buttons = [Button(f"선택 {i}", f"f1:c{i}") for i in range(25)]
    pages = paginate(await _render([Reply("골라 주세요", [buttons[i:i + 2] for i in range(0, 25, 2)])]), T, "tok")
    assert len(pages) == 3
    assert all(len(p["quickReplies"]) <= kakao.MAX_QUICK_REPLIES for p in pages)
    assert [p["quickReplies"][-1]["extra"] for p in pages[:-1]] == [{"more": "tok"}] * 2
    assert [p for page in pages for p in _payloads(page["quickReplies"])] == [b.payload for b in buttons]
    # A form's question is asked again above each further page.
    assert texts_of(pages[1]) == ["골라 주세요"]


async def test_labels_over_14_characters_are_shortened_and_the_press_still_carries_the_payload() -> None:
    long = "구직서류클리닉 (이력서·자기소개서)"
    rendered = await _render([Reply("어떤 상담?", [[Button(long, "f3:type:document_clinic")]])])
    [quick] = rendered.quick_replies
    assert len(quick["label"]) <= kakao.MAX_LABEL and quick["label"].endswith("…")
    assert quick["messageText"] == long and quick["extra"] == {"payload": "f3:type:document_clinic"}
    assert quick["action"] == "message"
    # Cut after a whole word where one ends late enough; a word cut in half reads as a typo.
    assert kakao.short("💬 Talk to a person") == "💬 Talk to a…"
    assert kakao.short("📝 Register as a job seeker") == "📝 Register as…"
    assert kakao.short("구직서류클리닉 (이력서·자기소개서)") == "구직서류클리닉…"
    assert kakao.short("Supercalifragilistic") == "Supercalifrag…"
    blocked = await Renderer(T, block_id="blk1").render([Reply("?", [[Button("예", "f1:y")]])])
    assert blocked.quick_replies[0]["action"] == "block" and blocked.quick_replies[0]["blockId"] == "blk1"


async def test_buttons_of_earlier_replies_and_links_become_card_buttons() -> None:
    rendered = await _render([
        Reply("신청이 들어왔어요.", [[Button("승인", "ap:ok:1"), Button("반려", "ap:no:1")]]),
        Reply("공지", [[Button("자세히 보기", url="https://example.org/notice")]]),
        Reply("메뉴", [[Button("예약", "m:book")]]),
    ])
    first, second, third = rendered.outputs
    assert first["textCard"]["description"] == "신청이 들어왔어요."
    assert _payloads(first["textCard"]["buttons"]) == ["ap:ok:1", "ap:no:1"]
    assert second["textCard"]["buttons"] == [{"label": "자세히 보기", "action": "webLink",
                                              "webLinkUrl": "https://example.org/notice"}]
    assert third == {"simpleText": {"text": "메뉴"}} and _payloads(rendered.quick_replies) == ["m:book"]

    many = await _render([Reply("x" * 500, [[Button(f"b{i}", f"p:{i}")] for i in range(5)]),
                          Reply("끝", [[Button("메뉴", "m:menu")]])])
    cards = [o["textCard"] for o in many.outputs if "textCard" in o]
    assert [len(c["buttons"]) for c in cards] == [3, 2]
    assert all(len(c["description"]) <= kakao.CARD_TEXT for c in cards)


async def test_lists_become_carousels_of_at_most_ten_text_cards() -> None:
    items = [Reply(f"행사 {i} 자세한 설명", [[Button("신청하기", f"ev:reg:{i}")]],
                   card=Card(f"행사 {i}", "3/20 (금) 14:00")) for i in range(12)]
    rendered = await _render([Reply("행사 12개"), *items])
    head, first, second = rendered.outputs
    assert head == {"simpleText": {"text": "행사 12개"}}
    assert first["carousel"]["type"] == "textCard" and len(first["carousel"]["items"]) == kakao.CAROUSEL_ITEMS
    assert len(second["carousel"]["items"]) == 2
    card = first["carousel"]["items"][0]
    assert card["title"] == "행사 0" and card["description"] == "3/20 (금) 14:00"
    assert _payloads(card["buttons"]) == ["ev:reg:0"]
    assert rendered.quick_replies == []  # a list's buttons stay on its cards

    too_long = await _render([Reply("긴 설명 " * 20, [[Button("신청하기", "ev:reg:1")]],
                                    card=Card("행사", "가" * 200))])
    assert "carousel" not in too_long.outputs[0]
    assert "긴 설명" in "".join(texts_of({"outputs": too_long.outputs}))


async def test_a_file_becomes_a_download_link_and_a_toast_alone_is_said() -> None:
    stored: list[FileOut] = []

    async def store(file: FileOut) -> str:
        stored.append(file)
        return "https://bot.example.org/files/abc?e=1&s=x"

    ics = FileOut("booking.ics", b"BEGIN:VCALENDAR", "text/calendar", caption="캘린더에 추가하세요")
    rendered = await _render([Reply("예약되었어요.", file=ics)], store_file=store)
    assert stored == [ics]
    card = rendered.outputs[1]["textCard"]
    assert card["buttons"] == [{"label": "파일 받기", "action": "webLink",
                                "webLinkUrl": "https://bot.example.org/files/abc?e=1&s=x"}]
    assert "booking.ics" in card["description"]
    toast = await Renderer(T).render([], "이미 처리했어요")
    assert toast.outputs == [{"simpleText": {"text": "이미 처리했어요"}}]


# --- the adapter --------------------------------------------------------------------------------


def test_kakaos_published_example_is_typed_text_from_its_bot_user_key() -> None:
    inc = to_incoming(EXAMPLE_A)
    assert (inc.channel, inc.external_id, inc.chat_id) == ("kakao", "<사용자 botUserKey>", "<사용자 botUserKey>")
    assert inc.text == "<사용자 발화>" and inc.button is None and inc.language_code == "ko"


def test_presses_commands_and_older_payloads() -> None:
    pressed = to_incoming(payload("u1", "취업상담", extra={"payload": "f3:type:job_counselling"},
                                  trigger="QUICKREPLY_BUTTON_MESSAGE"))
    assert pressed.button == "f3:type:job_counselling" and pressed.text is None
    command = to_incoming(payload("u1", "/link 123456"))
    assert command.command == "link" and command.args == ("123456",)
    old = json.loads(json.dumps(EXAMPLE_A))
    old["userRequest"]["lang"] = "kr"
    old["userRequest"]["unexpected"] = {"nested": [1, 2]}
    old["skillOption"] = {"timeout": 5000}
    assert to_incoming(old).language_code == "ko"
    photo = payload("u1", "")
    photo["action"]["params"]["media"] = {"type": "image", "url": "https://k.kakaocdn.net/x.jpg"}
    assert to_incoming(photo).attachment == "photo"


@pytest.mark.parametrize("broken", [
    [], {"userRequest": None}, {"userRequest": {"utterance": "hi"}},
    {"userRequest": {"user": {"id": ""}, "utterance": "hi"}},
    {"userRequest": {"user": {"id": "k" * 200}, "utterance": "hi"}},
    {"userRequest": {"user": {"id": "u"}, "utterance": 5}},
])
def test_missing_required_fields_are_refused(broken: Any) -> None:
    with pytest.raises(kakao.BadRequest):
        to_incoming(broken)


# --- the skill server -------------------------------------------------------------------------------


def kakao_settings(base: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"kakao_skill_secret": SECRET, "kakao_bot_id": BOT_ID,
                              "public_base_url": "http://files.test", "kakao_callback_hosts": "127.0.0.1,kakao.com"}
    values.update(overrides)
    return make_settings(base.database_url, **values)


@dataclass
class Skill:
    harness: Harness
    skill: KakaoSkill
    client: TestClient[web.Request, web.Application]

    async def post(self, body: Any, *, secret: str | None = SECRET, raw: bytes | None = None) -> tuple[int, Any]:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        data = raw if raw is not None else json.dumps(body).encode()
        resp = await self.client.post("/kakao/skill", data=data, headers={**headers,
                                                                          "Content-Type": "application/json"})
        return resp.status, await resp.json()

    def user(self, key: str) -> KakaoUser:
        return KakaoUser(self.post, key)


async def start_skill(harness: Harness, **overrides: Any) -> Skill:
    settings = kakao_settings(harness.settings, **overrides)
    skill = KakaoSkill(harness.engine, settings)
    app = web.Application()
    skill.routes(app)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    return Skill(harness, skill, client)


@pytest_asyncio.fixture
async def skill(harness: Harness) -> AsyncIterator[Skill]:
    started = await start_skill(harness)
    yield started
    await started.client.close()


async def _count(h: Harness, model: Any) -> int:
    async with h.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_requests_without_the_secret_are_refused_and_nothing_is_processed(skill: Skill) -> None:
    body = payload("intruder", "/register")
    for secret in (None, "wrong", SECRET + "x", ""):
        status, answer = await skill.post(body, secret=secret)
        assert status == 403 and answer == {"ok": False, "error": "forbidden"}
    assert await _count(skill.harness, User) == 0


async def test_bad_requests_get_a_json_error_never_a_traceback(skill: Skill) -> None:
    status, answer = await skill.post(None, raw=b"{not json")
    assert (status, answer["error"]) == (400, "malformed JSON")
    status, answer = await skill.post(None, raw=b"\xff\xfe")
    assert status == 400
    status, answer = await skill.post({"userRequest": {"utterance": "hi"}, "bot": {"id": BOT_ID}})
    assert (status, answer["error"]) == (400, "userRequest.user.id is required")
    big = payload("u1", "가" * 70_000)
    status, answer = await skill.post(big)
    assert (status, answer["error"]) == (413, "request body too large")

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(10):
            yield b" " * 10_000

    resp = await skill.client.post("/kakao/skill", data=chunked(), headers={SECRET_HEADER: SECRET})
    assert resp.status == 413
    small = json.dumps(payload("u-chunked", "안녕")).encode()

    async def in_pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(small), 100):
            yield small[i:i + 100]

    resp = await skill.client.post("/kakao/skill", data=in_pieces(), headers={SECRET_HEADER: SECRET})
    assert resp.status == 200 and (await resp.json())["version"] == "2.0"
    other_bot = payload("u1", "안녕")
    other_bot["bot"]["id"] = "someoneelse"
    status, _ = await skill.post(other_bot)
    assert status == 403
    assert await _count(skill.harness, User) == 1  # only the one sent in pieces


async def test_an_answer_is_a_skill_response_2_0_within_limits(skill: Skill) -> None:
    user = skill.user("k-menu")
    answer = await user.say("/start")
    assert answer["version"] == "2.0" and "서울일자리플러스센터" in user.text
    template = answer["template"]
    assert 1 <= len(template["outputs"]) <= 3 and len(template.get("quickReplies", [])) <= 10
    assert all(len(o["simpleText"]["text"]) <= 1000 for o in template["outputs"] if "simpleText" in o)


# --- whole journeys ------------------------------------------------------------------------------------
# Each step is one function taking the journey's state, so other features' steps (/jobs, the
# survey) join the list without touching the others.


@dataclass
class Journey:
    skill: Skill
    user: KakaoUser
    event_id: int = 0


async def step_consent_and_registration(j: Journey) -> None:
    user = j.user
    await user.say("구직등록")
    assert "동의" in user.text
    for action, value in REGISTRATION:
        await (user.press(value) if action == "press" else user.say(value))
    assert "확인해 주세요" in user.text, user.text
    await user.press("제출")
    assert "구직등록이 완료" in user.text, user.text


async def step_booking_with_a_calendar_link(j: Journey) -> None:
    user = j.user
    await user.say("/book")
    await user.press("취업상담")
    await user.press("서울일자리플러스센터")
    await user.press("상관없음")
    await user.press("3/3")
    await user.press("13:00")
    await user.press("건너뛰기")
    await user.press("제출")
    assert "예약되었어요" in user.text, user.text
    url = user.link("파일 받기")
    assert url.startswith("http://files.test/files/")
    resp = await j.skill.client.get(url.removeprefix("http://files.test"))
    assert resp.status == 200 and b"BEGIN:VEVENT" in await resp.read()
    assert resp.headers["Content-Type"].startswith("text/calendar")
    await user.say("/mybookings")
    [carousel_or_card] = [o for o in user.template["outputs"] if "textCard" in o or "carousel" in o]
    assert "취업상담" in user.text and "13:00" in user.text
    assert any(b.get("extra", {}).get("payload", "").startswith("bk:c:") for b in buttons_of(user.template))
    assert carousel_or_card


async def step_event_registration_from_a_card(j: Journey) -> None:
    user = j.user
    await user.say("/events")
    assert "IR 피칭 실전" in user.text
    await user.press("신청하기")
    assert "신청했어요" in user.text and "좌석 1번" in user.text, user.text


def carousel_cards(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [card for o in template["outputs"] for card in o.get("carousel", {}).get("items", [])]


async def step_jobs_as_cards_and_a_referral(j: Journey) -> None:
    user = j.user
    await user.say("/jobs")
    assert "나에게 맞는 채용공고" in user.text, user.text
    cards = carousel_cards(user.template)
    assert len(cards) == 5 and [list(o) for o in user.template["outputs"]] == [["simpleText"], ["carousel"],
                                                                                     ["simpleText"]]
    for card in cards:
        assert len(card["title"]) <= kakao.CARD_TITLE and len(card["description"]) <= kakao.CAROUSEL_TEXT
        assert "🏢" in card["description"] and "💰" in card["description"] and "적합도" in card["description"]
        assert [b["messageText"] for b in card["buttons"]] == ["자세히", "관심 있어요 🙋", "관심 없어요"]
    assert cards[0]["title"].startswith("1. ")
    assert _payloads(user.template["quickReplies"]) == ["job:p:5"]  # the next page
    wanted = int(cards[0]["buttons"][1]["extra"]["payload"].split(":")[2])
    await user.tap(cards[0]["buttons"][1])
    assert "취업알선을 신청했어요" in user.text, user.text
    async with j.skill.harness.sessions() as s:
        referral = await s.scalar(select(Referral))
        assert referral is not None and referral.posting_id == wanted and referral.status == "requested"


async def step_survey_after_an_attended_consultation(j: Journey) -> None:
    """An earlier session marked attended by its counselor (on Telegram): the invitation waits for
    the person's next message on KakaoTalk, and they answer it there."""
    h, user = j.skill.harness, j.user
    async with h.sessions() as s:
        user_id = await s.scalar(select(Identity.user_id).where(Identity.external_id == user.key))
    assert user_id is not None
    counselor_id = await make_counselor(h, 780, name="박상담")
    await make_booking(h, user_id, counselor_id, dt.date(2026, 3, 2), "08:00")
    counselor = h.chat(780)
    await counselor.send("/agenda")
    await counselor.press("✅ 참석 08:00")
    assert "참석으로 표시했어요" in counselor.text, counselor.text
    assert await invite_attendees(h.sessions, h.settings, h.clock) == 1
    holding = kakao.notifier(j.skill.skill.settings, h.sessions, h.clock)
    assert await Dispatcher(h.sessions, [holding], clock=h.clock, rate=10_000, per_chat_interval=0).run_once() == 1
    await user.say("/help")
    assert user.text.startswith("상담 만족도 조사") or "상담 만족도 조사" in texts_of(user.template)[0], user.text
    await user.press("답하기")
    assert "(1/4)" in user.text and "전반적으로" in user.text, user.text
    await user.press("5")
    await user.say("4")
    assert "(3/4)" in user.text
    await user.press("네, 추천할래요")
    await user.say("친절했어요 😊")
    assert "답해 주셔서 고마워요" in user.text, user.text
    async with h.sessions() as s:
        request = await s.scalar(select(SurveyRequest).where(SurveyRequest.user_id == user_id))
        assert request is not None and request.status == "done"
        assert await surveys.answers(s, request.id) == {"overall": 5, "helpful": 4, "recommend": "yes",
                                                        "comment": "친절했어요 😊"}


JOURNEY: list[Callable[[Journey], Awaitable[None]]] = [
    step_consent_and_registration,
    step_booking_with_a_calendar_link,
    step_event_registration_from_a_card,
    step_jobs_as_cards_and_a_referral,
    step_survey_after_an_attended_consultation,
]


async def test_a_whole_journey_over_the_skill_endpoint(skill: Skill) -> None:
    await seed_counselors(skill.harness)
    assert (await load_demo(skill.harness.sessions, skill.harness.clock.now(), skill.harness.settings.tz)).ok
    journey = Journey(skill, skill.user("226f81aef15e8f5890425bbeaa5978d54dfc98fadcaa076ed1f635eda11204ba30"),
                      event_id=await seed_event(skill.harness))
    for step in JOURNEY:
        await step(journey)
    async with skill.harness.sessions() as s:
        user_id = await s.scalar(select(Identity.user_id).where(Identity.channel == "kakao"))
        profile = await s.get(SeekerProfile, user_id)
        assert profile is not None and profile.name == "김서울" and profile.districts == ["mapo", "seodaemun"]
        # The one booked over KakaoTalk and the earlier attended one the survey was about.
        assert await s.scalar(select(func.count()).select_from(Booking).where(Booking.user_id == user_id)) == 2
        reg = await s.scalar(select(EventRegistration).where(EventRegistration.user_id == user_id))
        assert reg is not None and reg.event_id == journey.event_id


async def test_a_stale_more_reply_and_typed_more_are_handled(skill: Skill) -> None:
    user = skill.user("k-more")
    await user.say("/register")
    await user.press("동의합니다")
    await user.say("김서울")
    await user.say("1999")
    await user.press("청년층")
    await user.press("대학교")
    await user.say("서울대학교")
    await user.say("웹 개발")
    await user.say("Python")
    assert any("more" in (b.get("extra") or {}) for b in user.template["quickReplies"])
    first_page = list(user.labels)
    await user.say("더보기")  # typed instead of pressed: the next page all the same
    assert user.labels != first_page
    await user.tap({"label": "더보기", "action": "message", "messageText": "더보기", "extra": {"more": "forged"}})
    assert "만료" in user.text or "지난" in user.text, user.text


async def test_a_file_link_is_signed_and_expires(skill: Skill) -> None:
    h = skill.harness
    response = Response([Reply("파일", file=FileOut("list.csv", "이름,점수\n".encode(), "text/csv"))])
    await skill.user("k-file").say("/start")
    template = await skill.skill.render(to_incoming(payload("k-file", "x")), response)
    url = next(b["webLinkUrl"] for b in buttons_of(template) if b.get("action") == "webLink")
    path = url.removeprefix("http://files.test")
    assert (await skill.client.get(path)).status == 200
    assert (await skill.client.get(path[:-1] + ("0" if path[-1] != "0" else "1"))).status == 403
    later = path.replace("?e=", "?e=9")
    assert (await skill.client.get(later)).status == 403  # a longer life cannot be forged
    h.clock.advance(minutes=24 * 60 + 1)
    assert (await skill.client.get(path)).status == 410


async def test_a_slow_answer_goes_through_the_callback(harness: Harness) -> None:
    skill = await start_skill(harness, kakao_callback_after_seconds=0.05)
    slow = asyncio.Event()
    real = harness.engine.handle

    async def handle(inc: Any, **kw: Any) -> Response:
        await slow.wait()
        return await real(inc, **kw)

    harness.engine.handle = handle  # type: ignore[method-assign]
    try:
        async with FakeKakao() as fake:
            user = skill.user("k-slow")
            answer = await user.say("/start", callback_url=fake.callback_url("t1"))
            assert answer == {"version": "2.0", "useCallback": True,
                              "data": {"text": "준비하고 있어요. 잠시만 기다려 주세요."}}
            slow.set()
            await fake.wait(lambda: bool(fake.callbacks))
            [call] = fake.callbacks
            assert call.body["version"] == "2.0" and "서울일자리플러스센터" in "".join(texts_of(call.body["template"]))
            # A callbackUrl on a host not allowed is ignored: no callback, the answer waits instead.
            slow.clear()
            asyncio.get_running_loop().call_later(0.2, slow.set)
            answer = await user.say("/help", callback_url="https://evil.example.com/callback/x")
            assert "useCallback" not in answer and len(fake.callbacks) == 1
    finally:
        harness.engine.handle = real  # type: ignore[method-assign]
        await skill.client.close()


class SlowTurns:
    """Turns made slow on demand, inside their transaction (holding the person's lock, as a slow
    query or download does): `hold(n)` makes the next n routed messages wait until `release()`.
    `routed` counts the messages the engine routed (a fetched late answer routes nothing)."""

    def __init__(self, engine: Any, *, fail: bool = False) -> None:
        self.engine = engine
        self.real = engine._route
        self.fail = fail
        self.routed = 0
        self._held = 0
        self._gate = asyncio.Event()

    async def route(self, ctx: Any) -> Response:
        self.routed += 1
        if self._held:
            self._held -= 1
            await self._gate.wait()
            if self.fail:
                raise RuntimeError("a bug in a slow turn")
        return await self.real(ctx)

    def hold(self, turns: int = 1) -> None:
        self._held, self._gate = turns, asyncio.Event()

    def release(self) -> None:
        self._gate.set()

    def __enter__(self) -> SlowTurns:
        self.engine._route = self.route
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine._route = self.real


async def _conversation_data(h: Harness, user_key: str) -> str:
    from storage.models import Conversation

    async with h.sessions() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.external_id == user_key))
        return json.dumps(conv.data if conv else {}, ensure_ascii=False)


async def test_after_a_late_notice_the_next_message_only_fetches_the_late_answer(harness: Harness) -> None:
    """On a free-text question, whatever is sent after "send any message" must not become the answer."""
    skill = await start_skill(harness, kakao_deadline_seconds=1.0)
    try:
        reference = skill.user("k-ref")  # the same steps at normal speed: what the answer looks like
        await reference.say("/register")
        await reference.press("동의합니다")
        with SlowTurns(harness.engine) as turns:
            user = skill.user("k-late")
            await user.say("/register")
            turns.hold()
            await user.press("동의합니다")
            assert user.text == T("kakao.still_working")
            turns.release()
            routed = turns.routed
            await user.say("네")
            # The late answer itself, with its choices, exactly as it would have come in time.
            assert "이름을 입력" in user.text and user.template == reference.template, user.template
            assert turns.routed == routed  # "네" was not handled
            assert "네" not in await _conversation_data(harness, "k-late")
            await user.say("김서울")
            assert "출생연도" in user.text, user.text
        assert "김서울" in await _conversation_data(harness, "k-late")
    finally:
        await skill.client.close()


async def test_a_message_sent_while_the_late_answer_is_still_coming_waits_for_it(harness: Harness) -> None:
    skill = await start_skill(harness, kakao_deadline_seconds=1.0)
    try:
        with SlowTurns(harness.engine) as turns:
            user = skill.user("k-late2")
            turns.hold()
            await user.say("/register")
            assert user.text == T("kakao.still_working")
            # Still not ready: the same notice again, and this message is not handled either.
            await user.say("아직이에요?")
            assert user.text == T("kakao.still_working")
            turns.release()
            await user.say("ㅇㅇ")
            # The consent screen that was late, its quick replies included, and they work.
            assert "개인정보 수집" in user.text and "선택지에 없어요" not in user.text, user.text
            assert user.find("동의합니다") is not None and turns.routed == 1, user.template
            await user.press("동의합니다")
            assert "이름을 입력" in user.text
            await user.say("/help")
            assert "/register — 구직등록" in user.text and "개인정보 수집" not in user.text
    finally:
        await skill.client.close()


async def test_two_late_answers_come_together_with_the_last_ones_choices(harness: Harness) -> None:
    skill = await start_skill(harness, kakao_deadline_seconds=1.0)
    try:
        with SlowTurns(harness.engine) as turns:
            user = skill.user("k-late4")
            turns.hold(2)
            # Sent together (two quick messages): both turns run, one after the other, both late.
            first = asyncio.create_task(skill.post(payload("k-late4", "/help")))
            while turns.routed < 1:
                await asyncio.sleep(0.01)
            answers = [await skill.post(payload("k-late4", "/lang")), await first]
            assert all(texts_of(a["template"]) == [T("kakao.still_working")] for _, a in answers)
            turns.release()
            await user.say("ㅇㅇ")
            shown = user.text
            while (more := next((b for b in user.template.get("quickReplies", [])
                                 if "more" in (b.get("extra") or {})), None)) is not None:
                await user.tap(more)
                shown += "\n" + user.text
            assert "/register — 구직등록" in shown and "English" in " ".join(user.labels), (shown, user.labels)
            assert turns.routed == 2
    finally:
        await skill.client.close()


async def test_the_late_answer_is_fetched_through_another_worker(harness: Harness) -> None:
    first = await start_skill(harness, kakao_deadline_seconds=1.0)
    second = await start_skill(harness, kakao_deadline_seconds=1.0)
    try:
        with SlowTurns(harness.engine) as turns:
            turns.hold()
            await first.user("k-late3").say("/register")
            turns.release()
            # The next message reaches another worker: it waits for the person's turn on the
            # first to end, then finds the answer in the database.
            on_second = second.user("k-late3")
            await on_second.say("뭐예요")
            assert "개인정보 수집" in on_second.text and on_second.find("동의합니다") is not None
            assert turns.routed == 1
    finally:
        await first.client.close()
        await second.client.close()


async def test_a_late_turn_that_fails_leaves_its_apology_for_the_next_message(harness: Harness) -> None:
    skill = await start_skill(harness, kakao_deadline_seconds=1.0)
    try:
        user = skill.user("k-late5")
        await user.say("/register")
        await user.press("동의합니다")
        with SlowTurns(harness.engine, fail=True) as turns:
            turns.hold()
            await user.say("김서울")
            assert user.text == T("kakao.still_working")
            turns.release()
            await user.say("ㅇㅇ")
            assert user.text == T("error.generic") and turns.routed == 1
        assert "김서울" not in await _conversation_data(harness, "k-late5")
        assert "ㅇㅇ" not in await _conversation_data(harness, "k-late5")
        await user.say("김서울")
        assert "출생연도" in user.text
    finally:
        await skill.client.close()


async def test_without_the_event_api_queued_messages_are_shown_with_the_next_answer(skill: Skill) -> None:
    h = skill.harness
    user = skill.user("k-queued")
    await user.say("/start")
    async with h.sessions() as s, s.begin():
        user_id = await s.scalar(select(Identity.user_id).where(Identity.external_id == "k-queued"))
        for text in ("내일 10:00 상담이 있어요.", "행사가 내일이에요."):
            await outbox.enqueue(s, channel="kakao", chat_id="k-queued", user_id=user_id, kind="booking.reminder",
                                 payload=Reply(text, [[Button("예약 보기", "m:mybookings")]]).to_payload(),
                                 now=h.clock.now())
    holding = kakao.notifier(skill.skill.settings, h.sessions, h.clock)
    assert isinstance(holding, kakao.HoldingNotifier)
    assert await Dispatcher(h.sessions, [holding], clock=h.clock, rate=10_000, per_chat_interval=0).run_once() == 2
    await user.say("/help")
    assert user.text.startswith("내일 10:00 상담이 있어요.\n행사가 내일이에요.\n"), user.text
    assert [list(o) for o in user.template["outputs"]] == [["textCard"], ["textCard"], ["simpleText"]]
    assert "/register — 구직등록" in user.text
    assert [b["extra"]["payload"] for b in buttons_of(user.template)
            if "payload" in (b.get("extra") or {})] == ["m:mybookings", "m:mybookings"]
    async with h.sessions() as s:
        assert set(await s.scalars(select(OutboxMessage.status))) == {"sent"}
    await user.say("/help")
    assert "내일 10:00" not in user.text


# --- proactive messages: the Event API ------------------------------------------------------------------


async def test_the_notifier_sends_through_the_event_api_and_maps_its_answers(harness: Harness) -> None:
    h = harness
    async with FakeKakao() as fake:
        ks = kakao_settings(h.settings, kakao_rest_api_key="test-rest-key", kakao_event_api_url=fake.event_api_url)
        notifier = KakaoNotifier(ks, h.sessions, h.clock)
        try:
            await notifier.send("user-key-1", Reply("상담 1시간 전이에요.",
                                                    [[Button("지도", url="https://map.example/1")]]).to_payload())
            [call] = fake.calls
            assert call.path == f"/v2/bots/{BOT_ID}/talk" and call.headers["Authorization"] == "KakaoAK test-rest-key"
            assert call.body == {"event": {"name": "jobhub_message", "data": {"text": "상담 1시간 전이에요.",
                                                                             "link": "https://map.example/1"}},
                                 "user": [{"type": "botUserKey", "id": "user-key-1"}]}
            await notifier.send("user-key-1", Reply("가" * 1500).to_payload())
            assert [len(c.body["event"]["data"]["text"]) for c in fake.calls[1:]] == [1000, 500]
            # Every accepted call's task is kept, to read later whether it arrived.
            async with h.sessions() as s:
                tasks = (await s.execute(select(KakaoTask.task_id, KakaoTask.user_key, KakaoTask.outbox_id,
                                                KakaoTask.next_check_at).order_by(KakaoTask.id))).all()
            check_at = h.clock.now() + dt.timedelta(seconds=60)
            assert tasks == [(f"task-{i}", "user-key-1", None, check_at) for i in (1, 2, 3)]
            fake.fail_next = [429]
            with pytest.raises(dispatch.RetryAfter) as flood:
                await notifier.send("u", Reply("x").to_payload())
            assert flood.value.seconds == 2
            fake.fail_next = [503]
            with pytest.raises(dispatch.TransientError):
                await notifier.send("u", Reply("x").to_payload())
            wrong_key = KakaoNotifier(kakao_settings(h.settings, kakao_rest_api_key="bad",
                                                     kakao_event_api_url=fake.event_api_url), h.sessions, h.clock)
            with pytest.raises(RuntimeError):
                await wrong_key.send("u", Reply("x").to_payload())
            await wrong_key.close()
            assert await _count(h, KakaoTask) == 3  # refused calls leave no task
        finally:
            await notifier.close()
        unreachable = KakaoNotifier(kakao_settings(h.settings, kakao_rest_api_key="k",
                                                   kakao_event_api_url="http://127.0.0.1:9/v2/bots/{bot_id}/talk"),
                                    h.sessions, h.clock)
        with pytest.raises(dispatch.TransientError):
            await unreachable.send("u", Reply("x").to_payload())
        await unreachable.close()


async def test_the_outbox_dispatcher_reaches_kakao_users(harness: Harness) -> None:
    h = harness
    async with FakeKakao() as fake:
        ks = kakao_settings(h.settings, kakao_rest_api_key="test-rest-key", kakao_event_api_url=fake.event_api_url)
        notifier = KakaoNotifier(ks, h.sessions, h.clock)
        async with h.sessions() as s, s.begin():
            for i in range(3):
                await outbox.enqueue(s, channel="kakao", chat_id=f"key-{i}", user_id=None, kind="broadcast",
                                     payload=Reply(f"공지 {i}").to_payload(), now=h.clock.now())
        fake.fail_next = [500]
        dispatcher = Dispatcher(h.sessions, [notifier], clock=h.clock, rate=10_000, per_chat_interval=0)
        assert await dispatcher.run_once() == 2
        h.clock.advance(seconds=10)
        assert await dispatcher.run_once() == 1
        await notifier.close()
        assert sorted(c.body["user"][0]["id"] for c in fake.calls) == ["key-0", "key-0", "key-1", "key-2"]
        async with h.sessions() as s:
            assert set(await s.scalars(select(OutboxMessage.status))) == {"sent"}
            # Each task knows the outbox row it carried.
            rows = dict((await s.execute(select(OutboxMessage.chat_id, OutboxMessage.id))).all())
            tasks = (await s.execute(select(KakaoTask.user_key, KakaoTask.outbox_id))).all()
            assert sorted(tasks) == sorted(rows.items())


# --- health -----------------------------------------------------------------------------------------------


async def test_healthz_reports_database_and_scheduler(settings: Settings) -> None:
    from bot.app import running
    from bot.channels.http import base_app

    async with running(settings) as app:
        client: TestClient[web.Request, web.Application] = TestClient(TestServer(base_app(app)))
        await client.start_server()
        try:
            resp = await client.get("/healthz")
            assert resp.status == 200
            assert await resp.json() == {"status": "ok", "database": "ok", "scheduler": "ok", "outbox": "ok",
                                         "outbox_lag_seconds": 0}
            await app.scheduler.shutdown()
            resp = await client.get("/healthz")
            assert resp.status == 503 and (await resp.json())["scheduler"] == "stopped"
            await app.db.dispose()
        finally:
            await client.close()


# --- `python -m bot serve`: Telegram's webhook and the Kakao skill on one port ------------------------------


async def test_serve_runs_telegram_and_kakao_in_one_process_on_one_port(tmp_path: Any) -> None:
    import socket

    import aiohttp

    from bot.cli.serve import serve
    from tests.fake_telegram import FakeTelegram

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    async with FakeTelegram() as fake:
        settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}", telegram_bot_token="123:TEST",
                                 telegram_api_base_url=fake.base_url, webhook_url=f"http://127.0.0.1:{port}/tg/hook",
                                 webhook_secret="tg-secret", webhook_port=port, kakao_skill_secret=SECRET)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, telegram=True, kakao=True, stop=stop))
        try:
            await fake.wait_for(lambda c: c.method == "setWebhook", timeout=10)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/healthz") as resp:
                    assert resp.status == 200 and (await resp.json())["status"] == "ok"
                async with http.post(base + "/kakao/skill", json=payload("k-serve", "/start"),
                                     headers={SECRET_HEADER: SECRET}) as resp:
                    assert resp.status == 200
                    assert "서울일자리플러스센터" in "".join(texts_of((await resp.json())["template"]))
            since = len(fake.calls)
            fake.user_sends(4242, "/start")  # POSTed to the same port's webhook path
            call = await fake.wait_reply(4242, since=since)
            assert "서울일자리플러스센터" in call.params["text"]
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


async def test_delete_and_the_sweep_forget_kept_pages_and_files(skill: Skill) -> None:
    from bot.app import purge_files
    from storage.models import KakaoPage, ServedFile

    h = skill.harness
    user = skill.user("k-forget")
    await user.say("/register")
    await user.press("동의합니다")
    for answer in ("김서울", "1999"):
        await user.say(answer)
    await user.press("청년층")
    await user.press("대학교")
    for answer in ("서울대학교", "웹 개발", "Python"):
        await user.say(answer)
    assert await _count(h, KakaoPage) == 1  # the districts' next pages
    await skill.skill.render(to_incoming(payload("k-forget", "x")),
                             Response([Reply("파일", file=FileOut("a.csv", b"a,b", "text/csv"))]))
    assert await _count(h, ServedFile) == 1
    await user.say("/delete")
    await user.press("새로 시작")  # leaves the unfinished registration for the deletion
    await user.press("네, 모두 삭제")
    assert "모든 정보를 삭제했어요" in user.text
    assert await _count(h, KakaoPage) == 0 and await _count(h, ServedFile) == 0

    other = skill.user("k-sweep")
    await other.say("/register")
    await other.press("동의합니다")
    for answer in ("김서울", "1999"):
        await other.say(answer)
    await other.press("청년층")
    await other.press("대학교")
    for answer in ("서울대학교", "웹 개발", "Python"):
        await other.say(answer)
    assert await _count(h, KakaoPage) == 1
    h.clock.advance(hours=h.settings.draft_ttl_hours + 1)
    await purge_files(h.sessions, h.settings, h.clock)
    assert await _count(h, KakaoPage) == 0


# --- an admin on KakaoTalk: report files as links, files sent ---------------------------------------------


async def kakao_admin(skill: Skill, key: str = "k-admin") -> KakaoUser:
    """A Telegram admin who linked KakaoTalk (admins are listed by Telegram id)."""
    admin = skill.harness.chat(ADMIN_ID)
    await admin.send("/link")
    code = re.search(r"/link (\d{6})", admin.text)
    assert code, admin.text
    user = skill.user(key)
    await user.say(f"/link {code.group(1)}")
    assert "연결했어요" in user.text, user.text
    return user


async def download(skill: Skill, url: str) -> tuple[int, str, bytes]:
    resp = await skill.client.get(url.removeprefix("http://files.test"))
    return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def test_stats_chart_and_exports_reach_a_kakao_admin_as_signed_links(skill: Skill) -> None:
    user = await kakao_admin(skill)
    await user.say("/stats")
    await user.press("이번 달")
    assert "운영 현황" in user.text or "기간" in user.text, user.text
    status, mime, data = await download(skill, user.link("파일 받기"))
    assert status == 200 and mime.startswith("image/png") and data.startswith(b"\x89PNG")
    await user.press("CSV")
    status, mime, data = await download(skill, user.link("파일 받기"))
    assert status == 200 and mime.startswith("text/csv") and data.startswith("\ufeff".encode())
    await user.press("XLSX")  # offered again with the CSV, as the report's buttons are gone
    url = user.link("파일 받기")
    status, _, data = await download(skill, url)
    assert status == 200 and data.startswith(b"PK")
    # Someone else's guess at a link to it is refused.
    assert (await download(skill, url.replace("&s=", "&s=0")))[0] == 403
    stranger = skill.user("k-stranger")
    await stranger.say("/stats")
    assert "관리자만" in stranger.text and not any(b.get("action") == "webLink" for b in buttons_of(stranger.template))


def test_photos_and_files_sent_on_kakao_become_attachments_with_their_url() -> None:
    upload = payload("u1", "", trigger="IMAGE_UPLOAD")
    upload["action"]["params"]["media"] = {"type": "image", "url": "https://talk.kakaocdn.net/dn/a.jpg"}
    inc = to_incoming(upload)
    assert (inc.attachment, inc.file_ref, inc.text) == ("photo", "https://talk.kakaocdn.net/dn/a.jpg", None)
    document = payload("u1", "")
    document["userRequest"]["params"]["media"] = json.dumps({"type": "file", "url": "https://k.kakaocdn.net/f.csv"})
    assert to_incoming(document).attachment == "document"
    secure = payload("u1", "사진 보냈어요")
    secure["action"]["params"]["secureimage"] = json.dumps({
        "privacyAgreement": "Y", "imageQuantity": "2",
        "secureUrls": "List(https://talk.kakaocdn.net/dna/x1.jpg, https://talk.kakaocdn.net/dna/x2.jpg)"})
    assert to_incoming(secure).file_ref == "https://talk.kakaocdn.net/dna/x1.jpg"
    nothing = to_incoming(payload("u1", ""))
    assert (nothing.attachment, nothing.file_ref) == ("other", None)


async def test_a_file_sent_on_kakao_is_fetched_only_from_kakaos_hosts_within_the_size_limit(
        harness: Harness) -> None:
    from kernel.core import FileUnavailable
    from storage.demo import generate
    from storage.models import Firm

    skill = await start_skill(harness, kakao_file_hosts="127.0.0.1", kakao_max_file_bytes=64 * 1024)
    try:
        async with FakeKakao() as fake:
            data = generate(harness.clock.now().date(), firms=30, min_postings=30)
            fake.media["firms.json"] = json.dumps(data, ensure_ascii=False).encode()
            fake.media["big.bin"] = b"x" * (64 * 1024 + 1)
            # An admin on KakaoTalk imports firms from a file they sent.
            admin = await kakao_admin(skill)
            sent = payload(admin.key, "")
            sent["action"]["params"]["media"] = {"type": "file", "url": fake.media_url("firms.json")}
            await admin._send(sent)
            assert "가져오는 중" in admin.text, admin.text
            await harness.engine.idle()
            assert await _count(harness, Firm) == 30

            fetch = skill.skill.fetch_file
            assert await fetch(fake.media_url("firms.json")) == fake.media["firms.json"]
            for url in (fake.media_url("big.bin"),  # over the size limit
                        fake.media_url("redirect"),  # a redirect, here to a metadata address
                        fake.media_url("missing"),
                        "https://evil.example.com/a.jpg",  # not Kakao's
                        "https://kakaocdn.net.evil.example.com/a.jpg",
                        "http://10.0.0.1/a.jpg", "file:///etc/passwd"):
                with pytest.raises(FileUnavailable):
                    await fetch(url)
            # The engine hands a Kakao URL to Kakao's fetcher, never to another channel's.
            assert harness.engine.channels["kakao"] is skill.skill

        # Something KakaoTalk does not pass on: the person is told where files can go.
        status, answer = await skill.post(payload("k-file-nothing", ""))
        assert status == 200 and "텔레그램 챗봇으로 보내 주세요" in "".join(texts_of(answer["template"]))
    finally:
        await skill.client.close()


def test_list_cards_keep_within_the_carousel_limits_and_drop_what_does_not_fit() -> None:
    card = Card.of("가" * 80, "첫 줄", "나" * 200, "안 보이는 줄")
    assert len(card.title) == kakao.CARD_TITLE and card.title.endswith("…")
    assert card.summary == "첫 줄"  # the long second line and those after it stay in the reply's text
    lone = Card.of("제목", "다" * 300)
    assert len(lone.summary) == kakao.CAROUSEL_TEXT and lone.summary.endswith("…")
    assert Card.of("제목", "", "둘째").summary == "둘째"


async def test_spaces_alone_are_text_not_a_file_and_show_no_admin_hint(skill: Skill) -> None:
    status, answer = await skill.post(payload("k-spaces", "   "))
    said = "".join(texts_of(answer["template"]))
    assert status == 200 and "잘 모르겠어요" in said
    assert "텔레그램 챗봇으로" not in said and "python -m bot" not in said
    # A file KakaoTalk does not pass on is still told where files go, without the admin's command line.
    status, answer = await skill.post(payload("k-spaces", ""))
    said = "".join(texts_of(answer["template"]))
    assert "텔레그램 챗봇으로 보내 주세요" in said and "python -m bot" not in said
