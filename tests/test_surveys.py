"""Satisfaction surveys and follow-ups through the core, on SQLite and PostgreSQL.

Invitations come through the outbox (the sweep jobs queue them, the dispatcher delivers
them to the recording notifier); the person answers by pressing the delivered buttons
and typing, as they would in Telegram.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from scheduler.surveys import invite_attendees, invite_followups, member_round, months_between
from storage import events, memberships, survey_defs, surveys, users
from storage.models import OutboxMessage, SurveyAnswer, SurveyRequest
from tests.conftest import Chat, Harness
from tests.test_counselor import make_booking, make_counselor, make_person

SEOUL = ZoneInfo("Asia/Seoul")


# --- helpers ---------------------------------------------------------------------------------------


async def attended_session(h: Harness, person_tg: int = 1, counselor_tg: int = 780,
                           day: dt.date = dt.date(2026, 3, 2), hhmm: str = "08:00") -> tuple[int, int, int]:
    """A session that started before 'now' (10:00), marked attended by its counselor through /agenda."""
    cid = await make_counselor(h, counselor_tg)
    uid = await make_person(h, person_tg, f"구직자{person_tg}")
    booking = await make_booking(h, uid, cid, day, hhmm)
    counselor = h.chat(counselor_tg)
    await counselor.send("/agenda")
    await counselor.press(f"✅ 참석 {hhmm}" if day == dt.date(2026, 3, 2) else f"✅ 참석 {day.month}/{day.day}")
    assert "참석으로 표시했어요" in counselor.text, counselor.text
    return cid, uid, booking


async def requests(h: Harness) -> list[SurveyRequest]:
    async with h.sessions() as s:
        return list(await s.scalars(select(SurveyRequest).order_by(SurveyRequest.id)))


async def answers_of(h: Harness, request_id: int) -> dict[str, Any]:
    async with h.sessions() as s:
        return await surveys.answers(s, request_id)


async def delivered(h: Harness, chat_id: int) -> list[dict[str, Any]]:
    await h.deliver()
    return h.notifier.to(chat_id)


def press_from(message: dict[str, Any], label: str) -> str:
    for row in message["buttons"]:
        for button in row:
            if label in button["label"]:
                return str(button["payload"])
    raise AssertionError(f"no button {label!r} in {message}")


async def sweep(h: Harness) -> int:
    return await invite_attendees(h.sessions, h.settings, h.clock)


async def open_invitation(h: Harness, chat: Chat) -> dict[str, Any]:
    """Delivers what is due and opens the newest invitation's first question."""
    inbox = await delivered(h, int(chat.user_id))
    assert inbox, "no invitation delivered"
    await chat.press_payload(press_from(inbox[-1], "답하기"))
    return inbox[-1]


async def answering(h: Harness) -> tuple[SurveyRequest, Chat]:
    """An attended session's survey, delivered and opened at its first question."""
    await attended_session(h)
    await sweep(h)
    (request,) = await requests(h)
    chat = h.chat(1)
    await open_invitation(h, chat)
    return request, chat


# --- definitions -----------------------------------------------------------------------------------


def test_definitions_load_and_malformed_files_are_refused() -> None:
    loaded = survey_defs.load()
    assert set(loaded) == set(survey_defs.SURVEYS)
    assert survey_defs.latest("consultation").question("overall").kind == "rating"
    good = json.loads(survey_defs.DATA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(good))
    broken["consultation"][0]["questions"][0]["kind"] = "slider"
    with pytest.raises(survey_defs.DefinitionError, match=r"consultation v1\.overall: kind"):
        survey_defs.parse(broken)
    broken = json.loads(json.dumps(good))
    del broken["event"][0]["questions"][0]["text"]["en"]
    with pytest.raises(survey_defs.DefinitionError, match="ko, en"):
        survey_defs.parse(broken)
    broken = json.loads(json.dumps(good))
    broken["member_followup"][0]["questions"][1]["when"] = {"nope": ["yes"]}
    with pytest.raises(survey_defs.DefinitionError, match="when"):
        survey_defs.parse(broken)
    broken = json.loads(json.dumps(good))
    broken["consultation"].append(dict(broken["consultation"][0]))
    with pytest.raises(survey_defs.DefinitionError, match="distinct"):
        survey_defs.parse(broken)
    # A second version is allowed; old answers keep being read with version 1.
    newer = json.loads(json.dumps(good))
    v2 = json.loads(json.dumps(good["consultation"][0]))
    v2["version"] = len(good["consultation"]) + 1
    v2["questions"] = v2["questions"][:2]
    newer["consultation"].append(v2)
    parsed = survey_defs.parse(newer)
    assert [s.version for s in parsed["consultation"]] == list(range(1, v2["version"] + 1))
    assert len(parsed["consultation"][0].questions) == 4


