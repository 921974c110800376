"""Suggesting a mentor for a young seeker (청년취업멘토단): pure functions, no I/O.

A mentor fits when they mentor in the field asked for (required), meet in the format asked
for (online, on site, either), and, for meetings on site, work in or next to one of the
seeker's districts; among those who fit, one with more free places comes first, so the
group's mentees spread over its mentors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matching import geo


@dataclass(frozen=True)
class MentorView:
    id: int
    fields: tuple[str, ...]
    district: str
    format: str  # online | onsite | both
    free: int  # places left


def _formats_meet(mentor: str, wanted: str) -> bool:
    return "both" in (mentor, wanted) or mentor == wanted


def score(mentor: MentorView, field: str, districts: Sequence[str], wanted: str) -> float:
    """0 when the mentor cannot take this mentee; otherwise higher is better (at most 1)."""
    if field not in mentor.fields or mentor.free <= 0 or not _formats_meet(mentor.format, wanted):
        return 0.0
    near = 1.0
    if wanted != "online" and districts:
        mine = set(districts)
        around = set().union(*(geo.neighbours(d) for d in mine))
        near = 1.0 if mentor.district in mine else 0.6 if mentor.district in around else 0.3
    return 0.6 + 0.3 * near + 0.1 * min(mentor.free, 5) / 5


def best(mentors: Sequence[MentorView], field: str, districts: Sequence[str], wanted: str,
         skip: frozenset[int] = frozenset()) -> MentorView | None:
    """The mentor to propose (None when no one in the field can take the mentee)."""
    scored = [(score(m, field, districts, wanted), m.id, m) for m in mentors if m.id not in skip]
    scored = [item for item in scored if item[0] > 0]
    if not scored:
        return None
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored[0][2]
