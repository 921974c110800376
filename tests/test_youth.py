"""Students, campus branches and partner schools, as a student and a branch counselor meet them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from handlers.campus import BookCoaching
from storage import campuses, counselors, users
from storage.models import AuditEntry, SeekerProfile
from tests.conftest import Chat, Harness

BRANCH_COUNSELOR = 810


async def _profile(h: Harness) -> SeekerProfile:
    async with h.sessions() as s:
        return (await s.scalars(select(SeekerProfile))).one()


async def register_student(chat: Chat, school: str = "연세대", *, kind: str = "대학교",
                           districts: tuple[str, ...] = ("서대문구",), graduation: str = "2027년 2월") -> None:
    await chat.send("/register")
    await chat.press("동의합니다")
    for text in ("박연세", "2004"):
        await chat.send(text)
    await chat.press("청년층")
    await chat.press(kind)
    await chat.send(school)
    await chat.send("마케팅")
    await chat.send("엑셀")
    for district in districts:
        await chat.press(district)
    await chat.press("선택 완료")
    await chat.press("재학·휴학")
    assert "재학·휴학 중인 과정" in chat.text
    await chat.press("추천")  # the degree suggested from the school
    await chat.send(graduation)
    await chat.press("신입")
    await chat.press("건너뛰기")
    await chat.press("건너뛰기")
    await chat.press("제출")
    assert "구직등록이 완료" in chat.text, chat.text


async def seed_branch(h: Harness, place_kind: str = "campus", place_name: str = "연세대학교 캠퍼스점",
                      weekday: int = 1) -> dict[str, Any]:
    """A counselor at the branch on one weekday afternoon and at the centre on Mondays; a partner
    특성화고 has visiting hours too (offered to its own students only)."""
    now = h.clock.now()
    async with h.sessions() as s, s.begin():
        user, _ = await users.identify(s, "telegram", str(BRANCH_COUNSELOR), str(BRANCH_COUNSELOR), "ko", now)
        c = await counselors.create(s, user.id, "정하늘", ["job_counselling", "document_clinic"], now)
        branch = await counselors.place(s, place_kind, place_name)
        centre = await counselors.place(s, "centre", "서울일자리플러스센터")
        school = await counselors.place(s, "high_school", "서울디지텍고등학교")
        await counselors.add_window(s, c.id, centre.id, 0, 9 * 60, 12 * 60)
        await counselors.add_window(s, c.id, branch.id, weekday, 13 * 60, 17 * 60)
        await counselors.add_window(s, c.id, school.id, 4, 14 * 60, 16 * 60)
        return {"counselor": c.id, "branch": branch.id}


async def test_a_student_gives_the_degree_in_progress_and_graduation(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("/register")
    await chat.press("동의합니다")
    for text in ("박연세", "2004"):
        await chat.send(text)
    await chat.press("청년층")
    await chat.press("대학교")
    await chat.send("연세대")
    await chat.send("마케팅")
    await chat.send("엑셀")
    await chat.press("서대문구")
    await chat.press("선택 완료")
    await chat.press("재학·휴학")
    # Suggested from the school kind: a university student studies for a 학사.
    assert any("학사" in label and "추천" in label for label in chat.last_buttons), chat.last_buttons
    await chat.press("추천")
    await chat.send("2020-02")  # in the past: a student has not graduated yet
    assert "이번 달이나 그 뒤로" in chat.text
    await chat.send("내년 봄")
    assert "2027-02" in chat.text  # the format is explained
    await chat.send("27년 2월")
    await chat.press("신입")
    await chat.press("건너뛰기")
    await chat.press("건너뛰기")
    assert "재학 과정: 학사" in chat.text and "졸업 예정: 2027년 2월" in chat.text, chat.text
    await chat.press("제출")
    assert "연세대학교 캠퍼스점과 연결했어요" in chat.text
    profile = await _profile(harness)
    assert (profile.education, profile.degree, profile.graduation) == ("enrolled", "university", "2027-02")
    assert profile.school_code == "yonsei"  # 연세대 is the 연세대학교 campus branch


async def test_a_graduate_is_not_asked_about_studies(harness: Harness) -> None:
    chat = harness.chat(2)
    await register_student(chat)
    await chat.send("/profile")
    await chat.press("수정")
    await chat.press("학력")
    await chat.press("4년제")
    # The summary again: the student's questions are gone with the education that asked them.
    assert "재학 과정" not in chat.text and "졸업 예정" not in chat.text, chat.text
    await chat.press("제출")
    profile = await _profile(harness)
    assert (profile.education, profile.degree, profile.graduation) == ("university", None, None)


async def test_booking_offers_the_students_campus_branch_first(harness: Harness) -> None:
    await seed_branch(harness)
    chat = harness.chat(3)
    await register_student(chat)
    await chat.send("/book")
    await chat.press("취업상담")
    labels = list(chat.last_buttons)
    assert labels[0] == "연세대학교 캠퍼스점 (내 학교)", labels
    # A 연세대 student is not offered a partner high school's visiting hours.
    assert not any("고등학교" in label for label in labels)
    await chat.press("내 학교")
    assert any("3/3" in label for label in chat.last_buttons)  # Tuesday, the branch's day


async def test_campus_shows_the_branch_its_days_and_next_free_times(harness: Harness) -> None:
    await seed_branch(harness)
    chat = harness.chat(4)
    await register_student(chat, "연세대학교")
    await chat.send("/campus")
    assert "연세대학교 캠퍼스점" in chat.text and "서대문구" in chat.text
    assert "상담일: 매주 화" in chat.text and "정하늘" in chat.text
    assert "가장 빠른 상담 가능 시간" in chat.text and "13:00" in chat.text
    await chat.press("이곳에서 상담 예약")
    assert "어떤 상담" in chat.text


async def test_an_unknown_school_gets_the_nearest_branches(harness: Harness) -> None:
    chat = harness.chat(5)
    await register_student(chat, "한국미래대학교", districts=("마포구",))
    assert "적어 주신 학교에는 캠퍼스점이 없어요" in chat.text
    assert (await _profile(harness)).school_code is None
    await chat.send("/campus")
    assert "‘한국미래대학교’에는 캠퍼스점이 없어요" in chat.text
    assert "서강대학교" in chat.text and "홍익대학교" in chat.text  # in 마포구
    assert "✏️ 학교 이름 고치기" in chat.last_buttons


async def test_a_partner_school_student_books_from_the_school_visit_hours(harness: Harness) -> None:
    await seed_branch(harness)
    chat = harness.chat(6)
    await register_student(chat, "서울디지텍고", kind="특성화고", districts=("용산구",), graduation="2027-02")
    profile = await _profile(harness)
    assert profile.school_code == "hs-yongsan-1" and profile.degree == "high_school"
    await chat.send("/book")
    await chat.press("취업상담")
    assert next(iter(chat.last_buttons)) == "서울디지텍고등학교 (내 학교)"


async def test_branch_staff_see_their_campus_students(harness: Harness) -> None:
    await seed_branch(harness)
    await register_student(harness.chat(7))
    staff = harness.chat(BRANCH_COUNSELOR)
    await staff.send("/campus")
    assert "연세대학교 캠퍼스점" in staff.text and "연결된 학생 1명" in staff.text
    assert "박연세 · 학사 · 졸업 예정 2027-02" in staff.text
    async with harness.sessions() as s:
        entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "campus.students_viewed"))).one()
        assert entry.subject == "campus:yonsei"


def test_the_directory_has_the_reports_branches_and_resolves_what_people_type() -> None:
    found = campuses.directory()
    assert len(found.campuses()) == 22
    schools = [b for b in found.branches if b.kind == "high_school"]
    assert len(schools) == 50 and len({b.district for b in schools}) == 25  # two per district
    for typed in ("연대", "연세대", "Yonsei", "연세 대학교", "연새대학교"):
        branch = found.resolve(typed)
        assert branch is not None and branch.code == "yonsei", typed
    assert found.resolve("하버드") is None
    assert found.resolve("") is None


async def test_a_partner_school_student_books_the_three_coaching_sessions_in_order(harness: Harness) -> None:
    await seed_branch(harness)
    chat = harness.chat(9)
    await register_student(chat, "서울디지텍고등학교", kind="특성화고", districts=("용산구",), graduation="2027-02")
    await chat.send("/campus")
    assert "1:1 취업 코칭 3회 패키지: 0/3 완료" in chat.text and "⬜ 1. 진로 탐색" in chat.text
    assert not any("2회차" in label for label in chat.last_buttons)
    await chat.press("코칭 1회차 예약")
    # The form opens at the school with the type set: the school's visiting day (Friday) is offered.
    await chat.press("3/6")
    if "시간을 골라" in chat.text:
        await chat.press("14:00")
    await chat.press("건너뛰기")
    assert "서울디지텍고등학교 (내 학교)" in chat.text, chat.text
    await chat.press("제출")
    assert "예약되었어요" in chat.text
    await chat.send("/campus")
    assert "📅 1. 진로 탐색" in chat.text and "코칭 2회차 예약: 서류" in " ".join(chat.last_buttons)
    # Pressing an old button for step 1 again books nothing twice.
    await chat.press_payload(BookCoaching(1).pack())
    assert "순서대로" in chat.text
    harness.clock.advance(days=5)  # the session on Friday is over
    await chat.send("/campus")
    assert "1/3 완료" in chat.text and "✅ 1. 진로 탐색" in chat.text