def test_quarters_and_member_rounds() -> None:
    assert months_between(dt.date(2026, 1, 31), dt.date(2026, 4, 30)) == 2
    assert months_between(dt.date(2026, 1, 31), dt.date(2026, 5, 1)) == 3
    assert member_round(dt.date(2026, 7, 3)) == ("member:2026h2", dt.date(2026, 7, 1))
    assert member_round(dt.date(2026, 1, 30)) == ("member:2026h1", dt.date(2026, 1, 1))
    assert member_round(dt.date(2026, 3, 2)) is None


# --- consultation survey ------------------------------------------------------------------------------


async def test_consultation_survey_an_hour_after_the_end_answered_to_the_end(harness: Harness) -> None:
    h = harness
    cid, _uid, booking = await attended_session(h)
    assert await sweep(h) == 1
    assert await sweep(h) == 0  # one invitation per person per session, however often the sweep runs
    (request,) = await requests(h)
    assert request.survey == "consultation" and request.booking_id == booking and request.counselor_id == cid
    # The session ended 09:00 Seoul; the invitation is due at 10:00 (now), the reminder two days later.
    async with h.sessions() as s:
        rows = {r.dedupe_key: r for r in await s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind.like("survey.%")))}
    invite, remind = rows[f"survey:{request.id}:invite"], rows[f"survey:{request.id}:remind"]
    assert invite.due_at == dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    assert remind.due_at - invite.due_at == dt.timedelta(days=2)

    chat = h.chat(1)
    message = await open_invitation(h, chat)
    assert "상담 만족도 조사" in message["text"] and "취업상담" in message["text"] and "4개 질문" in message["text"]
    assert "(1/4)" in chat.text and "전반적으로" in chat.text
    await chat.press("5")
    assert "(2/4)" in chat.text
    await chat.send("4")  # a rating may be typed too
    assert "(3/4)" in chat.text and "추천" in chat.text
    await chat.press("네, 추천할래요")
    assert "(4/4)" in chat.text
    await chat.send("친절했어요. 다음 상담도 010-2345-6789 로 연락 주세요")
    assert "답해 주셔서 고마워요" in chat.text
    done = (await requests(h))[0]
    assert done.status == "done" and done.asking is None
    assert await answers_of(h, done.id) == {"overall": 5, "helpful": 4, "recommend": "yes",
                                            "comment": "친절했어요. 다음 상담도 010-2345-6789 로 연락 주세요"}
    async with h.sessions() as s:
        assert (await s.get(OutboxMessage, remind.id)).status == "cancelled"  # type: ignore[union-attr]
    # A repeated press on the finished survey changes nothing.
    await chat.press_payload(press_from(message, "답하기"))
    assert "이미 모두 답하셨어요" in chat.text
    assert len(await answers_of(h, done.id)) == 4


async def test_profile_lists_the_persons_own_survey_answers(harness: Harness) -> None:
    """/profile counts the surveys answered and shows each with the person's own answers (PIPA
    right of access), free text as written; nobody else sees them there."""
    h = harness
    _request, chat = await answering(h)
    await chat.press("5")
    await chat.send("4")
    await chat.press("네, 추천할래요")
    await chat.send("친절했어요. 010-2345-6789 로 연락 주세요")
    await chat.send("/profile")
    assert "만족도 조사 응답 1건" in chat.text
    await chat.press("내 설문 응답 보기")
    shown = chat.text
    assert "상담 만족도 조사" in shown and "2026-03-02" in shown
    assert "전반적으로" in shown and "5" in shown and "네, 추천할래요" in shown
    assert "친절했어요. 010-2345-6789 로 연락 주세요" in shown  # their own words, not redacted for them
    # Someone else's profile shows none of it, and has no such button.
    other = h.chat(2)
    await make_person(h, 2, "구직자2")
    await other.send("/profile")
    assert "만족도 조사" not in other.text and "내 설문 응답 보기" not in other.last_buttons
    await other.press_payload("m:profile:surveys")
    assert "친절했어요" not in other.text and "아직 답한 설문이 없어요" in other.text


