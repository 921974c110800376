"""Seeker ↔ posting matching: pure functions, no I/O (DESIGN.md §2).

`text` normalises Korean job names and skills, `geo` knows Seoul's districts and their
neighbours, `score` gives each posting 0–100 with reasons, `evaluate` measures ranking
quality. The tables (synonyms, districts) are data files under `data/`.
"""

from matching.score import (
    Match,
    Posting,
    PostingIndex,
    Reason,
    Seeker,
    months_until,
    rank,
    rank_all,
    score_pair,
    student_education,
)

__all__ = ["Match", "Posting", "PostingIndex", "Reason", "Seeker", "months_until", "rank", "rank_all", "score_pair",
           "student_education"]
