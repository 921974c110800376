"""Suggesting 기술교육원 courses for a seeker: pure functions, no I/O.

A course fits when its title or the skills it teaches resemble a desired job (rapidfuzz
`partial_ratio` on `text.key`s, as postings are matched), and fits better when it teaches
skills the postings the seeker wants ask for and the seeker lacks: for the middle-aged track
that gap is what a course is for (a career change needs the posted jobs' required skills).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from matching.text import key

RESEMBLES = 70.0  # partial_ratio from which a title or a taught skill counts as the desired job
GAP_BONUS = 25.0  # for a course teaching at least one missing skill the wanted postings require


@dataclass(frozen=True)
class CourseView:
    id: int
    title: str
    skills: tuple[str, ...]


def skill_gap(have: Iterable[str], required: Iterable[str]) -> frozenset[str]:
    """Required skills (as keys) the seeker does not have."""
    mine = {key(s) for s in have}
    return frozenset(k for k in (key(s) for s in required) if k and k not in mine)


def suggest(desired_jobs: Sequence[str], gap: frozenset[str], courses: Sequence[CourseView], k: int = 3
            ) -> list[tuple[int, int, tuple[str, ...]]]:
    """(course id, score 0..100, the missing skills it teaches) of the best `k` fitting courses."""
    jobs = [j for j in (key(x) for x in desired_jobs) if j]
    out: list[tuple[int, int, tuple[str, ...]]] = []
    for course in courses:
        taught = {key(s): s for s in course.skills}
        names = [key(course.title), *taught]
        similarity = max((fuzz.partial_ratio(j, n) for j in jobs for n in names if n), default=0.0)
        fills = tuple(sorted(taught[s] for s in taught.keys() & gap))
        score = (similarity if similarity >= RESEMBLES else 0.0) + (GAP_BONUS if fills else 0.0)
        if score > 0:
            out.append((course.id, int(min(100.0, score)), fills))
    out.sort(key=lambda item: (-item[1], item[0]))
    return out[:k]