async def test_no_show_gets_no_survey(harness: Harness) -> None:
    h = harness
    cid = await make_counselor(h, 780)
    uid = await make_person(h, 1, "구직자")
    await make_booking(h, uid, cid, dt.date(2026, 3, 2), "08:00")
    counselor = h.chat(780)
    await counselor.send("/agenda")
    await counselor.press("🚫 노쇼 08:00")
    assert await sweep(h) == 0 and await requests(h) == []


async def test_bad_answers_forged_and_stale_buttons(harness: Harness) -> None:
    h = harness
    request, chat = await answering(h)
    rid = request.id

    await chat.send("7")
    assert "점수는 1부터 5까지예요" in chat.text and "(1/4)" in chat.text
    await chat.send("아주 좋아요")
    assert "1부터 5까지의 숫자로" in chat.text
    await chat.press_payload(f"sv:{rid}:a:0:9")  # a forged rating
    assert "점수는 1부터 5까지예요" in chat.text
    assert await answers_of(h, rid) == {}
    await chat.press("3")
    await chat.press("2")
    await chat.press_payload(f"sv:{rid}:a:2:7")  # an option that does not exist
    assert "없는 선택지" in chat.text
    # A button of a question already answered shows the question open now.
    await chat.press_payload(f"sv:{rid}:a:0:5")
    assert "이미 지난 질문" in chat.text and "(3/4)" in chat.text
    assert (await answers_of(h, rid))["overall"] == 3

    # Someone else presses this person's survey (a forged payload): refused, nothing stored.
    stranger = h.chat(555)
    await stranger.press_payload(f"sv:{rid}:a:2:0")
    assert "회원님의 설문이 아니거나" in stranger.text
    await stranger.press_payload(f"sv:{rid}:skip")
    assert "회원님의 설문이 아니거나" in stranger.text
    assert (await requests(h))[0].status == "open" and "recommend" not in await answers_of(h, rid)
    for garbage in ("sv:abc:go", "sv", f"sv:{rid}:zz:1", f"sv:{rid}:a:x:1", "sv:99999:go"):
        await chat.press_payload(garbage)
        assert "Traceback" not in chat.text and chat.replies, garbage

    # The survey closes after seven days: a press says so, and what was answered is kept.
    h.clock.advance(days=7, minutes=1)
    await chat.press_payload(f"sv:{rid}:a:2:0")
    assert "마감됐어요" in chat.text
    closed = (await requests(h))[0]
    assert closed.status == "closed" and await answers_of(h, rid) == {"overall": 3, "helpful": 2}
    await chat.send("5")  # typed text is no longer taken as an answer
    assert "마감" not in chat.text and len(await answers_of(h, rid)) == 2


async def test_partial_answers_are_kept_resumed_reminded_once_and_skippable(harness: Harness) -> None:
    h = harness
    request, chat = await answering(h)
    await chat.press("4")
    await chat.press("나중에 하기")
    assert "답한 내용은 저장돼 있어요" in chat.text
    await chat.send("5")  # after 나중에 하기 typed text is not taken as the next answer
    assert "(2/4)" not in chat.text and await answers_of(h, request.id) == {"overall": 4}
    await chat.send("/surveys")
    assert "1/4 답함" in chat.text
    # Two days later: exactly one reminder, which resumes at the second question.
    h.clock.advance(days=2, minutes=5)
    await sweep(h)
    inbox = await delivered(h, 1)
    reminders = [m for m in inbox if "아직 답하지 않은 설문" in m["text"]]
    assert len(reminders) == 1
    await chat.press_payload(press_from(reminders[0], "답하기"))
    assert "(2/4)" in chat.text
    h.clock.advance(hours=25)  # a question shown more than a day ago no longer takes typed text
    await chat.send("3")
    assert "(3/4)" not in chat.text and "helpful" not in await answers_of(h, request.id)
    h.clock.advance(days=2)
    assert not [m for m in await delivered(h, 1) if "아직 답하지 않은" in m["text"]][1:]
    # Stopping keeps the answer given; nothing more is asked.
    await chat.press_payload(f"sv:{request.id}:skip")  # 설문 그만두기
    assert "건너뛸게요" in chat.text
    skipped = (await requests(h))[0]
    assert skipped.status == "skipped" and await answers_of(h, request.id) == {"overall": 4}
    await chat.send("/surveys")
    assert "지금 답할 설문이 없어요" in chat.text


