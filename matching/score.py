"""Scoring a posting for a seeker: 0–100, with the reasons in words a counselor would use.

Seven parts, each between 0 and 1, weighted by the seeker's track the way public
employment services weigh them (`WEIGHTS`): for the youth track (청년층) the desired job
weighs most; for the middle-aged track (중장년층) district and salary weigh more. Students
(재학·휴학) have weights of their own with an eighth part, entry, that puts internships
(인턴, 현장실습) and new-graduate postings (신입) first; their education is the degree in
progress when they graduate soon enough (`student_education`), so a 학사 student a term from
graduating is not scored as a high-school leaver.

* job: the best fuzzy match (rapidfuzz `partial_ratio` on `text.key`s) of a desired job
  against the title, or against the duties at 80 %; 50 or less counts nothing.
* skills: the share of required skills the seeker has (70 %) and of preferred ones (30 %).
* district: a preferred district 1, a neighbouring one 0.5, "anywhere" 0.7, else 0.
* education: met or not; an unmet minimum also halves the total (a counselor would not refer).
* experience: inside the range 1; short by n years 1 − n/3; over the range gently less.
* salary: the posting's top of range reaches the desired salary 1, 30 % short 0.
* track: a youth-friendly firm for the youth track, a middle-aged-friendly one for the other.
* entry (students only): an internship 1, a posting open to newcomers (no experience asked) 0.7.

`score_pair` is the plain per-pair reference, also used for the reasons of the few
postings shown. `PostingIndex` computes the same numbers for many postings at once
(numpy arrays, one `process.cdist` call per seeker, or one for all seekers in
`rank_all`); tests check both agree.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from matching import geo
from matching.text import key

PARTS = ("job", "skills", "district", "education", "experience", "salary", "track", "entry")
WEIGHTS: dict[str, dict[str, float]] = {
    "youth": {"job": 0.40, "skills": 0.20, "district": 0.12, "education": 0.05, "experience": 0.08,
              "salary": 0.07, "track": 0.08, "entry": 0.0},
    "middle": {"job": 0.25, "skills": 0.12, "district": 0.22, "education": 0.04, "experience": 0.12,
               "salary": 0.18, "track": 0.07, "entry": 0.0},
    # A student has no experience to weigh and rarely a salary to hold out for; what fits them is
    # a posting that takes people who are still studying or just graduated.
    "student": {"job": 0.36, "skills": 0.14, "district": 0.12, "education": 0.05, "experience": 0.05,
                "salary": 0.05, "track": 0.08, "entry": 0.15},
}
EDUCATION_LEVEL = {"none": 0, "high_school": 1, "enrolled": 1, "college": 2, "university": 3, "graduate": 4}
# What a student holds before the degree in progress is awarded.
HELD_BEFORE = {"high_school": "none", "college": "high_school", "university": "high_school",
               "graduate": "university"}
INTERNSHIP_WORDS = ("인턴", "현장실습", "intern")
NEWCOMER_WORDS = ("신입",)
TRACK_BENEFIT = {"youth": "youth_friendly", "middle": "middle_aged_friendly"}
DUTIES_FACTOR = 0.8
JOB_FLOOR = 50.0  # partial_ratio at or below this is no resemblance at all
UNMET_EDUCATION_FACTOR = 0.5
MAX_REASONS = 3


@dataclass(frozen=True)
class Seeker:
    track: str
    desired_jobs: tuple[str, ...]
    skills: tuple[str, ...]
    districts: tuple[str, ...]  # empty: anywhere in Seoul
    education: str
    experience_years: int
    desired_salary: int | None  # 만원 a year
    # Enrolled or on leave (재학·휴학): the student weights apply; `education` is already the level
    # `student_education` gave.
    student: bool = False


def student_education(degree: str | None, months_left: int | None, window: int) -> str:
    """The education a student is scored at: the degree in progress when it is awarded within
    `window` months (employers take final-year students), else what they already hold."""
    if degree not in HELD_BEFORE:
        return "high_school"
    if months_left is not None and months_left <= window:
        return degree
    return HELD_BEFORE[degree]


def months_until(today: dt.date, month: str | None) -> int | None:
    """Whole months from `today`'s month to `month` ("YYYY-MM"); None when unknown."""
    if not month:
        return None
    year, mon = map(int, month.split("-"))
    return (year - today.year) * 12 + mon - today.month


