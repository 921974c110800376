"""Jobs as seekers, counselors and admins meet them: /jobs, referrals, /firms, the digest, admin actions."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from sqlalchemy import delete, select

from bot.cli.firms import load_demo
from handlers.jobs.postings import send_digests
from kernel.core import Incoming
from storage import referrals
from storage.models import Firm, Posting, Referral
from tests.conftest import ADMIN_ID, REGISTRATION, Chat, Harness, register
from tests.test_counselor import make_counselor


async def demo(h: Harness) -> None:
    report = await load_demo(h.sessions, h.clock.now(), h.settings.tz)
    assert report.ok and report.postings.added >= 300


def posting_ids(chat: Chat) -> list[int]:
    """The postings on screen, in order (from their 관심 있어요 buttons)."""
    return [int(b.payload.split(":")[2]) for r in chat.replies for row in r.buttons for b in row
            if b.payload and b.payload.startswith("job:i:")]


async def test_jobs_offers_registration_first_and_then_shows_matches(harness: Harness) -> None:
    await demo(harness)
    chat = harness.chat(5001)
    await chat.send("/jobs")
    assert "먼저 구직등록" in chat.text
    await chat.press("구직등록")
    for action, value in REGISTRATION:
        await (chat.press(value) if action == "press" else chat.send(value))
    await chat.press("제출")
    assert "구직등록이 완료" in chat.text
    # Back to where they wanted to go: the postings.
    assert "나에게 맞는 채용공고" in chat.text
    assert len(posting_ids(chat)) == 5


async def test_top_five_with_firm_cards_reasons_and_pages(harness: Harness) -> None:
    await demo(harness)
    chat = harness.chat(5002)
    await register(chat)
    await chat.send("/jobs")
    first = posting_ids(chat)
    assert len(first) == 5
    cards = chat.replies[1:6]
    for card in cards:
        assert "🏢" in card.text and "💰" in card.text and "추천 이유" in card.text and "점)" in card.text
        labels = [b.label for row in card.buttons for b in row]
        assert labels == ["자세히", "관심 있어요 🙋", "관심 없어요"]
    assert "서울형 강소기업" in chat.text and "설립" in chat.text and "직원" in chat.text and "매출" in chat.text
    assert "희망 직무 '웹 개발'" in chat.text or "희망 직무 '데이터 분석'" in chat.text
    scores = [int(re.search(r"\((\d+)점\)", c.text)[1]) for c in cards]  # type: ignore[index]
    assert scores == sorted(scores, reverse=True)
    await chat.press("다음 5개")
    second = posting_ids(chat)
    assert second and not set(second) & set(first)

    await chat.press_payload(f"job:d:{first[0]}")
    assert "담당 업무" in chat.text and "사업자등록번호" in chat.text and "연혁" in chat.text


async def test_closed_and_past_deadline_postings_are_never_shown(harness: Harness) -> None:
    await demo(harness)
    chat = harness.chat(5003)
    await register(chat)
    today = harness.clock.now().astimezone(harness.settings.tz).date()
    async with harness.sessions() as s:
        hidden = {p.id for p in await s.scalars(select(Posting)) if p.status == "closed"
                  or (p.deadline is not None and p.deadline < today)}
    assert hidden
    seen: set[int] = set()
    await chat.send("/jobs")
    while True:
        seen |= set(posting_ids(chat))
        if "다음 5개 ▶" not in chat.last_buttons:
            break
        await chat.press("다음 5개")
    assert seen and not seen & hidden


async def test_not_interested_hides_the_posting_for_good(harness: Harness) -> None:
    await demo(harness)
    chat = harness.chat(5004)
    await register(chat)
    await chat.send("/jobs")
    gone = posting_ids(chat)[0]
    await chat.press_payload(f"job:x:{gone}")
    assert "앞으로 보이지 않아요" in chat.text and chat.replies[0].edit
    await chat.press_payload(f"job:x:{gone}")  # twice: same answer, nothing breaks
    assert "앞으로 보이지 않아요" in chat.text
    await chat.send("/jobs")
    assert gone not in posting_ids(chat)
    await chat.send("/profile")
    assert "숨긴 채용공고 1건" in chat.text


async def test_outcomes_per_firm_for_a_period(harness: Harness) -> None:
    """/outcomes gives all-time totals per firm and, for this month, quarter, year or two typed
    dates, each step counted in the period it happened in."""
    await demo(harness)
    await make_counselor(harness, 7001)
    seeker = harness.chat(5005)
    await register(seeker)
    await seeker.send("/jobs")
    march = posting_ids(seeker)[0]
    await seeker.press_payload(f"job:i:{march}")  # 2026-03-02: requested, referred and hired in March
    await harness.deliver()
    marks = {b["label"]: b["payload"] for b in harness.notifier.to(7001)[0]["buttons"][0]}
    counselor = harness.chat(7001)
    await counselor.press_payload(marks["알선 완료"])
    await counselor.press_payload(marks["채용"])
    harness.clock.advance(days=31)  # 2026-04-02
    await seeker.send("/jobs")
    async with harness.sessions() as s:
        firm_of = {p.id: p.firm_id for p in await s.scalars(select(Posting))}
    april = next(p for p in posting_ids(seeker) if firm_of[p] != firm_of[march])
    await seeker.press_payload(f"job:i:{april}")
    assert "취업알선을 신청했어요" in seeker.text

    admin = harness.chat(ADMIN_ID)
    await admin.send("/outcomes")
    assert "기업별 취업알선 결과 (2곳)" in admin.text and "1 · 1 · 1 · 0" in admin.text
    assert {"이번 달", "이번 분기", "올해"} <= set(admin.last_buttons)
    await admin.press("이번 달")
    assert "(1곳)" in admin.text and "2026-04-01 ~ 2026-04-02" in admin.text
    assert "1 · 0 · 0 · 0" in admin.text and "1 · 1 · 1 · 0" not in admin.text
    await admin.send("/outcomes 2026-03-01 2026-03-31")
    assert "(1곳)" in admin.text and "1 · 1 · 1 · 0" in admin.text
    await admin.press_payload("m:outcomes:20260301-20260331:0")  # what a page button of that carries
    assert "2026-03-01 ~ 2026-03-31 (1곳)" in admin.text and "1 · 1 · 1 · 0" in admin.text
    await admin.send("/outcomes 2026-01-01 2026-01-31")
    assert "이 기간에는 취업알선 기록이 없어요" in admin.text
    await admin.send("/outcomes 2026-03-31 2026-03-01")
    assert "끝나는 날(2026-03-01)이 시작하는 날(2026-03-31)보다 앞서요" in admin.text
    await admin.send("/outcomes 지난주")
    assert "/outcomes 2026-01-01 2026-03-31" in admin.text  # how to ask
    await admin.press_payload("m:outcomes:20261399-20260101:0")  # a forged period
    assert "날짜로 읽을 수 없어요" in admin.text
    for far in ("0001-01-01 0001-01-02", "9999-12-30 9999-12-31"):  # real dates, nobody's period
        await admin.send(f"/outcomes {far}")
        assert "날짜로 읽을 수 없어요" in admin.text
    await admin.press_payload("m:outcomes:10")  # a page button of an older message: all time, next page
    assert "기업별 취업알선 결과" in admin.text or "취업알선 기록이 없어요" in admin.text


async def test_referral_reaches_the_counselor_who_marks_outcomes_and_the_seeker_is_told(harness: Harness) -> None:
    await demo(harness)
    counselor_id = await make_counselor(harness, 7001)
    chat = harness.chat(5005)
    await register(chat)
    await chat.send("/jobs")
    wanted = posting_ids(chat)[0]
    await chat.press_payload(f"job:i:{wanted}")
    assert "취업알선을 신청했어요" in chat.text
    await chat.press_payload(f"job:i:{wanted}")
    assert "이미 취업알선을 신청했어요" in chat.text

    await harness.deliver()
    note = harness.notifier.to(7001)
    assert len(note) == 1
    text = note[0]["text"]
    assert "새 취업알선 요청" in text and "김서울" in text and "희망 직무: 웹 개발, 데이터 분석" in text
    assert "010-1234-5678" in text and "매칭" in text
    marks = {b["label"]: b["payload"] for b in note[0]["buttons"][0]}
    assert set(marks) == {"알선 완료", "채용", "불발"}

    # Someone else pressing the counselor's button changes nothing, and hears it is for counselors.
    stranger = harness.chat(5999)
    await stranger.press_payload(marks["채용"])
    assert stranger.text == "상담사만 쓸 수 있는 기능이에요."

    counselor = harness.chat(7001)
    await counselor.send("/referrals")
    assert "진행 중인 취업알선 요청 1건" in counselor.text
    await counselor.press_payload(marks["알선 완료"])
    assert "기업에 알선됨" in counselor.text and counselor.replies[0].edit
    await counselor.press_payload(marks["알선 완료"])  # a repeated press
    assert "이미" in counselor.text
    await counselor.press_payload(marks["채용"])
    assert "채용 확정" in counselor.text
    await counselor.press_payload(marks["불발"])
    assert "이미 '채용 확정'" in counselor.text

    await harness.deliver()
    told = [m["text"] for m in harness.notifier.to(5005)]
    assert any("추천(알선)했어요" in t for t in told) and any("채용이 확정" in t for t in told)

    async with harness.sessions() as s:
        row = (await s.scalars(select(Referral))).one()
        assert row.counselor_id == counselor_id and row.status == "hired"
        start = harness.clock.now() - dt.timedelta(days=1)
        counts = await referrals.outcome_counts(s, start, harness.clock.now() + dt.timedelta(seconds=1))
        assert counts == {"requested": 1, "referred": 1, "hired": 1, "declined": 0}
        assert await referrals.outcome_counts(s, start - dt.timedelta(days=5), start) == dict.fromkeys(
            ("requested", "referred", "hired", "declined"), 0)

    admin = harness.chat(ADMIN_ID)
    await admin.send("/outcomes")
    assert "기업별 취업알선 결과 (1곳)" in admin.text and "1 · 1 · 1 · 0" in admin.text

    # The same referral counts in the KPI report (취업알선 and hires).
    await admin.send("/stats month")
    report = admin.replies[0].text
    assert "🤝 취업알선" in report and "알선 요청 — 건수 1" in report and "채용 — 건수 1" in report
    assert "채용률 100.0% (알선 1건 중)" in report


async def test_without_counselors_the_admins_get_the_referral(harness: Harness) -> None:
    await demo(harness)
    chat = harness.chat(5006)
    await register(chat)
    await chat.send("/jobs")
    await chat.press_payload(f"job:i:{posting_ids(chat)[0]}")
    await harness.deliver()
    note = harness.notifier.to(ADMIN_ID)[0]
    assert "새 취업알선 요청" in note["text"]
    admin = harness.chat(ADMIN_ID)
    await admin.send("/referrals")
    assert "진행 중인 취업알선 요청 1건" in admin.text
    await admin.press_payload(note["buttons"][0][2]["payload"])
    assert "불발" in admin.text
    await harness.deliver()
    assert "이어지지 않았어요" in harness.notifier.to(5006)[-1]["text"]
    # The seeker erases their data: the referral goes with it, and an old button says so.
    await chat.send("/delete")
    await chat.press("삭제")
    await admin.press_payload(note["buttons"][0][0]["payload"])
    assert "찾을 수 없어요" in admin.text


async def test_a_posting_deleted_or_closed_while_shown(harness: Harness) -> None:
    await demo(harness)
    chat = harness.chat(5007)
    await register(chat)
    await chat.send("/jobs")
    deleted, closed = posting_ids(chat)[:2]
    async with harness.sessions() as s, s.begin():
        await s.execute(delete(Posting).where(Posting.id == deleted))
        (await s.get(Posting, closed)).status = "closed"  # type: ignore[union-attr]
    for action in ("d", "i"):
        await chat.press_payload(f"job:{action}:{deleted}")
        assert "더 이상 없어요" in chat.text
        await chat.press_payload(f"job:{action}:{closed}")
        assert "마감되었어요" in chat.text
    await chat.press_payload("job:i:not-a-number")
    assert "만료" in chat.text


async def test_no_matches_says_so_and_suggests_widening(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await demo(harness)
    monkeypatch.setattr(harness.engine.settings, "jobs_min_score", 101)  # postings there, none good enough
    chat = harness.chat(5008)
    await register(chat)
    await chat.send("/jobs")
    assert "조건에 맞는 채용공고가 없어요" in chat.text and "희망 지역" in chat.text
    assert "✏️ 등록 정보 수정" in chat.last_buttons or any("수정" in label for label in chat.last_buttons)


async def test_firms_search_tolerates_typos_and_spacing(harness: Harness) -> None:
    await demo(harness)
    async with harness.sessions() as s:
        firm = (await s.scalars(select(Firm).where(Firm.name.like("%소프트%")))).first()
    assert firm is not None
    bare = firm.name.replace("(주)", "").replace("주식회사 ", "")
    chat = harness.chat(5009)
    for query in (bare, bare[:2] + " " + bare[2:], bare[:-1]):
        await chat.send(f"/firms {query}")
        assert firm.name in chat.text, query
    # Without a name (the menu, KakaoTalk, where a slash command is awkward): asked for it.
    await chat.send("/firms")
    assert "어느 기업을 찾을까요?" in chat.text
    await chat.send(bare[:-1])
    assert firm.name in chat.text
    # Left unanswered, the question is no draft to resume: the next service just starts.
    await chat.send("/firms")
    await chat.send("/register")
    assert "이어서" not in chat.text and "개인정보" in chat.text, chat.text
    await chat.send("/cancel")
    await chat.send("/menu")
    assert not any("기업 찾기" in label for label in chat.last_buttons), chat.last_buttons
    await chat.send("/firms 존재하지않는회사이름")
    assert "찾지 못했어요" in chat.text
    await chat.send(f"/firms {bare}")
    await chat.press("채용공고 보기")
    assert firm.name in chat.text


async def test_admin_closes_reopens_and_edits_a_posting(harness: Harness) -> None:
    await demo(harness)
    seeker = harness.chat(5010)
    await register(seeker)
    await seeker.send("/jobs")
    target = posting_ids(seeker)[0]

    admin = harness.chat(ADMIN_ID)
    await admin.send(f"/posting {target}")
    assert f"공고 #{target}" in admin.text and "모집 중" in admin.text
    await admin.press("마감")
    assert "공고를 마감했어요" in admin.text
    await seeker.send("/jobs")
    assert target not in posting_ids(seeker)
    await admin.press_payload(f"pa:c:{target}")
    assert "이미 마감된" in admin.text
    await admin.press("다시 열기")
    assert "다시 열었어요" in admin.text

    await admin.press("수정")
    await admin.press("제목")
    await admin.send("웹 개발자 (신입 환영)")
    await admin.press("✏️ 수정")
    await admin.press("최대 연봉")
    await admin.send("10")
    await admin.press("제출")
    assert "최대 연봉이 최소 연봉보다 작아요" in admin.text
    await admin.send("5000")
    await admin.press("제출")
    assert "공고를 수정했어요" in admin.text and "웹 개발자 (신입 환영)" in admin.text
    await seeker.send("/jobs")
    assert "웹 개발자 (신입 환영)" in seeker.text

    # Not for seekers: the guard answers, once, nothing changes.
    await seeker.press_payload(f"pa:c:{target}")
    assert seeker.text == "관리자만 쓸 수 있는 기능이에요."
    await seeker.send("/outcomes")
    assert "관리자" in seeker.text


async def test_daily_digest_of_new_postings_for_those_who_opted_in(harness: Harness) -> None:
    chat = harness.chat(5011)
    await register(chat)
    await chat.send("/settings")
    await chat.press("새 채용공고 알림 켜기")
    assert "알림을 켰어요" in chat.text
    await chat.press_payload("set:dig:on")  # an old button pressed again: still on, not flipped
    assert "새 채용공고 알림(하루 한 번): 켜짐" in chat.text

    harness.clock.advance(minutes=5)
    await demo(harness)  # new postings arrive after the opt-in
    # START is 10:00 in Seoul, after JOBS_DIGEST_TIME (09:00).
    assert await send_digests(harness.sessions, harness.settings, harness.clock) == 1
    assert await send_digests(harness.sessions, harness.settings, harness.clock) == 0  # once a day
    await harness.deliver()
    digest = harness.notifier.to(5011)[-1]
    assert "새로 올라온 맞춤 채용공고" in digest["text"]
    assert digest["buttons"][0][0]["payload"] == "m:jobs"

    harness.clock.advance(days=1)
    assert await send_digests(harness.sessions, harness.settings, harness.clock) == 0  # nothing new since
    await chat.send("/profile")
    assert "새 채용공고 알림(하루 한 번): 켜짐" in chat.text
    await chat.press_payload("set:dig:off")
    assert "새 채용공고 알림(하루 한 번): 꺼짐" in chat.text


async def test_a_person_who_never_opted_in_gets_no_digest(harness: Harness) -> None:
    chat = harness.chat(5012)
    await register(chat)
    harness.clock.advance(minutes=5)
    await demo(harness)
    assert await send_digests(harness.sessions, harness.settings, harness.clock) == 0


async def test_forged_stale_and_repeated_presses(harness: Harness) -> None:
    await demo(harness)
    await make_counselor(harness, 7002)
    chat = harness.chat(5013)
    await register(chat)
    await chat.send("/jobs")
    target = posting_ids(chat)[0]
    for forged in ("job:d:abc", "job:zz:1", "job:i:", "rf:1:bogus", "rf:x:hired", "pa:c:1", "job:p:-5"):
        await chat.press_payload(forged)
        assert chat.replies, forged
        assert "오류" not in chat.text, forged
    # Two presses of 관심 있어요 at the same moment: one referral, one message to the counselor.
    first, second = await asyncio.gather(
        harness.engine.handle(Incoming("telegram", "5013", "5013", button=f"job:i:{target}")),
        harness.engine.handle(Incoming("telegram", "5013", "5013", button=f"job:i:{target}")))
    texts = [first.replies[0].text, second.replies[0].text]
    assert sum("공고로 취업알선을 신청했어요" in t for t in texts) == 1
    assert sum("이미 취업알선을 신청했어요" in t for t in texts) == 1
    await harness.deliver()
    assert len(harness.notifier.to(7002)) == 1
    async with harness.sessions() as s:
        assert len(list(await s.scalars(select(Referral)))) == 1


async def test_firm_search_bad_input(harness: Harness) -> None:
    await demo(harness)
    chat = harness.chat(5014)
    await chat.send("/firms " + "가" * 60)
    assert "40자" in chat.text
    await chat.send("/firms 😀😀")
    assert "찾지 못했어요" in chat.text
    await chat.send("/jobs")  # not registered: offered registration, nothing else
    assert "먼저 구직등록" in chat.text and chat.last_buttons == {"📝 구직등록": "m:register:jobs"}


def test_firm_card_shows_the_vetted_badge_only_while_the_vetting_holds() -> None:
    from handlers.jobs.postings import firm_card
    from kernel.i18n import translator

    today = dt.date(2026, 3, 2)
    firm = Firm(brn="2208162517", name="(주)한빛소프트", industry="it", district="mapo", address="서울 마포구",
                founded_year=2005, employees=48, revenue=9597, programme="서울형 강소기업",
                vetted_on=dt.date(2025, 1, 1), vetting_expires=dt.date(2027, 1, 1),
                benefits=["youth_friendly", "flexible_hours"])
    card = firm_card(translator("ko"), firm, today)
    assert "✅ 서울형 강소기업" in card and "매출 96억원" in card and "마포구" in card and "청년친화, 유연근무" in card
    firm.vetting_expires = dt.date(2026, 3, 1)
    assert "✅" not in firm_card(translator("ko"), firm, today)
    english = firm_card(translator("en"), firm, today)
    assert "Mapo" in english and "youth-friendly" in english and "founded 2005" in english


def test_a_posting_away_from_the_head_office_names_its_workplace() -> None:
    """The firm's line names its head office; a posting elsewhere says where the work is, so a
    reason "workplace in 종로구" under a firm in 금천구 reads as it should."""
    from handlers.jobs.postings import posting_card
    from kernel.i18n import translator

    today = dt.date(2026, 3, 2)
    firm = Firm(brn="2208162517", name="(주)한빛소프트", industry="it", district="geumcheon", address="서울 금천구",
                programme="서울형 강소기업", benefits=[])
    posting = Posting(ref="p1", title="고객센터 상담", duties="-", min_education="none", employment_type="full_time",
                      district="jongno", salary_min=3000, salary_max=3500)
    card = posting_card(translator("ko"), posting, firm, today, None)
    assert "금천구" in card and "📍 근무지: 종로구" in card
    assert "Workplace: Jongno-gu" in posting_card(translator("en"), posting, firm, today, None)
    posting.district = "geumcheon"
    assert "근무지" not in posting_card(translator("ko"), posting, firm, today, None)


async def test_a_seeker_follows_their_referrals_step_by_step(harness: Harness) -> None:
    await demo(harness)
    await make_counselor(harness, 7002)
    chat = harness.chat(5010)
    await register(chat)
    await chat.send("/menu")
    assert "🤝 내 취업알선" not in chat.last_buttons
    await chat.send("/myreferrals")
    assert "아직 신청한 취업알선이 없어요" in chat.text

    await chat.send("/jobs")
    wanted = posting_ids(chat)[0]
    await chat.press_payload(f"job:i:{wanted}")
    await chat.send("/profile")
    assert "취업알선 신청 1건 (/myreferrals)" in chat.text
    await chat.send("/menu")
    await chat.press("내 취업알선")
    assert "내 취업알선 1건이에요" in chat.text and "지금: 상담사 확인 중" in chat.text
    assert "• 2026-03-02 신청" in chat.text and "추천(알선)" not in chat.text

    await harness.deliver()
    marks = {b["label"]: b["payload"] for b in harness.notifier.to(7002)[0]["buttons"][0]}
    harness.clock.advance(days=1)
    await harness.chat(7002).press_payload(marks["알선 완료"])
    harness.clock.advance(days=2)
    await harness.chat(7002).press_payload(marks["채용"])
    await chat.send("/myreferrals")
    assert "지금: 채용 확정" in chat.text
    assert "• 2026-03-03 상담사가 기업에 추천(알선)" in chat.text and "• 2026-03-05 채용 확정" in chat.text

    chat.language = "en"
    await chat.send("/lang en")
    await chat.send("/myreferrals")
    assert "You have 1 job referral." in chat.text and "Now: hired" in chat.text


async def test_admin_sees_a_past_deadline_posting_as_closed_without_interest_button(harness: Harness) -> None:
    await demo(harness)
    today = harness.clock.now().astimezone(harness.settings.tz).date()
    async with harness.sessions() as s:
        posting, firm = (await s.execute(select(Posting, Firm).join(Firm, Firm.id == Posting.firm_id)
                                         .where(Posting.status == "open", Posting.deadline < today))).first()
    admin = harness.chat(ADMIN_ID)
    await admin.press_payload(f"job:f:{firm.id}")
    card = next(r for r in admin.replies if posting.title in r.text)
    assert "D--" not in card.text and f"{posting.deadline.month}월 {posting.deadline.day}일 마감" in card.text
    labels = [b.label for row in card.buttons for b in row]
    assert "관심 있어요 🙋" not in labels and "관심 없어요" not in labels and "자세히" in labels


async def test_jobs_with_no_postings_loaded_says_so_and_tells_admins_how_to_load(harness: Harness) -> None:
    chat = harness.chat(5012)
    await chat.send("/jobs")
    assert "아직 등록된 채용공고가 없어요" in chat.text and "희망 지역" not in chat.text
    assert "python -m bot firms import" not in chat.text
    admin = harness.chat(ADMIN_ID)
    await admin.send("/jobs")
    assert "아직 등록된 채용공고가 없어요" in admin.text
    assert "/import" in admin.text and "python -m bot firms import FILE" in admin.text


async def test_delete_lists_what_is_held_referrals_included(harness: Harness) -> None:
    await demo(harness)
    chat = harness.chat(5013)
    await register(chat)
    await chat.send("/jobs")
    await chat.press_payload(f"job:i:{posting_ids(chat)[0]}")
    await chat.send("/delete")
    listing = chat.replies[0].text
    assert "• 구직등록 정보" in listing and "• 취업알선 신청 1건" in listing and "• 계정과 대화 기록" in listing
    assert "공동회원" not in listing and "상담 예약" not in listing
    assert "되돌릴 수 없어요" in chat.replies[-1].text
    await chat.press("네, 모두 삭제")
    async with harness.sessions() as s:
        assert not list(await s.scalars(select(Referral)))