async def test_skip_from_the_invitation_withdraws_the_reminder(harness: Harness) -> None:
    h = harness
    await attended_session(h)
    await sweep(h)
    chat = h.chat(1)
    inbox = await delivered(h, 1)
    await chat.press_payload(press_from(inbox[-1], "건너뛰기"))
    assert "건너뛸게요" in chat.text
    async with h.sessions() as s:
        remind = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "survey.remind"))).one()
    assert remind.status == "cancelled"


async def test_one_request_per_person_and_trigger_under_concurrency(harness: Harness) -> None:
    h = harness
    uid = await make_person(h, 1, "구직자")
    now = h.clock.now()

    async def one() -> bool:
        async with h.sessions() as s, s.begin():
            return await surveys.open_request(s, user_id=uid, survey="seeker_followup", subject="seeker:q1",
                                              due_at=now, now=now) is not None

    results = await asyncio.gather(*(one() for _ in range(5)), return_exceptions=True)
    assert sum(1 for r in results if r is True) == 1
    assert len(await requests(h)) == 1


# --- events, seekers, members -------------------------------------------------------------------------


async def test_event_attendance_invites_the_next_morning(harness: Harness) -> None:
    h = harness
    start = dt.datetime(2026, 3, 5, 14, tzinfo=SEOUL)
    uid = await make_person(h, 1, "참석자")
    absent = await make_person(h, 2, "불참자")
    async with h.sessions() as s, s.begin():
        event = await events.create(
            s, kind="academy", title="IR 피칭 실전", description="IR", starts_at=start,
            ends_at=start + dt.timedelta(hours=2), place="서울창업허브", online_link=None, capacity=10,
            audience="everyone", registration_deadline=start - dt.timedelta(days=1), created_by=None,
            now=h.clock.now())
        await events.publish(s, event, h.clock.now())
        await events.register(s, event, uid, h.clock.now())
        await events.register(s, event, absent, h.clock.now())
        code = event.checkin_code
    h.clock.advance(days=3, hours=5)  # the event day, 15:00 Seoul
    chat = h.chat(1)
    await chat.send(f"/checkin {code}")
    assert "체크인 완료" in chat.text, chat.text
    assert await sweep(h) == 0  # not ended yet
    h.clock.advance(hours=2)
    assert await sweep(h) == 1
    (request,) = await requests(h)
    assert request.survey == "event" and request.user_id == uid
    assert request.due_at == dt.datetime(2026, 3, 6, 10, tzinfo=SEOUL)
    assert await delivered(h, 1) == []  # not before the morning
    h.clock.advance(hours=17)  # the next morning
    message = await open_invitation(h, chat)
    assert "IR 피칭 실전" in message["text"]
    await chat.press("5")
    await chat.press("네트워킹")
    await chat.press("투자자 만남")
    await chat.press("네트워킹")  # toggled off again
    assert "✓ 투자자 만남" in chat.last_buttons and "네트워킹" in chat.last_buttons
    await chat.press("선택 완료")
    await chat.press("이 질문 건너뛰기")
    assert "고마워요" in chat.text
    assert await answers_of(h, request.id) == {"overall": 5, "useful": ["investors"]}