@dataclass(frozen=True)
class Posting:
    id: int
    title: str
    duties: str
    required_skills: tuple[str, ...]
    preferred_skills: tuple[str, ...]
    min_education: str
    exp_min: int
    exp_max: int | None
    salary_min: int | None
    salary_max: int | None
    district: str
    deadline: dt.date | None
    is_open: bool
    benefits: tuple[str, ...]  # the firm's benefit tags
    employment_type: str = "full_time"  # full_time | contract | part_time | intern

    def shown_on(self, today: dt.date) -> bool:
        """Closed or past-deadline postings are never shown."""
        return self.is_open and (self.deadline is None or self.deadline >= today)


@dataclass(frozen=True)
class Reason:
    """One reason in words: `code` names the catalog text (`jobs.reason.<code>`), `params` fill it."""

    code: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Match:
    posting_id: int
    score: int
    reasons: tuple[Reason, ...]
    parts: dict[str, float] = field(compare=False, default_factory=dict)


@dataclass(frozen=True)
class _Keys:
    title: str
    duties: str
    required: tuple[str, ...]
    preferred: tuple[str, ...]


@lru_cache(maxsize=50_000)
def _posting_keys(p: Posting) -> _Keys:
    return _Keys(key(p.title), key(p.duties), tuple(key(s) for s in p.required_skills),
                 tuple(key(s) for s in p.preferred_skills))


@dataclass(frozen=True)
class _SeekerKeys:
    jobs: tuple[str, ...]
    skills: frozenset[str]
    districts: frozenset[str]
    near: frozenset[str]


@lru_cache(maxsize=20_000)
def _seeker_keys(s: Seeker) -> _SeekerKeys:
    districts = frozenset(s.districts)
    near = frozenset().union(*(geo.neighbours(d) for d in districts)) - districts if districts else frozenset()
    return _SeekerKeys(tuple(k for k in (key(j) for j in s.desired_jobs) if k),
                       frozenset(k for k in (key(x) for x in s.skills) if k), districts, near)


# --- the parts, one pair at a time (the reference) ---------------------------------------


def _job_similarity(jobs: Sequence[str], k: _Keys) -> tuple[float, int]:
    """Best similarity 0–100 and the index of the desired job that gave it."""
    best, which = 0.0, -1
    for i, job in enumerate(jobs):
        sim = max(fuzz.partial_ratio(job, k.title), DUTIES_FACTOR * fuzz.partial_ratio(job, k.duties))
        if sim > best:
            best, which = sim, i
    return best, which


def job_part(similarity: float) -> float:
    return max(0.0, min(1.0, (similarity - JOB_FLOOR) / (100.0 - JOB_FLOOR)))


def skills_part(have: frozenset[str], required: Sequence[str], preferred: Sequence[str]) -> float:
    req, pref = set(required), set(preferred)
    cov_r = len(req & have) / len(req) if req else 0.0
    cov_p = len(pref & have) / len(pref) if pref else 0.0
    if req and pref:
        return 0.7 * cov_r + 0.3 * cov_p
    if req:
        return cov_r
    if pref:
        return 0.5 + 0.5 * cov_p
    return 0.5


def district_part(districts: frozenset[str], near: frozenset[str], district: str) -> float:
    if not districts:
        return 0.7
    if district in districts:
        return 1.0
    return 0.5 if district in near else 0.0


def experience_part(years: int, low: int, high: int | None) -> float:
    if years < low:
        return max(0.0, 1.0 - (low - years) / 3.0)
    if high is not None and years > high:
        return max(0.4, 1.0 - (years - high) / 10.0)
    return 1.0


def salary_part(desired: int | None, top: int | None) -> float:
    if desired is None:
        return 0.7
    if top is None:
        return 0.6  # "회사 내규에 따름": unknown, neither good nor bad
    if top >= desired:
        return 1.0
    return max(0.0, 1.0 - (desired - top) / (0.3 * desired))


def entry_part(p: Posting) -> float:
    title = p.title.lower()
    if p.employment_type == "intern" or any(w in title for w in INTERNSHIP_WORDS):
        return 1.0
    if p.exp_min == 0 or any(w in title for w in NEWCOMER_WORDS):
        return 0.7
    return 0.0


