"""기술교육원 courses as people meet them: browse, apply with eligibility, admins select, the outbox tells."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

from sqlalchemy import select

from bot.cli.courses import SAMPLE, moved, run_import
from storage import courses, seekers, users
from storage.models import Course, CourseApplication, OutboxMessage
from tests.conftest import ADMIN_ID, Chat, Harness
from tests.test_jobs import demo

SEOUL = dt.timezone(dt.timedelta(hours=9))


async def load_sample(h: Harness) -> None:
    async with h.sessions() as s, s.begin():
        result = await courses.import_rows(s, courses.read_rows(SAMPLE.read_bytes(), SAMPLE.name), h.clock.now())
        assert result.added == 10 and not result.rejected


async def seeker(h: Harness, user_id: int, **changes: Any) -> Chat:
    values: dict[str, Any] = {"name": f"구직자{user_id}", "birth_year": 1970, "track": "middle",
                              "school_kind": "other", "school_name": "", "desired_jobs": ["경리"],
                              "skills": ["엑셀"], "districts": [], "education": "high_school",
                              "experience_years": 10} | changes
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(user_id), str(user_id), "ko", h.clock.now())
        await seekers.save(s, user.id, values, h.clock.now())
    return h.chat(user_id)


async def _course(h: Harness, ref: str) -> Course:
    async with h.sessions() as s:
        return (await s.scalars(select(Course).where(Course.ref == ref))).one()


async def _applications(h: Harness) -> list[CourseApplication]:
    async with h.sessions() as s:
        return list(await s.scalars(select(CourseApplication).order_by(CourseApplication.id)))


async def test_browse_by_field_and_apply_with_eligibility_checked(harness: Harness) -> None:
    await load_sample(harness)
    chat = await seeker(harness, 1)
    await chat.send("/courses")
    assert "지금 신청할 수 있는 과정이 9개" in chat.text  # the 요양보호사 course closed on 2/27
    assert "요양보호사" not in " ".join(chat.last_buttons)
    await chat.press("경영·회계·사무")
    assert "중장년 전산회계·세무 실무" in chat.text and "무료" in chat.text and "정원 20명" in chat.text
    await chat.press("신청하기")
    assert "신청할까요" in chat.text
    await chat.press("신청할게요")
    assert "신청했어요" in chat.text
    [row] = await _applications(harness)
    assert row.status == "applied"
    # Twice: the status, not a second application.
    course = await _course(harness, "NB-2026-02")
    await chat.press_payload(f"crs:a:{course.id}")
    assert "이미 신청했어요" in chat.text and "선발 대기" in chat.text

    young = await seeker(harness, 2, birth_year=2001, track="youth", desired_jobs=["웹 개발"])
    await young.press_payload(f"crs:a:{course.id}")
    assert "만 40세 이상만" in young.text
    youth_only = await _course(harness, "DB-2026-02")
    await chat.press_payload(f"crs:a:{youth_only.id}")
    assert "만 39세 이하만" in chat.text
    closed = await _course(harness, "DB-2026-03")
    await chat.press_payload(f"crs:a:{closed.id}")
    assert "마감되었어요" in chat.text
    assert len(await _applications(harness)) == 1


async def test_admins_select_and_the_outbox_tells_reminds_and_asks_for_a_rating(harness: Harness) -> None:
    await load_sample(harness)
    course = await _course(harness, "NB-2026-02")
    applicant = await seeker(harness, 3)
    await applicant.press_payload(f"crs:a:{course.id}")
    await applicant.press("신청할게요")
    admin = harness.chat(ADMIN_ID)
    await admin.send("/courseadmin")
    assert "중장년 전산회계·세무 실무" in admin.text
    await admin.press_payload(f"crsa:l:{course.id}")
    assert "구직자3 · 만 56세" in admin.text
    await admin.press("선발")
    assert "신청자에게 알렸어요" in admin.text
    async with harness.sessions() as s:
        rows = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind.like("course.%"))
                                    .order_by(OutboxMessage.id)))
    assert [r.kind for r in rows] == ["course.decision", "course.reminder", "course.survey"]
    assert rows[1].due_at == dt.datetime(2026, 4, 12, 10, tzinfo=SEOUL)  # the day before the start
    assert rows[2].due_at == dt.datetime(2026, 8, 1, 10, tzinfo=SEOUL)  # the day after the end
    await harness.deliver()
    assert any("선발되었어요" in m["text"] for m in harness.notifier.to(3))

    # The survey, answered from its buttons: the trainee's rating is kept once.
    [row] = await _applications(harness)
    survey = rows[2].payload
    button = next(b["payload"] for line in survey["buttons"] for b in line if b["label"] == "5")
    await applicant.press_payload(button)
    assert "고마워요" in applicant.text
    await applicant.press_payload(button)
    assert "이미 응답했어요" in applicant.text
    async with harness.sessions() as s:
        assert (await s.get(CourseApplication, row.id)).rating == 5  # type: ignore[union-attr]

    # Not selected after all: the reminder and the survey are withdrawn.
    await admin.press_payload(f"crsa:l:{course.id}")
    await admin.press("미선발")
    async with harness.sessions() as s:
        statuses = {r.kind: r.status for r in await s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind.in_(("course.reminder", "course.survey"))))}
    assert set(statuses.values()) == {"cancelled"}, statuses


def _select_buttons(chat: Chat) -> list[str]:
    """The 선발 buttons of every applicant listed, in order."""
    return [b.payload for r in chat.replies for row in r.buttons for b in row if b.label == "선발" and b.payload]


async def test_a_full_course_puts_new_applicants_on_the_waiting_list(harness: Harness) -> None:
    await load_sample(harness)
    course = await _course(harness, "NB-2026-02")
    async with harness.sessions() as s, s.begin():
        (await s.get(Course, course.id)).capacity = 1  # type: ignore[union-attr]
    first, second = await seeker(harness, 4), await seeker(harness, 5)
    for chat in (first, second):
        await chat.press_payload(f"crs:a:{course.id}")
        await chat.press("신청할게요")
    admin = harness.chat(ADMIN_ID)
    await admin.press_payload(f"crsa:l:{course.id}")
    select_first, select_second = _select_buttons(admin)
    await admin.press_payload(select_first)
    await admin.press_payload(select_second)
    assert "정원 1명이 모두 선발되었어요" in admin.text
    late = await seeker(harness, 6)
    await late.press_payload(f"crs:a:{course.id}")
    await late.press("신청할게요")
    assert "대기자로 신청했어요" in late.text
    assert [a.status for a in await _applications(harness)] == ["selected", "applied", "waitlisted"]


async def test_courses_are_suggested_for_the_skills_the_wanted_postings_ask_for(harness: Harness) -> None:
    await demo(harness)
    await load_sample(harness)
    chat = await seeker(harness, 7, desired_jobs=["경리", "회계 사무"], skills=["엑셀"])
    await chat.send("/courses")
    await chat.press("추천 과정")
    assert "중장년 전산회계·세무 실무" in chat.text, chat.text
    assert "원하는 공고가 요구하는 기술" in chat.text or "희망 직무와 관련" in chat.text


async def test_import_reports_bad_rows_and_changes_nothing_the_second_time(harness: Harness) -> None:
    bad = [{"ref": "X-1", "institute": "서울시 남부기술교육원", "title": "과정", "ncs": 30, "hours": 10,
            "starts_on": "2026-05-01", "ends_on": "2026-06-01", "capacity": 10, "deadline": "2026-04-20"}]
    async with harness.sessions() as s, s.begin():
        rows = courses.read_rows(json.dumps(bad).encode(), "x.json")
        result = await courses.import_rows(s, rows, harness.clock.now())
    assert result.rejected == [(1, "ncs must be a whole number 1..24")]
    out, err = io.StringIO(), io.StringIO()
    assert await run_import(harness.settings, None, out, err, clock=harness.clock) == 0
    assert "10 added" in out.getvalue()
    out = io.StringIO()
    assert await run_import(harness.settings, None, out, err, clock=harness.clock) == 0
    assert "0 added, 0 changed, 10 unchanged" in out.getvalue()


async def test_stats_count_the_youth_programmes(harness: Harness) -> None:
    await load_sample(harness)
    course = await _course(harness, "NB-2026-02")
    applicant = await seeker(harness, 8, education="enrolled", degree="college", graduation="2027-02",
                             school_kind="vocational_high", school_name="서울디지텍고등학교")
    await applicant.press_payload(f"crs:a:{course.id}")
    await applicant.press("신청할게요")
    admin = harness.chat(ADMIN_ID)
    await admin.send("/stats 2026-03-01 2026-03-02")
    assert "청년 프로그램" in admin.text
    assert "구직등록한 특성화고 학생 — 건수 1" in admin.text
    assert "기술교육원 과정 신청 — 건수 1" in admin.text
    assert "특성화고 코칭 3회 패키지 완료 학생 (누적) — 건수 0" in admin.text


def test_the_sample_moves_with_the_calendar_so_a_first_try_finds_open_courses() -> None:
    rows = courses.read_rows(SAMPLE.read_bytes(), SAMPLE.name)
    later = dt.date(2026, 12, 3)
    shifted = [courses.parse_row(row) for _, row in moved(rows, later)]
    assert sum(1 for c in shifted if c["deadline"] >= later) >= 8
    assert all(c["starts_on"].weekday() == dt.date.fromisoformat(r["starts_on"]).weekday()
               for c, (_, r) in zip(shifted, rows, strict=True))
