"""How the bot words things: Korean particles that fit the word before them, English counts that agree
with their number, and dates that read one way in each language."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

import matching
from handlers.events.admin import EVENT_FORM, change_lines
from handlers.jobs.postings import deadline_text, details_text, firm_card, reason_text
from kernel.core import Reply
from kernel.forms import FormRunner
from kernel.i18n import catalog, day_label, duration, moment, money, money_range, place_name, translator
from kernel.korean import attach, final_sound, manwon, particles
from kernel.parsers import MAX_FUNDING
from scheduler.events import when_span
from storage import survey_defs
from storage.counselors import CENTRE_NAME
from storage.models import Firm, Posting
from tests.conftest import Harness


@pytest.mark.parametrize(("word", "double", "expected"), [
    ("창업준비", "이(가)", "창업준비가"), ("하늘랩", "이(가)", "하늘랩이"),
    ("‘하늘랩’", "을(를)", "‘하늘랩’을"), ("‘취소’", "은(는)", "‘취소’는"), ("'해운대구'", "은(는)", "'해운대구'는"),
    ("‘창업준비’", "(이)에요", "‘창업준비’예요"), ("‘창업숙성’", "(이)에요", "‘창업숙성’이에요"),
    ("서울", "(으)로", "서울로"), ("부산", "(으)로", "부산으로"), ("카카오톡", "(으)로", "카카오톡으로"),
    ("텔레그램", "(으)로", "텔레그램으로"), ("창업실행", "와(과)", "창업실행과"), ("창업준비", "와(과)", "창업준비와"),
    ("3", "이(가)", "3이"), ("2", "을(를)", "2를"), ("10", "은(는)", "10은"), ("1,000", "이(가)", "1,000이"),
    ("7", "(으)로", "7로"), ("0", "이(가)", "0이"), ("#12", "은(는)", "#12는"), ("20", "와(과)", "20과"),
    ("Excel", "을(를)", "Excel을"), ("Excel", "(으)로", "Excel로"), ("Python", "이(가)", "Python이"),
    ("Java", "이(가)", "Java가"), ("IT", "은(는)", "IT는"), ("HTML", "을(를)", "HTML을"), ("Word", "와(과)", "Word와"),
    ("3월 10일 (화)", "을(를)", "3월 10일 (화)를"), ("'salary_max'", "이(가)", "'salary_max'가"),
])
def test_the_particle_follows_the_last_sound(word: str, double: str, expected: str) -> None:
    assert attach(word, double) == expected


def test_what_cannot_be_read_keeps_both_forms() -> None:
    assert final_sound("🎉") is None
    assert attach("🎉", "을(를)") == "🎉을(를)"


def test_a_rendered_text_settles_every_particle() -> None:
    assert particles("‘하늘랩’을(를) 승인했어요. ‘창업준비’(이)에요.") == "‘하늘랩’을 승인했어요. ‘창업준비’예요."
    assert particles("괄호 (참고) 안의 말") == "괄호 (참고) 안의 말"


def test_no_korean_message_shows_a_double_form() -> None:
    t = translator("ko")
    doubles = re.compile(r"이\(가\)|을\(를\)|은\(는\)|와\(과\)|\(으\)로|\(이\)에요")
    samples = {"value": "값", "team": "하늘랩", "stage": "창업준비", "id": 12, "title": "채용박람회",
               "date": "3월 10일", "notify": "카카오톡", "answer": "취소", "high": "salary_max", "field": "이름"}
    shown = []
    for key, text in catalog("ko").items():
        if doubles.search(text):
            names = set(re.findall(r"{(\w+)", text))
            rendered = t(key, **{n: samples.get(n, "하늘랩") for n in names})
            if doubles.search(rendered):
                shown.append((key, rendered))
    assert shown == []


# Words that come between a count and its noun in the English catalogue.
ADJECTIVES = "new|upcoming|open|pending|hidden|more|rejected|survey|consultation|event|demo-day|pitch|referral"


def test_english_counts_agree_with_their_number() -> None:
    t = translator("en")
    wrong = []
    for key, text in catalog("en").items():
        if "{n}" not in text:
            continue
        names = set(re.findall(r"{(\w+)", text))
        one = t(key, **{name: 1 if name == "n" else "x" for name in names})
        # "1 events", "1 new postings", "1 session(s)", "1 people": a plural noun or a hedge after the number one.
        if re.search(rf"(?<![\d.,])1 (?:(?:{ADJECTIVES}) ){{0,2}}(?:\w{{2,}}s\b|\w+\(s\)|people\b)", one):
            wrong.append((key, one))
    assert wrong == []
    assert t("event.seats_left", n=1) == "1 seat left" and t("event.seats_left", n=2) == "2 seats left"
    assert t("event.seats_left", n=0) == "0 seats left"


def test_korean_counts_with_one_form() -> None:
    # Korean has no plural: the same text for one and for many, and a key with English plural
    # forms still renders in Korean.
    t = translator("ko")
    assert t("event.seats_left", n=1) == "남은 자리 1석" and t("event.seats_left", n=5) == "남은 자리 5석"


def test_one_date_reads_one_way_in_each_language() -> None:
    # An event on 12 October: the same day, whichever message names it ("Thu 10/12" and "Thu 12/10"
    # once stood for the same event in English).
    seoul = ZoneInfo("Asia/Seoul")
    start = dt.datetime(2026, 10, 12, 5, 0, tzinfo=dt.UTC)  # 14:00 in Seoul
    end = start + dt.timedelta(hours=2)
    en, ko = translator("en"), translator("ko")
    assert moment(en, start, seoul) == "Mon, Oct 12 at 14:00"
    assert when_span(en, start, end, seoul) == "Mon, Oct 12, 14:00–16:00"
    assert moment(ko, start, seoul) == "10월 12일 (월) 14:00"
    assert when_span(ko, start, end, seoul) == "10월 12일 (월) 14:00~16:00"
    assert day_label(en, start.date(), "MMMd") == "Oct 12" and day_label(ko, start.date(), "MMMd") == "10월 12일"


@pytest.mark.parametrize(("amount", "korean", "english"), [
    (4500, "4,500만원", "₩45 million"), (15000, "1억 5,000만원", "₩150 million"), (10000, "1억원", "₩100 million"),
    (186000, "18억 6,000만원", "₩1.86 billion"), (50, "50만원", "₩500,000"), (0, "0원", "₩0"),
])
def test_money_reads_in_the_units_people_say(amount: int, korean: str, english: str) -> None:
    # Salaries and funding are kept in 만원: "15,000만원", "₩186 × 100 million" and "4,500 × 10,000 KRW a
    # year" were once shown.
    assert manwon(amount) == korean
    assert money(translator("ko"), amount) == korean and money(translator("en"), amount) == english


def test_money_in_the_messages_that_show_it() -> None:
    ko, en = translator("ko"), translator("en")
    assert ko("seeker.salary", amount=money(ko, 4500)) == "연 4,500만원"
    assert en("seeker.salary", amount=money(en, 4500)) == "₩45 million a year"
    assert money_range(ko, 3000, 4500) == "3,000~4,500만원" and money_range(en, 3000, 4500) == "₩30–45 million"
    assert money_range(ko, 8000, 12000) == "8,000만원~1억 2,000만원"
    assert ko("jobs.reason.salary", amount=money(ko, 12000)) == "연봉 최대 1억 2,000만원으로 희망 연봉 충족"
    # The funding bounds are written out in the catalog; they must be the parser's.
    assert money(ko, 1) in ko("invalid.funding_range") and money(ko, MAX_FUNDING) in ko("invalid.funding_range")
    assert money(en, 1) in en("invalid.funding_range") and money(en, MAX_FUNDING) in en("invalid.funding_range")


async def _no_menu(_ctx: object) -> Reply:
    return Reply("")


def test_an_event_summary_counts_people_and_says_when_registration_closes() -> None:
    # "정원: 20" and "신청 마감: 입력 안 함" once stood in the /newevent summary.
    runner = FormRunner([EVENT_FORM], _no_menu)
    answers = {"kind": "academy", "title": "IR 피칭", "description": "실습", "starts_at": "2026-03-20T14:00:00+09:00",
               "ends_at": "2026-03-20T16:00:00+09:00", "where": "서울창업허브", "capacity": 20, "audience": "everyone"}
    ko = runner.summary_text(translator("ko"), EVENT_FORM, answers)
    assert "• 정원: 20명" in ko and "• 신청 마감: 시작 전까지" in ko
    en = runner.summary_text(translator("en"), EVENT_FORM, answers | {"capacity": 1})
    assert ": 1 person\n" in en and ": until it starts" in en
    assert change_lines(translator("ko"), {"capacity": (2, 3)}, ZoneInfo("Asia/Seoul")) == "• 정원: 2명 → 3명"


def test_refusing_consent_stops_rather_than_completes() -> None:
    # "구직등록을 마쳤어요" read as "registration is done".
    ko = translator("ko")
    assert "구직등록을 중단했어요" in ko("refused.seeker") and "마쳤" not in ko("refused.seeker")
    assert "마쳤" not in ko("refused.membership")


def test_a_consultation_survey_names_the_session_once_and_by_its_date() -> None:
    ko = translator("ko")
    for key in ("job_counselling", "startup_consulting", "document_clinic", "mentoring", "bm_coaching"):
        line = ko("survey.context.consultation", when="3월 5일 (목) 14:00", type=ko(f"type.{key}"))
        assert "상담 상담" not in line and "링 상담" not in line and "칭 상담" not in line, line
    assert ko("survey.context.consultation", when="3월 5일 (목) 14:00", type=ko("type.job_counselling")) == \
        "3월 5일 (목) 14:00 취업상담에 대해 여쭤볼게요."
    # A survey may be answered days later (a reminder comes after two days): no "오늘"/"어제" in a question.
    for key in survey_defs.SURVEYS:
        for q in survey_defs.latest(key).questions:
            assert not re.search("오늘|어제", q.text["ko"]) and "today" not in q.text["en"].lower(), q.text


def test_a_rating_scale_fits_its_question() -> None:
    # "도움이 되었나요?" was rated from 1 매우 불만족 to 5 매우 만족.
    ko, en = translator("ko"), translator("en")
    for key in survey_defs.SURVEYS:
        for q in survey_defs.latest(key).questions:
            if q.kind == "rating" and "도움" in q.text["ko"]:
                assert q.scale is not None and "도움" in q.scale[0]["ko"] and "도움" in q.scale[1]["ko"], q.id
            elif q.kind == "rating":
                assert q.scale is None and "만족" in q.text["ko"], q.id
    helpful = survey_defs.latest("consultation").question("helpful")
    assert helpful.scale is not None
    assert ko("survey.hint.scale", low=helpful.scale[0]["ko"], high=helpful.scale[1]["ko"]).startswith(
        "1(전혀 도움이 안 됐어요) ~ 5(아주 도움이 됐어요)")
    assert en("survey.hint.scale", low=helpful.scale[0]["en"], high=helpful.scale[1]["en"]).startswith(
        "Pick 1 (not at all) to 5 (a great deal)")


# Korean that English screens show on purpose: the way back to Korean (the language picker and its
# menu entry, each also in the reader's language), the programme's own stage names next to their
# translation, and the lines that teach how amounts in 만원 are typed (people type "5천만원" whatever
# the bot's language).
KOREAN_IN_ENGLISH = {
    "cmd.lang", "lang.pick", "menu.lang", "stage.execution", "stage.maturation", "stage.preparation",
    "ask.pitch.funding", "help.pitch.funding", "invalid.funding", "ask.posting_edit.salary_max",
    "ask.posting_edit.salary_min", "help.posting_edit.salary_max", "help.posting_edit.salary_min",
}
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


def test_every_english_message_reads_in_english() -> None:
    t = translator("en")
    samples = {"n": 1, "id": 12, "total": 3, "days": 7, "months": 36, "min": 1, "max": 5, "high": 10, "left": 1,
               "name": "Jimin Park", "team": "Haneul Lab", "title": "Job fair", "date": "Mon, Oct 12"}
    korean, unfilled = [], []
    for key, text in catalog("en").items():
        names = set(re.findall(r"{(\w+)", text))
        rendered = t(key, **{name: samples.get(name, "sample") for name in names})
        if HANGUL.search(rendered) and key not in KOREAN_IN_ENGLISH:
            korean.append((key, rendered))
        if re.search(r"{\w*}", rendered):
            unfilled.append((key, rendered))
    assert korean == [] and unfilled == []
    # The allow-list stays honest: each entry still needs to be there.
    assert all(HANGUL.search(catalog("en")[key]) for key in KOREAN_IN_ENGLISH)


def test_english_screens_name_places_and_deadlines_in_english() -> None:
    en, ko = translator("en"), translator("ko")
    assert place_name(en, CENTRE_NAME) == "Seoul Job Plus Center" and place_name(ko, CENTRE_NAME) == CENTRE_NAME
    assert place_name(en, "연세대 캠퍼스점") == "연세대 캠퍼스점"  # a name nobody translated is shown as typed
    # "closes open until filled": the deadline's own words carry "closes".
    today = dt.date(2026, 3, 2)
    assert en("jobs.pay_deadline", salary="x", deadline=deadline_text(en, None, today)) == "💰 x · open until filled"
    closes = en("jobs.pay_deadline", salary="x", deadline=deadline_text(en, today, today))
    assert closes.startswith("💰 x · closes Mar 2")
    assert ko("jobs.pay_deadline", salary="x", deadline=deadline_text(ko, None, today)) == "💰 x · 채용 시 마감"


# Buttons a person presses speak in the person's voice ("✅ 동의합니다", "네, 취소합니다"): -습니다 is theirs.
PERSONS_OWN_WORDS = {"booking.cancel_yes", "consent.agree", "consent.refuse", "delete.yes", "event.cancel_event_yes"}


def test_the_bot_speaks_one_register() -> None:
    # The bot says -해요 everywhere; "발송 중이 아닙니다", "새로 셉니다", "감사합니다" once slipped between.
    def formal(text: str) -> bool:  # -ㅂ니다/-습니다 (합니다, 아닙니다, 셉니다, 감사합니다) or -십시오
        return "십시오" in text or any(final_sound(m.group(1)) == "ㅂ" for m in re.finditer(r"(\w)니다", text))

    found = [(key, text) for key, text in catalog("ko").items() if formal(text) and key not in PERSONS_OWN_WORDS]
    assert found == []
    assert formal("발송 중이 아닙니다") and formal("새로 셉니다") and not formal("고마워요")


def test_a_video_room_is_named_in_the_readers_language() -> None:
    # Rooms are created in the default language ("김지현 화상 상담실 #3"); an English reader saw it so.
    en, ko = translator("en"), translator("ko")
    assert place_name(en, "김지현 화상 상담실 #3") == "김지현's video room #3"
    assert place_name(ko, "Jimin Park's video room #4") == "Jimin Park 화상 상담실 #4"
    assert place_name(ko, "김지현 화상 상담실 #3") == "김지현 화상 상담실 #3"


def test_counts_under_other_names_agree_too() -> None:
    # Counts once passed as {left}, {days}, {cancelled}, {years} had no plural forms: "1 tries left",
    # "your 1 years of experience fit".
    en, ko = translator("en"), translator("ko")
    assert en("link.unknown", n=1).endswith("(1 try left)") and en("link.unknown", n=4).endswith("(4 tries left)")
    assert en("broadcast.audience_recent", n=1) == "Job seekers registered in the last day"
    assert en("broadcast.stopped", id=3, n=1).endswith("The 1 message not sent yet will not be sent.")
    reason = matching.Reason("experience", (("years", "1"),))
    assert reason_text(en, reason) == "your 1 year of experience fits"
    assert reason_text(ko, reason) == "경력 1년이 요건에 맞음"


def test_a_count_given_with_thousands_separators_still_picks_its_form() -> None:
    # Call sites group large counts ("1,234"); a firm with one employee read "1 employees".
    en = translator("en")
    assert en("jobs.employees", n="1") == "1 employee" and en("jobs.employees", n="1,234") == "1,234 employees"


def test_a_firm_reads_in_english_for_an_english_reader() -> None:
    # "✅ 서울형 강소기업", "revenue ₩96 × 100 million" and ISO dates once stood in English firm cards.
    today = dt.date(2026, 3, 2)
    firm = Firm(brn="2208162517", name="Hanbit Soft", industry="it", district="mapo", address="Mapo-gu, Seoul",
                founded_year=2005, employees=1, revenue=9597, programme="서울형 강소기업",
                vetted_on=dt.date(2025, 1, 1), vetting_expires=dt.date(2027, 1, 1),
                benefits=["youth_friendly", "flexible_hours"])
    card = firm_card(translator("en"), firm, today)
    assert "✅ Seoul Strong SME" in card and "revenue ₩9.6 billion" in card and "1 employee" in card
    assert not HANGUL.search(card), card
    posting = Posting(id=1, firm_id=1, ref="P1", title="Web developer", duties="web", required_skills=[],
                      preferred_skills=[], min_education="none", exp_min=0, exp_max=3, employment_type="full_time",
                      salary_min=None, salary_max=None, district="mapo", hours=None, deadline=None, status="open")
    detail = details_text(translator("en"), posting, firm, today, None)
    assert "Seoul Strong SME since Jan 1, 2025 (valid until Jan 1, 2027)" in detail, detail
    assert "서울형 강소기업 선정 2025년 1월 1일" in details_text(translator("ko"), posting, firm, today, None)


def test_korean_counts_take_the_counter_of_what_they_count() -> None:
    # Postings and answers are counted in 건 (공고 3건), firms in 곳, people in 명; "채용공고 3개" read as objects.
    generic = [(key, text) for key, text in catalog("ko").items()
               if re.search(r"(?:채용공고|답변|응답) ?\{\w+\}개|\{\w+\}개(?:가 더|를 불러)", text)]
    assert generic == []
    assert translator("ko")("jobs.more", n=3) == "3건이 더 있어요."


def test_a_one_day_report_says_one_day() -> None:
    en = translator("en")
    assert en("stats.title", first="2026-03-01", last="2026-03-01", n=1).endswith("(1 day)")
    assert translator("ko")("stats.title", first="2026-03-01", last="2026-03-02", n=2).endswith("(2일)")


async def test_staff_commands_say_who_they_are_for_one_way(harness: Harness) -> None:
    """/help and Telegram's command menu mark staff commands with one suffix, never a "[관리자]"
    prefix on some and nothing on others."""
    everyone = {name for name, _key in harness.engine.commands()}
    for roles, ko, en in ((frozenset({"admin"}), "(관리자)", "(admins)"),
                          (frozenset({"counselor"}), "(상담사)", "(counselors)")):
        for name, key in harness.engine.commands(roles):
            if name in everyone:
                continue
            said_ko, said_en = translator("ko")(key), translator("en")(key)
            assert said_ko.endswith(")") and ko.strip("()") in said_ko and "[" not in said_ko, (name, said_ko)
            assert said_en.endswith(")") and en.strip("()") in said_en and "[" not in said_en, (name, said_en)


@pytest.mark.parametrize(("minutes", "korean", "english"), [
    (120, "2시간", "2 hours"), (90, "1시간 30분", "1 hour 30 minutes"), (30, "30분", "30 minutes"),
    (1440, "1일", "1 day"), (1500, "1일 1시간", "1 day 1 hour"), (60, "1시간", "1 hour"),
])
def test_a_length_of_time_reads_in_the_units_people_say(minutes: int, korean: str, english: str) -> None:
    """"시작 120분 전까지" reads as a machine wrote it; Babel alone would round 90 minutes to 2 hours."""
    assert duration(translator("ko"), minutes) == korean
    assert duration(translator("en"), minutes) == english