def weights_for(seeker: Seeker) -> dict[str, float]:
    return WEIGHTS["student"] if seeker.student else WEIGHTS.get(seeker.track, WEIGHTS["youth"])


def education_met(seeker: str, minimum: str) -> bool:
    return EDUCATION_LEVEL.get(seeker, 0) >= EDUCATION_LEVEL.get(minimum, 0)


def _total(parts: dict[str, float], weights: dict[str, float], met: bool) -> int:
    total = sum(weights[p] * parts[p] for p in PARTS) * (1.0 if met else UNMET_EDUCATION_FACTOR)
    return max(0, min(100, math.floor(100 * total + 0.5)))


def score_pair(seeker: Seeker, posting: Posting) -> Match:
    """The score and reasons for one posting (no check of open/deadline: see `rank`)."""
    sk, pk = _seeker_keys(seeker), _posting_keys(posting)
    similarity, which = _job_similarity(sk.jobs, pk) if sk.jobs else (75.0, -1)
    met = education_met(seeker.education, posting.min_education)
    parts = {
        "job": job_part(similarity),
        "skills": skills_part(sk.skills, pk.required, pk.preferred),
        "district": district_part(sk.districts, sk.near, posting.district),
        "education": 1.0 if met else 0.0,
        "experience": experience_part(seeker.experience_years, posting.exp_min, posting.exp_max),
        "salary": salary_part(seeker.desired_salary, posting.salary_max),
        "track": 1.0 if TRACK_BENEFIT.get(seeker.track) in posting.benefits else 0.0,
        "entry": entry_part(posting),
    }
    weights = weights_for(seeker)
    reasons = _reasons(seeker, posting, sk, pk, parts, weights, which, met)
    return Match(posting.id, _total(parts, weights, met), reasons, parts)


def _reasons(seeker: Seeker, posting: Posting, sk: _SeekerKeys, pk: _Keys, parts: dict[str, float],
             weights: dict[str, float], which: int, met: bool) -> tuple[Reason, ...]:
    found: list[tuple[float, Reason]] = []

    def add(part: str, reason: Reason) -> None:
        found.append((weights[part] * parts[part], reason))

    if parts["job"] >= 0.4 and which >= 0:
        add("job", Reason("job", (("want", seeker.desired_jobs[which]), ("got", posting.title))))
    # In the seeker's own words: a person who typed "Excel" reads "your skills Excel", not the posting's
    # "엑셀" (the two meet through the synonym groups).
    own = {key(x): x for x in reversed(seeker.skills)}
    matched = [own[k] for k in pk.required + pk.preferred if k in sk.skills and k in own]
    if matched:
        add("skills", Reason("skills", (("skills", ", ".join(dict.fromkeys(matched))),)))
    if posting.district in sk.districts:
        add("district", Reason("district", (("district", posting.district),)))
    elif posting.district in sk.near:
        near = sorted(d for d in sk.districts if posting.district in geo.neighbours(d))[0]
        add("district", Reason("district_near", (("district", posting.district), ("near", near))))
    if seeker.desired_salary is not None and parts["salary"] >= 1.0 and posting.salary_max is not None:
        add("salary", Reason("salary", (("amount", str(posting.salary_max)),)))
    if parts["experience"] >= 1.0 and seeker.experience_years == 0 and posting.exp_min == 0:
        add("experience", Reason("newcomer"))
    elif parts["experience"] >= 1.0 and posting.exp_min > 0:
        add("experience", Reason("experience", (("years", str(seeker.experience_years)),)))
    if parts["track"] >= 1.0:
        add("track", Reason(TRACK_BENEFIT[seeker.track]))
    if weights["entry"] and parts["entry"] >= 1.0:
        add("entry", Reason("internship"))
    found.sort(key=lambda item: -item[0])
    out = [r for _, r in found[:MAX_REASONS]]
    if not met:
        out.append(Reason("education_short", (("need", posting.min_education),)))
    return tuple(out)


# --- many postings at once -------------------------------------------------------------------

FloatArray = npt.NDArray[np.float64]


