"""Write the labelled matching evaluation set, tests/data/matching_eval.json.

    python tools/make_matching_eval.py

The seekers below are written by hand the way people fill in the registration form
(spelling variants, English, spacing, role endings). Each names the job families a
counselor would consider for them. A posting of the demo set (`storage.demo`, fixed
seed, generated for TODAY) is labelled relevant the way a counselor screens: one of
those families, open on TODAY, in a preferred or neighbouring district (or anywhere
when none is preferred), the minimum education met, and at most one year short of the
experience asked. The labels use the generator's families, never the scorer, so the
set measures the scorer rather than agreeing with it by construction.

Students (재학·휴학: university and 특성화고) are labelled the way a campus-branch counselor
screens for them: the families, the district rule, the degree in progress met when they
graduate within the window (`matching.student_education`), and only postings that take
people without experience (신입) or are internships.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching import geo
from matching.evaluate import STUDENT_WINDOW
from matching.score import education_met, months_until, student_education
from storage.demo import SEED, views

TODAY = dt.date(2026, 3, 2)
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "matching_eval.json"

# desired jobs, skills, districts, education, years, salary (만원), track, families
SEEKERS: list[tuple[list[str], list[str], list[str], str, int, int | None, str, list[str]]] = [
    (["웹 개발"], ["Python", "SQL"], ["mapo", "seodaemun"], "university", 2, 3000, "youth", ["frontend", "backend"]),
    (["프런트엔드 개발자"], ["JavaScript", "React"], [], "university", 1, 3500, "youth", ["frontend"]),
    (["front-end developer"], ["javascript", "typescript"], ["gangnam", "seocho"], "college", 0, None, "youth",
     ["frontend"]),
    (["백엔드"], ["Java", "Spring"], ["guro", "geumcheon"], "university", 3, 4000, "youth", ["backend"]),
    (["서버 개발자"], ["자바", "SQL"], [], "college", 0, 3200, "youth", ["backend"]),
    (["앱 개발자"], ["Kotlin"], [], "university", 1, None, "youth", ["app"]),
    (["모바일 개발"], ["Flutter", "Swift"], ["gangnam"], "university", 2, 3800, "youth", ["app"]),
    (["데이터 분석가"], ["SQL", "파이썬"], ["yeongdeungpo", "jung"], "graduate", 0, 3500, "youth", ["data"]),
    (["data analyst"], ["excel", "sql"], [], "university", 1, None, "youth", ["data"]),
    (["UI/UX 디자이너"], ["Figma"], ["mapo", "seongdong"], "university", 1, 3000, "youth", ["uiux"]),
    (["웹디자이너"], ["포토샵", "Figma"], [], "college", 0, 2800, "youth", ["uiux"]),
    (["그래픽 디자인"], ["포토샵", "일러스트"], ["jung", "jongno"], "college", 2, None, "youth", ["design"]),
    (["편집디자이너"], ["Illustrator"], [], "high_school", 3, 3000, "middle", ["design"]),
    (["영상 편집"], ["프리미어"], ["mapo"], "college", 0, None, "youth", ["video"]),
    (["유튜브 편집자"], ["영상편집"], [], "high_school", 1, 2600, "youth", ["video"]),
    (["마케팅"], ["엑셀", "마케팅"], ["gangnam", "songpa"], "university", 1, 3200, "youth", ["marketing"]),
    (["디지털 마케터"], ["구글애널리틱스"], [], "university", 3, 3800, "youth", ["marketing"]),
    (["SNS 마케팅"], [], ["mapo", "yongsan"], "college", 0, None, "youth", ["marketing"]),
    (["경리"], ["전산회계", "엑셀"], ["guro"], "high_school", 5, 3000, "middle", ["accounting"]),
    (["회계 사무"], ["더존"], [], "college", 2, None, "youth", ["accounting"]),
    (["재무회계 담당"], ["ERP", "엑셀"], ["yeongdeungpo", "gangseo"], "university", 8, 4000, "middle", ["accounting"]),
    (["인사 총무"], ["엑셀"], [], "university", 2, 3200, "youth", ["hr"]),
    (["HR"], [], ["jung", "jongno", "yongsan"], "university", 10, 4500, "middle", ["hr"]),
    (["사무보조"], ["엑셀", "한글"], ["nowon", "dobong"], "high_school", 0, 2500, "youth", ["office"]),
    (["일반 사무직"], ["엑셀"], [], "high_school", 15, 2800, "middle", ["office"]),
    (["고객상담"], [], ["guro", "gwanak"], "high_school", 1, 2600, "middle", ["cs"]),
    (["콜센터 상담원"], ["엑셀"], [], "high_school", 0, None, "youth", ["cs"]),
    (["영업"], ["운전면허"], ["songpa", "gangdong"], "high_school", 5, 3500, "middle", ["sales"]),
    (["기술영업"], ["영어"], [], "university", 2, 3600, "youth", ["sales"]),
    (["생산관리"], ["엑셀"], ["geumcheon", "guro"], "college", 4, 3200, "middle", ["production"]),
    (["품질관리 QC"], ["품질관리"], [], "college", 1, 3000, "youth", ["quality"]),
    (["물류 관리"], ["지게차", "엑셀"], ["gangseo"], "high_school", 6, 3200, "middle", ["logistics"]),
    (["입출고 관리"], [], ["songpa", "gwangjin"], "high_school", 0, None, "youth", ["logistics"]),
    (["기계 설계"], ["AutoCAD"], [], "university", 3, 3800, "youth", ["mechanical"]),
    (["CAD 설계"], ["오토캐드", "솔리드웍스"], ["guro", "geumcheon", "yeongdeungpo"], "college", 12, 4500, "middle",
     ["mechanical"]),
    (["전기 기사"], ["전기기사"], [], "college", 5, 3800, "middle", ["electrical", "facility"]),
    (["요양보호사"], ["요양보호사자격증"], [], "high_school", 2, 2500, "middle", ["care"]),
    (["간호조무사"], ["간호조무사자격증"], [], "high_school", 1, 2600, "youth", ["nursing"]),
    (["조리사"], ["조리기능사"], [], "high_school", 8, 2800, "middle", ["cook"]),
    (["주방"], [], ["mapo", "seodaemun", "eunpyeong"], "high_school", 0, None, "youth", ["cook"]),
    (["시설 관리"], ["전기기능사", "운전면허"], [], "high_school", 20, 3000, "middle", ["facility"]),
    (["배송 기사"], ["운전면허"], ["gangseo", "yangcheon", "guro"], "high_school", 3, 3000, "middle", ["driver"]),
    (["운전"], ["1종보통"], [], "high_school", 10, 2800, "middle", ["driver"]),
    (["경비"], [], [], "high_school", 25, 2500, "middle", ["security"]),
    (["코딩 강사"], ["파이썬"], [], "university", 2, 3000, "youth", ["education"]),
    (["IT 헬프데스크"], ["네트워크"], [], "college", 1, 2900, "youth", ["it_support"]),
    (["전산 관리"], ["Linux"], ["jung", "yeongdeungpo"], "university", 6, 3800, "middle", ["it_support"]),
    (["서비스 기획"], ["기획"], [], "university", 2, 3600, "youth", ["planning"]),
    (["무역 사무"], ["중국어"], [], "university", 1, 3200, "youth", ["translation"]),
    (["통번역"], ["영어", "일본어"], ["jongno", "jung"], "university", 4, 3600, "middle", ["translation"]),
    (["웹 개발자", "데이터 분석"], ["Python", "SQL", "React"], [], "university", 0, 3000, "youth",
     ["frontend", "backend", "data"]),
    (["경리", "사무보조"], ["엑셀"], ["dongdaemun", "jungnang"], "high_school", 3, 2700, "middle",
     ["accounting", "office"]),
]

# Enrolled students: desired jobs, skills, districts, degree in progress, expected graduation, salary,
# families. University students (학사, 전문학사, 석사) and 특성화고 students (고졸 예정).
STUDENTS: list[tuple[list[str], list[str], list[str], str, str, int | None, list[str]]] = [
    (["마케팅"], ["엑셀"], ["seodaemun"], "university", "2027-02", None, ["marketing"]),
    (["디지털 마케터"], ["SNS"], ["mapo", "seodaemun"], "university", "2026-08", 3000, ["marketing"]),
    (["웹 개발"], ["JavaScript", "React"], [], "university", "2027-02", None, ["frontend", "backend"]),
    (["백엔드 개발자"], ["Java"], ["guro", "geumcheon"], "university", "2026-08", 3200, ["backend"]),
    (["데이터 분석"], ["Python", "SQL"], [], "graduate", "2027-02", 3500, ["data"]),
    (["UI/UX 디자인"], ["Figma"], ["seongdong", "gwangjin"], "university", "2027-02", None, ["uiux"]),
    (["인사"], ["엑셀"], [], "university", "2026-08", None, ["hr"]),
    (["회계"], ["전산회계"], ["yeongdeungpo"], "college", "2027-02", None, ["accounting"]),
    (["기계 설계"], ["AutoCAD"], [], "college", "2026-08", None, ["mechanical"]),
    (["영상 편집"], ["프리미어"], ["mapo", "yongsan"], "college", "2027-02", None, ["video"]),
    (["간호조무사"], [], [], "college", "2027-02", None, ["nursing"]),
    (["앱 개발"], ["Kotlin"], [], "university", "2027-08", None, ["app"]),
    (["기술영업"], ["영어"], [], "university", "2027-02", None, ["sales"]),
    # 특성화고 (vocational high school) students graduate in February.
    (["사무보조"], ["한글", "엑셀"], ["nowon"], "high_school", "2027-02", None, ["office"]),
    (["전기"], ["전기기능사"], [], "high_school", "2027-02", None, ["electrical", "facility"]),
    (["조리"], ["조리기능사"], [], "high_school", "2027-02", None, ["cook"]),
    (["웹디자인"], ["포토샵"], [], "high_school", "2027-02", None, ["uiux", "design"]),
    (["생산직"], [], ["guro", "geumcheon"], "high_school", "2027-02", None, ["production", "quality"]),
    (["물류"], [], [], "high_school", "2027-02", None, ["logistics"]),
    (["고객 상담"], [], [], "high_school", "2027-02", None, ["cs"]),
]


def _students(postings: list[tuple[str, str, object]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for n, (jobs, skills, districts, degree, graduation, salary, families) in enumerate(STUDENTS, start=1):
        area = set(districts) | {near for d in districts for near in geo.neighbours(d)}
        education = student_education(degree, months_until(TODAY, graduation), STUDENT_WINDOW)
        relevant = [ref for ref, family, p in postings  # type: ignore[attr-defined]
                    if family in families and p.shown_on(TODAY) and (not districts or p.district in area)
                    and education_met(education, p.min_education)
                    and (p.exp_min == 0 or p.employment_type == "intern")]
        if not relevant:
            continue
        out.append({"id": f"st{n:02d}", "families": families, "relevant": relevant, "profile": {
            "desired_jobs": jobs, "skills": skills, "districts": districts, "education": "enrolled",
            "degree": degree, "graduation": graduation, "experience_years": 0, "desired_salary": salary,
            "track": "youth"}})
    return out


def main() -> None:
    postings = views(TODAY)
    out = []
    for n, (jobs, skills, districts, education, years, salary, track, families) in enumerate(SEEKERS, start=1):
        area = set(districts) | {near for d in districts for near in geo.neighbours(d)}
        relevant = [ref for ref, family, p in postings
                    if family in families and p.shown_on(TODAY) and (not districts or p.district in area)
                    and education_met(education, p.min_education) and years >= p.exp_min - 1]
        if not relevant:
            continue
        out.append({"id": f"s{n:02d}", "families": families, "relevant": relevant, "profile": {
            "desired_jobs": jobs, "skills": skills, "districts": districts, "education": education,
            "experience_years": years, "desired_salary": salary, "track": track}})
    students = _students(postings)  # type: ignore[arg-type]
    out += students
    data = {"about": "Labelled seekers for matching quality; written by tools/make_matching_eval.py",
            "demo_seed": SEED, "today": TODAY.isoformat(), "seekers": out}
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(out)} seekers with relevant postings (of {len(SEEKERS) + len(STUDENTS)}), "
          f"{len(students)} of them students")


if __name__ == "__main__":
    main()