async def test_job_seekers_quarterly_and_members_twice_a_year(harness: Harness) -> None:
    h = harness
    seeker = await make_person(h, 1, "구직자")  # registered now (2026-03-02)
    member_tg = 2
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(member_tg), str(member_tg), "ko", h.clock.now())
        member = user.id
        row = await memberships.apply(s, member, {"applicant_type": "prospective", "team_name": "새싹팀",
                                                  "idea": "아이디어", "industry": "it", "startup_stage": "idea",
                                                  "team_size": 2}, h.clock.now())
        await memberships.decide(s, row, approve=True, admin_id=member, now=h.clock.now())
    assert await invite_followups(h.sessions, h.settings, h.clock) == 0
    h.clock.advance(days=92)  # 2026-06-02: three months after registering
    assert await invite_followups(h.sessions, h.settings, h.clock) == 1
    assert await invite_followups(h.sessions, h.settings, h.clock) == 0
    (first,) = await requests(h)
    assert (first.user_id, first.subject, first.survey) == (seeker, "seeker:q1", "seeker_followup")

    chat = h.chat(1)
    await open_invitation(h, chat)
    assert "취업하셨나요" in chat.text
    await chat.press("네, 정규직으로")
    assert "어디에 취업" in chat.text
    await chat.send("  (주)서울소프트 \u200b")
    assert "보이지 않는 특수문자" in chat.text and "어디에 취업" in chat.text
    await chat.send("(주)서울소프트")
    assert "언제부터" in chat.text
    await chat.send("2099-01")
    assert "미래가 아닌 달" in chat.text
    await chat.send("5월")
    assert "2026-03 처럼" in chat.text
    await chat.send("2026.5")
    assert "도움이 되었나요" in chat.text
    await chat.press("이 질문 건너뛰기")
    assert "고마워요" in chat.text
    assert await answers_of(h, first.id) == {"employed": "full_time", "employer": "(주)서울소프트",
                                             "since": "2026-05"}

    h.clock.advance(days=31)  # 2026-07-03: the members' second-half round and no new seeker quarter yet
    assert await invite_followups(h.sessions, h.settings, h.clock) == 1
    member_request = (await requests(h))[-1]
    assert (member_request.user_id, member_request.subject) == (member, "member:2026h2")
    mchat = h.chat(member_tg)
    await open_invitation(h, mchat)
    await mchat.press("네, 운영 중이에요")
    await mchat.press("1천만~1억 원")
    await mchat.send("세 명")
    assert "숫자로 입력해 주세요" in mchat.text
    await mchat.send("-3")
    assert "0부터 10000 사이" in mchat.text
    await mchat.send("4명")
    await mchat.press("이 질문 건너뛰기")
    assert await answers_of(h, member_request.id) == {"operating": "yes", "revenue": "10m_100m", "employees": 4}
    h.clock.advance(days=62)  # 2026-09-03: the second quarter for the seeker
    assert await invite_followups(h.sessions, h.settings, h.clock) == 1
    assert (await requests(h))[-1].subject == "seeker:q2"


# --- counselors see averages only ------------------------------------------------------------------


async def test_counselor_sees_own_average_only_from_five_answers(harness: Harness) -> None:
    h = harness
    cid = await make_counselor(h, 780)
    counselor = h.chat(780)
    await counselor.send("/myrating")
    assert "아직 받은 만족도 답변이 없어요" in counselor.text and "0건" not in counselor.text
    now = h.clock.now()
    for i, rating in enumerate((5, 4, 3, 5)):
        uid = await make_person(h, 100 + i, f"사람{i}")
        async with h.sessions() as s, s.begin():
            request = await surveys.open_request(s, user_id=uid, survey="consultation", subject=f"booking:x{i}",
                                                 due_at=now, now=now, counselor_id=cid)
            assert request is not None
            q = survey_defs.latest("consultation").question("overall")
            await surveys.save_answer(s, request, q, rating, now)
    await counselor.send("/myrating")
    assert "4건이에요" in counselor.text and "5건 이상" in counselor.text and "평균:" not in counselor.text
    uid = await make_person(h, 200, "다섯째")
    async with h.sessions() as s, s.begin():
        request = await surveys.open_request(s, user_id=uid, survey="consultation", subject="booking:x9",
                                             due_at=now, now=now, counselor_id=cid)
        assert request is not None
        await surveys.save_answer(s, request, survey_defs.latest("consultation").question("overall"), 3, now)
    await counselor.send("/myrating")
    assert "평균: 4.0 / 5 (답변 5건)" in counselor.text
    assert "사람0" not in counselor.text and "다섯째" not in counselor.text  # no names, no single answers
    person = h.chat(100)
    await person.send("/myrating")
    assert "상담사만 쓸 수 있는" in person.text
    async with h.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(SurveyAnswer)) == 5