class PostingIndex:
    """The postings shown today as arrays, so one seeker is scored against all at once.

    Build it once per set of postings (the bot keeps it until a posting changes); the
    vectorised parts reproduce `score_pair` exactly.
    """

    def __init__(self, postings: Sequence[Posting], today: dt.date) -> None:
        self.postings = [p for p in postings if p.shown_on(today)]
        self.today = today
        keys = [_posting_keys(p) for p in self.postings]
        self.titles = sorted({k.title for k in keys})
        self.duties = sorted({k.duties for k in keys})
        title_pos = {t: i for i, t in enumerate(self.titles)}
        duty_pos = {d: i for i, d in enumerate(self.duties)}
        self.title_idx = np.array([title_pos[k.title] for k in keys], dtype=np.int64)
        self.duty_idx = np.array([duty_pos[k.duties] for k in keys], dtype=np.int64)
        vocab = sorted({s for k in keys for s in (*k.required, *k.preferred)})
        self.vocab = {s: i for i, s in enumerate(vocab)}
        n = len(self.postings)
        self.req = np.zeros((n, len(vocab)), dtype=np.float64)
        self.pref = np.zeros((n, len(vocab)), dtype=np.float64)
        for row, k in enumerate(keys):
            for s in set(k.required):
                self.req[row, self.vocab[s]] = 1.0
            for s in set(k.preferred):
                self.pref[row, self.vocab[s]] = 1.0
        self.n_req = self.req.sum(axis=1)
        self.n_pref = self.pref.sum(axis=1)
        codes = {c: i for i, c in enumerate(geo.codes())}
        self.district = np.array([codes.get(p.district, -1) for p in self.postings], dtype=np.int64)
        self.min_edu = np.array([EDUCATION_LEVEL.get(p.min_education, 0) for p in self.postings], dtype=np.int64)
        self.exp_min = np.array([p.exp_min for p in self.postings], dtype=np.float64)
        self.exp_max = np.array([np.inf if p.exp_max is None else p.exp_max for p in self.postings], dtype=np.float64)
        self.salary_max = np.array([np.nan if p.salary_max is None else p.salary_max for p in self.postings],
                                   dtype=np.float64)
        self.benefit = {b: np.array([b in p.benefits for p in self.postings], dtype=np.float64)
                        for b in TRACK_BENEFIT.values()}
        self.entry = np.array([entry_part(p) for p in self.postings], dtype=np.float64)
        self._codes = codes

    def __len__(self) -> int:
        return len(self.postings)

    def similarity(self, jobs: Sequence[str], workers: int = 1) -> FloatArray:
        """Best job similarity (0–100) per posting for one seeker's desired-job keys."""
        if not jobs:
            return np.full(len(self), 75.0)
        by_title = process.cdist(jobs, self.titles, scorer=fuzz.partial_ratio, dtype=np.float64, workers=workers)
        by_duty = process.cdist(jobs, self.duties, scorer=fuzz.partial_ratio, dtype=np.float64, workers=workers)
        return self._best(np.asarray(by_title), np.asarray(by_duty))

    def _best(self, by_title: FloatArray, by_duty: FloatArray) -> FloatArray:
        per = np.maximum(by_title[:, self.title_idx], DUTIES_FACTOR * by_duty[:, self.duty_idx])
        result: FloatArray = per.max(axis=0)
        return result

    def scores(self, seeker: Seeker, similarity: FloatArray | None = None) -> npt.NDArray[np.int64]:
        """Every posting's score for `seeker`, the same numbers `score_pair` gives."""
        sk = _seeker_keys(seeker)
        sim = self.similarity(sk.jobs) if similarity is None else similarity
        job = np.clip((sim - JOB_FLOOR) / (100.0 - JOB_FLOOR), 0.0, 1.0)
        have = np.zeros(len(self.vocab), dtype=np.float64)
        for s in sk.skills:
            if s in self.vocab:
                have[self.vocab[s]] = 1.0
        hit_r, hit_p = self.req @ have, self.pref @ have
        with np.errstate(divide="ignore", invalid="ignore"):
            cov_r = np.where(self.n_req > 0, hit_r / self.n_req, 0.0)
            cov_p = np.where(self.n_pref > 0, hit_p / self.n_pref, 0.0)
        has_r, has_p = self.n_req > 0, self.n_pref > 0
        skills = np.select([has_r & has_p, has_r, has_p], [0.7 * cov_r + 0.3 * cov_p, cov_r, 0.5 + 0.5 * cov_p],
                           default=0.5)
        if sk.districts:
            mine = np.isin(self.district, [self._codes[d] for d in sk.districts if d in self._codes])
            near = np.isin(self.district, [self._codes[d] for d in sk.near if d in self._codes])
            district = np.where(mine, 1.0, np.where(near, 0.5, 0.0))
        else:
            district = np.full(len(self), 0.7)
        met = EDUCATION_LEVEL.get(seeker.education, 0) >= self.min_edu
        years = float(seeker.experience_years)
        experience = np.where(years < self.exp_min, np.maximum(0.0, 1.0 - (self.exp_min - years) / 3.0),
                              np.where(years > self.exp_max, np.maximum(0.4, 1.0 - (years - self.exp_max) / 10.0),
                                       1.0))
        desired = seeker.desired_salary
        if desired is None:
            salary = np.full(len(self), 0.7)
        else:
            short = np.maximum(0.0, 1.0 - (desired - self.salary_max) / (0.3 * desired))
            salary = np.where(np.isnan(self.salary_max), 0.6, np.where(self.salary_max >= desired, 1.0, short))
        benefit = TRACK_BENEFIT.get(seeker.track)
        track = self.benefit[benefit] if benefit else np.zeros(len(self))
        w = weights_for(seeker)
        total = (w["job"] * job + w["skills"] * skills + w["district"] * district + w["education"] * met
                 + w["experience"] * experience + w["salary"] * salary + w["track"] * track + w["entry"] * self.entry)
        total = total * np.where(met, 1.0, UNMET_EDUCATION_FACTOR)
        return np.clip(np.floor(100.0 * total + 0.5), 0, 100).astype(np.int64)

    def top(self, seeker: Seeker, k: int, *, min_score: int = 0, exclude: frozenset[int] = frozenset(),
            offset: int = 0, similarity: FloatArray | None = None) -> list[Match]:
        """The best `k` postings after `offset`, highest score first (ties: newest id first), with reasons."""
        scores = self.scores(seeker, similarity)
        ids = np.array([p.id for p in self.postings], dtype=np.int64)
        keep = scores >= min_score
        if exclude:
            keep &= ~np.isin(ids, list(exclude))
        chosen = np.flatnonzero(keep)
        order = chosen[np.lexsort((-ids[chosen], -scores[chosen]))][offset:offset + k]
        return [score_pair(seeker, self.postings[i]) for i in order]

    def count(self, seeker: Seeker, *, min_score: int = 0, exclude: frozenset[int] = frozenset()) -> int:
        scores = self.scores(seeker)
        if exclude:
            ids = np.array([p.id for p in self.postings], dtype=np.int64)
            scores = scores[~np.isin(ids, list(exclude))]
        return int((scores >= min_score).sum())


