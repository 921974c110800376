"""Ranking quality on a labelled set: precision@k and nDCG@k (binary relevance).

The set (`tests/data/matching_eval.json`) lists seekers with the postings a counselor
would call relevant for them, by the demo set's posting references; `cases` turns its
JSON into scorer inputs, `measure` ranks and averages. No I/O here: callers read the file.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Sequence
from typing import Any

from matching.score import Posting, PostingIndex, Seeker, months_until, student_education

# STUDENT_GRAD_WINDOW_MONTHS' default: the labelled students are scored as the bot scores them.
STUDENT_WINDOW = 12


def precision_at(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Share of the first `k` results that are relevant (a short list counts its empty places as misses)."""
    return sum(1 for pid in ranked[:k] if pid in relevant) / k


def ndcg_at(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, pid in enumerate(ranked[:k]) if pid in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def seeker_from(profile: dict[str, Any], today: dt.date, window: int = STUDENT_WINDOW) -> Seeker:
    """A registration's answers as the scorer sees them; a student (재학·휴학) is scored at the
    degree in progress when it is awarded within `window` months."""
    education, student = profile["education"], profile["education"] == "enrolled"
    if student:
        education = student_education(profile.get("degree"), months_until(today, profile.get("graduation")), window)
    return Seeker(track=profile["track"], desired_jobs=tuple(profile["desired_jobs"]),
                  skills=tuple(profile["skills"]), districts=tuple(profile["districts"]),
                  education=education, experience_years=profile["experience_years"],
                  desired_salary=profile.get("desired_salary"), student=student)


def cases(data: dict[str, Any], ids: dict[str, int]) -> list[tuple[str, Seeker, frozenset[int]]]:
    """(case id, seeker, relevant posting ids) from the set's JSON; `ids` maps references to posting ids."""
    today = dt.date.fromisoformat(data["today"])
    return [(c["id"], seeker_from(c["profile"], today), frozenset(ids[ref] for ref in c["relevant"]))
            for c in data["seekers"]]


def measure(labelled: Sequence[tuple[str, Seeker, frozenset[int]]], postings: Sequence[Posting],
            today: dt.date) -> dict[str, float]:
    """Mean precision@5 and nDCG@10 over the labelled seekers."""
    index = PostingIndex(postings, today)
    p5 = nd10 = 0.0
    for _, seeker, relevant in labelled:
        ranked = [m.posting_id for m in index.top(seeker, 10)]
        p5 += precision_at(ranked, relevant, 5)
        nd10 += ndcg_at(ranked, relevant, 10)
    n = max(1, len(labelled))
    return {"precision@5": p5 / n, "ndcg@10": nd10 / n, "seekers": float(len(labelled))}


def ceiling(labelled: Sequence[tuple[str, Seeker, frozenset[int]]], k: int = 5) -> float:
    """The best mean precision@k any ranking could reach (seekers with fewer than k relevant postings cap it)."""
    return sum(min(k, len(relevant)) / k for _, _, relevant in labelled) / max(1, len(labelled))
