"""KPI reports: /stats through the core, the files, the chart, the CLI and the weekly digest."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.cli.report import run_report
from kernel.config import ConfigError
from kernel.core import FileOut, Reply
from kernel.i18n import translator
from reports.period import Period, custom, preset
from reports.redact import redact
from scheduler.digest import send_weekly_digest
from scheduler.surveys import invite_attendees
from storage import memberships, survey_defs, surveys, users
from tests.conftest import ADMIN_ID, Chat, Harness, make_settings
from tests.test_counselor import make_booking, make_counselor, make_person
from tests.test_surveys import open_invitation

SEOUL = ZoneInfo("Asia/Seoul")
ROOT = Path(__file__).resolve().parents[1]


async def seed(h: Harness) -> None:
    """One attended and one no-show session, one member application, one finished survey with a comment."""
    cid = await make_counselor(h, 780)
    one = await make_person(h, 1, "구직자하나")
    two = await make_person(h, 2, "구직자둘")
    await make_booking(h, one, cid, dt.date(2026, 3, 2), "08:00")
    await make_booking(h, two, cid, dt.date(2026, 3, 2), "09:10", type_="document_clinic")
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", "3", "3", "ko", h.clock.now())
        await memberships.apply(s, user.id, {"applicant_type": "restarter", "team_name": "다시팀", "idea": "재기",
                                             "industry": "it", "startup_stage": "idea", "team_size": 1},
                                h.clock.now())
    counselor = h.chat(780)
    await counselor.send("/agenda")
    await counselor.press("✅ 참석 08:00")
    await counselor.press("🚫 노쇼 09:10")
    await invite_attendees(h.sessions, h.settings, h.clock)
    chat = h.chat(1)
    await open_invitation(h, chat)
    await chat.press("4")
    await chat.press("5")
    await chat.press("네, 추천할래요")
    await chat.send("좋았어요! 제 번호 010 9876 5432 로 연락 주세요")
    assert "고마워요" in chat.text


def file_of(chat: Chat) -> FileOut:
    files = [r.file for r in chat.replies if r.file is not None]
    assert files, chat.text
    return files[0]


async def test_stats_is_for_admins_only(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("/stats month")
    assert "관리자" in chat.text and "실적 보고서" not in chat.text
    await chat.press_payload("st:csv:20260301-20260331")
    assert "관리자" in chat.text and file_of_none(chat)


def file_of_none(chat: Chat) -> bool:
    return all(r.file is None for r in chat.replies)


async def test_stats_for_this_month_with_chart_and_exports(harness: Harness) -> None:
    h = harness
    await seed(h)
    admin = h.chat(ADMIN_ID)
    await admin.send("/stats")
    assert "어느 기간" in admin.text
    await admin.press("이번 달")
    text = admin.replies[0].text
    assert "기간: 2026-03-01 ~ 2026-03-02 (2일)" in text
    assert "청년층 (만 39세 이하) — 건수 2" in text
    assert "취업상담 · 서울일자리플러스센터 — 참석 1, 노쇼 0" in text
    assert "구직서류클리닉 (이력서·자기소개서) · 서울일자리플러스센터 — 참석 0, 노쇼 1, 노쇼율% 100.0" in text
    assert text.index("취업상담 ·") < text.index("구직서류클리닉 (")  # in the programme's order
    assert "참석 1 · 노쇼 1 (노쇼율 50.0%)" in text
    assert "재창업자 (폐업 후 재도전) — 신청 1, 승인 0, 반려 0, 대기 1" in text
    assert "전반적으로 얼마나 만족스러우셨나요? — 답변 1, 평균 4.0, 1점 0, 2점 0, 3점 0, 4점 1, 5점 0" in text
    assert text.index("전반적으로") < text.index("도움이 되었나요")  # questions in the survey's order
    assert "좋았어요! 제 번호 ***-****-**** 로 연락 주세요" in text and "9876" not in text
    chart = admin.replies[1].file
    assert chart is not None and chart.mime == "image/png" and chart.data.startswith(b"\x89PNG")

    await admin.press("CSV")
    csv_file = file_of(admin)
    assert csv_file.filename == "jobhub-report-20260301-20260302.csv"
    rows = list(csv.reader(io.StringIO(csv_file.data.decode("utf-8-sig"))))
    assert [r[5] for r in rows if len(r) == 6 and "좋았" in r[5]] == ["좋았어요! 제 번호 ***-****-**** 로 연락 주세요"]
    version = str(survey_defs.latest("consultation").version)  # invitations take the newest version
    recommend = ["상담 만족도 조사", version, "주변에 이 상담을 추천하시겠어요?", "네, 추천할래요"]
    assert any(r[2:] == recommend for r in rows)
    assert not any("구직자하나" in cell for r in rows for cell in r)  # no names in the export

    await admin.press("XLSX")
    book = load_workbook(io.BytesIO(file_of(admin).data), read_only=True)
    assert "설문 답변" in book.sheetnames
    answers = list(book["설문 답변"].iter_rows(values_only=True))
    assert answers[0][0] == "응답 번호" and len(answers) == 5
    assert {row[5] for row in answers[1:]} >= {4, 5, "네, 추천할래요"}


async def test_empty_period_and_bad_periods(harness: Harness) -> None:
    admin = harness.chat(ADMIN_ID)
    await admin.send("/stats 2025-01-01 2025-01-31")
    text = admin.replies[0].text
    assert "2025-01-01 ~ 2025-01-31 (31일)" in text and "이 기간에는 자료가 없어요" in text
    assert "합계 0" in text and "취업률 0%" in text
    assert admin.replies[1].file is not None and admin.replies[1].file.data.startswith(b"\x89PNG")
    await admin.press("CSV")
    assert "설문 답변 0건" in admin.text

    await admin.send("/stats 2026-03-31 2026-03-01")
    assert "끝나는 날(2026-03-01)이 시작하는 날(2026-03-31)보다 앞서요" in admin.text
    await admin.send("/stats 2026-02-30 2026-03-01")
    assert "날짜로 읽을 수 없어요" in admin.text
    await admin.send("/stats 2000-01-01 2026-03-01")
    assert "5년까지" in admin.text
    await admin.send("/stats someday")
    assert "사용법" in admin.text
    await admin.press_payload("st:csv:20260331-20260301")
    assert "앞서요" in admin.text

    # The custom period form refuses the end before the start and keeps the question open.
    await admin.send("/stats")
    await admin.press("직접 입력")
    assert "시작하는 날" in admin.text
    await admin.send("3월 32일")
    assert "날짜로 읽을 수 없어요" in admin.text
    await admin.send("2026-03-10")
    await admin.send("2026-03-01")
    assert "앞서요" in admin.text
    await admin.send("2026-03-31")
    assert "2026-03-10 ~ 2026-03-31 (22일)" in admin.text


def test_periods() -> None:
    today = dt.date(2026, 5, 20)
    assert preset("month", today) == Period(dt.date(2026, 5, 1), today)
    assert preset("quarter", today) == Period(dt.date(2026, 4, 1), today)
    assert preset("year", today) == Period(dt.date(2026, 1, 1), today)
    assert preset("week", today) == Period(dt.date(2026, 5, 11), dt.date(2026, 5, 17))
    period = custom("2026.1.1", "20260331")
    assert Period.from_code(period.code()) == period
    start, end = period.bounds(SEOUL)
    assert start == dt.datetime(2025, 12, 31, 15, tzinfo=dt.UTC) and end == dt.datetime(2026, 3, 31, 15, tzinfo=dt.UTC)


def test_charts_have_a_korean_font() -> None:
    from reports import chart

    assert chart.korean_font() is not None  # NanumGothic from koreanize-matplotlib, or an installed one


def test_phone_numbers_are_removed() -> None:
    for text in ("010-1234-5678", "01012345678", "+82 10 1234 5678", "010.1234.5678", "(02) 123-4567"):
        assert "1234" not in redact(f"연락처 {text} 입니다") and "4567" not in redact(text), text
    assert redact("2026년 3월 상담 4회 좋았어요") == "2026년 3월 상담 4회 좋았어요"


def test_reply_with_a_file_survives_the_outbox() -> None:
    reply = Reply("주간 실적", file=FileOut("w.png", b"\x89PNG\x00\x01", "image/png", "caption"))
    back = Reply.from_payload(reply.to_payload())
    assert back.file == reply.file and back.text == "주간 실적"


async def test_weekly_digest_goes_to_admins_once_with_the_chart(harness: Harness) -> None:
    h = harness
    await seed(h)
    h.clock.advance(days=7)  # Monday 2026-03-09: the digest covers 3/2–3/8
    assert await send_weekly_digest(h.sessions, h.settings, h.clock) == 1
    assert await send_weekly_digest(h.sessions, h.settings, h.clock) == 0
    await h.deliver()
    (message,) = h.notifier.to(ADMIN_ID)
    assert "주간 실적 (2026-03-02 ~ 2026-03-08)" in message["text"]
    assert "구직등록 2명" in message["text"] and "상담 참석 1건 · 노쇼 1건" in message["text"]
    assert "공동회원 신청 1건" in message["text"] and "설문 완료 1건 · 평균 만족도 4.5" in message["text"]
    assert base64.b64decode(message["file"]["data"]).startswith(b"\x89PNG")


def test_digest_setting() -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db")
    assert settings.digest_at == ("mon", 9, 0)
    assert make_settings("sqlite+aiosqlite:///x.db", weekly_digest="Fri 17:30").digest_at == ("fri", 17, 30)
    assert make_settings("sqlite+aiosqlite:///x.db", weekly_digest="off").digest_at is None
    for bad in ("monday", "mon 25:00", "9:00"):
        with pytest.raises(ConfigError, match="WEEKLY_DIGEST"):
            make_settings("sqlite+aiosqlite:///x.db", weekly_digest=bad)


async def test_cli_report_writes_csv_and_xlsx(harness: Harness, tmp_path: Path) -> None:
    h = harness
    await seed(h)
    out = io.StringIO()
    assert await run_report(h.settings, "2026-03-01", "2026-03-31", str(tmp_path / "r.csv"), out) == 0
    assert "설문 답변 4건" in out.getvalue()
    content = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "JobHub 실적 보고서" in content and "***-****-****" in content and "9876" not in content
    assert await run_report(h.settings, "2026-03-01", "2026-03-31", str(tmp_path / "r.xlsx"), out) == 0
    assert "설문 답변" in load_workbook(tmp_path / "r.xlsx", read_only=True).sheetnames
    assert await run_report(h.settings, "2026-03-31", "2026-03-01", str(tmp_path / "x.csv"), out) == 2
    assert "앞서요" in out.getvalue() and not (tmp_path / "x.csv").exists()
    assert await run_report(h.settings, "2026-03-01", "2026-03-31", str(tmp_path / "r.pdf"), out) == 2
    assert "use .csv or .xlsx" in out.getvalue()


@pytest.mark.slow
def test_cli_report_command_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "TELEGRAM_BOT_TOKEN": "", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "bot", "report", "--from", "2026-01-01", "--to", "2026-01-31",
                           "--out", str(tmp_path / "jan.xlsx")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "jan.xlsx").stat().st_size > 0


async def test_job_finding_survival_and_revenue_from_the_follow_ups(harness: Harness) -> None:
    """Each person's newest answer counts once: a member asked twice in the period is one company."""
    h = harness
    now = h.clock.now()
    answers = {
        ("seeker_followup", 11): [{"employed": "full_time", "employer": "(주)서울소프트", "since": "2026-02"}],
        ("seeker_followup", 12): [{"employed": "searching"}],
        ("member_followup", 21): [{"operating": "yes", "revenue": "none", "employees": 2},
                                  {"operating": "yes", "revenue": "10m_100m", "employees": 4}],
        ("member_followup", 22): [{"operating": "closed"}],
    }
    async with h.sessions() as s, s.begin():
        for (survey, tg), rounds in answers.items():
            user, _ = await users.identify(s, "telegram", str(tg), str(tg), "ko", now)
            for i, given in enumerate(rounds):
                at = now + dt.timedelta(minutes=i)
                request = await surveys.open_request(s, user_id=user.id, survey=survey, subject=f"{survey}:{i}",
                                                     due_at=at, now=at)
                assert request is not None
                for qid, value in given.items():
                    question = survey_defs.latest(survey).question(qid)
                    assert await surveys.save_answer(s, request, question, value, at)
    admin = h.chat(ADMIN_ID)
    await admin.send("/stats month")
    text = admin.replies[0].text
    assert "취업률 50.0% (응답 2명)" in text
    assert "네, 정규직으로 — 인원 1, 비율% 50.0" in text and "아직 구직 중이에요 — 인원 1, 비율% 50.0" in text
    assert "생존율 50.0% (응답 기업 2곳, 휴업 포함)" in text and "폐업했어요 — 인원 1" in text
    assert "1천만~1억 원 — 인원 1, 비율% 100.0" in text and "아직 없음 — 인원 0" in text
    assert "함께 일하는 사람(대표 포함) 평균 4명 (응답 1건)" in text  # the member's newer answer