def rank(seeker: Seeker, postings: Sequence[Posting], today: dt.date, k: int = 5, *,
         min_score: int = 0) -> list[Match]:
    """The best `k` postings shown today (open, deadline not passed), best first."""
    return PostingIndex(postings, today).top(seeker, k, min_score=min_score)


def rank_all(seekers: Sequence[Seeker], index: PostingIndex, k: int = 10, *, workers: int = -1,
             min_score: int = 0) -> list[list[tuple[int, int]]]:
    """(posting id, score) of the best `k` postings for every seeker.

    The fuzzy part, the costly one, is one `process.cdist` over the distinct desired jobs
    against the distinct titles and duties (all cores); the rest is array arithmetic per seeker.
    """
    jobs = sorted({j for s in seekers for j in _seeker_keys(s).jobs})
    pos = {j: i for i, j in enumerate(jobs)}
    if jobs and len(index):
        by_title = np.asarray(process.cdist(jobs, index.titles, scorer=fuzz.partial_ratio, dtype=np.float64,
                                            workers=workers))
        by_duty = np.asarray(process.cdist(jobs, index.duties, scorer=fuzz.partial_ratio, dtype=np.float64,
                                           workers=workers))
    ids = np.array([p.id for p in index.postings], dtype=np.int64)
    out: list[list[tuple[int, int]]] = []
    for seeker in seekers:
        rows = [pos[j] for j in _seeker_keys(seeker).jobs]
        sim = index._best(by_title[rows], by_duty[rows]) if rows and len(index) else None
        scores = index.scores(seeker, sim)
        part = np.flatnonzero(scores >= min_score)
        order = part[np.lexsort((-ids[part], -scores[part]))][:k]
        out.append([(int(ids[i]), int(scores[i])) for i in order])
    return out
