"""A realistic demo set of vetted firms and their postings, generated from a fixed seed.

`python -m bot firms demo` loads it (the shell loads it by itself into an empty firm
table), `python -m bot firms demo --write FILE.json|.csv` writes it as an import file.
The same seed always gives the same firms, postings and references; deadlines are
placed around the day of generation so a fresh machine shows open postings, a few
already closed or past their deadline (never shown), and a few closing soon.

Every posting carries the job family it was drawn from (`family`): the labelled
evaluation set (`tests/data/matching_eval.json`) names relevant postings by reference,
and `tools/make_matching_eval.py` used the families to label them as a counselor would.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

import matching
from matching import geo
from storage.firm_import import parse_firm, parse_posting
from storage.firms import brn_check_digit

SEED = 127
FIRMS = 127
MIN_POSTINGS = 320


@dataclass(frozen=True)
class Family:
    titles: tuple[str, ...]
    duties: tuple[str, ...]
    required: tuple[str, ...]
    preferred: tuple[str, ...]
    education: tuple[str, ...]
    salary: tuple[int, int]  # 만원 a year, the range's lower and upper bounds for a newcomer
    industries: tuple[str, ...]


FAMILIES: dict[str, Family] = {
    "frontend": Family(("프런트엔드 개발자", "프론트엔드 개발자 (React)", "웹 프론트엔드 엔지니어",
                        "Front-end Developer"),
                       ("React 기반 웹 서비스 화면 개발", "사내 관리자 웹 화면 개발 및 유지보수"),
                       ("JavaScript", "React", "TypeScript", "HTML/CSS"), ("Figma", "Next.js", "Git"),
                       ("college", "university"), (3200, 4200), ("it",)),
    "backend": Family(("백엔드 개발자", "서버 개발자 (Java/Spring)", "웹 개발자 (백엔드)", "Backend Engineer"),
                      ("API 서버 설계 및 개발", "결제·주문 시스템 서버 개발 및 운영"),
                      ("Java", "Spring", "SQL", "Python"), ("AWS", "Docker", "Linux"),
                      ("college", "university"), (3400, 4500), ("it",)),
    "app": Family(("앱 개발자", "모바일 앱 개발자 (Android)", "iOS 앱 개발자", "Flutter 앱 개발자"),
                  ("자사 모바일 앱 기능 개발 및 배포", "고객용 안드로이드·iOS 앱 유지보수"),
                  ("Kotlin", "Swift", "Flutter"), ("Firebase", "Git"), ("college", "university"),
                  (3300, 4300), ("it",)),
    "data": Family(("데이터 분석가", "데이터 분석 담당자", "데이터 엔지니어", "BI 분석 담당"),
                   ("매출·고객 데이터 분석 및 리포트 작성", "데이터 파이프라인 구축 및 대시보드 운영"),
                   ("SQL", "Python", "엑셀"), ("Tableau", "통계", "머신러닝"), ("university", "graduate"),
                   (3500, 4600), ("it", "finance", "commerce")),
    "uiux": Family(("UI/UX 디자이너", "웹디자이너", "프로덕트 디자이너", "UX 디자이너 (앱 서비스)"),
                   ("앱·웹 서비스 화면 설계 및 디자인", "사용자 조사와 프로토타입 제작"),
                   ("Figma", "포토샵"), ("일러스트레이터", "HTML/CSS"), ("college", "university"),
                   (3000, 3800), ("it", "design", "commerce")),
    "design": Family(("그래픽 디자이너", "편집 디자이너", "패키지 디자이너", "시각 디자이너"),
                     ("제품 패키지 및 홍보물 디자인", "카탈로그·상세페이지 디자인"),
                     ("포토샵", "일러스트레이터"), ("인디자인", "영상편집"), ("high_school", "college"),
                     (2800, 3500), ("design", "food", "commerce", "manufacturing")),
    "video": Family(("영상 편집자", "영상 PD", "유튜브 영상 편집 담당", "콘텐츠 영상 제작"),
                    ("브랜드 유튜브 채널 영상 기획·편집", "제품 홍보 영상 촬영 및 편집"),
                    ("프리미어", "영상편집"), ("애프터이펙트", "포토샵"), ("high_school", "college"),
                    (2800, 3500), ("design", "commerce")),
    "marketing": Family(("마케팅 담당자", "디지털 마케터", "온라인 마케팅 담당", "콘텐츠 마케터", "퍼포먼스 마케터"),
                        ("SNS 채널 운영 및 광고 집행", "온라인 광고 성과 분석과 캠페인 기획"),
                        ("마케팅", "엑셀"), ("구글애널리틱스", "포토샵", "영어"), ("college", "university"),
                        (2900, 3700), ("commerce", "food", "it", "design", "education")),
    "accounting": Family(("경리 사무원", "회계 담당자", "재무회계 담당", "경리·총무"),
                         ("전표 처리, 세금계산서 발행, 급여 업무", "월 결산 및 부가세 신고 지원"),
                         ("전산회계", "엑셀"), ("더존", "ERP"), ("high_school", "college"),
                         (2700, 3300), ("manufacturing", "logistics", "commerce", "finance", "food", "construction")),
    "hr": Family(("인사 담당자", "인사총무 담당", "HR 매니저", "총무 담당자"),
                 ("채용, 4대보험, 근태 관리", "복리후생 운영 및 사내 행사 준비"),
                 ("엑셀",), ("노무관리", "ERP"), ("college", "university"), (2900, 3600),
                 ("manufacturing", "it", "commerce", "finance")),
    "office": Family(("사무보조", "일반 사무원", "행정 사무", "사무직 (문서 관리)"),
                     ("문서 작성 및 자료 정리, 전화 응대", "발주·재고 서류 관리 및 입력 업무"),
                     ("엑셀",), ("한글", "파워포인트"), ("high_school",), (2500, 3000),
                     ("manufacturing", "logistics", "construction", "welfare", "education", "finance")),
    "cs": Family(("고객상담원", "고객센터 상담", "CS 매니저", "콜센터 상담원"),
                 ("전화·채팅 고객 문의 응대", "주문·배송 문의 처리 및 불만 접수"),
                 (), ("엑셀", "영어"), ("high_school",), (2500, 3000), ("commerce", "it", "finance", "logistics")),
    "sales": Family(("영업 담당자", "기술영업", "B2B 영업 관리", "영업관리 사원"),
                    ("거래처 관리 및 신규 고객 발굴", "제품 견적·납품 관리"),
                    ("운전면허",), ("영어", "엑셀"), ("high_school", "college", "university"), (2800, 3800),
                    ("manufacturing", "it", "food", "construction", "commerce")),
    "production": Family(("생산관리 담당", "생산직 사원", "공정관리 담당자", "제조 현장 관리"),
                         ("생산 계획 수립 및 공정 관리", "제품 조립 및 생산 라인 운영"),
                         (), ("엑셀", "지게차"), ("high_school", "college"), (2700, 3400), ("manufacturing", "food")),
    "quality": Family(("품질관리 담당자", "QC 검사원", "품질보증 엔지니어", "품질관리 (QA)"),
                      ("입고·출하 검사 및 품질 문서 관리", "불량 원인 분석과 개선 활동"),
                      ("품질관리",), ("엑셀", "ISO9001"), ("high_school", "college", "university"), (2800, 3600),
                      ("manufacturing", "food")),
    "logistics": Family(("물류관리 담당", "물류센터 관리자", "입출고 관리", "SCM 담당자"),
                        ("입출고·재고 관리 및 배차", "물류센터 운영 및 협력사 관리"),
                        ("엑셀",), ("지게차", "ERP", "운전면허"), ("high_school", "college"), (2700, 3400),
                        ("logistics", "commerce", "manufacturing")),
    "mechanical": Family(("기계설계 엔지니어", "기구설계 담당", "CAD 설계 담당자", "설비 설계"),
                         ("자동화 설비 기구 설계", "도면 작성 및 부품 사양 검토"),
                         ("오토캐드",), ("솔리드웍스", "CATIA"), ("college", "university"), (3200, 4000),
                         ("manufacturing", "construction")),
    "electrical": Family(("전기·전자 엔지니어", "회로설계 엔지니어", "전기설비 기사", "전자부품 개발"),
                         ("제품 회로 설계 및 시험", "전기설비 유지보수 및 점검"),
                         ("전기기사",), ("회로설계", "PLC"), ("college", "university"), (3200, 4100),
                         ("manufacturing", "construction")),
    "care": Family(("요양보호사", "사회복지사", "돌봄 서비스 담당", "주간보호센터 요양보호사"),
                   ("어르신 일상생활 지원 및 돌봄", "복지 프로그램 운영 및 상담"),
                   ("요양보호사자격증",), ("운전면허", "사회복지사자격증"), ("high_school",), (2400, 3000),
                   ("welfare",)),
    "nursing": Family(("간호조무사", "병원 간호조무사", "의원 간호조무사 (데스크 겸)"),
                      ("외래 진료 보조 및 환자 안내", "검사 보조와 접수 업무"),
                      ("간호조무사자격증",), ("엑셀",), ("high_school",), (2500, 3100), ("welfare",)),
    "cook": Family(("조리사", "주방 조리원", "단체급식 조리사", "식품 생산 조리"),
                   ("단체급식 조리 및 위생 관리", "메뉴 개발 보조와 식자재 관리"),
                   ("조리기능사",), ("위생관리",), ("high_school",), (2400, 3000), ("food", "welfare")),
    "facility": Family(("시설관리 기사", "건물 시설관리", "기전 기사", "시설물 유지보수 담당"),
                       ("건물 전기·기계 설비 점검 및 보수", "냉난방 설비 운영과 시설 민원 처리"),
                       ("전기기능사",), ("공조냉동기계기능사", "운전면허"), ("high_school",), (2700, 3300),
                       ("construction", "logistics", "welfare")),
    "driver": Family(("배송기사", "납품 운전기사", "화물 배송 담당", "운전직 사원"),
                     ("거래처 납품 배송", "지정 경로 택배 배송 및 회수"),
                     ("운전면허",), ("지게차",), ("none", "high_school"), (2600, 3200),
                     ("logistics", "food", "commerce")),
    "security": Family(("경비원", "시설 보안 요원", "건물 경비 담당"),
                       ("출입 관리 및 순찰", "주차 관리와 방문객 안내"),
                       (), ("경비지도사", "운전면허"), ("none", "high_school"), (2300, 2800),
                       ("construction", "logistics")),
    "education": Family(("교육 강사", "코딩 강사", "교육기획 담당", "직업훈련 교사"),
                        ("청소년·성인 대상 강의 및 교안 작성", "교육 과정 기획과 수강생 관리"),
                        ("강의경력",), ("파이썬", "파워포인트"), ("college", "university"), (2800, 3600),
                        ("education",)),
    "it_support": Family(("IT 지원 담당", "전산 관리자", "헬프데스크 엔지니어", "시스템 관리 담당"),
                         ("사내 PC·네트워크 관리 및 장애 대응", "서버·계정 관리와 보안 점검"),
                         ("네트워크",), ("Linux", "정보처리기사"), ("college", "university"), (2900, 3700),
                         ("it", "finance", "manufacturing")),
    "planning": Family(("서비스 기획자", "사업기획 담당", "PM (프로젝트 매니저)", "상품 기획 담당"),
                       ("신규 서비스 기획 및 일정 관리", "시장 조사와 사업 계획 수립"),
                       ("기획",), ("엑셀", "파워포인트", "영어"), ("university",), (3300, 4300),
                       ("it", "commerce", "education")),
    "translation": Family(("해외영업 (영어)", "무역 사무 (중국어)", "통번역 담당"),
                          ("해외 거래처 메일·계약 대응", "수출입 서류 작성 및 통역 지원"),
                          ("영어",), ("중국어", "무역영어"), ("college", "university"), (3000, 3800),
                          ("commerce", "manufacturing")),
}

INDUSTRIES = ("it", "manufacturing", "logistics", "commerce", "finance", "design", "food", "welfare", "education",
              "construction")
INDUSTRY_WEIGHT = (24, 22, 10, 12, 6, 8, 10, 8, 6, 6)
# Where firms of each industry tend to be (others anywhere in Seoul).
INDUSTRY_DISTRICTS: dict[str, tuple[str, ...]] = {
    "it": ("gangnam", "seocho", "guro", "geumcheon", "mapo", "songpa", "seongdong", "yeongdeungpo"),
    "manufacturing": ("guro", "geumcheon", "seongdong", "yeongdeungpo", "gangseo", "jungnang", "dobong"),
    "logistics": ("gangseo", "songpa", "guro", "gwangjin", "jungnang"),
    "design": ("mapo", "seongdong", "jung", "jongno", "yongsan"),
    "finance": ("yeongdeungpo", "jung", "gangnam", "jongno"),
}
BENEFITS = ("youth_friendly", "flexible_hours", "housing_support", "remote_work", "meal_provided", "training_support",
            "commute_bus", "childcare_support", "middle_aged_friendly", "long_service_award")
EMPLOYMENT = ("full_time", "full_time", "full_time", "contract", "part_time", "intern")
HOURS = ("09:00-18:00", "08:30-17:30", "10:00-19:00", "09:00-18:00 (유연근무)", "교대 근무 (주 5일)")
NAME_HEADS = ("한빛", "새솔", "다온", "누리", "바른", "이음", "세움", "한결", "하늘", "온담", "미래", "그린", "청운",
              "대한", "서울", "한강", "아름", "가온", "보람", "솔빛", "우리", "제일", "동방", "태성", "현대", "신일")
NAME_TAILS = {
    "it": ("소프트", "테크", "시스템즈", "랩스", "솔루션", "데이터"),
    "manufacturing": ("정밀", "전자", "산업", "기계", "화학"),
    "logistics": ("로지스", "물류", "운송"), "commerce": ("커머스", "리테일", "상사", "마켓"),
    "finance": ("파트너스", "핀테크", "자산관리"), "design": ("디자인", "스튜디오", "크리에이티브"),
    "food": ("푸드", "식품", "F&B"), "welfare": ("케어", "복지센터", "헬스케어"),
    "education": ("에듀", "아카데미", "러닝"), "construction": ("건설", "엔지니어링", "종합건설"),
}
STREETS = ("로", "길", "대로")
MILESTONES = ("벤처기업 인증", "기업부설연구소 설립", "수출 100만 불 달성", "고용우수기업 선정", "ISO 9001 인증")


def _brn(rng: random.Random, taken: set[str]) -> str:
    while True:
        head = f"{rng.randint(101, 899)}{rng.choice((81, 86, 87, 88))}{rng.randint(0, 9999):04d}"
        number = head + str(brn_check_digit(head))
        if number not in taken:
            taken.add(number)
            return number


def _name(rng: random.Random, industry: str, taken: set[str]) -> str:
    name = ""
    for attempt in range(1000):
        name = rng.choice(("(주)", "주식회사 ", "")) + rng.choice(NAME_HEADS) + rng.choice(NAME_TAILS[industry])
        if attempt >= 20:
            name += str(attempt)  # large benchmark sets run out of plain names
        if name not in taken:
            break
    taken.add(name)
    return name


def _firm(rng: random.Random, i: int, today: dt.date, brns: set[str], names: set[str]) -> dict[str, Any]:
    industry = rng.choices(INDUSTRIES, INDUSTRY_WEIGHT)[0]
    district = rng.choice(INDUSTRY_DISTRICTS.get(industry) or geo.codes()) if rng.random() < 0.7 else \
        rng.choice(geo.codes())
    employees = int(rng.triangular(12, 300, 45))
    founded = rng.randint(1985, today.year - 4)
    vetted = today - dt.timedelta(days=rng.randint(20, 900))
    benefits = {b for b in BENEFITS if rng.random() < 0.35}
    if rng.random() < 0.45:
        benefits.add("youth_friendly")
    return {
        "brn": _brn(rng, brns),
        "name": _name(rng, industry, names),
        "industry": industry,
        "district": geo.korean(district),
        "address": f"서울특별시 {geo.korean(district)} {rng.choice(NAME_HEADS)}{rng.choice(STREETS)} "
                   f"{rng.randint(1, 300)}",
        "founded_year": founded,
        "employees": employees,
        "revenue": int(employees * rng.uniform(90, 420)),  # 백만원
        "programme": "서울형 강소기업",
        "vetted_on": vetted.isoformat(),
        "vetting_expires": (vetted + dt.timedelta(days=730)).isoformat(),
        "benefits": "|".join(b for b in BENEFITS if b in benefits),
        "website": f"https://www.firm{i + 1:03d}.co.kr",
        "history": f"{founded}년 설립 · {today.year - rng.randint(1, 3)}년 {rng.choice(MILESTONES)}",
    }


def _posting(rng: random.Random, firm_no: int, firm: dict[str, Any], family_name: str, n: int,
             today: dt.date) -> dict[str, Any]:
    fam = FAMILIES[family_name]
    exp_min = rng.choice((0, 0, 0, 1, 2, 3, 5))
    exp_max = None if rng.random() < 0.4 else exp_min + rng.choice((2, 3, 5, 10))
    low, high = fam.salary
    bump = exp_min * rng.randint(100, 250)
    salary_min = (low + bump) // 100 * 100
    salary_max = (max(high, low + 400) + bump + rng.randint(0, 6) * 100) // 100 * 100
    required = rng.sample(fam.required, k=min(len(fam.required), rng.randint(1, 3))) if fam.required else []
    preferred = rng.sample(fam.preferred, k=min(len(fam.preferred), rng.randint(0, 2)))
    district = firm["district"] if rng.random() < 0.85 else geo.korean(rng.choice(geo.codes()))
    deadline = today + dt.timedelta(days=rng.randint(-10, 60))
    status = "closed" if rng.random() < 0.05 else "open"
    return {
        "ref": f"SJP-{firm_no:03d}-{n:02d}",
        "brn": firm["brn"],
        "title": rng.choice(fam.titles),
        "duties": rng.choice(fam.duties),
        "required_skills": "|".join(required),
        "preferred_skills": "|".join(preferred),
        "min_education": rng.choice(fam.education),
        "exp_min": exp_min,
        "exp_max": "" if exp_max is None else exp_max,
        "employment_type": rng.choice(EMPLOYMENT),
        "salary_min": "" if rng.random() < 0.08 else salary_min,
        "salary_max": "" if rng.random() < 0.08 else salary_max,
        "district": district,
        "hours": rng.choice(HOURS),
        "deadline": "" if rng.random() < 0.1 else deadline.isoformat(),
        "status": status,
        "family": family_name,
    }


def generate(today: dt.date, *, firms: int = FIRMS, min_postings: int = MIN_POSTINGS,
             seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    """{"firms": [...], "postings": [...]} in the import format (`storage.firm_import`)."""
    rng = random.Random(seed)
    brns: set[str] = set()
    names: set[str] = set()
    firm_rows = [_firm(rng, i, today, brns, names) for i in range(firms)]
    # A firm mostly hires for its own trade (a software firm: developers), sometimes for office work.
    by_industry = {ind: [f for f, fam in FAMILIES.items() if ind in fam.industries] for ind in INDUSTRIES}
    weights = {ind: [3 if FAMILIES[f].industries[0] == ind else 1 for f in fams] for ind, fams in by_industry.items()}
    postings: list[dict[str, Any]] = []
    counts = dict.fromkeys(range(firms), 0)
    rounds = 0
    while len(postings) < min_postings or rounds == 0:
        for i, firm in enumerate(firm_rows):
            if rounds == 0 or rng.random() < 0.5:
                counts[i] += 1
                family = rng.choices(by_industry[firm["industry"]], weights[firm["industry"]])[0]
                postings.append(_posting(rng, i + 1, firm, family, counts[i], today))
                if len(postings) >= min_postings and rounds > 0:
                    break
        rounds += 1
    return {"firms": firm_rows, "postings": postings}


def views(today: dt.date, **kwargs: Any) -> list[tuple[str, str, matching.Posting]]:
    """(reference, job family, scorer's view) of every generated posting, numbered from 1, without a database.

    The rows go through the importer's own checks (`firm_import.parse_*`), so what is
    scored here is what an import would store.
    """
    data = generate(today, **kwargs)

    def stringify(row: dict[str, Any]) -> dict[str, str]:
        return {k: "" if v is None else str(v) for k, v in row.items()}

    benefits = {brn: tuple(values["benefits"]) for brn, values in
                (parse_firm(stringify(f), today) for f in data["firms"])}
    out = []
    for number, row in enumerate(data["postings"], start=1):
        ref, brn, values = parse_posting(stringify(row))
        out.append((ref, row["family"], matching.Posting(
            id=number, title=values["title"], duties=values["duties"],
            required_skills=tuple(values["required_skills"]), preferred_skills=tuple(values["preferred_skills"]),
            min_education=values["min_education"], exp_min=values["exp_min"], exp_max=values["exp_max"],
            salary_min=values["salary_min"], salary_max=values["salary_max"], district=values["district"],
            deadline=values["deadline"], is_open=values["status"] == "open", benefits=benefits[brn],
            employment_type=values["employment_type"])))
    return out