async def test_periods_typed_as_korean_dates_and_a_daily_chart_for_a_few_days(harness: Harness) -> None:
    from reports import chart
    from reports.sections import Scope

    await seed(harness)
    admin = harness.chat(ADMIN_ID)
    await admin.send("/stats 3월 1일 ~ 3월 2일")
    assert "기간: 2026-03-01 ~ 2026-03-02 (2일)" in admin.replies[0].text
    await admin.send("/stats 12월 1일 12월 3일")  # no year: the latest such days, last December
    assert "기간: 2025-12-01 ~ 2025-12-03 (3일)" in admin.replies[0].text
    assert "함께 일하는 사람(대표 포함): 아직 응답이 없어요" in admin.replies[0].text
    assert "평균 인원 0명" not in admin.replies[0].text
    await admin.send("/stats")
    await admin.press("직접 입력")
    assert "12월 1일" in admin.text
    await admin.send("2/28")
    await admin.send("3월 2일")
    assert "기간: 2026-02-28 ~ 2026-03-02 (3일)" in admin.replies[0].text
    await admin.send("/stats 3월 32일 3월 2일")
    assert "날짜로 읽을 수 없어요" in admin.text

    # Three days: three daily points; ten weeks: weeks; a year: months.
    async with harness.sessions() as s:
        starts, series, unit = await chart.trend(s, Scope(custom("2026-02-28", "2026-03-02"), SEOUL))
        assert unit == "day" and starts == [dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
        assert sum(series["registrations"]) == 2
    assert [chart.unit_of(n) for n in (1, 31, 32, 92, 93, 366)] == ["day", "day", "week", "week", "month", "month"]


def test_count_axes_show_whole_numbers_from_zero() -> None:
    from reports import chart
    from reports.sections import Scope

    scope = Scope(custom("2026-03-01", "2026-03-03"), SEOUL)
    fig = chart.figure(translator("ko"), scope, [dt.date(2026, 3, d) for d in (1, 2, 3)],
                       {name: [0, 1, 0] for name in chart.SERIES}, "day", {"consultation": [0, 0, 1, 2, 0]})
    trend_ax, dist_ax = fig.axes
    for ax in (trend_ax, dist_ax):
        ticks = [v for v in ax.get_yticks() if ax.get_ylim()[0] <= v <= ax.get_ylim()[1]]
        assert ticks and all(float(v).is_integer() for v in ticks), ticks
    assert trend_ax.get_ylim()[0] == 0 and trend_ax.get_title() == "일별 추이"
    assert [label.get_text() for label in trend_ax.get_xticklabels()] == ["3/1", "3/2", "3/3"]
